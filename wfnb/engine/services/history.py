"""Reading the history: runs pages for tables, one run with its tasks, the latest run per
workflow for galleries, and users' read-only SQL. Each read is checked by the guard; the
SQL of the engine's own reads is in ``store/runs.py``."""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import duckdb
import pandas as pd

from ..core.errors import SqlError
from ..core.records import RunRecord
from ..execution.liveness import Liveness
from ..store import runs as stored
from ..store import sqlguard
from ..store.runs import RunsFilter, RunsPage
from ..store.store import Store
from .guard import Guard
from .runs import Run, RunSource


class History:
    """The read side of a workspace: pages of runs, one run, last runs, and ``sql()``.
    Handles it returns read their run through ``source`` (the engine)."""

    def __init__(self, guard: Guard, store: Store, liveness: Liveness, root: Path,
                 sql_dirs: list, source: RunSource):
        self.guard, self.store, self.liveness, self.root = guard, store, liveness, root
        self.sql_dirs, self.source = sql_dirs, source

    def runs(self, workflow: str | None = None, status: str | None = None,
             trigger: str | None = None, limit: int = 50, offset: int = 0,
             after: Any = None, before: Any = None) -> list[Run]:
        """Runs newest first, filtered, one page at a time: the next page is
        ``after=`` the last run shown, the previous one ``before=`` the first (a Run, or
        its ``(created_at, id)``); ``offset`` skips runs instead, slower on deep pages."""
        self.guard.require("VIEW_RUNS", "list runs")
        which = RunsFilter(workflow=workflow, status=status, trigger=trigger)
        page = RunsPage(limit=limit, offset=offset, after=after, before=before)
        self.liveness.reap()
        return [self.handle(record) for record in stored.read_page(self.store, which, page)]

    def search_runs(self, workflow: str | None = None, status: str | None = None,
                    trigger: str | None = None, text: str | None = None, limit: int = 50,
                    offset: int = 0, count_limit: int | None = None, after: Any = None,
                    before: Any = None, run_ids: Iterable[str] | None = None
                    ) -> tuple[list[Run], int]:
        """One page of runs (newest first) and how many match in all; ``text`` matches the
        id, workflow, user or arguments; ``run_ids`` keeps only these runs (say the ids of
        ``pending_approvals()``, for "Waiting for me"). For tables that page through a long
        history: ``after`` / ``before`` as in :meth:`runs`, or ``offset``.
        ``count_limit``: count text matches only up to this many; a total of
        ``count_limit + 1`` then means "more than ``count_limit``" (a text filter's exact
        count is a scan of every run's text; the runs table shows "10,000+")."""
        self.guard.require("VIEW_RUNS", "list runs")
        which = RunsFilter(workflow=workflow, status=status, trigger=trigger, text=text,
                           run_ids=run_ids)
        page = RunsPage(limit=limit, offset=offset, after=after, before=before)
        records, total = stored.read_page_and_count(self.store, which, page, count_limit)
        return [self.handle(record) for record in records], total

    def last_runs(self) -> dict[str, dict]:
        """Each workflow's latest run: {workflow: {id, status, created_at}} (for galleries)."""
        self.guard.require("VIEW_RUNS", "see last runs")
        return stored.last_runs(self.store)

    def get_run(self, run_id: str) -> Run:
        """One run with its tasks; NotFound if there is none with this id."""
        self.guard.require("VIEW_DETAILS", f"see run {run_id}")
        return self.handle_id(run_id)

    def handle_id(self, run_id: str) -> Run:
        """A handle on ``run_id`` (live when driven here), without a permission check."""
        driver = self.liveness.live.get(run_id)
        if driver is not None:
            return Run(self.source, driver.run, driver)
        self.liveness.reap()
        record, tasks = stored.load_run(self.store, run_id, self.root)
        return Run(self.source, record, tasks=tasks)

    def exists(self, run_id: str) -> bool:
        """Is there a run with this id (in the history or live here)? Reveals nothing else."""
        if run_id in self.liveness.live:
            return True
        return stored.run_exists(self.store, run_id)

    def handle(self, record: RunRecord) -> Run:
        """A handle on a stored run (live when driven here)."""
        driver = self.liveness.live.get(record.id)
        return Run(self.source, driver.run, driver) if driver else Run(self.source, record)

    def sql(self, query: str, params: list | tuple = ()) -> pd.DataFrame:
        """Run one query over the history, read-only, and return a pandas DataFrame.

        Only a plain query runs (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE), on a
        connection that can write nothing and read files only inside ``[sql] allowed_dirs``
        (see ``sqlguard``). A refusal is written to the audit trail, then raised."""
        self.guard.require("VIEW_RUNS", "query the history")
        reason = sqlguard.refusal(query)
        if reason:
            self._refuse_sql(reason, query)
        dirs = self.sql_dirs
        try:
            with self.store.connect(read_only=True, config=sqlguard.CONNECT) as con:
                sqlguard.lock(con, sqlguard.directories(dirs))
                return con.execute(query, list(params)).df()
        except duckdb.PermissionException as exc:
            self._refuse_sql(sqlguard.outside(exc, self.root, dirs), query)
        except duckdb.Error as exc:
            text = str(exc)
            if "read-only" in text or "read only" in text:  # past the checks: still refused
                self._refuse_sql("the history is read-only through sql(): this query tries "
                                 "to change it, and nothing was changed", query)
            raise SqlError(f"query failed: {text}") from None

    def _refuse_sql(self, reason: str, query: str) -> NoReturn:
        """Write the refusal to the audit trail (as ``Guard.deny`` does), then raise it."""
        self.store.put(event={"kind": "denied", "actor": self.guard.user, "data": json.dumps(
            {"capability": "VIEW_RUNS", "what": reason, "query": query[:1000]})})
        self.store.flush()
        raise SqlError(reason) from None
