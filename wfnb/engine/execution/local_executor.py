"""Where step bodies run, here: the executors' interface (:class:`Executor`) and the default
executor, a pool of threads of this process (:class:`ThreadExecutor`). Executors are chosen by
kind in :mod:`.executors`."""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable

from ..steps.registry import STEP_KINDS

__all__ = ["Executor", "ThreadExecutor"]


class Executor:
    """Runs callables somewhere and hands back futures."""

    kind = "abstract"

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        raise NotImplementedError

    def run_step(self, step, ctx, inputs) -> Any:
        """Execute one step's body (called on a thread ``submit`` started); here, in place."""
        return STEP_KINDS[step.kind].execute(step, ctx, inputs)

    def shutdown(self) -> None:
        pass


class ThreadExecutor(Executor):
    """The default: a pool of daemon threads in this process, started as work arrives.

    A thread cannot be killed: a step that times out or is cancelled is told through
    ``ctx.cancelled`` and its result is ignored, but it keeps its thread until it returns.
    The processes a Python step started are ended then (:mod:`.children`), which also ends a
    step that is only waiting for one of them.
    The threads are daemons (unlike ``ThreadPoolExecutor``'s, which the interpreter joins at
    exit) so a runaway step never keeps a finished script or a stopping kernel alive; the
    runs it leaves are ended as Error on the way out.
    """

    kind = "local"

    def __init__(self, max_workers: int = 16):
        self.max_workers = max_workers
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        with self._lock:
            self._work.put((future, fn, args))
            if self._idle == 0 and len(self._threads) < self.max_workers:
                thread = threading.Thread(target=self._worker, daemon=True,
                                          name=f"wfnb-step-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1  # this item is promised to one idle worker
        return future

    def _worker(self) -> None:
        while True:
            future, fn, args = self._work.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - reported through the future
                    future.set_exception(exc)
            with self._lock:
                self._idle += 1
