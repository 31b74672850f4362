"""The runs and tasks tables: reading one run, pages of runs, the latest run per workflow.

Every SQL statement about runs lives here (the services call these functions):

* :class:`RunsFilter` says which runs (workflow, status, trigger, text, ids) and
  :class:`RunsPage` which page of them (a limit, then an offset or a cursor), both checked when
  made;
* :func:`read_page` / :func:`read_page_and_count` read them, :func:`last_runs` the latest
  run of each workflow, :func:`run_exists` and :func:`load_run` one run."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ..core.errors import NotFound, WfnbError
from ..core.records import RunRecord, TaskRecord
from ..core.states import RunStatus
from .store import Store
from .writer import rows_of

NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"


def load_run(store: Store, run_id: str, root: Path | str) -> tuple[RunRecord, list[TaskRecord]]:
    """A run and its tasks (in the order they were scheduled) as stored; NotFound names the
    workspace ``root`` when there is none with this id. No permission check."""
    with store.connect(read_only=True) as con:
        return read_run(con, run_id, root)


def read_run(con: duckdb.DuckDBPyConnection, run_id: str,
             root: Path | str) -> tuple[RunRecord, list[TaskRecord]]:
    """:func:`load_run` through an open connection ``con`` (to read more in the same turn)."""
    rows = rows_of(con.execute("SELECT * FROM runs WHERE id = ?", [run_id]))
    tasks = rows_of(con.execute("SELECT * FROM tasks WHERE run_id = ? ORDER BY seq",
                                [run_id]))
    if not rows:
        raise NotFound(f"no run with id {run_id!r} in {root}")
    return RunRecord.from_row(rows[0]), [TaskRecord.from_row(t) for t in tasks]


# ---- which runs ------------------------------------------------------------------------------
def _canonical_status(status: str) -> str:
    """The run status named ``status`` in any case, as stored ("failed" -> "Failed"); a
    WfnbError lists the statuses otherwise."""
    for s in RunStatus:
        if status.lower() == s.value.lower():
            return s.value
    raise WfnbError(f"status {status!r} is not a run status "
                    f"(one of: {', '.join(s.value for s in RunStatus)})")


def _unique_ids(ids: Any) -> tuple[str, ...]:
    """``ids`` (any iterable of run ids) without repeats, in their order; a WfnbError says
    what is wrong otherwise."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise WfnbError(f"run_ids={ids!r} must be an iterable of run ids, like "
                        "[run.id for run in ...]")
    unique = tuple(dict.fromkeys(ids))
    bad = [i for i in unique if not isinstance(i, str)]
    if bad:
        raise WfnbError(f"run_ids: {bad[0]!r} is not a run id (a string)")
    return unique


@dataclass(frozen=True)
class RunsFilter:
    """Which runs: each given (non-empty) field narrows them, all must hold.

    * ``workflow``, ``trigger``: equal to this; test runs are left out unless ``trigger`` is
      given;
    * ``status``: a run status in any case (kept as stored: ``"failed"`` -> ``"Failed"``);
    * ``text``: in the id, workflow, user or arguments, in any case;
    * ``run_ids``: one of these (any iterable, kept as a tuple without repeats; empty: none).

    A bad ``run_ids`` or ``status`` raises WfnbError when the filter is made (in that order)."""

    workflow: str | None = None
    status: str | None = None
    trigger: str | None = None
    text: str | None = None
    run_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.run_ids is not None:
            object.__setattr__(self, "run_ids", _unique_ids(self.run_ids))
        if self.status:
            object.__setattr__(self, "status", _canonical_status(self.status))

    def where(self) -> tuple[list[str], list]:
        """The conditions (to join with AND) over the runs table, and their arguments."""
        where, args = [], []
        for column, value in (("workflow", self.workflow), ("trigger", self.trigger)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if not self.trigger:  # test runs only when asked for
            where.append("trigger != 'test'")
        if self.status:
            where.append("status = ?")
            args.append(self.status)
        if self.text:  # id, workflow, user and arguments, lowercased when the run was written
            where.append("contains(search, ?)")
            args.append(self.text.lower())
        if self.run_ids is not None:
            where.append(f"id IN ({', '.join('?' * len(self.run_ids))})" if self.run_ids
                         else "false")
            args.extend(self.run_ids)
        return where, args


def _clause(where: list[str]) -> str:
    return f"WHERE {' AND '.join(where)}" if where else ""


# ---- which page ------------------------------------------------------------------------------
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


@dataclass(frozen=True)
class RunsPage:
    """Which page of runs, newest first: ``limit`` runs, starting

    * ``after`` / ``before`` (keyset paging) a run shown: the page just older / newer than it
      (a ``Run``, a row or the ``(created_at, id)`` pair; kept as that pair, naive UTC);
    * else ``offset`` runs in (slower on deep pages).

    Checked when made: a WfnbError names the argument that is wrong."""

    limit: int = 50
    offset: int = 0
    after: Any = None
    before: Any = None

    def __post_init__(self) -> None:
        limit, offset, after, before = self.limit, self.offset, self.after, self.before
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise WfnbError(f"limit={limit!r} must be an integer >= 1")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise WfnbError(f"offset={offset!r} must be an integer >= 0")
        if after is not None and before is not None:
            raise WfnbError("give after= (older runs) or before= (newer runs), not both")
        if offset and (after is not None or before is not None):
            raise WfnbError(f"offset={offset} and {'after' if after is not None else 'before'}= "
                            "both say where the page starts: give one")
        if after is not None:
            object.__setattr__(self, "after", cursor(after, "after"))
        if before is not None:
            object.__setattr__(self, "before", cursor(before, "before"))

    @property
    def keyset(self) -> bool:
        """Does the page start at a cursor (rather than an offset)?"""
        return self.after is not None or self.before is not None


def _page_sql(runs: RunsFilter, page: RunsPage) -> tuple[str, list]:
    """A page of runs, newest first, and its arguments.

    * keyset paging: ``created_at <= ?`` alone narrows the scan (DuckDB prunes on it), the
      ``OR`` settles ties; a deep page then costs what the first one does (at 1M runs, 10,000
      rows deep: 83 -> 9 ms), where an offset sorts every row it skips;
    * ``offset``: a deep page sorts only the ids and times of the rows it skips and fetches
      whole rows for the page alone."""
    where, args = runs.where()
    limit, offset = page.limit, page.offset
    if page.keyset:
        when, run_id = page.after if page.after is not None else page.before
        if page.after is not None:
            where += ["created_at <= ?", "(created_at < ? OR id < ?)"]
        else:
            where += ["created_at >= ?", "(created_at > ? OR id > ?)"]
        args += [when, when, run_id]
    clause = _clause(where)
    if page.before is not None:  # the runs nearest the cursor, then shown newest first
        return (f"SELECT * FROM (SELECT * FROM runs {clause} ORDER BY created_at, id "
                f"LIMIT {limit}) {NEWEST_FIRST}"), args
    if offset == 0:
        return f"SELECT * FROM runs {clause} {NEWEST_FIRST} LIMIT {limit}", args
    return (f"SELECT r.* FROM runs r JOIN (SELECT id, created_at FROM runs {clause} "
            f"{NEWEST_FIRST} LIMIT {limit} OFFSET {offset}) k ON k.id = r.id "
            "ORDER BY k.created_at DESC, k.id DESC"), args


def _count_sql(runs: RunsFilter, count_limit: int | None) -> tuple[str, list]:
    """How many runs match; with a text filter and ``count_limit``, only up to
    ``count_limit + 1`` (a text filter's exact count scans every run's text)."""
    where, args = runs.where()
    clause = _clause(where)
    if runs.text and count_limit is not None:
        return (f"SELECT count(*) FROM (SELECT 1 FROM runs {clause} "
                f"LIMIT {int(count_limit) + 1})"), args
    return f"SELECT count(*) FROM runs {clause}", args


# ---- reading ---------------------------------------------------------------------------------
def read_page(store: Store, runs: RunsFilter, page: RunsPage) -> list[RunRecord]:
    """One page of the runs ``runs`` keeps, newest first."""
    sql, args = _page_sql(runs, page)
    return [RunRecord.from_row(row) for row in store.query(sql, args)]


def read_page_and_count(store: Store, runs: RunsFilter, page: RunsPage,
                        count_limit: int | None = None) -> tuple[list[RunRecord], int]:
    """One page (as :func:`read_page`) and how many runs match in all, over one connection.
    ``count_limit``: with a text filter, count only up to this many; ``count_limit + 1`` then
    means "more". The last page (reached by offset) counts itself: no count query."""
    sql, page_args = _page_sql(runs, page)
    count, count_args = _count_sql(runs, count_limit)
    with store.connect(read_only=True) as con:
        rows = rows_of(con.execute(sql, page_args))
        if not page.keyset and (rows and len(rows) < page.limit or not rows and not page.offset):
            total = page.offset + len(rows)  # the last page: no need to count
        else:
            total = con.execute(count, count_args).fetchone()[0]
    return [RunRecord.from_row(r) for r in rows], int(total)


def last_runs(store: Store) -> dict[str, dict]:
    """Each workflow's latest run but test runs: {workflow: {id, status, created_at}}."""
    rows = store.query(
        "SELECT workflow, arg_max(id, created_at) AS id, arg_max(status, created_at) AS "
        "status, max(created_at) AS created_at FROM runs WHERE trigger != 'test' "
        "GROUP BY workflow")
    return {r.pop("workflow"): r for r in rows}


def run_exists(store: Store, run_id: str) -> bool:
    """Is there a run with this id in the history?"""
    return bool(store.query("SELECT 1 FROM runs WHERE id = ?", [run_id]))

