"""What wfnb's WebSockets share: authenticated as any jupyter_server request (token, cookie,
or the Hub), origin-checked and kept alive by jupyter_server's WebSocketMixin."""
from __future__ import annotations

import json

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web, websocket
from tornado.ioloop import IOLoop

from .users import user_name


class WfnbSocket(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """A WebSocket of one authenticated Jupyter user."""

    async def get(self, *args, **kwargs):
        if self.current_user is None:  # no token, cookie or Hub login: refused before upgrade
            raise web.HTTPError(403)
        self.user = user_name(self)
        self.wfnb = self.settings["wfnb"]
        self.loop = IOLoop.current()
        return await super().get(*args, **kwargs)

    def push(self, message: dict) -> None:
        """Send ``message`` as JSON; safe from any thread (the engine's threads call it)."""
        self.loop.add_callback(self._write, json.dumps(message, default=str))

    def _write(self, text: str) -> None:
        try:
            self.write_message(text)
        except websocket.WebSocketClosedError:
            pass  # the browser went away; on_close cleans up
