"""The engine behind a workspace: workflows, runs, history. Plain Python, no views."""
from __future__ import annotations

import atexit
import getpass
import json
import os
import threading
from pathlib import Path
from typing import Any

import duckdb

from .steps import capture
from .core import config
from .core.errors import BrokenWorkflowError, ConfigError, NotFound, WfnbError
from .execution.executors import Executor, make_executor
from .execution.liveness import Liveness, end_run
from .model.loader import Loader, WorkflowProblem
from .services.arguments import rerun_arguments
from .model.workflow import Workflow
from .core.params import to_jsonable, validate
from .core.records import RunRecord, clean_text, new_run_id, utcnow
from .services.runs import Run
from .execution.runner import RunDriver
from .core.states import RUN_TERMINAL, RunStatus
from .store.store import Store
from .services.history import HistoryReads
from .services.edits import WorkflowEdits
from .services.approvals import Approvals, PendingApproval, decisions_for
from .services.schedules import Schedule, Schedules
from .services.testbench import TestSession, test_run, test_step
from .core.auth import Permissions
from .core.errors import PermissionDenied

_executors: dict[tuple, Executor] = {}
_adhoc: dict[str, Workflow] = {}   # workflows passed as objects, by name (this process)
_executors_lock = threading.Lock()


def current_user() -> str:
    """``WFNB_USER``, else ``JUPYTERHUB_USER``, else the OS user."""
    return os.environ.get("WFNB_USER") or os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


def _shared_executor(settings: dict) -> Executor:
    key = tuple(sorted((k, repr(v)) for k, v in settings.items()))
    with _executors_lock:
        if key not in _executors:
            _executors[key] = make_executor(settings)
        return _executors[key]


class Engine(HistoryReads, WorkflowEdits):
    """Runs and history of one workspace folder (``wfnb.toml`` + ``.wfnb/``)."""

    def __init__(self, root: str | os.PathLike = ".", *, user: str | None = None,
                 create: bool = True, carry_on: str = "thread",
                 executor: str | dict | None = None):
        self.root = Path(root).resolve()
        self.config = config.load(self.root, create=create)
        self.user = user or current_user()
        try:  # refused at the door: every row this user writes carries the name
            self.user.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"the user name {clean_text(self.user)!r} is not valid UTF-8 text "
                              "(a non-UTF-8 byte in WFNB_USER?); set WFNB_USER to a plain "
                              "name") from None
        self.store = Store.for_path(self.config.history)
        self.liveness = Liveness.for_store(self.store)
        self.liveness.hung_after = self.config.hung_after
        self.artifacts = self.root / ".wfnb" / "artifacts"
        self._loader = Loader(self.config.paths, self.root)
        try:
            settings = dict(self.config.executor)
            if executor is not None:  # wfnb.open(..., executor="dask" or {...}) wins
                given = {"kind": executor} if isinstance(executor, str) else dict(executor)
                settings = given if given.get("kind", settings["kind"]) != settings["kind"] \
                    else {**settings, **given}
                settings.setdefault("kind", "local")
            self.executor: Executor = _shared_executor(settings)
        except ConfigError as exc:
            raise ConfigError(f"{self.root / config.FILENAME}: {exc}") from None
        self.permissions = Permissions.from_config(self.config.raw,
                                                   self.root / config.FILENAME)
        self.approvals = Approvals(self)
        self.schedules_ = Schedules(self)
        self._kernel_pool = None
        # how a run woken by a deadline (or a decision nobody carried on) is carried on by
        # this process: "thread" (in the background, the default), or "detach" (a child
        # process, for short-lived commands)
        if carry_on not in ("thread", "detach"):
            raise WfnbError(f"carry_on={carry_on!r} must be 'thread' or 'detach'")
        self.carry_on = carry_on
        self.liveness.attach(self)
        self.liveness.reap(force=True)

    @property
    def kernel_pool(self):
        """The process's warm kernel pool for notebook steps (None when pool_size = 0)."""
        if self._kernel_pool is None and self.config.kernel_pool > 0:
            from .steps.kernels import pool
            self._kernel_pool = pool(self.config.kernel_pool)
        return self._kernel_pool

    def warm_kernels(self, kernel_name: str = "python3") -> None:
        """Start filling the kernel pool now, so the first notebook step need not wait."""
        if self.kernel_pool is not None:
            self.kernel_pool.warm(kernel_name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.root} user={self.user!r}>"

    # ---- workflows ------------------------------------------------------------------------
    def workflows(self) -> list[Workflow]:
        """The valid workflows defined under the paths of ``wfnb.toml`` (reloaded when files
        change); what a broken file defines is left out, see :meth:`workflow_problems`."""
        self._require("LIST_WORKFLOWS", "list workflows")
        return list(self._loader.workflows().values())

    def workflow_problems(self) -> list[WorkflowProblem]:
        """The broken workflow files (file, line, message, the workflows they define when
        known): left out of :meth:`workflows`, and their workflows refused. Empty when none."""
        self._require("LIST_WORKFLOWS", "list workflows")
        return self._loader.problems()

    def workflow(self, name: str | Workflow) -> Workflow:
        """One workflow by name; NotFound lists the known ones (and the broken files),
        BrokenWorkflowError says why a workflow of a broken file is refused."""
        self._require("LIST_WORKFLOWS", f"see workflow {name!r}")
        return self._workflow(name)

    def _workflow(self, name: str | Workflow) -> Workflow:
        if isinstance(name, Workflow):  # defined in a notebook cell, say: remember it, so a
            _adhoc[name.name] = name    # run of it can be resumed after an approval
            return name.validate()
        found, problems = self._loader.load()
        if name in found:
            return found[name]
        refused = [p for p in problems if name in p.workflows]
        if refused:  # its file is broken, or another file defines the same name
            raise BrokenWorkflowError(name, refused)
        if name in _adhoc:
            return _adhoc[name]
        broken = ""
        if problems:  # it may be in a file that could not be read far enough to know
            problems = sorted(problems, key=lambda p: bool(p.workflows))  # those first
            files = len({p.file for p in problems})
            more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
            broken = (f"; {files} file{'s' if files > 1 else ''} could not be loaded: "
                      + "; ".join(map(str, problems[:3])) + more)
        raise NotFound(f"no workflow named {name!r} in {self.root} "
                       f"(known: {', '.join(sorted(found)) or 'none'}){broken}")

    # ---- starting runs --------------------------------------------------------------------
    def start(self, workflow: str | Workflow, /, **params: Any) -> Run:
        """Validate the arguments and start a run in the background; returns at once."""
        return self.submit(workflow, params)

    def run(self, workflow: str | Workflow, /, **params: Any) -> Run:
        """Start a run and wait until it has ended (and that is in the history)."""
        return self.submit(workflow, params).wait()

    def rerun(self, run_id: str, /, **overrides: Any) -> Run:
        """Start the workflow of ``run_id`` again with its arguments, updated by ``overrides``;
        the new run records ``run_id`` as its parent. Returns at once, like :meth:`start`.
        The stored arguments are validated as the typed values they were, not as text."""
        workflow, values = rerun_arguments(self, run_id, overrides)
        return self.submit(workflow, values, trigger="rerun", parent_id=run_id)

    def validate(self, workflow: str | Workflow, /, **params: Any) -> dict[str, Any]:
        """The typed arguments a run would get, or ParamError listing every problem."""
        wf = self._runnable(workflow)
        return validate(wf.name, wf.params, params)

    def _runnable(self, workflow: str | Workflow) -> Workflow:
        wf = self._workflow(workflow)
        self._require("RUN_WORKFLOW", f"run workflow {wf.name!r}")
        if not self.permissions.among(self.user, wf.runners):
            self._deny("RUN_WORKFLOW", f"workflow {wf.name!r} may be run by "
                                       f"{self.permissions.describe(wf.runners or [])}")
        return wf

    @staticmethod
    def new_run_id() -> str:
        """A fresh run id (sortable by time), e.g. to hand to :meth:`submit`."""
        return new_run_id()

    def submit(self, workflow: str | Workflow, params: dict[str, Any] | None = None, *,
               trigger: str = "manual", parent_id: str | None = None,
               run_id: str | None = None) -> Run:
        """:meth:`start` with every option: how the run was triggered (manual, rerun, api ...),
        its parent run, and its id (for a caller that must know it before the run exists)."""
        wf = self._runnable(workflow)
        args = validate(wf.name, wf.params, params or {})
        self._remember_version(wf)  # a declared workflow's text, kept once per version
        record = RunRecord(id=run_id or new_run_id(), workflow=wf.name, version=wf.version,
                           params={k: to_jsonable(v) for k, v in args.items()},
                           tasks_total=len(wf.steps) + 1, created_by=self.user,
                           trigger=trigger, parent_id=parent_id,
                           owner_id=self.liveness.owner_id)
        capture.install()
        driver = RunDriver(self, wf, record, args)
        with self.store.records_lock:
            self.store.put(run=record, event={
                "run_id": record.id, "kind": "run", "status": record.status.value,
                "actor": self.user,
                "data": json.dumps({"trigger": trigger, "parent_id": parent_id})})
        self.liveness.add(driver)
        driver.start()
        return Run(self, record, driver)

    def _release(self, driver: RunDriver) -> None:
        self.liveness.remove(driver)

    # ---- approvals ------------------------------------------------------------------------
    def approve(self, run_id: str, /, step: str | None = None, comment: str | None = None,
                **inputs: Any) -> Run:
        """Approve the waiting approval step of a run (``step`` when several wait); ``inputs``
        are the step's approver fields. The run carries on in exactly one process."""
        return self._decide(run_id, step, "approve", comment, inputs)

    def reject(self, run_id: str, /, step: str | None = None,
               comment: str | None = None) -> Run:
        """Reject the waiting approval step: it and the run become Rejected."""
        return self._decide(run_id, step, "reject", comment, {})

    def pending_approvals(self, workflow: str | None = None) -> list[PendingApproval]:
        """Approval steps waiting for a decision that the current user may take."""
        return self.approvals.pending(workflow)

    def run_approvals(self, run_id: str) -> list[PendingApproval]:
        """Every step of ``run_id`` waiting for a decision, with ``can_decide`` for this user
        and the ``decision`` already recorded for it, if any (what Run Details shows)."""
        return self.approvals.of_run(run_id)

    def _decide(self, run_id: str, step: str | None, decision: str, comment: str | None,
                inputs: dict[str, Any]) -> Run:
        step, route, values = self.approvals.decide(run_id, step, decision, comment, inputs)
        if route == "here":
            driver = self.liveness.live.get(run_id)
            if driver is not None:
                driver.deliver({"run_id": run_id, "step": step, "decision": decision,
                                "user": self.user, "comment": comment, "inputs": values})
        elif route == "claimed":
            return self._resume(run_id)
        return self._handle_id(run_id)

    def _resume(self, run_id: str) -> Run:
        """Carry on a run this process has just claimed (its decision is recorded)."""
        record, tasks = self._load(run_id)
        record.owner_id = self.liveness.owner_id
        try:
            wf = self._workflow(record.workflow)
            driver = RunDriver.resume(self, wf, record, tasks)
        except Exception as exc:  # cannot rebuild (workflow changed): the run ends in Error
            why = f"could not resume the run: {exc}"
            self.liveness.claims.discard(run_id)
            self.store.transact(lambda con: end_run(con, run_id, record.status.value,
                                                    RunStatus.ERROR, why, None))
            return self._handle_id(run_id)
        capture.install()
        self.liveness.add(driver)
        driver.start()
        return Run(self, record, driver)

    def _carry_on(self, run_id: str) -> None:
        """A run this process claimed while sweeping: resume it here, or in a child process
        when this one is short-lived (``carry_on = "detach"``)."""
        if self.carry_on == "detach":
            self.liveness.hand_off([run_id], self.root, self.user)
        else:
            self._resume(run_id)

    def approvals_for(self, run_id: str, steps: list[str]) -> list[dict]:
        with self.store.connect(read_only=True) as con:
            return decisions_for(con, run_id, steps)

    def release_run(self, record: RunRecord,
                    parked: list[str]) -> tuple[list[dict], str | None]:
        return self.approvals.release(record, parked)

    # ---- testing --------------------------------------------------------------------------
    def test(self, workflow: str | Workflow, /, **params: Any) -> Run:
        """Run the whole workflow as a test (trigger ``test``, left out of the usual history
        views) and keep every step's result in your test session; waits for the end."""
        return test_run(self, workflow, params)

    def test_step(self, workflow: str | Workflow, step: str, /, **inputs: Any) -> Run:
        """Run one step as a test; its params and upstream values come from ``inputs``, else
        from your test session (TestSessionError names a missing one)."""
        return test_step(self, workflow, step, inputs)

    def test_session(self, workflow: str | Workflow) -> TestSession:
        """Your test session of ``workflow``: ``active``, ``show()``, ``clear()``."""
        wf = self._runnable(workflow)
        return TestSession(self, wf.name)

    # ---- schedules ------------------------------------------------------------------------
    def schedule(self, workflow: str, /, cron: str, timezone: str = "UTC",
                 params: dict | None = None, catchup: str = "none") -> Schedule:
        """Run ``workflow`` with ``params`` on ``cron`` in ``timezone``; missed occurrences
        follow ``catchup``: "none" (skip them), "latest" (run the last), "all" (run each)."""
        return self.schedules_.add(workflow, cron, timezone, params, catchup)

    def schedules(self) -> list[Schedule]:
        """Every schedule, soonest first, with its next time (naive UTC). Its ``params`` are
        None (hidden) for a user who may not see run arguments (VIEW_RUNS or VIEW_DETAILS)."""
        self._require("LIST_WORKFLOWS", "list schedules")
        found = self.schedules_.list()
        if self.permissions.sees_run_fields(self.user):
            return found
        return [schedule.without_params() for schedule in found]

    def pause_schedule(self, schedule_id: str) -> None:
        self.schedules_.set_paused(schedule_id, True)

    def resume_schedule(self, schedule_id: str) -> None:
        self.schedules_.set_paused(schedule_id, False)

    def delete_schedule(self, schedule_id: str) -> None:
        self.schedules_.delete(schedule_id)

    def run_due_schedules(self, now=None) -> list[Run]:
        """One scheduler tick: start the runs that are due (safe with other schedulers)."""
        return self.schedules_.run_due(now)

    def start_scheduler(self, interval: float = 1.0) -> threading.Event:
        """Run the scheduler loop in the background of this process (a kernel, say), until
        the returned event is set; safe beside `wfnb scheduler` processes."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.run_due_schedules()
                except WfnbError:  # the history is busy or a schedule is broken: next tick
                    pass
        thread = threading.Thread(target=loop, daemon=True, name="wfnb-scheduler")
        thread.start()
        # stopped before the interpreter tears down (a thread killed inside DuckDB aborts it)
        atexit.register(lambda: (stop.set(), thread.join(timeout=10)))
        return stop

    # ---- permissions ----------------------------------------------------------------------
    def can(self, capability: str, workflow: str | Workflow | None = None) -> bool:
        """May the current user do this (for views that hide what is not allowed)?"""
        if not self.permissions.can(self.user, capability):
            return False
        if workflow is not None and capability == "RUN_WORKFLOW":
            return self.permissions.among(self.user, self._workflow(workflow).runners)
        return True

    def _require(self, capability: str, what: str) -> None:
        if not self.permissions.can(self.user, capability):
            self._deny(capability, what)

    def _deny(self, capability: str, what: str) -> None:
        """Refuse: write the refusal to the audit trail (and nothing else), then raise."""
        self.store.put(event={"kind": "denied", "actor": self.user,
                              "data": json.dumps({"capability": capability, "what": what})})
        self.store.flush()
        raise PermissionDenied(self.user, capability, what)

    # ---- cancelling --------------------------------------------------------------------
    def cancel(self, run_id: str, wait: float = 10.0) -> Run:
        """Cancel a run, wherever it runs; returns it once it has ended (or after ``wait``).
        Needs CANCEL_RUN, or RUN_WORKFLOW for a run the user started."""
        driver = self.liveness.live.get(run_id)
        record = driver.run if driver is not None else self._load(run_id)[0]
        if not self.permissions.can(self.user, "CANCEL_RUN") and not (
                record.created_by == self.user and self.permissions.can(self.user,
                                                                        "RUN_WORKFLOW")):
            # who started it is said only to those who may see it anyway (runs, get_run)
            starter = (f" (started by {record.created_by})"
                       if self.permissions.sees_run_fields(self.user) else "")
            self._deny("CANCEL_RUN", f"cancel run {run_id}{starter}")
        if driver is not None:
            self.store.put(event={"run_id": run_id, "kind": "cancel_requested",
                                  "actor": self.user})
            driver.request_cancel(self.user)
            driver.done.wait(wait)
            if not driver.released:
                return Run(self, driver.run, driver)
            # it gave the run up (waiting for approval) just before the request: end it below

        def request(con: duckdb.DuckDBPyConnection) -> None:
            row = con.execute("SELECT status, owner_id FROM runs WHERE id = ?",
                              [run_id]).fetchone()
            if row is None:
                raise NotFound(f"no run with id {run_id!r} in {self.root}")
            status, owner = RunStatus(row[0]), row[1]
            if status in RUN_TERMINAL:
                raise WfnbError(f"run {run_id} has already ended ({status.value}); "
                                "nothing to cancel")
            if owner is None or not self.liveness.owner_alive(con, owner):
                end_run(con, run_id, status.value, RunStatus.CANCELLED,
                        f"cancelled by {self.user}", self.user)
                return
            now = utcnow()
            con.execute("UPDATE runs SET cancel_requested_at = ?, cancel_requested_by = ? "
                        "WHERE id = ?", [now, self.user, run_id])
            con.execute("INSERT INTO events (ts, run_id, kind, actor) VALUES "
                        "(?, ?, 'cancel_requested', ?)", [now, run_id, self.user])
        self.store.transact(request)
        run = self._handle_id(run_id)
        try:
            return run.wait(wait)
        except TimeoutError:
            return run
