"""Executors: where step bodies run. One class per kind behind one small interface, found by
kind (``EXECUTORS``), so a new way to execute is a new class, not an ``if``."""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from .errors import ConfigError


class Executor:
    """Runs callables somewhere and hands back futures."""

    kind = "abstract"

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        raise NotImplementedError

    def shutdown(self) -> None:
        pass


class ThreadExecutor(Executor):
    """The default: a pool of threads in this process.

    A thread cannot be killed: a step that times out or is cancelled is told through
    ``ctx.cancelled`` and its result is ignored, but it keeps its thread until it returns.
    """

    kind = "local"

    def __init__(self, max_workers: int = 16):
        self.max_workers = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="wfnb-step")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


EXECUTORS: dict[str, type[Executor]] = {"local": ThreadExecutor}


def make_executor(settings: dict) -> Executor:
    kind = settings.get("kind", "local")
    if kind not in EXECUTORS:
        raise ConfigError(f"[executor] kind = {kind!r} is unknown "
                          f"(expected one of: {', '.join(EXECUTORS)})")
    options = {k: v for k, v in settings.items() if k != "kind"}
    return EXECUTORS[kind](**options)
