"""The writer thread of a ``Store`` (mixed into it): it takes the queued batch of run and task
rows and events every ``flush_interval`` (or at once when asked), commits it in one short
transaction with the hooks (heartbeat, cancel requests ...), and tells who waits.

* a busy, locked or full file keeps the batch for the next try: nothing queued is dropped;
* a row the file refuses (a value it cannot take) never blocks the rows queued beside it:
  the batch is written row by row and that row alone is left out, with an event saying so;
* an update the history refuses (it ended the run otherwise, while this process was frozen)
  is reported to ``on_taken`` listeners before any flush returns.
"""
from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import duckdb
import pandas as pd

from ..core.records import RunRecord, TaskRecord, clean_row, dumps, utcnow
from ..core.states import RUN_TERMINAL, TASK_TERMINAL


def rows_of(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The rows of an executed query as dicts."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _keeps_terminal(table: str, terminal) -> str:
    """An upsert never moves a stored row out of a terminal status (say a run another process
    marked Error while its owner was frozen); same-status updates (late log lines) pass."""
    words = ", ".join(f"'{s.value}'" for s in terminal)
    return f"{table}.status NOT IN ({words}) OR {table}.status = excluded.status"


_EVENT_COLUMNS = ("ts", "run_id", "task_id", "kind", "status", "actor", "data")
# VALUES costs ~1 ms plus ~7 us a parameter, a DataFrame ~2 ms whatever the size (DuckDB
# 2.0: they cross at about 8 task rows of 19 columns, 23 events of 7); so the choice
# counts parameters, not rows
_VALUES_LIMIT = 160


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict],
            update: Sequence[str] = (), terminal=None) -> set[str]:
    """Insert rows (dicts with the same keys), or upsert on ``id`` updating ``update``;
    an upsert returns the ids it wrote (a row kept in its terminal status is not)."""
    columns = list(rows[0])
    conflict = ""
    if update:
        sets = ", ".join(f"{c} = excluded.{c}" for c in update)
        conflict = (f" ON CONFLICT (id) DO UPDATE SET {sets} "
                    f"WHERE {_keeps_terminal(table, terminal)} RETURNING id")
    names = ", ".join(columns)
    if len(rows) * len(columns) <= _VALUES_LIMIT:
        marks = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * len(rows))
        con.execute(f"INSERT INTO {table} ({names}) VALUES {marks}{conflict}",
                    [row[c] for row in rows for c in columns])
    else:
        frame = pd.DataFrame(rows, columns=columns)  # noqa: F841 - DuckDB reads it by name
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM frame{conflict}")
    return {r[0] for r in con.fetchall()} if update else set()


@dataclass
class Batch:
    runs: dict[str, RunRecord] = field(default_factory=dict)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.runs or self.tasks or self.events)

    def absorb_newer(self, newer: "Batch") -> "Batch":
        """Put a failed batch back in front of what was queued since (newer rows win)."""
        self.runs.update(newer.runs)
        self.tasks.update(newer.tasks)
        self.events.extend(newer.events)
        return self


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back, unless DuckDB has already done so (a failed COMMIT on a full disk): its
    "no transaction is active" must not hide the error that matters."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass


def is_bad_row(exc: Exception) -> bool:
    """Did the file refuse a row (a value it cannot take), rather than be out of reach (busy,
    locked, full)? Only the former is worth writing the batch's rows one by one for."""
    return isinstance(exc, (duckdb.InvalidInputException, duckdb.ConversionException,
                            duckdb.ConstraintException, duckdb.OutOfRangeException,
                            UnicodeError, TypeError, ValueError, OverflowError))


class BatchWriter:
    """The writer side of ``Store`` (which provides ``connect``, the queue and its lock)."""

    _cond: threading.Condition
    _batch: Batch
    records_lock: threading.RLock

    def _ensure_writer(self) -> None:
        if self._stopping:  # exiting: flush() has written what came before
            return
        if self._writer is None or not self._writer.is_alive():
            self._writer = threading.Thread(target=self._write_loop, name="wfnb-writer",
                                            daemon=True)
            self._writer.start()

    def _due(self, now: float) -> float:
        """0 when a flush is due now, else how long until one might be."""
        if self._first_pending is not None:
            if self._urgent:
                return 0.0
            return max(0.0, self._first_pending + self.flush_interval - now)
        if self._urgent:
            return 0.0
        if self.keepalive > 0:
            return max(0.0, self._last_flush + self.poll_interval - now)
        return 3600.0

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (wait := self._due(time.monotonic())) > 0:
                    self._cond.wait(wait)
                if self._stopping:
                    return
            if not self._flush_once():
                time.sleep(0.2)  # the file is busy or unreachable: the batch waits its turn

    def _flush_once(self) -> bool:
        """Take the queued batch and commit it; False (the batch kept for the next try) when
        the file could not be written."""
        for fn in list(self._pre_flush):
            fn()
        with self._cond:
            batch, self._batch = self._batch, Batch()
            generation = self._enqueued
            self._first_pending, self._urgent = None, False
        try:
            after, taken = self._commit(batch)
        except Exception as exc:  # noqa: BLE001
            if not is_bad_row(exc):  # busy, locked, disk full ...: keep it all, try again
                with self._cond:
                    self._batch = batch.absorb_newer(self._batch)
                    self._first_pending = self._first_pending or time.monotonic()
                    self._failure = (generation, exc)
                    self._cond.notify_all()
                return False
            # a row the file refuses: write the rows one at a time, so that one bad row
            # never blocks those queued beside it (nor, retried forever, every later one)
            after, taken = self._commit_apart(batch)
        for fn in taken:  # before anyone is told the batch is durable
            fn()
        with self._cond:
            self._committed = max(self._committed, generation)
            self._failure = None
            self._last_flush = time.monotonic()
            self._cond.notify_all()
        for fn in after:
            fn()
        if batch.events:
            for sub in list(self._subscribers):
                try:
                    sub(batch.events)
                except Exception:  # a broken view must not stop the writer
                    pass
        return True

    def _commit_apart(self, batch: Batch) -> tuple[list, list]:
        """Commit each row of ``batch`` in its own transaction; a row that still fails is
        left out, marked (``_write_failed``: its run's ``wait()`` says so), and an event
        says which and why."""
        after: list = []
        taken: list = []
        parts = [Batch()]  # the hooks (heartbeat, cancel requests ...) on their own
        parts += [Batch(runs={k: r}) for k, r in batch.runs.items()]
        parts += [Batch(tasks={k: t}) for k, t in batch.tasks.items()]
        parts += [Batch(events=[e]) for e in batch.events]
        for i, part in enumerate(parts):
            try:
                more, gone = self._commit(part, hooks=i == 0)
                after += more
                taken += gone
            except Exception as exc:  # noqa: BLE001
                what = (f"run {next(iter(part.runs))}" if part.runs else
                        f"task {next(iter(part.tasks))}" if part.tasks else
                        f"event {part.events[0].get('kind')} of run "
                        f"{part.events[0].get('run_id')}" if part.events else "heartbeat")
                why = f"{type(exc).__name__}: {str(exc)[:300]}"
                with self.records_lock:
                    for record in (*part.runs.values(), *part.tasks.values()):
                        record._write_failed = why  # type: ignore[attr-defined]
                try:
                    self._commit(Batch(events=[{
                        "ts": utcnow(), "kind": "write_failed", "run_id": next(
                            (r.id for r in part.runs.values()), next(
                                (t.run_id for t in part.tasks.values()),
                                part.events[0].get("run_id") if part.events else None)),
                        "data": dumps({"row": what, "error": why})}]), hooks=False)
                except Exception:  # noqa: BLE001 - the flush waiters are still told
                    pass
        return after, taken

    def _commit(self, batch: Batch,
                hooks: bool = True) -> tuple[list[Callable[[], None]], list[Callable[[], None]]]:
        """One transaction: the batch's rows, then the hooks. Returns what to run after the
        commit: the hooks' follow-ups, and the adoption of the history's ending by runs
        this process drove but that another process ended meanwhile (a runner frozen
        past its heartbeat limit, then woken: its own ending is refused, not reported)."""
        with self.records_lock:
            # rows never written go in with a plain INSERT (a third of an upsert's cost);
            # rows already in the store are upserted
            runs = [(clean_row(r.to_row()), getattr(r, "_stored", False))
                    for r in batch.runs.values()]
            tasks = [(clean_row(t.to_row()), getattr(t, "_stored", False))
                     for t in batch.tasks.values()]
        after: list[Callable[[], None]] = []
        taken: list[Callable[[], None]] = []
        with self.connect() as con:
            con.execute("BEGIN")
            try:
                for row, _ in runs:  # written by whoever cancels, never by the owner
                    del row["cancel_requested_at"], row["cancel_requested_by"]
                task_updates = [c for c in tasks[0][0] if c not in ("id", "run_id", "step")] \
                    if tasks else []
                for table, rows, update, terminal in (
                        ("runs", runs, RunRecord.OWNER_COLUMNS, RUN_TERMINAL),
                        ("tasks", tasks, task_updates, TASK_TERMINAL)):
                    fresh = [row for row, stored in rows if not stored]
                    known = [row for row, stored in rows if stored]
                    if fresh:
                        _insert(con, table, fresh)
                    if known:
                        kept = _insert(con, table, known, update, terminal)
                        if table == "runs" and len(kept) < len(known):
                            taken += self._refused(con, {r["id"] for r in known} - kept)
                if batch.events:
                    _insert(con, "events", [clean_row({c: e.get(c) for c in _EVENT_COLUMNS})
                                            for e in batch.events])
                for hook in list(self._hooks) if hooks else ():
                    if (post := hook(con)) is not None:
                        after.append(post)
                con.execute("COMMIT")
            except BaseException:
                rollback(con)
                raise
        with self.records_lock:
            for record in (*batch.runs.values(), *batch.tasks.values()):
                record._stored = True  # type: ignore[attr-defined]
        return after, taken

    def _refused(self, con: duckdb.DuckDBPyConnection,
                 ids: set[str]) -> list[Callable[[], None]]:
        """Runs whose update the history refused (it holds another ending for them): tell
        each ``on_taken`` listener what the history holds."""
        marks = ", ".join("?" * len(ids))
        rows = rows_of(con.execute(f"SELECT id, status, error, ended_at FROM runs "
                                   f"WHERE id IN ({marks})", sorted(ids)))
        return [functools.partial(fn, row) for row in rows for fn in self._taken_listeners]
