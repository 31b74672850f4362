"""Executors: where step bodies run. One class per kind behind one small interface, found by
kind (``EXECUTORS``), so a new way to execute is a new class, not an ``if``."""
from __future__ import annotations

from typing import Any, Callable

from ..core.errors import ConfigError
from .local_executor import Executor, ThreadExecutor

__all__ = ["EXECUTORS", "Executor", "ThreadExecutor", "make_executor"]


def _dask(**options: Any) -> Executor:
    from .dask_executor import DaskExecutor  # distributed is imported only when asked for
    return DaskExecutor(**options)


EXECUTORS: dict[str, Callable[..., Executor]] = {"local": ThreadExecutor, "dask": _dask}


def make_executor(settings: dict) -> Executor:
    kind = settings.get("kind", "local")
    if kind not in EXECUTORS:
        raise ConfigError(f"[executor] kind = {kind!r} is unknown "
                          f"(expected one of: {', '.join(EXECUTORS)})")
    options = {k: v for k, v in settings.items() if k != "kind"}
    if kind == "local" and set(options) - {"max_workers"}:
        raise ConfigError(f"[executor] {', '.join(sorted(set(options) - {'max_workers'}))}: "
                          "unknown for kind = 'local' (known: max_workers)")
    return EXECUTORS[kind](**options)
