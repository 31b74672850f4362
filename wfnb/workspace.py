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


def open(path: str | os.PathLike | None = None, *, user: str | None = None,  # noqa: A001
         carry_on: str = "thread") -> Workspace:
    """Open (creating when absent) the workspace at ``path``: ``$WFNB_WORKSPACE``, else ``.``.

    ``user`` overrides the current user (``WFNB_USER``, ``JUPYTERHUB_USER``, the OS user);
    ``carry_on="detach"`` makes runs this process wakes (an approval deadline passed) go on in
    a background process instead of a thread here, for short-lived scripts."""
    return Workspace(path or os.environ.get("WFNB_WORKSPACE") or ".", user=user,
                     carry_on=carry_on)
