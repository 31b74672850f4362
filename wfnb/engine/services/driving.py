"""Starting, deciding, resuming and cancelling runs: the service that hands a run to a
driver in this process (or asks the process that drives it), and the only one that does."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.errors import NotFound, WfnbError
from ..core.messages import Decision
from ..core.params import to_jsonable, validate
from ..core.records import RunRecord, new_run_id
from ..core.states import RUN_TERMINAL, RunStatus
from ..execution.liveness import Liveness
from ..execution.runner import RunDriver, RunHost
from ..model.workflow import Workflow
from ..steps import capture
from ..store import ownership
from ..store.runs import load_run
from ..store.store import Store
from ..store.versions import StepVersions
from .approvals import Approvals
from .catalog import Catalog
from .edits import WorkflowEdits
from .guard import Guard
from .history import History
from .resumption import ResumePlan
from .runs import Run, RunSource


class Driving:
    """Runs of one workspace, as its user starts, decides, resumes and cancels them.

    ``carry_on``: how a run this process claims while sweeping (woken by a deadline, or a
    decision nobody carried on) is carried on: "thread" (here, in the background) or
    "detach" (in a child ``wfnb _resume`` process, for short-lived commands)."""

    def __init__(self, guard: Guard, catalog: Catalog, store: Store, liveness: Liveness,
                 host: RunHost, edits: WorkflowEdits, approvals: Approvals, history: History,
                 source: RunSource, root: Path, carry_on: str):
        if carry_on not in ("thread", "detach"):
            raise WfnbError(f"carry_on={carry_on!r} must be 'thread' or 'detach'")
        self.guard, self.catalog, self.store, self.liveness = guard, catalog, store, liveness
        self.host, self.edits, self.approvals, self.history = host, edits, approvals, history
        self.source, self.root, self.carry_on_mode = source, root, carry_on

    @property
    def user(self) -> str:
        return self.guard.user

    def submit(self, workflow: str | Workflow, params: dict[str, Any] | None = None, *,
               trigger: str = "manual", parent_id: str | None = None,
               run_id: str | None = None, plan: ResumePlan | None = None) -> Run:
        """Check and start a run in the background (see ``Engine.submit``); ``plan``: a
        rerun's mode and the parent's tasks it reuses."""
        wf = self.catalog.runnable(workflow)
        args = validate(wf.name, wf.params, params or {})
        self.edits.remember_version(wf)  # a declared workflow's text, kept once per version
        StepVersions.for_store(self.store).remember(wf.name, wf.version, wf.step_versions)
        record = RunRecord(id=run_id or new_run_id(), workflow=wf.name, version=wf.version,
                           params={k: to_jsonable(v) for k, v in args.items()},
                           tasks_total=len(wf.steps) + 1, created_by=self.user,
                           trigger=trigger, parent_id=parent_id,
                           owner_id=self.liveness.owner_id,
                           rerun_mode=plan.mode if plan else None,
                           rerun_from=plan.step if plan else None)
        capture.install()
        driver = RunDriver(self.host, wf, record, args, reuse=plan.reuse if plan else None)
        with self.store.records_lock:
            self.store.put(run=record, event={
                "run_id": record.id, "kind": "run", "status": record.status.value,
                "actor": self.user,
                "data": json.dumps({"trigger": trigger, "parent_id": parent_id,
                                    "workflow": record.workflow})})
        self.liveness.add(driver)
        driver.start()
        return Run(self.source, record, driver)

    # ---- decisions and resuming ------------------------------------------------------------
    def decide(self, run_id: str, step: str | None, decision: str, comment: str | None,
               inputs: dict[str, Any]) -> Run:
        """Record a decision, then see that exactly one process carries the run on: its
        driver here, its live owner elsewhere, or this process, which claimed it."""
        step, route, values = self.approvals.decide(run_id, step, decision, comment, inputs)
        if route == "here":
            driver = self.liveness.live.get(run_id)
            if driver is not None:
                driver.deliver(Decision(run_id, step, decision, self.user, comment, values))
        elif route == "claimed":
            return self.resume(run_id)
        return self.history.handle_id(run_id)

    def resume(self, run_id: str) -> Run:
        """Carry on a run this process has claimed (its decision is recorded)."""
        record, tasks = load_run(self.store, run_id, self.root)
        record.owner_id = self.liveness.owner_id
        try:
            wf = self.catalog.workflow(record.workflow)
            driver = RunDriver.resume(self.host, wf, record, tasks)
        except Exception as exc:  # cannot rebuild (workflow changed): the run ends in Error
            why = f"could not resume the run: {exc}"
            self.liveness.claims.discard(run_id)
            self.store.transact(lambda con: ownership.end_run(
                con, run_id, record.status.value, RunStatus.ERROR, why, None))
            return self.history.handle_id(run_id)
        capture.install()
        self.liveness.add(driver)
        driver.start()
        return Run(self.source, record, driver)

    def take_on(self, run_id: str) -> Run | None:
        """Claim a waiting run nobody owns and carry it on here; None when another process
        has it, or it has ended."""
        if run_id in self.liveness.live:  # opening the workspace already claimed it
            return self.history.handle_id(run_id)
        if not self.liveness.take_unowned(run_id):
            return None
        return self.resume(run_id)

    def carry_on(self, run_id: str) -> None:
        """A run this process claimed while sweeping: resume it here, or hand it to a child
        process (``carry_on="detach"``)."""
        if self.carry_on_mode == "detach":
            self.liveness.hand_off([run_id], self.root, self.user)
        else:
            self.resume(run_id)

    # ---- cancelling ------------------------------------------------------------------------
    def cancel(self, run_id: str, wait: float = 10.0) -> Run:
        """Cancel a run, wherever it runs (see ``Engine.cancel``)."""
        driver = self.liveness.live.get(run_id)
        record = driver.run if driver is not None else load_run(self.store, run_id,
                                                                 self.root)[0]
        if not self.guard.can("CANCEL_RUN") and not (
                record.created_by == self.user and self.guard.can("RUN_WORKFLOW")):
            # who started it is said only to those who may see it anyway (runs, get_run)
            starter = f" (started by {record.created_by})" if self.guard.sees_run_fields() \
                else ""
            self.guard.deny("CANCEL_RUN", f"cancel run {run_id}{starter}")
        if driver is not None:
            self.store.put(event={"run_id": run_id, "kind": "cancel_requested",
                                  "actor": self.user})
            driver.request_cancel(self.user)
            driver.done.wait(wait)
            if not driver.released:
                return Run(self.source, driver.run, driver)
            # it gave the run up (waiting for approval) just before the request: end it below

        def request(con) -> None:
            row = ownership.status_and_owner(con, run_id)
            if row is None:
                raise NotFound(f"no run with id {run_id!r} in {self.root}")
            status, owner = RunStatus(row[0]), row[1]
            if status in RUN_TERMINAL:
                raise WfnbError(f"run {run_id} has already ended ({status.value}); "
                                "nothing to cancel")
            if owner is None or not self.liveness.owner_alive(con, owner):
                ownership.end_run(con, run_id, status.value, RunStatus.CANCELLED,
                                  f"cancelled by {self.user}", self.user)
                return
            ownership.request_cancel(con, run_id, self.user)
        self.store.transact(request)
        run = self.history.handle_id(run_id)
        try:
            return run.wait(wait)
        except TimeoutError:
            return run
