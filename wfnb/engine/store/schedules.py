"""The schedules and schedule_fires tables. Every SQL statement about schedules lives here;
``services/schedules.py`` holds the rules (cron, time zones, catch-up)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from ..core.records import dumps
from .writer import rows_of


def insert(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    """A new schedule (``row``: the columns of ``schedules``, params as a dict)."""
    con.execute("INSERT INTO schedules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [row["id"], row["workflow"], row["cron"], row["timezone"], dumps(row["params"]),
                 row["catchup"], row["paused"], row["created_by"], row["created_at"],
                 row["last_fire"], row["next_fire"]])


def event(con: duckdb.DuckDBPyConnection, now: dt.datetime, actor: str, data: dict) -> None:
    """A schedule's change, for the audit trail and other processes' views."""
    con.execute("INSERT INTO events (ts, kind, actor, data) VALUES (?, 'schedule', ?, ?)",
                [now, actor, dumps(data)])


def all_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every schedule, soonest first."""
    return rows_of(con.execute("SELECT * FROM schedules ORDER BY next_fire NULLS LAST, id"))


def row(con: duckdb.DuckDBPyConnection, schedule_id: str) -> dict | None:
    rows = rows_of(con.execute("SELECT * FROM schedules WHERE id = ?", [schedule_id]))
    return rows[0] if rows else None


def set_paused(con: duckdb.DuckDBPyConnection, schedule_id: str, paused: bool,
               next_fire: dt.datetime | None, resumed_at: dt.datetime | None) -> None:
    con.execute("UPDATE schedules SET paused = ?, next_fire = ?, "
                "last_fire = coalesce(?, last_fire) WHERE id = ?",
                [paused, next_fire, resumed_at, schedule_id])


def delete(con: duckdb.DuckDBPyConnection, schedule_id: str) -> None:
    con.execute("DELETE FROM schedules WHERE id = ?", [schedule_id])


def due(con: duckdb.DuckDBPyConnection, now: dt.datetime) -> list[dict]:
    """Schedules not paused whose next time has come."""
    return rows_of(con.execute("SELECT * FROM schedules WHERE NOT paused AND next_fire <= ?",
                               [now]))


def fire(con: duckdb.DuckDBPyConnection, schedule_id: str, occurrence: dt.datetime,
         run_id: str, now: dt.datetime, owner_id: str) -> bool:
    """Record that ``occurrence`` starts ``run_id``; False when another scheduler did."""
    return bool(con.execute("INSERT OR IGNORE INTO schedule_fires VALUES (?, ?, ?, ?, ?) "
                            "RETURNING run_id",
                            [schedule_id, occurrence, run_id, now, owner_id]).fetchall())


def moved_on(con: duckdb.DuckDBPyConnection, schedule_id: str, last_fire: dt.datetime | None,
             next_fire: dt.datetime) -> None:
    con.execute("UPDATE schedules SET last_fire = ?, next_fire = ? WHERE id = ?",
                [last_fire, next_fire, schedule_id])
