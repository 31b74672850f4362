"""The views' WebSocket (``/wfnb/api/views``): the cell views, hosted in the server.

The lab extension's panels and tabs show the very views a notebook cell shows. The Python half
of each view (``wfnb/widgets/*.py``: its state built from the engine, repainted on committed
events, its actions) runs here, for the socket's Jupyter user; the JavaScript half (the same ES
module anywidget loads in a kernel, sent as the ``_esm`` trait) runs in the browser behind a
model with anywidget's interface. Only the transport differs: where a kernel gives a widget a
Jupyter comm, this socket gives it a :class:`SocketComm` (``comm.create_comm`` is the documented
place to plug one in), so the widget protocol (state updates batched by ``hold_sync``, custom
messages) is ipywidgets' own, and no view is written twice.

Frames (JSON text), each carrying the client's ``id`` of the view:
client -> server: ``open`` {view, args}, ``update`` {state}, ``custom`` {content}, ``close``;
server -> client: ``opened`` {state}, ``update`` {state}, ``custom`` {content}, ``intent``
{content} (open another view, or close this one), ``refused`` {message, capability}, ``error``
{message}.
"""
from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any, Callable

import comm
from comm.base_comm import BaseComm

from ..engine.core.errors import PermissionDenied, WfnbError
from .sockets import WfnbSocket

Sink = Callable[[dict], None]

# the views a client may open, by name (the cell views' intents: widgets/app.py)
VIEWS = ("gallery", "runs", "details", "run", "rerun", "inbox", "schedules", "editor",
         "compare")
# what "open" may carry, by type (from_failure / from_step: a rerun that resumes)
ARGS = {"workflow": str, "run_id": str, "params": dict, "from_failure": bool, "from_step": str,
        "other": str}  # other: the run a compare view sets beside run_id

_building = threading.local()  # the sink of the view being built on this thread
_default_create_comm = comm.create_comm


class SocketComm(BaseComm):
    """A widget's comm whose other end is a view in the lab extension."""

    def __init__(self, sink: Sink, *args: Any, **kwargs: Any):
        self._sink = sink
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type: str, data: dict | None = None, metadata=None,
                    buffers=None, **keys: Any) -> None:
        data = data or {}
        if msg_type == "comm_open":
            self._sink({"op": "opened", "state": data.get("state", {})})
        elif msg_type == "comm_msg" and data.get("method") == "update":
            self._sink({"op": "update", "state": data.get("state", {})})
        elif msg_type == "comm_msg" and data.get("method") == "custom":
            self._sink({"op": "custom", "content": data.get("content")})
        # echo_update (the browser's own change, echoed) and comm_close: nothing to tell


def _create_comm(*args: Any, **kwargs: Any) -> BaseComm:
    """A view built for the socket gets a SocketComm; its Layout, and any widget built
    elsewhere in the process, what it got before."""
    sink = getattr(_building, "sink", None)
    state = (kwargs.get("data") or {}).get("state") or {}
    if sink is not None and state.get("_model_name") == "AnyModel":
        return SocketComm(sink, *args, **kwargs)
    return _default_create_comm(*args, **kwargs)


comm.create_comm = _create_comm


def open_view(ws, view: str, args: dict, sink: Sink):
    """Build ``view`` for ``ws``'s user, its comm talking to ``sink``: PermissionDenied
    (recorded in the history) if the user may not open it, WfnbError if its run or workflow
    is gone, ValueError for a bad request."""
    from ..widgets.app import build_view, needed  # ipywidgets, anywidget: on first view
    if view not in VIEWS:
        raise ValueError(f"view: unknown view {view!r} (one of {', '.join(VIEWS)})")
    for name, value in args.items():
        if name not in ARGS or not isinstance(value, ARGS[name]):
            raise ValueError(f"args.{name}: not an argument of a view" if name not in ARGS
                             else f"args.{name}: must be a {ARGS[name].__name__}")
    content = {"action": view, **args}
    for name in {"run": ["workflow"], "rerun": ["workflow", "run_id"], "details": ["run_id"],
                 "editor": ["workflow"], "compare": ["run_id"]}.get(view, []):
        if not args.get(name):
            raise ValueError(f"args.{name}: the {view} view needs it")
    need = needed(content)
    if need and not ws.can(need[0], args.get("workflow") if need[0] == "RUN_WORKFLOW"
                           else None):
        ws.guard.deny(*need)  # written to the audit trail, then raised

    def intent(content: dict) -> None:
        sink({"op": "intent", "content": content})

    _building.sink = sink
    try:
        return build_view(ws, content, intent)
    finally:
        _building.sink = None


class Serial:
    """Runs the calls given to it one after the other, in order, on a shared pool."""

    def __init__(self, pool):
        self.pool, self.queue, self.lock, self.running = pool, deque(), threading.Lock(), False

    def __call__(self, fn: Callable[[], None]) -> None:
        with self.lock:
            self.queue.append(fn)
            if self.running:
                return
            self.running = True
        self.pool.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self.lock:
                if not self.queue:
                    self.running = False
                    return
                fn = self.queue.popleft()
            fn()


class ViewsSocket(WfnbSocket):
    """One browser page's views: opened, driven and closed by frames; repainted by the
    server when the history changes (each view's own repaint thread, as in a kernel)."""

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.views: dict[str, Any] = {}
        self.serial = Serial(self.wfnb.pool)  # frames are handled in order, off the IOLoop
        self.closed = False

    def on_message(self, message: str | bytes) -> None:
        try:
            frame = json.loads(message)
            op, view_id = frame["op"], str(frame["id"])
        except (ValueError, KeyError, TypeError):
            self.push({"op": "error", "id": None,
                       "message": "a frame must be a JSON object with 'op' and 'id'"})
            return
        self.serial(lambda: self._handle(op, view_id, frame))

    def _handle(self, op: str, view_id: str, frame: dict) -> None:
        if self.closed:
            return
        try:
            if op == "open":
                self._open(view_id, frame.get("view"), frame.get("args") or {})
            elif op in ("update", "custom"):
                widget = self.views.get(view_id)
                if widget is None:
                    raise ValueError(f"id: no open view {view_id!r}")
                data = ({"method": "update", "state": frame.get("state") or {}}
                        if op == "update" else
                        {"method": "custom", "content": frame.get("content") or {}})
                widget.comm.handle_msg({"content": {"data": data}, "buffers": []})
            elif op == "close":
                widget = self.views.pop(view_id, None)
                if widget is not None:
                    widget.close()
            else:
                raise ValueError(f"op: unknown operation {op!r}")
        except PermissionDenied as exc:
            from ..widgets.app import denied_line
            self.push({"op": "refused", "id": view_id, "capability": exc.capability,
                       "message": denied_line(self._ws(), exc)})
        except (WfnbError, ValueError) as exc:
            self.push({"op": "error", "id": view_id, "message": str(exc)})
        except Exception as exc:  # a bug: say so in the view, keep the socket
            self.log.exception("wfnb view %s: %s failed", view_id, op)
            self.push({"op": "error", "id": view_id, "message": f"{type(exc).__name__}: {exc}"})

    def _ws(self):
        return self.wfnb.workspace_for(self.user)

    def _open(self, view_id: str, view: Any, args: Any) -> None:
        if not isinstance(args, dict):
            raise ValueError("args: must be an object")
        if view_id in self.views:
            raise ValueError(f"id: a view {view_id!r} is open already")

        # while the view is built, its comm says "opened" with the traits' defaults and then
        # "update"s its first paint (Live.refresh in __init__); the browser must get the state
        # as built in one "opened" (a view drawn from the defaults fails: the editor's graph {})
        lock, held = threading.Lock(), []

        def sink(message: dict) -> None:
            with lock:
                if held is not None:
                    held.append(message)
                    return
            self.push({**message, "id": view_id})

        widget = open_view(self._ws(), str(view), args, sink)
        if widget is None:
            raise ValueError(f"view: {view!r} opens nothing")
        with lock:
            self.push({"op": "opened", "id": view_id, "state": widget.get_state()})
            for message in held:  # intents or custom messages sent while it was built
                if message["op"] not in ("opened", "update"):
                    self.push({**message, "id": view_id})
            held = None
        if self.closed:  # the page went while the view was built
            widget.close()
        else:
            self.views[view_id] = widget

    def on_close(self) -> None:
        self.closed = True
        views, self.views = list(self.views.values()), {}
        for widget in views:
            self.serial(widget.close)
