"""The workflow_versions table: the text of every version of a declared workflow that a run
ran or the editor saved. Every SQL statement about it lives here."""
from __future__ import annotations

import datetime as dt
import threading

import duckdb

from .store import PerStore, Store
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


class StepVersions(PerStore):
    """Each step's fingerprint for every version a run ran (``workflow_steps``), written in
    the flush that writes the run (a hook: no turn on the file of its own), once per version
    per process."""

    def __init__(self, store: Store):
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], dict[str, str]] = {}
        self._written: set[tuple[str, str]] = set()
        store.add_hook(self._write)

    def remember(self, workflow: str, version: str, steps: dict[str, str]) -> None:
        """Keep ``steps`` (name -> fingerprint) of ``workflow`` at ``version``: call before
        the run that ran it is put, so the same flush writes both."""
        key = (workflow, version)
        with self._lock:
            if key not in self._written:
                self._pending.setdefault(key, dict(steps))

    def _write(self, con: duckdb.DuckDBPyConnection):
        with self._lock:
            pending = dict(self._pending)
        if not pending:
            return None
        rows = [[wf, version, step, fp] for (wf, version), steps in pending.items()
                for step, fp in steps.items()]
        if rows:  # one statement: executemany costs ~1 ms a row
            marks = ", ".join(["(?, ?, ?, ?)"] * len(rows))
            con.execute(f"INSERT INTO workflow_steps VALUES {marks} ON CONFLICT DO NOTHING",
                        [v for row in rows for v in row])

        def written() -> None:  # after the commit: a failed flush writes them next time
            with self._lock:
                for key in pending:
                    self._pending.pop(key, None)
                    self._written.add(key)
        return written


def step_fingerprints(con: duckdb.DuckDBPyConnection, workflow: str,
                      version: str) -> dict[str, str] | None:
    """Step name -> fingerprint of ``workflow`` at ``version``; None when no run of this
    wfnb recorded them (a run from before schema 8)."""
    rows = con.execute("SELECT step, fingerprint FROM workflow_steps WHERE workflow = ? "
                       "AND version = ?", [workflow, version]).fetchall()
    return {step: fp for step, fp in rows} or None
