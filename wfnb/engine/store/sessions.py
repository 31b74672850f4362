"""The test_sessions and test_session_state tables: one user's stored test values of one
workflow, and whether step tests use them. Every SQL statement about test sessions."""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from ..core.records import dumps, loads
from .writer import rows_of


def is_active(con: duckdb.DuckDBPyConnection, user: str, workflow: str) -> bool:
    """Whether the session is active (the default: yes)."""
    row = con.execute('SELECT active FROM test_session_state WHERE "user" = ? AND workflow = ?',
                      [user, workflow]).fetchone()
    return bool(row[0]) if row else True


def set_active(con: duckdb.DuckDBPyConnection, user: str, workflow: str, active: bool) -> None:
    con.execute("INSERT INTO test_session_state VALUES (?, ?, ?) ON CONFLICT DO UPDATE "
                "SET active = excluded.active", [user, workflow, bool(active)])


def values(con: duckdb.DuckDBPyConnection, user: str,
           workflow: str) -> list[tuple[str, Any, str | None]]:
    """(step, stored value, artifact ref), oldest first."""
    rows = rows_of(con.execute('SELECT step, value, value_ref FROM test_sessions WHERE '
                               '"user" = ? AND workflow = ? ORDER BY updated_at',
                               [user, workflow]))
    return [(r["step"], loads(r["value"]), r["value_ref"]) for r in rows]


def clear(con: duckdb.DuckDBPyConnection, user: str, workflow: str) -> None:
    con.execute('DELETE FROM test_sessions WHERE "user" = ? AND workflow = ?', [user, workflow])


def keep(con: duckdb.DuckDBPyConnection, user: str, workflow: str, run_id: str,
         now: dt.datetime, rows: list[tuple[str, Any, str | None]]) -> None:
    """Store (step, value, artifact ref) rows, replacing a step's earlier value."""
    for step, value, ref in rows:
        con.execute("INSERT INTO test_sessions VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO UPDATE SET value = excluded.value, value_ref = "
                    "excluded.value_ref, run_id = excluded.run_id, updated_at = "
                    "excluded.updated_at", [user, workflow, step, dumps(value), ref, run_id, now])
