"""A feed of committed history events for views: the events this process commits (straight
from the writer, after the commit) and those other processes commit (read from the
``events`` table by sequence number when their bell rings). Subscribers are called from the
feed's thread.

Another process's commit reaches the feed within ``CHECK_EVERY`` of its bell (see
``sharedfile``), or ``MIN_GAP`` after the feed's last query: looking at the bell is a read of
512 bytes, asking the file is a turn on it (between two writers' turns when they are busy),
so the feed asks only when the bell has rung, at most every ``MIN_GAP``, and every
``POLL_EVERY`` in case a writer rang none (a DuckDB shell, or a hook's events that no batch
carried).
"""
from __future__ import annotations

import atexit
import threading
import time
from typing import Callable

from .store import PerStore, Store

Listener = Callable[[list[dict]], None]


class EventFeed(PerStore):
    """One per store per process; starts polling when the first listener subscribes."""

    CHECK_EVERY = 0.02  # seconds between looks at the bell of other processes' commits
    MIN_GAP = 0.1       # ... but queries of the events table this far apart at least (a
                        # read takes the file between two writers' turns: see sharedfile)
    MIN_GAP_FIRST = 0.05  # ... in an interactive process, whose reads go first (sharedfile)
    POLL_EVERY = 0.5    # ... and this far apart at most, should the bell stay silent

    def __init__(self, store: Store):
        self.store = store
        self._listeners: list[Listener] = []
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None
        self._seq = self._last_seq()
        self._wake = threading.Event()
        self._stopped = False
        store.subscribe(self._local)
        atexit.register(self.stop)

    def stop(self) -> None:
        """Stop polling and wait for the thread: a thread killed inside DuckDB while the
        interpreter shuts down aborts the process."""
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _last_seq(self) -> int:
        rows = self.store.query("SELECT coalesce(max(seq), 0) AS seq FROM events")
        return int(rows[0]["seq"])

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(events)`` with every batch of new events; returns unsubscribe."""
        with self._mutex:
            self._listeners.append(listener)
            if self._thread is None:
                self._thread = threading.Thread(target=self._poll, daemon=True,
                                                name="wfnb-event-feed")
                self._thread.start()

        def unsubscribe() -> None:
            with self._mutex:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe

    def _emit(self, events: list[dict]) -> None:
        for listener in list(self._listeners):
            try:
                listener(events)
            except Exception:  # a broken view must not stop the feed
                pass

    def _local(self, events: list[dict]) -> None:
        """Events this process just committed: no need to wait for the next poll."""
        if self._listeners:
            self._emit(events)

    def _poll(self) -> None:
        heard, asked = None, 0.0
        while not self._stopped:
            self._wake.wait(self.CHECK_EVERY)
            self._wake.clear()
            if self._stopped:
                return
            if not self._listeners:
                continue
            bell, since = self.store.bell(), time.monotonic() - asked
            gap = self.MIN_GAP_FIRST if self.store.interactive else self.MIN_GAP
            if since < gap or (bell is not None and bell == heard
                                        and since < self.POLL_EVERY):
                continue
            # the bell is read before the query: a ring during the query is heard next time
            heard, asked = bell, time.monotonic()
            try:
                # our own events come too (and earlier, from _local): views only use an
                # event as "this run changed", so seeing one twice costs a repaint at most
                rows = self.store.query(
                    "SELECT seq, ts, run_id, task_id, kind, status, actor, data FROM events "
                    "WHERE seq > ? ORDER BY seq", [self._seq])
            except Exception:
                heard = None  # ask again after the pause
                time.sleep(1.0)  # the file is busy for longer than usual: try again later
                continue
            if rows:
                self._seq = int(rows[-1]["seq"])
                self._emit(rows)
