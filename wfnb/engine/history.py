"""Reading the history: runs pages for tables, one run with its tasks, the latest run per
workflow for galleries, and users' read-only SQL. Mixed into the Engine."""
from __future__ import annotations

import json
from typing import NoReturn

import duckdb
import pandas as pd

from . import sqlguard
from .errors import NotFound, SqlError, WfnbError
from .records import RunRecord, TaskRecord
from .run import Run
from .states import RunStatus
from .store import rows_of


def _page_sql(clause: str, limit: int, offset: int) -> str:
    """A page of runs, newest first. A deep page sorts only the ids and times of the rows it
    skips and fetches whole rows for the page alone (at 1M runs, offset 10,000: 119 -> 41 ms)."""
    order = "ORDER BY created_at DESC, id DESC"
    if offset == 0:
        return f"SELECT * FROM runs {clause} {order} LIMIT {limit}"
    return (f"SELECT r.* FROM runs r JOIN (SELECT id, created_at FROM runs {clause} {order} "
            f"LIMIT {limit} OFFSET {offset}) k ON k.id = r.id "
            "ORDER BY k.created_at DESC, k.id DESC")


class HistoryReads:
    """The engine's read side (needs ``store``, ``liveness``, ``root``, ``config``, ``user``
    and ``_require``)."""

    def runs(self, workflow: str | None = None, status: str | None = None,
             trigger: str | None = None, limit: int = 50, offset: int = 0) -> list[Run]:
        """Runs newest first, filtered, one page at a time."""
        self._require("VIEW_RUNS", "list runs")
        where, args = [], []
        if workflow:
            where.append("workflow = ?")
            args.append(workflow)
        if status:
            where.append("status = ?")
            args.append(self._status(status))
        if trigger:
            where.append("trigger = ?")
            args.append(trigger)
        else:  # test runs only when asked for
            where.append("trigger != 'test'")
        if (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
                or isinstance(offset, bool) or not isinstance(offset, int) or offset < 0):
            raise WfnbError(f"limit must be >= 1 and offset >= 0 (got {limit!r}, {offset!r})")
        self.liveness.reap()
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.store.query(_page_sql(clause, limit, offset), args)
        return [self._handle(RunRecord.from_row(row)) for row in rows]

    def search_runs(self, workflow: str | None = None, status: str | None = None,
                    trigger: str | None = None, text: str | None = None, limit: int = 50,
                    offset: int = 0, count_limit: int | None = None) -> tuple[list[Run], int]:
        """One page of runs (newest first) and how many match in all; ``text`` matches the
        id, workflow, user or arguments. For tables that page through a long history.
        ``count_limit``: count text matches only up to this many; a total of
        ``count_limit + 1`` then means "more than ``count_limit``" (a text filter's exact
        count is a scan of every run's text; the runs table shows "10,000+")."""
        self._require("VIEW_RUNS", "list runs")
        where, args = [], []
        for column, value in (("workflow", workflow), ("trigger", trigger)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if not trigger:  # test runs only when asked for
            where.append("trigger != 'test'")
        if status:
            where.append("status = ?")
            args.append(self._status(status))
        if text:  # id, workflow, user and arguments, lowercased when the run was written
            where.append("contains(search, ?)")
            args.append(text.lower())
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        count = f"SELECT count(*) FROM runs {clause}"
        if text and count_limit is not None:
            count = f"SELECT count(*) FROM (SELECT 1 FROM runs {clause} LIMIT {int(count_limit) + 1})"
        with self.store.connect(read_only=True) as con:
            rows = rows_of(con.execute(_page_sql(clause, int(limit), int(offset)), args))
            if rows and len(rows) < int(limit) or not rows and not offset:
                total = int(offset) + len(rows)  # the last page: no need to count
            else:
                total = con.execute(count, args).fetchone()[0]
        return [self._handle(RunRecord.from_row(r)) for r in rows], int(total)

    def last_runs(self) -> dict[str, dict]:
        """Each workflow's latest run: {workflow: {id, status, created_at}} (for galleries)."""
        self._require("VIEW_RUNS", "see last runs")
        rows = self.store.query(
            "SELECT workflow, arg_max(id, created_at) AS id, arg_max(status, created_at) AS "
            "status, max(created_at) AS created_at FROM runs WHERE trigger != 'test' "
            "GROUP BY workflow")
        return {r.pop("workflow"): r for r in rows}

    @staticmethod
    def _status(status: str) -> str:
        for s in RunStatus:
            if status.lower() == s.value.lower():
                return s.value
        raise WfnbError(f"status {status!r} is not a run status "
                        f"(one of: {', '.join(s.value for s in RunStatus)})")

    def get_run(self, run_id: str) -> Run:
        """One run with its tasks; NotFound if there is none with this id."""
        self._require("VIEW_DETAILS", f"see run {run_id}")
        return self._handle_id(run_id)

    def _handle_id(self, run_id: str) -> Run:
        driver = self.liveness.live.get(run_id)
        if driver is not None:
            return Run(self, driver.run, driver)
        self.liveness.reap()
        record, tasks = self._load(run_id)
        return Run(self, record, tasks=tasks)

    def exists(self, run_id: str) -> bool:
        """Is there a run with this id (in the history or live here)? Reveals nothing else."""
        if run_id in self.liveness.live:
            return True
        return bool(self.store.query("SELECT 1 FROM runs WHERE id = ?", [run_id]))

    def _load(self, run_id: str) -> tuple[RunRecord, list[TaskRecord]]:
        """A run and its tasks as stored (no permission check: for the engine's own use)."""
        with self.store.connect(read_only=True) as con:
            rows = rows_of(con.execute("SELECT * FROM runs WHERE id = ?", [run_id]))
            tasks = rows_of(con.execute("SELECT * FROM tasks WHERE run_id = ? ORDER BY seq",
                                        [run_id]))
        if not rows:
            raise NotFound(f"no run with id {run_id!r} in {self.root}")
        return RunRecord.from_row(rows[0]), [TaskRecord.from_row(t) for t in tasks]

    def _handle(self, record: RunRecord) -> Run:
        driver = self.liveness.live.get(record.id)
        return Run(self, driver.run, driver) if driver else Run(self, record)

    def sql(self, query: str, params: list | tuple = ()) -> pd.DataFrame:
        """Run one query over the history, read-only, and return a pandas DataFrame.

        Only a plain query runs (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE), on a
        connection that can write nothing and read files only inside ``[sql] allowed_dirs``
        (see ``sqlguard``). A refusal is written to the audit trail, then raised."""
        self._require("VIEW_RUNS", "query the history")
        reason = sqlguard.refusal(query)
        if reason:
            self._refuse_sql(reason, query)
        dirs = self.config.sql_dirs
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
        """Write the refusal to the audit trail (as ``_deny`` does), then raise it."""
        self.store.put(event={"kind": "denied", "actor": self.user, "data": json.dumps(
            {"capability": "VIEW_RUNS", "what": reason, "query": query[:1000]})})
        self.store.flush()
        raise SqlError(reason) from None
