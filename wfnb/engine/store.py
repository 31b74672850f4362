"""The DuckDB history store, shared by every process that opens the workspace.

DuckDB lets one read-write process hold a file at a time, and several kernels plus the CLI use
one workspace at once, so no process keeps the file open for long:

* one **writer thread** per process collects run and task rows and events, and commits them in one short transaction (open, write, close) every ``flush_interval`` or at
  once when a caller asks for durability (:meth:`Store.flush`);
* processes take turns on the file through a lock file (``<history>.lock``, ``flock``); a
  DuckDB lock held by something else is retried with jittered back-off up to ``lock_timeout``;
* a read-write connection is kept ``linger`` seconds after its last use (at most ``max_hold``
  in one go), because opening the file costs more than a typical commit;
* reads open a short read-only connection the same way.

Within a process a single lock serialises connections: DuckDB refuses a read-only and a
read-write connection to one file from the same process at the same time.
"""
from __future__ import annotations

import fcntl
import os
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import duckdb
import pandas as pd

from .errors import StoreError
from .records import RunRecord, TaskRecord, utcnow
from .schema import MIGRATIONS, SCHEMA_VERSION
from .states import RUN_TERMINAL, TASK_TERMINAL

Hook = Callable[[duckdb.DuckDBPyConnection], Callable[[], None] | None]


def rows_of(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The rows of an executed query as dicts."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def _keeps_terminal(table: str, terminal) -> str:
    """An upsert never moves a stored row out of a terminal status (say a run another process
    marked Error while its owner was frozen); same-status updates (late log lines) pass."""
    words = ", ".join(f"'{s.value}'" for s in terminal)
    return f"{table}.status NOT IN ({words}) OR {table}.status = excluded.status"


_EVENT_COLUMNS = ("ts", "run_id", "task_id", "kind", "status", "actor", "data")
_SMALL_BATCH = 64  # below this many rows, VALUES beats building a DataFrame


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict],
            update: Sequence[str] = (), terminal=None) -> None:
    """Insert rows (dicts with the same keys), or upsert on ``id`` updating ``update``."""
    columns = list(rows[0])
    conflict = ""
    if update:
        sets = ", ".join(f"{c} = excluded.{c}" for c in update)
        conflict = (f" ON CONFLICT (id) DO UPDATE SET {sets} "
                    f"WHERE {_keeps_terminal(table, terminal)}")
    names = ", ".join(columns)
    if len(rows) <= _SMALL_BATCH:
        marks = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * len(rows))
        con.execute(f"INSERT INTO {table} ({names}) VALUES {marks}{conflict}",
                    [row[c] for row in rows for c in columns])
    else:
        frame = pd.DataFrame(rows, columns=columns)  # noqa: F841 - DuckDB reads it by name
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM frame{conflict}")


@dataclass
class _Batch:
    runs: dict[str, RunRecord] = field(default_factory=dict)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.runs or self.tasks or self.events)

    def absorb_newer(self, newer: "_Batch") -> "_Batch":
        """Put a failed batch back in front of what was queued since (newer rows win)."""
        self.runs.update(newer.runs)
        self.tasks.update(newer.tasks)
        self.events.extend(newer.events)
        return self


class PerStore:
    """One instance per history file per process, shared by every Workspace on it."""

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls._per_store: dict[str, object] = {}
        cls._per_store_lock = threading.Lock()

    @classmethod
    def for_store(cls, store: "Store"):
        with cls._per_store_lock:
            if store.path not in cls._per_store:
                cls._per_store[store.path] = cls(store)
            return cls._per_store[store.path]


class Store:
    """The history file of one workspace, as seen by this process (one instance per file)."""

    _instances: dict[str, "Store"] = {}
    _instances_lock = threading.Lock()

    flush_interval = 0.05     # seconds a queued write may wait for company
    poll_interval = 0.25      # while runs are live here: heartbeat and read requests this often
    lock_timeout = 30.0       # give up on a file locked by others after this long
    linger = 0.02             # keep a read-write connection this long after its last use
    max_hold = 0.2            # ... but give the file up after this long in one go
    yield_pause = 0.005       # and wait this long before taking it again

    @classmethod
    def for_path(cls, path: str | os.PathLike) -> "Store":
        key = str(Path(path).resolve())
        with cls._instances_lock:
            store = cls._instances.get(key)
            if store is None:
                store = cls._instances[key] = cls(key)
            return store

    def __init__(self, path: str):
        self.path = path
        self.records_lock = threading.RLock()   # record mutations vs. their serialisation
        self._db_lock = threading.RLock()       # one DuckDB connection at a time in this process
        self._cond = threading.Condition()
        self._batch = _Batch()
        self._first_pending: float | None = None
        self._urgent = False
        self._enqueued = 0
        self._committed = 0
        self._failure: tuple[int, Exception] | None = None
        self._last_flush = time.monotonic()
        self._writer: threading.Thread | None = None
        self._hooks: list[Hook] = []
        self._pre_flush: list[Callable[[], None]] = []
        self._subscribers: list[Callable[[list[dict]], None]] = []
        self.keepalive = 0                      # > 0 while this process owns live runs
        self._held: duckdb.DuckDBPyConnection | None = None  # kept read-write connection
        self._held_since = self._last_use = 0.0
        self._closer_wake = threading.Event()
        threading.Thread(target=self._closer_loop, name="wfnb-store-closer",
                         daemon=True).start()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:  # the turn-taking locks of wfnb processes (see _lock_file)
            self._lock_fd: int | None = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            self._readers_fd: int | None = os.open(f"{path}.readers", os.O_RDWR | os.O_CREAT,
                                                   0o666)
        except OSError:  # a read-only folder: DuckDB's own lock still protects the file
            self._lock_fd = self._readers_fd = None
        self._migrate()

    # ---- connections ---------------------------------------------------------------------
    @contextmanager
    def connect(self, read_only: bool = False,
                strict: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, retried while another process holds the file.

        Opening the file costs ~15 ms (most of it DuckDB starting an instance), more than
        the work of a typical commit, so a read-write connection is kept for ``linger`` after
        its last use (the next commit or read of a busy process reuses it) but never longer
        than ``max_hold`` in one go, so other processes get their turn. Reads use a kept
        connection when there is one, else a short read-only one. ``strict``: a fresh
        read-only connection whatever is kept (``ws.sql`` relies on it to refuse writes)."""
        with self._db_lock:
            held = self._held
            if held is not None and (strict or time.monotonic() - self._held_since
                                     > self.max_hold or self._readers_waiting()):
                self._drop_held()
                held = None
                if not strict:
                    self._db_lock.release()  # a moment for processes waiting for the file
                    try:
                        time.sleep(self.yield_pause)
                    finally:
                        self._db_lock.acquire()
                    held = self._held
            if held is None and (read_only or strict):
                con = self._open(True)
                try:
                    yield con
                finally:
                    self._close(con)
                return
            if held is None:
                held = self._held = self._open(False)
                self._held_since = time.monotonic()
            try:
                yield held
            except BaseException:
                self._drop_held()  # a connection in an unknown state is not kept
                raise
            finally:
                self._last_use = time.monotonic()
                self._closer_wake.set()

    def _drop_held(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            try:
                self._close(held)
            except duckdb.Error:
                pass

    def _closer_loop(self) -> None:
        """Close the kept connection once it has been idle for ``linger``."""
        while True:
            self._closer_wake.wait()
            self._closer_wake.clear()
            while True:
                with self._db_lock:
                    if self._held is None:
                        break
                    idle = time.monotonic() - self._last_use
                    if idle >= self.linger:
                        self._drop_held()
                        break
                time.sleep(self.linger - idle)

    def release(self) -> None:
        """Give the file up now (before this process opens it by other means)."""
        with self._db_lock:
            self._drop_held()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout
        self._lock_file(read_only, deadline)
        delay = 0.002
        try:
            while True:
                try:
                    return duckdb.connect(self.path, read_only=read_only)
                except (duckdb.IOException, duckdb.ConnectionException) as exc:
                    if not _is_lock_error(exc):
                        raise StoreError(f"cannot open the history {self.path}: {exc}") from exc
                    if time.monotonic() > deadline:
                        raise StoreError(f"the history {self.path} stayed locked by another "
                                         f"process for {self.lock_timeout:.0f} s") from exc
                # held by a process that does not take the lock file (a DuckDB shell, ...):
                # jittered back-off, short because holders give the file up often
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 0.025)
        except BaseException:
            self._unlock_file()
            raise

    def _lock_file(self, shared: bool, deadline: float) -> None:
        """Queue for the file on ``<history>.lock`` (shared for reading): wfnb processes
        take turns without paying for failed DuckDB opens (~4 ms each) or back-off gaps.
        Readers go first: a reader holds ``<history>.readers`` (shared) while it waits, and
        writers let it in before they take the file (views stay fresh under load)."""
        if self._lock_fd is None:
            return
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        if shared:
            fcntl.flock(self._readers_fd, fcntl.LOCK_SH)
        try:
            while True:
                try:
                    if shared or not self._readers_waiting():
                        fcntl.flock(self._lock_fd, mode)
                        return
                except BlockingIOError:
                    pass
                if time.monotonic() > deadline:
                    raise StoreError(f"the history {self.path} stayed locked by another "
                                     f"process for {self.lock_timeout:.0f} s") from None
                time.sleep(0.001)
        finally:
            if shared:
                fcntl.flock(self._readers_fd, fcntl.LOCK_UN)

    def _readers_waiting(self) -> bool:
        """Does another process wait to read? (it holds ``<history>.readers`` shared)"""
        if self._readers_fd is None:
            return False
        try:
            fcntl.flock(self._readers_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._readers_fd, fcntl.LOCK_UN)
        return False

    def _unlock_file(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _close(self, con: duckdb.DuckDBPyConnection) -> None:
        try:
            con.close()
        finally:
            self._unlock_file()

    def _migrate(self) -> None:
        with self.connect() as con:
            try:  # the usual case: an up-to-date history
                if con.execute("SELECT max(version) FROM schema_version").fetchone()[0] \
                        == SCHEMA_VERSION:
                    return
            except duckdb.CatalogException:
                pass
            tables = {r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema='main'"
            ).fetchall()}
            current = 0
            if "schema_version" in tables:
                current = con.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
            elif tables:
                raise StoreError(f"{self.path} is a DuckDB file but not a wfnb history "
                                 f"(it has tables {sorted(tables)} and no schema_version)")
            if current > SCHEMA_VERSION:
                raise StoreError(f"the history {self.path} has schema version {current}, newer "
                                 f"than this wfnb knows ({SCHEMA_VERSION}); upgrade wfnb to use it")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                con.execute("BEGIN")
                con.execute(MIGRATIONS[version - 1])
                con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, utcnow()])
                con.execute("COMMIT")

    # ---- reads ---------------------------------------------------------------------------
    def query(self, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
        """Rows as dicts, over a short read-only connection."""
        with self.connect(read_only=True) as con:
            return rows_of(con.execute(sql, list(params)))

    def query_df(self, sql: str, params: list | tuple = (),
                 strict: bool = False) -> pd.DataFrame:
        with self.connect(read_only=True, strict=strict) as con:
            return con.execute(sql, list(params)).df()

    # ---- writes --------------------------------------------------------------------------
    def put(self, run: RunRecord | None = None, task: TaskRecord | None = None,
            event: dict | None = None) -> None:
        """Queue a run row, a task row and/or an event; the caller holds ``records_lock``
        while it changes the records, so a row is never serialised half-changed."""
        with self._cond:
            if run is not None:
                self._batch.runs[run.id] = run
            if task is not None:
                self._batch.tasks[task.id] = task
            if event is not None:
                event.setdefault("ts", utcnow())
                self._batch.events.append(event)
            self._queued()

    def transact(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """Run ``fn(con)`` in its own short transaction now (for rare writes whose caller
        needs the outcome: a cancel request, marking lost runs); return what it returns."""
        with self.connect() as con:
            con.execute("BEGIN")
            try:
                result = fn(con)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return result

    def _queued(self) -> None:
        self._enqueued += 1
        if self._first_pending is None:  # only the first of a batch needs to wake the writer
            self._first_pending = time.monotonic()
            self._ensure_writer()
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Return once everything queued before the call is committed; raise StoreError if not."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.lock_timeout + 5)
        with self._cond:
            target = self._enqueued
            if self._committed >= target:
                return
            self._urgent = True
            self._ensure_writer()
            self._cond.notify_all()
            while self._committed < target:
                if self._failure and self._failure[0] >= target:
                    raise StoreError(f"could not write to the history: {self._failure[1]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreError(f"the history {self.path} was not written within the time")
                self._cond.wait(left)

    def add_hook(self, hook: Hook) -> None:
        """``hook(con)`` runs inside every flush; what it returns runs after the commit."""
        self._hooks.append(hook)

    def add_pre_flush(self, fn: Callable[[], None]) -> None:
        """``fn()`` runs before every flush takes its batch (e.g. to queue captured output)."""
        self._pre_flush.append(fn)

    def subscribe(self, fn: Callable[[list[dict]], None]) -> Callable[[], None]:
        """Call ``fn(events)`` after each commit with the events it made durable."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    # ---- the writer thread ---------------------------------------------------------------
    def _ensure_writer(self) -> None:
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
                while (wait := self._due(time.monotonic())) > 0:
                    self._cond.wait(wait)
            for fn in list(self._pre_flush):
                fn()
            with self._cond:
                batch, self._batch = self._batch, _Batch()
                generation = self._enqueued
                self._first_pending, self._urgent = None, False
            try:
                after = self._commit(batch)
            except Exception as exc:  # keep the batch: nothing queued is ever dropped
                with self._cond:
                    self._batch = batch.absorb_newer(self._batch)
                    self._first_pending = self._first_pending or time.monotonic()
                    self._failure = (generation, exc)
                    self._cond.notify_all()
                time.sleep(0.2)
                continue
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

    def _commit(self, batch: _Batch) -> list[Callable[[], None]]:
        with self.records_lock:
            # rows never written go in with a plain INSERT (a third of an upsert's cost);
            # rows already in the store are upserted
            runs = [(r.to_row(), getattr(r, "_stored", False)) for r in batch.runs.values()]
            tasks = [(t.to_row(), getattr(t, "_stored", False)) for t in batch.tasks.values()]
        after: list[Callable[[], None]] = []
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
                        _insert(con, table, known, update, terminal)
                if batch.events:
                    _insert(con, "events", [{c: e.get(c) for c in _EVENT_COLUMNS}
                                            for e in batch.events])
                for hook in list(self._hooks):
                    if (post := hook(con)) is not None:
                        after.append(post)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        with self.records_lock:
            for record in (*batch.runs.values(), *batch.tasks.values()):
                record._stored = True  # type: ignore[attr-defined]
        return after
