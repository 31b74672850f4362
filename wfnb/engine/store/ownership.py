"""Who owns which run: owner rows and heartbeats, runs whose owner is gone, claiming and
giving back waiting runs, cancel requests, and ending a run no process drives. Every SQL
statement about ownership lives here (``execution/liveness.py`` decides what to do)."""
from __future__ import annotations

import datetime as dt
import json

import duckdb

from ..core.records import utcnow
from ..core.states import (RUN_TERMINAL, TASK_ACTIVE, RunStatus, TaskStatus, check_run,
                           check_task)
from .writer import rows_of

# runs an owner process may hold; a run Waiting for Approval holds one only while other
# steps of it still run (a released waiting run has no owner and is not lost)
OWNED = (RunStatus.PENDING.value, RunStatus.RUNNING.value, RunStatus.WAITING.value)


def end_run(con: duckdb.DuckDBPyConnection, run_id: str, old: str, new: RunStatus,
            error: str, actor: str | None) -> bool:
    """End a run this process does not drive (lost owner, cancel of an orphan): the run and
    its unfinished tasks, with events, in the caller's transaction. False if it moved on."""
    check_run(RunStatus(old), new)
    now = utcnow()
    changed = con.execute(
        "UPDATE runs SET status = ?, error = ?, ended_at = ?, updated_at = ? "
        "WHERE id = ? AND status = ? RETURNING id",
        [new.value, error, now, now, run_id, old]).fetchall()
    if not changed:
        return False
    task_status = TaskStatus.CANCELLED if new == RunStatus.CANCELLED else TaskStatus.ERROR
    active = [s.value for s in TASK_ACTIVE]
    rows = con.execute(
        f"SELECT id, status FROM tasks WHERE run_id = ? AND status IN "
        f"({', '.join('?' * len(active))})", [run_id, *active]).fetchall()
    events = [(now, run_id, None, "run", new.value, actor, json.dumps({"error": error}))]
    for task_id, status in rows:
        check_task(TaskStatus(status), task_status)
        con.execute("UPDATE tasks SET status = ?, error = ?, ended_at = ? WHERE id = ?",
                    [task_status.value, error, now, task_id])
        events.append((now, run_id, task_id, "task", task_status.value, actor, None))
    con.executemany("INSERT INTO events (ts, run_id, task_id, kind, status, actor, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", events)
    return True


def beat(con: duckdb.DuckDBPyConnection, owner_id: str, host: str, pid: int,
         started_at: dt.datetime) -> None:
    """Write an owner's heartbeat (its row), in the caller's transaction."""
    con.execute("INSERT INTO owners VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO "
                "UPDATE SET heartbeat_at = excluded.heartbeat_at",
                [owner_id, host, pid, started_at, utcnow()])


def owner(con: duckdb.DuckDBPyConnection, owner_id: str | None) -> tuple:
    """(host, pid, heartbeat_at) of an owner, or Nones when it has no row."""
    row = con.execute("SELECT host, pid, heartbeat_at FROM owners WHERE id = ?",
                      [owner_id]).fetchone()
    return row if row else (None, None, None)


def owned_runs(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Runs an owner may hold: (run id, status, owner id, host, pid, heartbeat_at)."""
    # one equality per status: DuckDB pushes `status = ?` into the scan, but only uses
    # `status IN (...)` as an optional zone-map filter (a full scan at 1M runs)
    query = " UNION ALL ".join(
        "SELECT r.id, r.status, r.owner_id, o.host, o.pid, o.heartbeat_at FROM runs r "
        "LEFT JOIN owners o ON o.id = r.owner_id WHERE r.status = ?" for _ in OWNED)
    return con.execute(query, list(OWNED)).fetchall()


def news_for(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> list[dict]:
    """Of runs driven here: those with a cancel request or that the history has ended
    otherwise (id, status, error, ended_at, cancel_requested_by)."""
    marks = ", ".join("?" * len(run_ids))
    ended = ", ".join(repr(s) for s in sorted(s.value for s in RUN_TERMINAL))
    return rows_of(con.execute(
        f"SELECT id, status, error, ended_at, cancel_requested_by FROM runs "
        f"WHERE id IN ({marks}) AND (cancel_requested_at IS NOT NULL "
        f"OR status IN ({ended}))", run_ids))


def take(con: duckdb.DuckDBPyConnection, run_id: str, owner_id: str) -> None:
    """Make ``owner_id`` the run's owner (a claim; the caller writes its heartbeat)."""
    con.execute("UPDATE runs SET owner_id = ? WHERE id = ?", [owner_id, run_id])


def take_unowned(con: duckdb.DuckDBPyConnection, run_id: str, owner_id: str) -> bool:
    """Claim a waiting run nobody owns; False when someone else has it."""
    return bool(con.execute(
        "UPDATE runs SET owner_id = ? WHERE id = ? AND owner_id IS NULL AND status = ? "
        "RETURNING id", [owner_id, run_id, RunStatus.WAITING.value]).fetchall())


def give_back_waiting(con: duckdb.DuckDBPyConnection, owner_id: str,
                      run_ids: list[str]) -> list[str]:
    """Give waiting runs held by ``owner_id`` back (no owner); returns those given."""
    marks = ", ".join("?" * len(run_ids))
    return [r[0] for r in con.execute(
        f"UPDATE runs SET owner_id = NULL WHERE owner_id = ? AND status = ? "
        f"AND id IN ({marks}) RETURNING id",
        [owner_id, RunStatus.WAITING.value, *run_ids]).fetchall()]


def status_and_owner(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple | None:
    """(status, owner id) of a run, or None when there is no such run."""
    return con.execute("SELECT status, owner_id FROM runs WHERE id = ?", [run_id]).fetchone()


def request_cancel(con: duckdb.DuckDBPyConnection, run_id: str, user: str) -> None:
    """Ask the run's owner (another process) to cancel it; its flush reads the request."""
    now = utcnow()
    con.execute("UPDATE runs SET cancel_requested_at = ?, cancel_requested_by = ? "
                "WHERE id = ?", [now, user, run_id])
    con.execute("INSERT INTO events (ts, run_id, kind, actor) VALUES "
                "(?, ?, 'cancel_requested', ?)", [now, run_id, user])
