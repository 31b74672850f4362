"""What every view shares: a state built from the engine, refreshed when the history says
something changed, at most ``MAX_RATE`` times a second, and synced in one batch.

Views run in a kernel whose runs progress on background threads; a view therefore never
touches its traits from an engine callback directly: the callback only marks the view dirty,
and one timer thread rebuilds the state and sets every trait inside ``hold_sync()``. A trait
set to an equal value sends nothing, so only what changed crosses to the browser.
"""
from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any

from ..engine.events import EventFeed

MAX_RATE = 10.0  # repaints per second, at most
_views: "weakref.WeakSet[Live]" = weakref.WeakSet()


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
        while not self._closed:
            self._dirty.wait()
            if self._closed:
                return
            self._dirty.clear()
            try:
                self.refresh()
            except Exception:  # the history is busy, the run vanished ...: try on next event
                pass
            if not self._closed:  # throttle: changes meanwhile wait for the next paint
                time.sleep(1.0 / MAX_RATE)

    def refresh(self) -> None:
        """Rebuild the state from the engine and send what changed."""
        state = self._state()
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
        if getattr(self, "_unsubscribe", None):
            self._unsubscribe()
        self._dirty.set()
        if self._timer is not threading.current_thread():
            self._timer.join(timeout=5)

    def close(self) -> None:
        self._stop()
        super().close()  # type: ignore[misc]
