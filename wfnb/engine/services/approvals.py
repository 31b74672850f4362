"""Approval decisions: recorded once, by someone allowed, from any process; the run carries on
in exactly one process.

A decision is a row of ``approvals`` (unique per run and step) written in one transaction with
its checks. Who applies it: the live process that owns the run (its writer's flush hook reads
decisions for its parked steps), or, for a run nobody owns (a released waiting run), the
process that recorded it, which claims the run in that same transaction and resumes it.
Deadlines are applied by whichever process sweeps first, even long after they passed.

A process that claimed a run has taken it on: it finishes it (at exit it waits for the run to
end or to wait for approval again), or hands it off durably (given back with its decision
recorded, and a ``wfnb _resume`` process started); see ``liveness``. :meth:`Approvals.of_run`
gives a view what it needs to let an approver decide from Run Details.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.errors import DecisionError
from ..core.messages import Decision
from ..core.params import validate
from ..core.records import RunRecord, TaskRecord, dumps
from ..core.states import RUN_TERMINAL, RunStatus, TaskStatus
from ..execution.liveness import Liveness
from ..store import approvals as stored
from ..store.runs import load_run
from ..store.store import Store
from .catalog import Catalog
from .guard import Guard

TIMEOUT_USER = stored.TIMEOUT_USER


@dataclass
class PendingApproval:
    """One approval step waiting for a decision: who may take it (``approvers``: users and
    roles, empty for anyone with APPROVE), the approver ``fields`` (``Param.to_dict()``), its
    deadline (naive UTC) and what happens then; ``can_decide``: the workspace's user may
    decide it now; ``decision``: one already recorded, that its run has not applied yet."""

    run_id: str
    workflow: str
    step: str
    description: str
    approvers: list[str]
    fields: list[dict]
    waiting_since: dt.datetime | None
    deadline: dt.datetime | None
    on_timeout: str
    started_by: str
    can_decide: bool = True
    decision: dict | None = None  # Decision.to_dict(): what views show

    @classmethod
    def of_task(cls, run_id: str, workflow: str, started_by: str, step: str, info: dict,
                since: dt.datetime | None, **more: Any) -> PendingApproval:
        """From a waiting task's stored ``inputs`` (what ``parking._park`` wrote)."""
        deadline = info.get("deadline")
        return cls(run_id, workflow, step, info.get("description", ""),
                   info.get("approvers") or [], info.get("fields") or [], since,
                   dt.datetime.fromisoformat(deadline) if deadline else None,
                   info.get("on_timeout", "reject"), started_by, **more)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class Approvals:
    """Deciding approval steps (``ws.approve``, ``ws.reject``) and listing those waiting."""

    def __init__(self, guard: Guard, store: Store, liveness: Liveness, catalog: Catalog,
                 root: Path, carry_on: Callable[[str], None]):
        self.guard, self.store, self.liveness, self.catalog = guard, store, liveness, catalog
        self.root, self.carry_on = root, carry_on

    # ---- deciding ------------------------------------------------------------------------
    def decide(self, run_id: str, step: str | None, decision: str, comment: str | None,
               inputs: dict[str, Any]) -> tuple[str, str, dict]:
        """Record a decision; returns (step, who carries the run on: 'owner' | 'here' |
        'claimed', the validated inputs)."""
        guard = self.guard
        guard.require("APPROVE", f"decide on run {run_id}")
        if run_id in self.liveness.live:
            self.store.flush()  # driven here: what it has done so far must be in the store
        record_, tasks = load_run(self.store, run_id, self.root)
        waiting = [t for t in tasks if t.status == TaskStatus.WAITING]
        if not waiting or (step is not None and step not in [t.step for t in waiting]):
            with self.store.connect(read_only=True) as con:
                taken = stored.decisions_for(con, run_id, [step] if step else
                                             [t.step for t in tasks if t.kind == "approval"])
            if taken:
                raise DecisionError(taken[0].sentence())
        step = self._pick_step(record_, waiting, step)
        task = next(t for t in waiting if t.step == step)
        info = task.inputs or {}
        if not guard.among(info.get("approvers")):
            guard.deny("APPROVE", f"step {step!r} of run {run_id} is for "
                                  f"{guard.describe(info.get('approvers') or [])}")
        values: dict[str, Any] = {}
        if decision == "approve":
            wf = self.catalog.workflow(record_.workflow)
            fields = wf.steps[step].inputs if step in wf.steps else []
            values = {k: v for k, v in validate(f"{wf.name}.{step}", fields, inputs).items()}
            values = json.loads(dumps(values))  # dates as ISO text, as stored
        elif inputs:
            raise DecisionError(f"inputs ({', '.join(inputs)}) go with an approval, "
                                "not with a rejection")
        route, taken = self.store.transact(
            lambda con: self._record_and_route(con, run_id, step, task.id, decision,
                                               guard.user, comment, values, info))
        if taken.user == TIMEOUT_USER:  # too late: the deadline's decision was recorded
            if route == "claimed":  # we hold the run now: carry it on as the deadline said
                self.carry_on(run_id)
            elif route == "here" and run_id in self.liveness.live:
                self.liveness.live[run_id].deliver(taken)
            raise DecisionError(f"step {step!r} of run {run_id} passed its deadline "
                                f"({info['deadline']} UTC) before this decision; it was "
                                f"decided by on_timeout={info.get('on_timeout', 'reject')!r}")
        return step, route, values

    @staticmethod
    def _pick_step(record_: RunRecord, waiting: list[TaskRecord], step: str | None) -> str:
        names = [t.step for t in waiting]
        if step is None:
            if len(names) == 1:
                return names[0]
            if not names:
                raise DecisionError(f"run {record_.id} has no step waiting for approval "
                                    f"(it is {record_.status.value})")
            raise DecisionError(f"several steps of run {record_.id} wait for approval "
                                f"({', '.join(names)}): say which one with step=")
        if step not in names:
            raise DecisionError(f"step {step!r} of run {record_.id} is not waiting for approval"
                                f" (waiting: {', '.join(names) or 'none'})")
        return step

    def _record_and_route(self, con, run_id: str, step: str, task_id: str, decision: str,
                          user: str, comment: str | None, values: dict,
                          info: dict) -> tuple[str, Decision]:
        """In one transaction: re-check, record, and decide who carries the run on. A
        decision that comes after the deadline records the deadline's decision instead."""
        row, status = stored.run_and_task_status(con, run_id, task_id)
        if row is None or RunStatus(row[0]) in RUN_TERMINAL or status is None \
                or status != TaskStatus.WAITING.value:
            raise DecisionError(f"step {step!r} of run {run_id} is not waiting for approval "
                                f"(it is {status or 'gone'})")
        if stored.expired(info):
            taken = stored.record_timeout(con, run_id, step, info)
        else:
            taken = stored.record(con, run_id, step, decision, user, comment, values)
        return self.liveness.route(con, run_id, row[1]), taken

    def decisions(self, run_id: str, steps: list[str]) -> list[Decision]:
        """The decisions recorded for some steps of a run."""
        with self.store.connect(read_only=True) as con:
            return stored.decisions_for(con, run_id, steps)

    # ---- listing -------------------------------------------------------------------------
    def pending(self, workflow: str | None = None) -> list[PendingApproval]:
        """Approval steps with no decision yet that the user may decide."""
        self.guard.require("APPROVE", "list pending approvals")
        self.store.flush()  # a run of this process seen waiting is in the store too
        with self.store.connect(read_only=True) as con:
            rows = stored.undecided(con, workflow)
        return [PendingApproval.of_task(row["run_id"], row["workflow"], row["created_by"],
                                        row["step"], row["inputs"], row["started_at"])
                for row in rows if self.guard.among(row["inputs"].get("approvers"))]

    def of_run(self, run_id: str) -> list[PendingApproval]:
        """The steps of one run waiting for a decision, as Run Details shows them to anyone
        who may decide (APPROVE) or see the run's details (VIEW_DETAILS), with
        ``can_decide`` for the workspace's user. A run driven here is read from memory."""
        guard = self.guard
        may_approve = guard.can("APPROVE")
        if not may_approve:
            guard.require("VIEW_DETAILS", f"see the approval steps of run {run_id}")
        driver = self.liveness.live.get(run_id)
        if driver is not None:
            with self.store.records_lock:
                record_, tasks = driver.run, list(driver.tasks)
        else:
            record_, tasks = load_run(self.store, run_id, self.root)
        waiting = [t for t in tasks if t.status == TaskStatus.WAITING]
        if not waiting:
            return []
        decided = {d.step: d for d in self.decisions(run_id, [t.step for t in waiting])}
        out = []
        for task in waiting:
            info = task.inputs or {}
            decision = decided.get(task.step)
            can = (may_approve and decision is None and not stored.expired(info)
                   and guard.among(info.get("approvers")))
            out.append(PendingApproval.of_task(
                run_id, record_.workflow, record_.created_by, task.step, info,
                task.started_at, can_decide=can,
                decision=decision.to_dict() if decision else None))
        return out


__all__ = ["Approvals", "PendingApproval"]
