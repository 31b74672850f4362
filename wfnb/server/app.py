"""The extension application: one workspace per server, one engine per Jupyter user."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int, Unicode

from ..workspace import Workspace


class WfnbExtension(ExtensionApp):
    """``jupyter server`` / ``jupyter lab`` with wfnb: ``--WfnbExtension.workspace=DIR``."""

    name = "wfnb"
    workspace = Unicode(
        "", config=True,
        help="The wfnb workspace folder the server owns (default: $WFNB_WORKSPACE, else the "
             "server's root folder).")
    threads = Int(
        8, config=True,
        help="Threads that run engine calls for requests (the engine blocks on DuckDB).")

    def initialize_settings(self) -> None:
        self.root = Path(self.workspace or os.environ.get("WFNB_WORKSPACE")
                         or self.serverapp.root_dir).expanduser().resolve()
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="wfnb-api")
        self._workspaces: dict[str, Workspace] = {}
        self._lock = threading.Lock()
        self.settings.update({"wfnb": self})
        self.log.info("wfnb: workspace %s", self.root)

    def workspace_for(self, user: str) -> Workspace:
        """The engine acting as ``user`` (Jupyter's authenticated user): one per user, sharing
        the store, liveness and executor of the workspace."""
        with self._lock:
            ws = self._workspaces.get(user)
            if ws is None:
                ws = self._workspaces[user] = Workspace(self.root, user=user)
                # people wait for this process's reads and flushes: they go first on the
                # shared history (see SharedFile.interactive)
                ws.store.interactive = True
            return ws

    def initialize_handlers(self) -> None:
        from .handlers import HANDLERS
        from .views import ViewsSocket
        self.handlers.extend([*HANDLERS, (r"/wfnb/api/views", ViewsSocket)])

    async def stop_extension(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
