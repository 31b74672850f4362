"""What every view shares: a state built from the engine, refreshed when the history says
something changed, at most ``MAX_RATE`` times a second on average (``BURST`` in a row: a
change after a quiet spell is shown at once), and synced in one batch.

Views run in a kernel whose runs progress on background threads; a view therefore never
touches its traits from an engine callback directly: the callback only marks the view dirty,
and one timer thread rebuilds the state and sets every trait inside ``hold_sync()``. A trait
set to an equal value sends nothing, so only what changed crosses to the browser.

A killed runner writes no event, so a view showing a live run (any ``*status`` in its state
that is Pending, Running or Waiting for Approval) does not only wait for events: every
``VIEW_CHECK_EVERY`` s its timer thread asks ``Liveness.reap`` whether an owner is gone (a read,
shared by the process's views), which ends the run as Error in the history, and repaints.
"""
from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any

from ..engine.store.events import EventFeed
from ..engine.execution.liveness import VIEW_CHECK_EVERY
from ..engine.core.states import RUN_ACTIVE

RETRY_FIRST, RETRY_MAX = 0.2, 5.0  # a failed repaint is tried again after 0.2, 0.4 ... 5 s
MAX_RATE = 10.0  # repaints per second, at most, on average ...
BURST = 2        # ... and this many in a row after a quiet spell
ACTIVE = frozenset(s.value for s in RUN_ACTIVE)
_views: "weakref.WeakSet[Live]" = weakref.WeakSet()


def shows_active_run(state: Any) -> bool:
    """Does a view's state show a run that is not over (a ``status`` or ``last_status``
    field, at any depth, holding an active run status)?"""
    if isinstance(state, dict):
        return any(isinstance(v, str) and v in ACTIVE and str(k).endswith("status")
                   or isinstance(v, (dict, list)) and shows_active_run(v)
                   for k, v in state.items())
    if isinstance(state, list):
        return any(isinstance(item, (dict, list)) and shows_active_run(item) for item in state)
    return False


@atexit.register
def _stop_all() -> None:
    """Stop every view's repaint thread before the interpreter goes (see EventFeed.stop)."""
    for view in list(_views):
        view._stop()


class Live:
    """Mixin for anywidgets that mirror engine state (``_state()`` returns the traits)."""

    _relevant_runs: set[str] | None = None   # None: every event matters

    def _start_live(self, ws) -> None:
        self._ws = ws
        self._dirty = threading.Event()
        self._closed = False
        self._closing = threading.Event()
        self._watching = False   # the state shows a live run: check its owner now and then
        self.messages_sent = 0
        self._unsubscribe = EventFeed.for_store(ws.store).subscribe(self._on_events)
        self._timer = threading.Thread(target=self._repaint_loop, daemon=True,
                                       name=f"wfnb-view-{type(self).__name__}")
        self._timer.start()
        _views.add(self)
        self.refresh()

    def _on_events(self, events: list[dict]) -> None:
        if self._relevant(events):
            self._dirty.set()

    def _relevant(self, events: list[dict]) -> bool:
        """Does this batch change what the view shows? (default: any event of its runs)"""
        runs = self._relevant_runs
        return runs is None or any(e.get("run_id") in runs for e in events)

    def _repaint_loop(self) -> None:
        import time
        failures = 0
        tokens, filled = float(BURST), time.monotonic()  # repaints allowed now (a bucket)
        while not self._closed:
            # wakes every VIEW_CHECK_EVERY s (cheap), to check owners while a live run shows
            woke = self._dirty.wait(VIEW_CHECK_EVERY)
            if self._closed:
                return
            if not woke and not (self._watching and self._owner_lost()):
                continue
            now = time.monotonic()
            tokens, filled = min(float(BURST), tokens + (now - filled) * MAX_RATE), now
            if tokens < 1.0:  # throttle: changes meanwhile wait for this paint
                time.sleep((1.0 - tokens) / MAX_RATE)
                tokens, filled = 1.0, time.monotonic()
                if self._closed:
                    return
            tokens -= 1.0
            self._dirty.clear()
            try:
                self.refresh()
                failures = 0
            except Exception:  # the history is busy, the run vanished ...: try again soon,
                failures += 1  # even if no event comes (the run's last one may be past)
                self._closing.wait(min(RETRY_MAX, RETRY_FIRST * 2 ** (failures - 1)))
                self._dirty.set()

    def _owner_lost(self) -> bool:
        """Has a run's owner gone (its run now ended as Error)? At most one check per
        ``VIEW_CHECK_EVERY`` s in the process, whatever the number of views."""
        liveness = getattr(self._ws, "liveness", None)
        try:
            return bool(liveness and liveness.reap(every=VIEW_CHECK_EVERY))
        except Exception:  # the history is busy: the next check will tell
            return False

    def refresh(self) -> None:
        """Rebuild the state from the engine and send what changed."""
        state = self._state()
        self._watching = shows_active_run(state)
        changed = {k: v for k, v in state.items() if getattr(self, k) != v}
        if changed:
            with self.hold_sync():  # one message for all of them
                for name, value in changed.items():
                    setattr(self, name, value)
            self.messages_sent += 1

    def _state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _stop(self) -> None:
        self._closed = True
        self._closing.set()
        if getattr(self, "_unsubscribe", None):
            self._unsubscribe()
        self._dirty.set()
        if self._timer is not threading.current_thread():
            self._timer.join(timeout=5)

    def close(self) -> None:
        self._stop()
        super().close()  # type: ignore[misc]
