"""Route a step's stdout, stderr and logging into its task's debug output.

``sys.stdout`` / ``sys.stderr`` are wrapped once by a router that sends writes made on a thread
running a step to that step's sink, and everything else where it went before. Output written by
threads a step starts itself is not captured (it goes to the process's own streams).

Log records are captured from the ``wfnb.step`` logger (``ctx.logger`` and its children); the
handler sits there, not on the root logger, so the user's own ``logging.basicConfig`` still
works. Records of other loggers reach the task through stderr when nothing else handles them
(Python's last-resort handler prints warnings and errors there).
"""
from __future__ import annotations

import io
import logging
import sys
import threading
from collections import deque
from contextlib import contextmanager
from typing import Iterator

from ..core.context import STEP_LOGGER

_current = threading.local()
_install_lock = threading.Lock()


class Sink:
    """Text written by one task, drained by the writer thread (deque appends are thread-safe)."""

    def __init__(self) -> None:
        self.parts: deque[str] = deque()

    def write(self, text: str) -> None:
        if text:
            self.parts.append(text)

    def drain(self) -> str:
        out = []
        while True:
            try:
                out.append(self.parts.popleft())
            except IndexError:
                return "".join(out)


class _Router(io.TextIOBase):
    def __init__(self, fallback) -> None:
        self._fallback = fallback

    def write(self, text: str) -> int:
        sink = getattr(_current, "sink", None)
        if sink is not None:
            sink.write(text)
            return len(text)
        return self._fallback.write(text)

    def flush(self) -> None:
        if getattr(_current, "sink", None) is None:
            self._fallback.flush()

    def fileno(self) -> int:
        return self._fallback.fileno()

    def isatty(self) -> bool:
        return self._fallback.isatty()

    @property
    def encoding(self):  # type: ignore[override]
        return getattr(self._fallback, "encoding", "utf-8")

    def __getattr__(self, name):  # anything else of the stream it wraps
        return getattr(self._fallback, name)


class _LogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sink = getattr(_current, "sink", None)
        if sink is not None:
            try:
                sink.write(self.format(record) + "\n")
            except Exception:
                self.handleError(record)


_handler = _LogHandler()
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))


def install() -> None:
    """Wrap the process's streams and attach the log handler (idempotent; re-wraps a stream
    that was replaced since, as pytest and IPython do)."""
    with _install_lock:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr)
        steps = logging.getLogger(STEP_LOGGER)
        if _handler not in steps.handlers:
            steps.addHandler(_handler)


@contextmanager
def capture(sink: Sink) -> Iterator[None]:
    """Send this thread's output to ``sink`` for the duration."""
    previous = getattr(_current, "sink", None)
    _current.sink = sink
    try:
        yield
    finally:
        _current.sink = previous
