"""Reading the history: runs pages for tables, one run with its tasks, the latest run per
workflow for galleries, and users' read-only SQL. Mixed into the Engine."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import duckdb
import pandas as pd

from ..store import sqlguard
from ..core.errors import NotFound, SqlError, WfnbError
from ..core.records import RunRecord, TaskRecord
from .runs import Run
from ..core.states import RunStatus
from ..store.store import rows_of

NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"


def cursor(value: Any, argument: str) -> tuple[dt.datetime, str]:
    """The ``(created_at, id)`` a page starts from: a run (a ``Run``, or a row with
    ``created_at`` and ``id``) or the pair itself, ``created_at`` a datetime or ISO 8601 text
    (UTC when it has no zone). A WfnbError names ``argument`` and says what would do."""
    if isinstance(value, Mapping):
        pair = (value.get("created_at"), value.get("id"))
    elif hasattr(value, "created_at") and hasattr(value, "id"):
        pair = (value.created_at, value.id)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    else:
        raise WfnbError(f"{argument}={value!r} is not a cursor: give the last run shown "
                        "(a Run), or its (created_at, id) pair")
    when, run_id = pair
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when)
        except ValueError:
            raise WfnbError(f"{argument}: created_at {when!r} is not a time (ISO 8601, like "
                            "'2026-11-25T10:00:00.123456')") from None
    if not isinstance(when, dt.datetime):
        raise WfnbError(f"{argument}: created_at {when!r} is not a time (a datetime, or ISO "
                        "8601 text like '2026-11-25T10:00:00.123456')")
    if when.tzinfo is not None:  # the history keeps naive UTC
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if not isinstance(run_id, str) or not run_id:
        raise WfnbError(f"{argument}: id {run_id!r} is not a run id (a non-empty string)")
    return when, run_id


def _page(where: list[str], args: list, limit: int, offset: int, after: Any,
          before: Any) -> tuple[str, list]:
    """A page of runs, newest first, and its arguments.

    * ``after`` / ``before`` (keyset paging): the page just older / newer than a run shown.
      ``created_at <= ?`` alone narrows the scan (DuckDB prunes on it), the ``OR`` settles
      ties; a deep page then costs what the first one does (at 1M runs, 10,000 rows deep:
      83 -> 9 ms), where an offset sorts every row it skips;
    * ``offset``: a deep page sorts only the ids and times of the rows it skips and fetches
      whole rows for the page alone."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise WfnbError(f"limit={limit!r} must be an integer >= 1")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise WfnbError(f"offset={offset!r} must be an integer >= 0")
    if after is not None and before is not None:
        raise WfnbError("give after= (older runs) or before= (newer runs), not both")
    if offset and (after is not None or before is not None):
        raise WfnbError(f"offset={offset} and {'after' if after is not None else 'before'}= "
                        "both say where the page starts: give one")
    where, args = list(where), list(args)
    if after is not None or before is not None:
        when, run_id = cursor(after if after is not None else before,
                              "after" if after is not None else "before")
        if after is not None:
            where += ["created_at <= ?", "(created_at < ? OR id < ?)"]
        else:
            where += ["created_at >= ?", "(created_at > ? OR id > ?)"]
        args += [when, when, run_id]
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    if before is not None:  # the runs nearest the cursor, then shown newest first
        return (f"SELECT * FROM (SELECT * FROM runs {clause} ORDER BY created_at, id "
                f"LIMIT {limit}) {NEWEST_FIRST}"), args
    if offset == 0:
        return f"SELECT * FROM runs {clause} {NEWEST_FIRST} LIMIT {limit}", args
    return (f"SELECT r.* FROM runs r JOIN (SELECT id, created_at FROM runs {clause} "
            f"{NEWEST_FIRST} LIMIT {limit} OFFSET {offset}) k ON k.id = r.id "
            "ORDER BY k.created_at DESC, k.id DESC"), args


def _ids(run_ids: Any) -> list[str]:
    if isinstance(run_ids, (str, bytes)) or not isinstance(run_ids, Iterable):
        raise WfnbError(f"run_ids={run_ids!r} must be an iterable of run ids, like "
                        "[run.id for run in ...]")
    ids = list(dict.fromkeys(run_ids))
    bad = [i for i in ids if not isinstance(i, str)]
    if bad:
        raise WfnbError(f"run_ids: {bad[0]!r} is not a run id (a string)")
    return ids


class HistoryReads:
    """The engine's read side (needs ``store``, ``liveness``, ``root``, ``config``, ``user``
    and ``_require``)."""

    def _filters(self, workflow: str | None, status: str | None, trigger: str | None,
                 text: str | None = None, run_ids: list[str] | None = None
                 ) -> tuple[list[str], list]:
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
        if run_ids is not None:
            where.append(f"id IN ({', '.join('?' * len(run_ids))})" if run_ids else "false")
            args.extend(run_ids)
        return where, args

    def runs(self, workflow: str | None = None, status: str | None = None,
             trigger: str | None = None, limit: int = 50, offset: int = 0,
             after: Any = None, before: Any = None) -> list[Run]:
        """Runs newest first, filtered, one page at a time: the next page is
        ``after=`` the last run shown, the previous one ``before=`` the first (a Run, or
        its ``(created_at, id)``); ``offset`` skips runs instead, slower on deep pages."""
        self._require("VIEW_RUNS", "list runs")
        where, args = self._filters(workflow, status, trigger)
        sql, args = _page(where, args, limit, offset, after, before)
        self.liveness.reap()
        rows = self.store.query(sql, args)
        return [self._handle(RunRecord.from_row(row)) for row in rows]

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
        self._require("VIEW_RUNS", "list runs")
        where, args = self._filters(workflow, status, trigger, text,
                                    None if run_ids is None else _ids(run_ids))
        sql, page_args = _page(where, args, limit, offset, after, before)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        count = f"SELECT count(*) FROM runs {clause}"
        if text and count_limit is not None:
            count = f"SELECT count(*) FROM (SELECT 1 FROM runs {clause} LIMIT {int(count_limit) + 1})"
        keyset = after is not None or before is not None
        with self.store.connect(read_only=True) as con:
            rows = rows_of(con.execute(sql, page_args))
            if not keyset and (rows and len(rows) < limit or not rows and not offset):
                total = offset + len(rows)  # the last page: no need to count
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
