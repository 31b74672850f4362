"""How the processes of one workspace share its DuckDB file (mixed into ``Store``).

DuckDB lets one read-write process hold a file at a time, and opening it costs ~15 ms (most of
it DuckDB starting an instance), more than a typical commit. So:

* processes take turns through ``flock`` on ``<history>.lock`` (exclusive to write, shared to
  read), polled every millisecond: a failed DuckDB open costs ~4 ms, and back-off sleeps left
  the file idle between holders. A DuckDB lock held by something that does not take the lock
  file (a DuckDB shell) is still retried with jittered back-off, up to ``lock_timeout``;
* readers go first: a process waiting to read holds ``<history>.readers`` (shared), and a
  writer lets it in before taking or keeping the file, so views stay fresh under load;
* a read-write connection is kept ``linger`` after its last use and reused by the next read
  or write of the process, but given up after ``max_hold`` in one go;
* within a process one lock serialises connections: DuckDB refuses a read-only and a
  read-write connection to one file from the same process at the same time;
* at interpreter exit the file is closed by the main thread (:meth:`close_file`, from an
  ``atexit`` hook), and no other thread may open it afterwards: a daemon thread caught inside
  DuckDB while the interpreter finalizes is unwound by ``pthread_exit``, which aborts the
  process (SIGABRT) or leaves the file and its WAL half checkpointed, losing commits that
  had been reported durable.
"""
from __future__ import annotations

import fcntl
import os
import random
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import duckdb

from .errors import StoreError


def is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


# what DuckDB says of a file it cannot use, and what we tell the user instead
_DAMAGE = (("could not read enough bytes", "it is shorter than its contents say (truncated?)"),
           ("checksum", "a block's checksum does not match its contents"),
           ("not a valid duckdb database file", "it is not a DuckDB database file"),
           ("corrupt", "DuckDB finds it corrupt"))


def explain(exc: BaseException, path: str) -> StoreError | None:
    """A user's one line for a history file that is damaged or on a full disk (DuckDB's own
    text says neither what happened in those words nor what to do), else None."""
    text = str(exc).lower()
    if "no space left on device" in text or "disk quota exceeded" in text:
        return StoreError(f"the disk holding the history {path} is full; free some space and "
                          "try again (what is stored is intact; nothing of this write was "
                          "kept)")
    for marker, what in _DAMAGE:
        if marker in text:
            return StoreError(f"the history {path} is damaged: {what}. Restore it from a "
                              "backup, or move it aside to start a new, empty history")
    return None



class SharedFile:
    """Connections to the history file, shared with the workspace's other processes."""

    lock_timeout = 30.0       # give up on a file locked by others after this long
    linger = 0.02             # keep a read-write connection this long after its last use
    max_hold = 0.2            # ... but give the file up after this long in one go
    yield_pause = 0.005       # and wait this long before taking it again
    path: str

    def _init_file(self, path: str) -> None:
        self._db_lock = threading.RLock()       # one DuckDB connection at a time here
        self._held: duckdb.DuckDBPyConnection | None = None  # kept read-write connection
        self._held_since = self._last_use = 0.0
        self._closer_wake = threading.Event()
        self._closed = False                    # set at exit: no thread but main opens it
        threading.Thread(target=self._closer_loop, name="wfnb-store-closer",
                         daemon=True).start()
        try:  # the turn-taking locks of wfnb processes (see _lock_file)
            self._lock_fd: int | None = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            self._readers_fd: int | None = os.open(f"{path}.readers", os.O_RDWR | os.O_CREAT,
                                                   0o666)
        except OSError:  # a read-only folder: DuckDB's own lock still protects the file
            self._lock_fd = self._readers_fd = None

    @contextmanager
    def connect(self, read_only: bool = False, strict: bool = False,
                config: dict | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, retried while another process holds the file.

        Opening the file costs ~15 ms (most of it DuckDB starting an instance), more than
        the work of a typical commit, so a read-write connection is kept for ``linger`` after
        its last use (the next commit or read of a busy process reuses it) but never longer
        than ``max_hold`` in one go, so other processes get their turn. Reads use a kept
        connection when there is one, else a short read-only one. ``strict``: a fresh
        read-only connection whatever is kept (``ws.sql`` relies on it to refuse writes);
        ``config``: DuckDB settings for that fresh connection (implies ``strict``)."""
        strict = strict or config is not None
        with self._db_lock:
            if self._closed:
                if threading.current_thread() is not threading.main_thread():
                    raise StoreError(f"the history {self.path} is closed: this process is "
                                     "exiting")
                strict = strict or read_only  # the main thread, in atexit: nothing is kept
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
                con = self._open(True, config)
                try:
                    yield con
                except duckdb.Error as exc:
                    raise explain(exc, self.path) or exc
                finally:
                    self._close(con)
                return
            if held is None:
                held = self._held = self._open(False)
                self._held_since = time.monotonic()
            try:
                yield held
            except BaseException as exc:
                self._drop_held()  # a connection in an unknown state is not kept
                if isinstance(exc, duckdb.Error):
                    raise explain(exc, self.path) or exc
                raise
            finally:
                self._last_use = time.monotonic()
                if self._closed:
                    self._drop_held()
                else:
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
        while not self._closed:
            self._closer_wake.wait()
            self._closer_wake.clear()
            while True:
                with self._db_lock:
                    if self._held is None or self._closed:
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

    def close_file(self) -> None:
        """Close the kept connection from this (the main) thread and let no other thread
        open the file again; once this returns, no thread of this process is inside DuckDB
        on this file (each holds ``_db_lock`` while it is)."""
        with self._db_lock:
            self._closed = True
            self._drop_held()
        self._closer_wake.set()

    def _open(self, read_only: bool,
              config: dict | None = None) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout
        self._lock_file(read_only, deadline)
        delay = 0.002
        try:
            while True:
                try:
                    return duckdb.connect(self.path, read_only=read_only,
                                          config=dict(config or {}))
                except duckdb.Error as exc:
                    if not is_lock_error(exc):
                        raise explain(exc, self.path) or StoreError(
                            f"cannot open the history {self.path}: {exc}") from exc
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
