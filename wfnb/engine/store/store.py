"""The DuckDB history store, shared by every process that opens the workspace.

Several kernels plus the CLI use one workspace at once, and DuckDB lets one read-write process
hold a file at a time, so no process keeps the file for long (how they take turns:
``sharedfile.py``):

* one **writer thread** per process collects run and task rows and events, and commits them
  in one short transaction every ``flush_interval``, or at once when a caller asks for
  durability (:meth:`Store.flush`; how it writes: ``writer.py``);
* reads use the process's kept connection when there is one, else a short read-only one.
"""
from __future__ import annotations

import atexit
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import duckdb
import pandas as pd

from ..core.errors import StoreError
from ..core.records import RunRecord, TaskRecord, utcnow
from .schema import MIGRATIONS, SCHEMA_VERSION
from .sharedfile import SharedFile
from .writer import BatchWriter, Batch, rollback, rows_of

__all__ = ["PerStore", "Store", "rows_of"]

Hook = Callable[[duckdb.DuckDBPyConnection], Callable[[], None] | None]


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


class Store(SharedFile, BatchWriter):
    """The history file of one workspace, as seen by this process (one instance per file)."""

    _instances: dict[str, "Store"] = {}
    _instances_lock = threading.Lock()

    flush_interval = 0.05     # seconds a queued write may wait for company
    poll_interval = 0.25      # while runs are live here: heartbeat and read requests this often

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
        self._cond = threading.Condition()
        self._batch = Batch()
        self._first_pending: float | None = None
        self._urgent = False
        self._enqueued = 0
        self._committed = 0
        self._failure: tuple[int, Exception] | None = None
        self._taken_listeners: list[Callable[[dict], None]] = []
        self._last_flush = time.monotonic()
        self._writer: threading.Thread | None = None
        self._hooks: list[Hook] = []
        self._pre_flush: list[Callable[[], None]] = []
        # first of the subscribers: other processes' views hear of a commit before anyone here
        self._subscribers: list[Callable[[list[dict]], None]] = [lambda _events: self.ring()]
        self.keepalive = 0                      # > 0 while this process owns live runs
        self._stopping = False
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._init_file(path)
        self._migrate()
        # registered before any Liveness or view of this store, so it runs after theirs
        # (atexit is last-in, first-out): they queue their last rows, this writes them
        atexit.register(self.close)

    def close(self, timeout: float = 10.0) -> None:
        """At interpreter exit: write what is queued, stop the writer thread and close the
        file from this (the main) thread. Nothing is left to a daemon thread, which the
        interpreter would kill wherever it is (see ``sharedfile``)."""
        try:
            self.flush(timeout=timeout)
        except Exception:  # noqa: BLE001 - the reaper of another process still ends its runs
            pass
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join(timeout)
        self.close_file()

    def _migrate(self) -> None:
        if os.path.exists(self.path):  # the usual case, an up-to-date history: read it only
            try:  # (so a history its user may not write, on a read-only mount, still opens)
                with self.connect(read_only=True) as con:
                    if con.execute("SELECT max(version) FROM schema_version").fetchone()[0] \
                            == SCHEMA_VERSION:
                        return
            except duckdb.CatalogException:
                pass
        with self.connect() as con:
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
                rollback(con)
                raise
        self.ring()  # it may have written events (a cancel request, a decision ...)
        return result

    def _queued(self) -> None:
        self._enqueued += 1
        if self._first_pending is None:  # only the first of a batch needs to wake the writer
            self._first_pending = time.monotonic()
            self._ensure_writer()
            self._cond.notify_all()

    def hurry(self) -> None:
        """Have the writer commit what is queued now, without waiting for it (``flush``
        waits); for rows someone is looking for at once, like a resumed run's reused tasks."""
        with self._cond:
            if self._first_pending is None:
                return
            self._urgent = True
            self._ensure_writer()
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Return once everything queued before the call is committed; raise StoreError if not."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.lock_timeout + 5)
        with self._cond:
            target = self._enqueued
            if self._committed >= target:
                return
            if self._stopping:  # the writer has stopped (exiting): write from here
                self._cond.release()
                try:
                    if not self._flush_once():
                        raise StoreError(f"could not write to the history: {self._failure[1]}")
                finally:
                    self._cond.acquire()
                return
            self._urgent = True
            self._ensure_writer()
            self._cond.notify_all()
            self._awaited += 1  # in an interactive process, the writer's turn goes first
            try:
                while self._committed < target:
                    if self._failure and self._failure[0] >= target:
                        raise StoreError(f"could not write to the history: {self._failure[1]}")
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise StoreError(f"the history {self.path} was not written within "
                                         "the time")
                    self._cond.wait(left)
            finally:
                self._awaited -= 1

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
    def on_taken(self, fn: Callable[[dict], None]) -> None:
        """``fn(row)`` when the history refuses this process's update of a run it has
        ended otherwise (``row``: id, status, error, ended_at), before flushes return."""
        self._taken_listeners.append(fn)
