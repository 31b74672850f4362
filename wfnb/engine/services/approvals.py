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
from typing import TYPE_CHECKING, Any

import duckdb

from ..core.errors import PermissionDenied
from ..core.errors import DecisionError, NotFound
from ..core.params import validate
from ..core.records import RunRecord, TaskRecord, dumps, loads, utcnow
from ..core.states import RUN_TERMINAL, RunStatus, TaskStatus

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Engine

WAITING = TaskStatus.WAITING.value
DECISIONS = {"approve": "approved", "reject": "rejected", "fail": "failed"}
TIMEOUT_USER = "wfnb (timeout)"


def _expired(info: dict) -> bool:
    deadline = info.get("deadline")
    return bool(deadline) and dt.datetime.fromisoformat(deadline) <= utcnow()


def _record_timeout(con, run_id: str, step: str, info: dict) -> dict:
    """The deadline decides: on_timeout's decision, with the approver fields' defaults."""
    deadline = dt.datetime.fromisoformat(info["deadline"])
    kind = info.get("on_timeout", "reject")
    defaults = {f["name"]: f.get("default") for f in info.get("fields") or []}
    return record(con, run_id, step, kind, TIMEOUT_USER,
                  f"no decision by the deadline ({deadline:%Y-%m-%d %H:%M:%S} UTC)",
                  defaults if kind == "approve" else {})


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
    decision: dict | None = None

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


def _decision_row(row: tuple) -> dict:
    run_id, step, decision, user, comment, inputs, decided_at = row
    return {"run_id": run_id, "step": step, "decision": decision, "user": user,
            "comment": comment, "inputs": loads(inputs) or {}, "decided_at": decided_at}


def decisions_for(con: duckdb.DuckDBPyConnection, run_id: str,
                  steps: list[str]) -> list[dict]:
    """Recorded decisions for some steps of a run."""
    if not steps:
        return []
    marks = ", ".join("?" * len(steps))
    rows = con.execute('SELECT run_id, step, decision, "user", comment, inputs, decided_at '
                       f"FROM approvals WHERE run_id = ? AND step IN ({marks})",
                       [run_id, *steps]).fetchall()
    return [_decision_row(r) for r in rows]


def record(con: duckdb.DuckDBPyConnection, run_id: str, step: str, decision: str, user: str,
           comment: str | None, inputs: dict | None) -> dict:
    """Insert a decision and its audit event; the caller checked the step is waiting."""
    now = utcnow()
    done = con.execute('SELECT "user", decision, decided_at FROM approvals '
                       "WHERE run_id = ? AND step = ?", [run_id, step]).fetchone()
    if done:
        raise DecisionError(f"step {step!r} of run {run_id} was already "
                            f"{DECISIONS.get(done[1], done[1])} by {done[0]} at "
                            f"{done[2]:%Y-%m-%d %H:%M:%S} UTC")
    con.execute('INSERT INTO approvals (run_id, step, decision, "user", comment, inputs, '
                "decided_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, step, decision, user, comment, dumps(inputs or {}), now])
    con.execute("INSERT INTO events (ts, run_id, kind, status, actor, data) VALUES "
                "(?, ?, 'approval', ?, ?, ?)",
                [now, run_id, decision, user, json.dumps({"step": step, "comment": comment})])
    return {"run_id": run_id, "step": step, "decision": decision, "user": user,
            "comment": comment, "inputs": inputs or {}, "decided_at": now}


class Approvals:
    """The engine's approval operations (``ws.approve``, ``ws.reject``, pending lists)."""

    def __init__(self, engine: "Engine"):
        self.engine = engine

    # ---- deciding ------------------------------------------------------------------------
    def decide(self, run_id: str, step: str | None, decision: str, comment: str | None,
               inputs: dict[str, Any]) -> tuple[str, str]:
        """Record a decision; returns (step, what happens next: 'owner' | 'here' | 'claimed',
        the validated inputs)."""
        eng = self.engine
        eng._require("APPROVE", f"decide on run {run_id}")
        if run_id in eng.liveness.live:
            eng.store.flush()  # driven here: what it has done so far must be in the store
        record_, tasks = eng._load(run_id)
        waiting = [t for t in tasks if t.status == TaskStatus.WAITING]
        if not waiting or (step is not None and step not in [t.step for t in waiting]):
            with eng.store.connect(read_only=True) as con:
                taken = decisions_for(con, run_id, [step] if step else
                                      [t.step for t in tasks if t.kind == "approval"])
            if taken:
                d = taken[0]
                raise DecisionError(f"step {d['step']!r} of run {run_id} was already "
                                    f"{DECISIONS[d['decision']]} by {d['user']} at "
                                    f"{d['decided_at']:%Y-%m-%d %H:%M:%S} UTC")
        step = self._pick_step(record_, waiting, step)
        task = next(t for t in waiting if t.step == step)
        info = task.inputs or {}
        if not eng.permissions.among(eng.user, info.get("approvers")):
            eng._deny("APPROVE", f"step {step!r} of run {run_id} is for "
                                 f"{eng.permissions.describe(info.get('approvers') or [])}")
        values: dict[str, Any] = {}
        if decision == "approve":
            wf = eng._workflow(record_.workflow)
            fields = wf.steps[step].inputs if step in wf.steps else []
            values = {k: v for k, v in validate(f"{wf.name}.{step}", fields, inputs).items()}
            values = json.loads(dumps(values))  # dates as ISO text, as stored
        elif inputs:
            raise DecisionError(f"inputs ({', '.join(inputs)}) go with an approval, "
                                "not with a rejection")
        route, taken = eng.store.transact(
            lambda con: self._record_and_route(con, run_id, step, task.id, decision,
                                               eng.user, comment, values, info))
        if taken["user"] == TIMEOUT_USER:  # too late: the deadline's decision was recorded
            if route == "claimed":  # we hold the run now: carry it on as the deadline said
                eng._carry_on(run_id)
            elif route == "here" and run_id in eng.liveness.live:
                eng.liveness.live[run_id].deliver(taken)
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
                          info: dict) -> tuple[str, dict]:
        """In one transaction: re-check, record, and decide who carries the run on. A
        decision that comes after the deadline records the deadline's decision instead."""
        row = con.execute("SELECT status, owner_id FROM runs WHERE id = ?", [run_id]).fetchone()
        status = con.execute("SELECT status FROM tasks WHERE id = ?", [task_id]).fetchone()
        if row is None or RunStatus(row[0]) in RUN_TERMINAL or status is None \
                or status[0] != WAITING:
            now = status[0] if status else "gone"
            raise DecisionError(f"step {step!r} of run {run_id} is not waiting for approval "
                                f"(it is {now})")
        if _expired(info):
            taken = _record_timeout(con, run_id, step, info)
        else:
            taken = record(con, run_id, step, decision, user, comment, values)
        return self._route(con, run_id, row[1]), taken

    def _route(self, con, run_id: str, owner: str | None) -> str:
        live = self.engine.liveness
        if owner == live.owner_id:
            return "here"
        if owner is not None and live.owner_alive(con, owner):
            return "owner"
        con.execute("UPDATE runs SET owner_id = ? WHERE id = ?", [live.owner_id, run_id])
        live.beat(con)
        live.claims.add(run_id)  # until it is driven here (or handed off at exit)
        return "claimed"

    # ---- releasing and resuming ----------------------------------------------------------
    def release(self, record_: RunRecord, parked: list[str]) -> tuple[list[dict], str | None]:
        """Give a waiting run up, unless a decision or a cancel request for it is already
        recorded (a request written while we still owned it would otherwise be lost).
        Returns (decisions, who asked to cancel)."""
        def give_up(con) -> tuple[list[dict], str | None]:
            found = decisions_for(con, record_.id, parked)
            row = con.execute("SELECT cancel_requested_by FROM runs WHERE id = ? AND "
                              "cancel_requested_at IS NOT NULL", [record_.id]).fetchone()
            if not found and row is None:
                con.execute("UPDATE runs SET owner_id = NULL WHERE id = ? AND owner_id = ?",
                            [record_.id, record_.owner_id])
            return found, (row[0] or "unknown") if row else None
        found, cancelled_by = self.engine.store.transact(give_up)
        if not found and cancelled_by is None:
            with self.engine.store.records_lock:
                record_.owner_id = None
        return found, cancelled_by

    # ---- deadlines and stranded decisions (any process, on open and while polling) -------
    @staticmethod
    def _waiting(con) -> list[tuple]:
        """Waiting approval tasks: (run, step, inputs, owner, decision or None, expired)."""
        rows = []
        # the waiting runs first (a cheap scan of runs.status), then their tasks through the
        # tasks.run_id index: a scan of the status of every task costs ~100 ms at 4M tasks
        for run_id, owner in con.execute("SELECT id, owner_id FROM runs WHERE status = ?",
                                         [RunStatus.WAITING.value]).fetchall():
            for step, inputs, decided in con.execute(
                    "SELECT t.step, t.inputs, a.decision FROM tasks t LEFT JOIN approvals a "
                    "ON a.run_id = t.run_id AND a.step = t.step "
                    "WHERE t.run_id = ? AND t.status = ?", [run_id, WAITING]).fetchall():
                rows.append((run_id, step, inputs, owner, decided))
        out = []
        for run_id, step, inputs, owner, decided in rows:
            info = loads(inputs) or {}
            out.append((run_id, step, info, owner, decided, _expired(info)))
        return out

    def due(self, con) -> bool:
        """Is there a passed deadline, or a decision nobody carries on? (read-only check)"""
        return any((decided is None and expired) or (decided is not None and owner is None)
                   for _, _, _, owner, decided, expired in self._waiting(con))

    def sweep(self, con) -> list[str]:
        """Apply passed deadlines and claim unowned runs holding an unapplied decision;
        returns the ids of runs this process must resume after the commit."""
        claimed: list[str] = []
        for run_id, step, info, owner, decided, expired in self._waiting(con):
            if decided is None and expired:
                _record_timeout(con, run_id, step, info)
                decided = True
            if decided is not None and run_id not in claimed:
                if self._route(con, run_id, owner) == "claimed":
                    claimed.append(run_id)
        return claimed

    # ---- listing -------------------------------------------------------------------------
    def pending(self, workflow: str | None = None) -> list[PendingApproval]:
        eng = self.engine
        eng._require("APPROVE", "list pending approvals")
        # a step whose decision is recorded is no longer waiting for anyone, even before
        # its run has moved on
        sql = ("SELECT r.id, r.workflow, r.created_by, t.step, t.inputs, t.started_at "
               "FROM runs r JOIN tasks t ON t.run_id = r.id "
               "WHERE r.status = ? AND t.status = ? AND NOT EXISTS (SELECT 1 FROM approvals a "
               "WHERE a.run_id = t.run_id AND a.step = t.step)")
        args: list = [RunStatus.WAITING.value, WAITING]
        if workflow:
            sql, args = sql + " AND r.workflow = ?", [*args, workflow]
        with eng.store.connect(read_only=True) as con:
            rows = [dict(zip(("run_id", "workflow", "created_by", "step", "inputs",
                              "started_at"), row))
                    for row in con.execute(sql + " ORDER BY t.started_at", args).fetchall()]
        out = []
        for row in rows:
            info = loads(row["inputs"]) or {}
            if not eng.permissions.among(eng.user, info.get("approvers")):
                continue
            out.append(PendingApproval.of_task(row["run_id"], row["workflow"],
                                               row["created_by"], row["step"], info,
                                               row["started_at"]))
        return out

    def of_run(self, run_id: str) -> list[PendingApproval]:
        """The steps of one run waiting for a decision, as Run Details shows them to anyone
        who may decide (APPROVE) or see the run's details (VIEW_DETAILS), with
        ``can_decide`` for the workspace's user. A run driven here is read from memory."""
        eng = self.engine
        may_approve = eng.permissions.can(eng.user, "APPROVE")
        if not may_approve:
            eng._require("VIEW_DETAILS", f"see the approval steps of run {run_id}")
        driver = eng.liveness.live.get(run_id)
        if driver is not None:
            with eng.store.records_lock:
                record_, tasks = driver.run, list(driver.tasks)
        else:
            record_, tasks = eng._load(run_id)
        waiting = [t for t in tasks if t.status == TaskStatus.WAITING]
        if not waiting:
            return []
        with eng.store.connect(read_only=True) as con:
            decided = {d["step"]: d for d in decisions_for(con, run_id,
                                                           [t.step for t in waiting])}
        out = []
        for task in waiting:
            info = task.inputs or {}
            decision = decided.get(task.step)
            can = (may_approve and decision is None and not _expired(info)
                   and eng.permissions.among(eng.user, info.get("approvers")))
            out.append(PendingApproval.of_task(run_id, record_.workflow, record_.created_by,
                                               task.step, info, task.started_at,
                                               can_decide=can, decision=decision))
        return out


__all__ = ["Approvals", "DecisionError", "PendingApproval", "PermissionDenied", "NotFound"]
