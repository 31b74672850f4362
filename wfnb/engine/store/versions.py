"""The workflow_versions table: the text of every version of a declared workflow that a run
ran or the editor saved. Every SQL statement about it lives here."""
from __future__ import annotations

import datetime as dt

import duckdb

from .writer import rows_of


def keep(con: duckdb.DuckDBPyConnection, workflow: str, version: str, path: str, text: str,
         saved_by: str | None, saved_at: dt.datetime, origin: str) -> None:
    """Keep one version's text (once: a version already kept stays as it was)."""
    con.execute("INSERT INTO workflow_versions VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [workflow, version, path, text, saved_by, saved_at, origin])


def listing(con: duckdb.DuckDBPyConnection, workflow: str) -> list[dict]:
    """version, saved_at, saved_by, origin, path of each kept version, newest first."""
    return rows_of(con.execute(
        "SELECT version, saved_at, saved_by, origin, path FROM workflow_versions "
        "WHERE workflow = ? ORDER BY saved_at DESC", [workflow]))


def text(con: duckdb.DuckDBPyConnection, workflow: str, version: str) -> str | None:
    row = con.execute("SELECT text FROM workflow_versions WHERE workflow = ? AND version = ?",
                      [workflow, version]).fetchone()
    return row[0] if row else None
