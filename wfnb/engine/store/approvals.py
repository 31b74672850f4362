"""The approvals table: recorded decisions (one per run and step), waiting approval tasks, and
what an approver's list shows. Every SQL statement about decisions lives here."""
from __future__ import annotations

import datetime as dt
import json

import duckdb

from ..core.errors import DecisionError
from ..core.messages import Decision
from ..core.records import dumps, loads, utcnow
from ..core.states import RunStatus, TaskStatus

WAITING = TaskStatus.WAITING.value


def _decision(row: tuple) -> Decision:
    run_id, step, decision, user, comment, inputs, decided_at = row
    return Decision(run_id, step, decision, user, comment, loads(inputs) or {}, decided_at)


def decisions_for(con: duckdb.DuckDBPyConnection, run_id: str,
                  steps: list[str]) -> list[Decision]:
    """Recorded decisions for some steps of a run."""
    if not steps:
        return []
    marks = ", ".join("?" * len(steps))
    rows = con.execute('SELECT run_id, step, decision, "user", comment, inputs, decided_at '
                       f"FROM approvals WHERE run_id = ? AND step IN ({marks})",
                       [run_id, *steps]).fetchall()
    return [_decision(r) for r in rows]


def record(con: duckdb.DuckDBPyConnection, run_id: str, step: str, decision: str, user: str,
           comment: str | None, inputs: dict | None) -> Decision:
    """Insert a decision and its audit event; the caller checked the step is waiting.
    DecisionError when the step was decided already."""
    now = utcnow()
    done = con.execute('SELECT run_id, step, decision, "user", comment, inputs, decided_at '
                       "FROM approvals WHERE run_id = ? AND step = ?", [run_id, step]).fetchone()
    if done:
        raise DecisionError(_decision(done).sentence())
    con.execute('INSERT INTO approvals (run_id, step, decision, "user", comment, inputs, '
                "decided_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, step, decision, user, comment, dumps(inputs or {}), now])
    con.execute("INSERT INTO events (ts, run_id, kind, status, actor, data) VALUES "
                "(?, ?, 'approval', ?, ?, ?)",
                [now, run_id, decision, user, json.dumps({"step": step, "comment": comment})])
    return Decision(run_id, step, decision, user, comment, inputs or {}, now)


def run_and_task_status(con: duckdb.DuckDBPyConnection, run_id: str,
                        task_id: str) -> tuple[tuple | None, str | None]:
    """((run status, owner) or None, task status or None), read in the caller's
    transaction before a decision is recorded."""
    row = con.execute("SELECT status, owner_id FROM runs WHERE id = ?", [run_id]).fetchone()
    task = con.execute("SELECT status FROM tasks WHERE id = ?", [task_id]).fetchone()
    return row, (task[0] if task else None)


def waiting(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, dict, str | None,
                                                         str | None]]:
    """Waiting approval tasks: (run, step, the task's stored inputs, the run's owner, the
    recorded decision or None)."""
    rows = []
    # the waiting runs first (a cheap scan of runs.status), then their tasks through the
    # tasks.run_id index: a scan of the status of every task costs ~100 ms at 4M tasks
    for run_id, owner in con.execute("SELECT id, owner_id FROM runs WHERE status = ?",
                                     [RunStatus.WAITING.value]).fetchall():
        for step, inputs, decided in con.execute(
                "SELECT t.step, t.inputs, a.decision FROM tasks t LEFT JOIN approvals a "
                "ON a.run_id = t.run_id AND a.step = t.step "
                "WHERE t.run_id = ? AND t.status = ?", [run_id, WAITING]).fetchall():
            rows.append((run_id, step, loads(inputs) or {}, owner, decided))
    return rows


def undecided(con: duckdb.DuckDBPyConnection, workflow: str | None = None) -> list[dict]:
    """Waiting approval steps with no recorded decision (a step whose decision is recorded
    is no longer waiting for anyone, even before its run has moved on), oldest first:
    run_id, workflow, created_by, step, inputs (parsed), started_at."""
    sql = ("SELECT r.id, r.workflow, r.created_by, t.step, t.inputs, t.started_at "
           "FROM runs r JOIN tasks t ON t.run_id = r.id "
           "WHERE r.status = ? AND t.status = ? AND NOT EXISTS (SELECT 1 FROM approvals a "
           "WHERE a.run_id = t.run_id AND a.step = t.step)")
    args: list = [RunStatus.WAITING.value, WAITING]
    if workflow:
        sql, args = sql + " AND r.workflow = ?", [*args, workflow]
    rows = [dict(zip(("run_id", "workflow", "created_by", "step", "inputs", "started_at"), row))
            for row in con.execute(sql + " ORDER BY t.started_at", args).fetchall()]
    for row in rows:
        row["inputs"] = loads(row["inputs"]) or {}
    return rows


def give_back(con: duckdb.DuckDBPyConnection, run_id: str, owner_id: str | None,
              parked: list[str]) -> tuple[list[Decision], str | None]:
    """Give a waiting run up (no owner), unless a decision for one of its ``parked`` steps or
    a cancel request is already recorded: returns (those decisions, who asked to cancel)."""
    found = decisions_for(con, run_id, parked)
    row = con.execute("SELECT cancel_requested_by FROM runs WHERE id = ? AND "
                      "cancel_requested_at IS NOT NULL", [run_id]).fetchone()
    if not found and row is None:
        con.execute("UPDATE runs SET owner_id = NULL WHERE id = ? AND owner_id = ?",
                    [run_id, owner_id])
    return found, (row[0] or "unknown") if row else None


def expired(info: dict, now: dt.datetime | None = None) -> bool:
    """Has the deadline of a waiting approval (its task's stored inputs) passed?"""
    deadline = info.get("deadline")
    return bool(deadline) and dt.datetime.fromisoformat(deadline) <= (now or utcnow())


TIMEOUT_USER = "wfnb (timeout)"


def record_timeout(con: duckdb.DuckDBPyConnection, run_id: str, step: str,
                   info: dict) -> Decision:
    """The deadline decides: on_timeout's decision, with the approver fields' defaults."""
    deadline = dt.datetime.fromisoformat(info["deadline"])
    kind = info.get("on_timeout", "reject")
    defaults = {f["name"]: f.get("default") for f in info.get("fields") or []}
    return record(con, run_id, step, kind, TIMEOUT_USER,
                  f"no decision by the deadline ({deadline:%Y-%m-%d %H:%M:%S} UTC)",
                  defaults if kind == "approve" else {})
