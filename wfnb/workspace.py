"""The Workspace a user holds: the engine's runs, history and workflows, and (as they land)
the views built on them."""
from __future__ import annotations

import os

from .engine.engine import Engine


class Workspace(Engine):
    """A workspace folder: ``wfnb.toml``, its workflows and its ``.wfnb/`` history.

    Open one with :func:`wfnb.open`; start runs with :meth:`start` / :meth:`run`, look back with
    :meth:`runs`, :meth:`get_run` and :meth:`sql`.
    """


def open(path: str | os.PathLike | None = None, *, user: str | None = None) -> Workspace:  # noqa: A001
    """Open (creating when absent) the workspace at ``path``: ``$WFNB_WORKSPACE``, else ``.``."""
    return Workspace(path or os.environ.get("WFNB_WORKSPACE") or ".", user=user)
