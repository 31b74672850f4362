"""How the processes of one workspace share its DuckDB file (mixed into ``Store``).

DuckDB lets one read-write process hold a file at a time. So:

* processes take turns through ``flock`` on ``<history>.lock`` (exclusive to write, shared to
  read), polled every millisecond: a failed DuckDB open costs ~4 ms, and back-off sleeps left
  the file idle between holders. A DuckDB lock held by something that does not take the lock
  file (a DuckDB shell) is still retried with jittered back-off, up to ``lock_timeout``;
* readers go first: a process waiting to read holds ``<history>.readers`` (shared), and a
  writer lets it in before taking the file, and ends its turn for it after ``share_hold``,
  so views stay fresh under load;
* people first: an ``interactive`` process (the Jupyter server) holds ``<history>.first``
  (shared) while one of its reads, or a write that a ``flush()`` waits for, waits for the
  file; a holder ends its turn for it as soon as the turn has paid for itself, and other
  writers let it pass (for ``defer_limit`` at most);
* writers take turns about in the order they came: a writer that finds the file taken
  writes (pid, since when) in its slot of ``<history>.queue``, and one that has waited
  ``patience`` goes before those that came after it (who defer for ``defer_limit`` at most:
  a frozen waiter must not stop the others). Taken at random, the file kept eight busy
  processes waiting seconds for a turn, and their changes with them (p99 2.7 s from a
  change to another process's view);
* a connection is the file attached (``ATTACH``, 3 ms) to one DuckDB instance the process
  keeps, not a DuckDB instance of its own (15-30 ms), so a turn, or a read between two
  writers' turns, costs a few ms (``ws.sql`` still gets an instance of its own, to lock);
* a read-write connection is kept ``linger`` after its last use and reused by the next read
  or write of the process, but given up after ``max_hold`` in one go, or ``share_hold``
  while another process waits;
* within a process one lock (``_db_lock``) serialises connections: the file is attached
  once at a time (read-only or read-write), under one name, and the lock files are tried
  by one thread at a time (``flock`` is per open file description: two threads of one
  process could both believe they hold ``<history>.lock``). A writer waiting for its turn
  lets that lock go between attempts (when it holds it once), so the process's readers
  (its views, its REST reads) read between other processes' turns instead of waiting
  behind it (a server's p99 from a change to its clients under load halved); the
  process's other writers wait for it (one turn-taker per process) and use what it opens.
  A reader keeps the lock while it waits: readers go first, so that wait is short;
* a process that commits events rings ``<history>.changed``, so views in other processes
  learn of a commit without taking the file from its writer to ask
  (:class:`~wfnb.engine.store.events.EventFeed`). The small files beside the history
  (``.readers``, ``.queue``, ``.first``, ``.changed``) are :mod:`~wfnb.engine.store.signals`;
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

from ..core.errors import StoreError
from .signals import Signals


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


ALIAS = "history"  # the file's name in the process's DuckDB instance it is attached to


class SharedFile:
    """Connections to the history file, shared with the workspace's other processes."""

    lock_timeout = 30.0       # give up on a file locked by others after this long
    linger = 0.02             # keep a read-write connection this long after its last use
    max_hold = 0.2            # ... but give the file up after this long in one go,
    share_hold = 0.05         # ... or this long while another process waits for it
    yield_pause = 0.005       # and wait this long before taking it again
    patience = 0.1            # a writer that waited this long goes before later ones,
    defer_limit = 2.0         # ... who let it go first for this long at most
    interactive = False       # this process serves people at a screen: its reads, and the
                              # writes someone waits for (flush), go before others' turns
    path: str

    def _init_file(self, path: str) -> None:
        self._db_lock = threading.RLock()       # one DuckDB connection at a time here
        self._depth = threading.local()         # .n: this thread's holds of it (_hold)
        self._opener: threading.Thread | None = None  # a writer waiting for its turn ...
        self._opened = threading.Condition(self._db_lock)  # ... and its end, for the others
        self._held: duckdb.DuckDBPyConnection | None = None  # kept read-write connection
        self._held_since = self._last_use = 0.0
        self._open_cost = 0.003                 # seconds to take the file (a running mean)
        self._waited = 0.0                      # ... of which the last wait for the lock
        self._close_cost = 0.01                 # seconds to let it go (a running mean)
        self._instance: duckdb.DuckDBPyConnection | None = None  # the file gets attached to
        self._instance_pid = 0                  # ... made by this process (not a parent)
        self._closer_wake = threading.Event()
        self._closed = False                    # set at exit: no thread but main opens it
        self._awaited = 0                       # flush() calls waiting for the writer
        threading.Thread(target=self._closer_loop, name="wfnb-store-closer",
                         daemon=True).start()
        try:  # the turn-taking lock of wfnb processes (see _lock_file)
            self._lock_fd: int | None = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:  # a read-only folder: DuckDB's own lock still protects the file
            self._lock_fd = None
        self.signals = Signals(path)

    def ring(self) -> None:
        """Tell the other processes' views that events were committed (after the commit)."""
        self.signals.ring()

    def bell(self) -> bytes | None:
        """What the bell holds now (see :meth:`Signals.bell`); None without a bell."""
        return self.signals.bell()

    @contextmanager
    def connect(self, read_only: bool = False, strict: bool = False,
                config: dict | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, retried while another process holds the file.

        Taking the file (attaching it, and detaching it after) costs a few ms, a commit
        about as much, so a read-write connection is kept for ``linger`` after its last use
        (the next commit or read of a busy process reuses it), but not longer than
        ``max_hold`` (``share_hold`` while other processes wait), so they get their turn. Reads use a kept connection when there is one, else a short read-only one.
        ``strict``: a read-only DuckDB instance of its own whatever is kept (``ws.sql``
        relies on it to refuse writes); ``config``: DuckDB settings for it (implies
        ``strict``)."""
        strict = strict or config is not None
        with self._hold():
            if self._closed:
                self._refuse_if_closed()
                strict = strict or read_only  # the main thread, in atexit: nothing is kept
            held = self._held
            if held is not None and (strict or self._hold_over(time.monotonic()
                                                                - self._held_since)):
                self._drop_held()
                held = None
                if not strict:
                    self._db_lock.release()  # a moment for processes waiting for the file
                    try:
                        time.sleep(self.yield_pause)
                    finally:
                        self._db_lock.acquire()
                    held = self._held
            if held is None and not (read_only or strict) and self._opener is not None:
                self._await_opener()  # it may have opened the file for this write too
                held = self._held
            if held is None and (read_only or strict):
                con = self._open(True, config, fresh=strict)
                try:
                    yield con
                except duckdb.Error as exc:
                    raise explain(exc, self.path) or exc
                finally:
                    self._close(con)
                return
            if held is None:
                opening = time.monotonic()
                held = self._held = self._open(False)
                opened = self._held_since = time.monotonic()
                # what taking the file costs (the wait for it left out), for _hold_over
                self._open_cost += 0.3 * (opened - opening - self._waited - self._open_cost)
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
            letting_go = time.monotonic()
            try:
                self._close(held)
            except duckdb.Error:
                pass
            # what letting the file go costs (a checkpoint, mostly), for _hold_over
            self._close_cost += 0.3 * (time.monotonic() - letting_go - self._close_cost)

    def _closer_loop(self) -> None:
        """Close the kept connection once it has been idle for ``linger``, or between two
        uses once its turn is over (a busy process would see it at its next commit only)."""
        while not self._closed:
            self._closer_wake.wait()
            self._closer_wake.clear()
            while True:
                with self._hold():
                    if self._held is None or self._closed:
                        break
                    now = time.monotonic()
                    idle = now - self._last_use
                    if idle >= self.linger or self._hold_over(now - self._held_since):
                        self._drop_held()
                        break
                time.sleep(max(0.001, min(self.linger - idle, 0.01)))

    def release(self) -> None:
        """Give the file up now (before this process opens it by other means)."""
        with self._hold():
            self._drop_held()

    def close_file(self) -> None:
        """Close the kept connection from this (the main) thread and let no other thread
        open the file again; once this returns, no thread of this process is inside DuckDB
        on this file (each holds ``_db_lock`` while it is; a writer waiting for its turn is
        not, and refuses to go on once it has the lock back)."""
        with self._hold():
            self._closed = True
            self._drop_held()
            if self._instance is not None:
                self._instance, instance = None, self._instance
                instance.close()
        self._closer_wake.set()

    def _open(self, read_only: bool, config: dict | None = None,
              fresh: bool = False) -> duckdb.DuckDBPyConnection:
        """A connection to the file: this process's DuckDB instance with the file attached,
        or (``fresh``) a DuckDB instance of its own, opened with ``config``."""
        deadline = time.monotonic() + self.lock_timeout
        self._lock_file(read_only, deadline)
        delay = 0.002
        try:
            while True:
                try:
                    if fresh:
                        return duckdb.connect(self.path, read_only=read_only,
                                              config=dict(config or {}))
                    return self._attach(read_only)
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

    def _hold_over(self, held_for: float) -> bool:
        """Has this process kept the file long enough? (``max_hold``; ``share_hold`` when
        another process waits, or what changing hands costs if that is longer: on a machine
        short of cores taking the file is slow, and turns must not cost more than they do)"""
        turn_cost = self._open_cost + self._close_cost
        signals = self.signals
        return held_for > self.max_hold or (held_for > turn_cost and signals.first_waiting()) or (
            held_for > max(self.share_hold, turn_cost)
            and (signals.readers_waiting() or bool(signals.waiting_writers())))

    def _lock_file(self, shared: bool, deadline: float) -> None:
        """Queue for the file on ``<history>.lock`` (shared for reading): wfnb processes
        take turns without paying for failed DuckDB opens (~4 ms each) or back-off gaps.
        Readers go first: a reader holds ``<history>.readers`` (shared) while it waits, and
        writers let it in before they take the file (views stay fresh under load). Writers
        go about in the order they came (``<history>.queue``), and let this process's
        readers in between their attempts (:meth:`_pause`)."""
        if self._lock_fd is None:
            return
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        signals = self.signals
        if shared:
            signals.wait_to_read(True)
        else:
            self._opener = threading.current_thread()
        since = started = time.monotonic_ns()
        queued = pressing = False
        try:
            while True:
                first = self._goes_first(shared)
                if first != pressing:
                    signals.press(first)
                    pressing = first
                try:
                    if shared or first or (not signals.readers_waiting()
                                           and self._first_in_line(since)):
                        fcntl.flock(self._lock_fd, mode)
                        self._waited = (time.monotonic_ns() - started) / 1e9
                        return
                except BlockingIOError:
                    pass
                if not (shared or queued):
                    queued = signals.enqueue(since)
                if time.monotonic() > deadline:
                    raise StoreError(f"the history {self.path} stayed locked by another "
                                     f"process for {self.lock_timeout:.0f} s") from None
                self._pause(shared)
        finally:
            if shared:
                signals.wait_to_read(False)
            else:
                self._opener = None
                self._opened.notify_all()
            if queued:
                signals.dequeue()
            if pressing:
                signals.press(False)

    # ---- turns within the process: _db_lock, and a writer that lets it go while it waits ----
    @contextmanager
    def _hold(self) -> Iterator[None]:
        """``_db_lock``, counting this thread's holds: it is an RLock, and a waiting writer
        lets it go only when held once (a second hold is a connection in use)."""
        with self._db_lock:
            self._depth.n = getattr(self._depth, "n", 0) + 1
            try:
                yield
            finally:
                self._depth.n -= 1

    def _pause(self, shared: bool) -> None:
        """A millisecond between two attempts to take the file. A writer lets ``_db_lock``
        go meanwhile, so this process's readers read between other processes' turns; its
        attempts, and a reader's whole turn, are made holding it, so the two never both
        believe they hold ``<history>.lock`` (or ``<history>.readers``)."""
        if shared or getattr(self._depth, "n", 0) != 1:
            time.sleep(0.001)
            return
        self._db_lock.release()
        try:
            time.sleep(0.001)
        finally:
            self._db_lock.acquire()
        if self._closed:
            self._refuse_if_closed()

    def _await_opener(self) -> None:
        """Wait (``_db_lock`` let go) until the writer of this process that waits for its
        turn has taken the file, or given up: one turn-taker per process."""
        while self._opener is not None:
            if self._depth.n != 1:  # the outer hold is a read: it has the file attached
                raise StoreError(f"cannot write to the history {self.path} inside a read of it")
            self._opened.wait()
        if self._closed:
            self._refuse_if_closed()

    def _refuse_if_closed(self) -> None:
        """After :meth:`close_file` only the main thread may open the file."""
        if threading.current_thread() is not threading.main_thread():
            raise StoreError(f"the history {self.path} is closed: this process is exiting")

    # ---- who takes the file next ------------------------------------------------------------
    def _first_in_line(self, since: int) -> bool:
        """May this writer, waiting since ``since`` (monotonic ns), take the file? Not while
        a writer that came before it has waited ``patience`` (until then, whoever is running
        takes the file: a strict queue hands it to processes that wait for a core), and
        always after ``defer_limit``."""
        now = time.monotonic_ns()
        if now - since > self.defer_limit * 1e9:
            return True
        if self.signals.first_waiting():
            return False
        return not any(their < since and now - their > self.patience * 1e9
                       for their, _pid in self.signals.waiting_writers())

    def _goes_first(self, shared: bool) -> bool:
        """Does someone wait for this turn? In an ``interactive`` process (the Jupyter
        server): every read, and a write while a ``flush()`` waits for it."""
        return self.interactive and (shared or self._awaited > 0)

    def _unlock_file(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _close(self, con: duckdb.DuckDBPyConnection) -> None:
        try:
            if con is self._instance:
                self._detach()
            else:
                con.close()
        finally:
            self._unlock_file()

    # ---- the file attached to this process's DuckDB instance --------------------------------
    def _attach(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """The process's DuckDB instance (made on first use) with the file attached as
        ``history``, the default database. A new instance costs 15-30 ms, an ATTACH 3 ms."""
        if self._instance is None or self._instance_pid != os.getpid():
            # (a forked child never uses its parent's instance: its threads did not follow)
            self._instance, self._instance_pid = duckdb.connect(), os.getpid()
        con = self._instance
        path = self.path.replace("'", "''")
        con.execute(f"ATTACH '{path}' AS {ALIAS}" + (" (READ_ONLY)" if read_only else ""))
        try:
            con.execute(f"USE {ALIAS}")
        except BaseException:
            self._detach()
            raise
        return con

    def _detach(self) -> None:
        """Let the file go (it checkpoints, as closing a connection does). A transaction
        left open is rolled back first: DuckDB would commit it with the next COMMIT, though
        the file is no longer attached."""
        con = self._instance
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:  # none open: the usual case
            pass
        try:
            con.execute("USE memory")
            con.execute(f"DETACH {ALIAS}")
        except BaseException:
            self._instance = None  # in an unknown state: closing it lets the file go too
            con.close()
            raise
        if self._closed:  # exiting: leave no DuckDB instance behind either
            self._instance = None
            con.close()
