"""The events WebSocket (``/wfnb/api/events``): the committed history events, pushed as
``{"events": [...]}`` per committed batch, only those its user may see. The browser never
polls the history.

Events come from ``EventFeed``: this process's own right after their commit (no ``seq``), and
every process's read back from the ``events`` table (with ``seq``); the socket sends each once
(``Once``). Who sees what (``Audience``) follows the capabilities that show the same facts
through the API: see docs/server-api.md#events."""
from __future__ import annotations

import threading
from collections import OrderedDict

from tornado.ioloop import IOLoop

from ..engine.core.states import RUN_TERMINAL, RunStatus
from ..engine.store.events import EventFeed
from . import models
from .sockets import WfnbSocket
from .users import user_name

ENDED = frozenset(s.value for s in RUN_TERMINAL)
WAITING = RunStatus.WAITING.value
RUN_KINDS = ("run", "cancel_requested", "write_failed")  # a run's status and what befell it


class Audience:
    """What one user may be told, from their capabilities (in memory: it is asked on the
    writer's and the feed's threads). Runs the user started, and, for an approver, runs that
    wait for approval, are followed until they end, whatever else the user may see."""

    def __init__(self, user: str, permissions):
        caps = permissions.capabilities(user)
        self.user = user
        self.admin = "ADMIN" in caps or not permissions.enabled
        self.lists = "LIST_WORKFLOWS" in caps
        self.details = "VIEW_DETAILS" in caps
        self.approves = "APPROVE" in caps
        self.sees_runs = permissions.sees_run_fields(user)
        self.followed: set[str] = set()

    def sees(self, event: dict) -> bool:
        kind, run_id, status = event.get("kind"), event.get("run_id"), event.get("status")
        if kind == "run" and run_id and (
                (status == RunStatus.PENDING.value and event.get("actor") == self.user)
                or (status == WAITING and self.approves)):
            self.followed.add(run_id)
        followed = run_id in self.followed
        if kind == "run" and status in ENDED:
            self.followed.discard(run_id)
        if self.admin:
            return True
        if kind == "denied":  # the audit trail's refusals: each user hears of their own
            return event.get("actor") == self.user
        if kind in ("schedule", "workflow"):
            return self.lists
        if kind in ("task", "log"):  # steps, their output: what Run Details shows
            return self.details and bool(run_id)
        if kind == "approval":
            return bool(run_id) and (self.details or self.approves)
        if kind in RUN_KINDS and run_id:
            return self.sees_runs or followed
        return False


class Once:
    """Drops the second copy of an event that arrives both ways (straight from this
    process's writer, and read back from the history), in either order."""

    KEEP = 20_000  # keys remembered per way: far more than can be in flight

    def __init__(self):
        self.heard: dict[bool, OrderedDict] = {True: OrderedDict(), False: OrderedDict()}

    def fresh(self, event: dict) -> bool:
        # both copies carry the same naive UTC time, to the microsecond; equal keys of
        # different events are counted, so each is still sent once
        key = (event.get("ts"), event.get("run_id"), event.get("task_id"), event.get("kind"),
               event.get("status"), event.get("actor"))
        polled = event.get("seq") is not None
        other, mine = self.heard[not polled], self.heard[polled]
        if other.get(key):
            other[key] -= 1
            if not other[key]:
                del other[key]
            return False
        mine[key] = mine.get(key, 0) + 1
        while len(mine) > self.KEEP:
            mine.popitem(last=False)
        return True


class EventsSocket(WfnbSocket):
    """Subscribed to the workspace's event feed from its opening to its closing."""

    _unsubscribe = None

    async def get(self, *args, **kwargs):
        if self.current_user is not None:  # else the base class refuses it (403)
            # before the upgrade, off the IOLoop (opening an engine and the feed read the
            # history): open() then subscribes at once, so a client that sees the socket
            # open hears of every commit that follows
            app, user = self.settings["wfnb"], user_name(self)
            loop = IOLoop.current()
            ws = await loop.run_in_executor(app.pool, app.workspace_for, user)
            self.feed = await loop.run_in_executor(app.pool, EventFeed.for_store, ws.store)
            self.audience, self.once = Audience(user, ws.permissions), Once()
            self._lock = threading.Lock()  # the writer's and the feed's threads both call in
        return await super().get(*args, **kwargs)

    def open(self, *args, **kwargs):
        super().open(*args, **kwargs)  # jupyter_server's keep-alive pings
        self._unsubscribe = self.feed.subscribe(self._heard)

    def _heard(self, events: list[dict]) -> None:
        """On the writer's or the feed's thread: filter, then hand over to the IOLoop."""
        with self._lock:
            shown = [models.event(e) for e in events
                     if self.once.fresh(e) and self.audience.sees(e)]
        if shown:
            self.push({"events": shown})

    def on_message(self, message):
        pass  # the browser has nothing to say here

    def on_close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
