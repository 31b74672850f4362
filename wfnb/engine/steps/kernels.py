"""Jupyter kernels for notebook steps: a session that runs code with cancel and death
detection, and a warm pool of pre-started, never-used kernels.

Starting a kernel costs about half a second; a pool keeps ``size`` kernels per kernel name
started, connected and idle, so a notebook step takes one that is ready while a replacement
starts in the background. Every run still gets a fresh kernel: a kernel is used once, then
shut down. Kernels left in the pool are shut down when the process exits.

``jupyter_client`` and ``nbformat`` are imported when a kernel starts and runs code, not with
this module: listing a workspace's workflows imports it, and they cost over a second.
"""
from __future__ import annotations

import atexit
import os
import queue
import secrets
import tempfile
import threading
import time
from collections import deque

from . import children
from ..core.errors import CellError, Interrupted, KernelDied, KernelUnavailable


_WARM_UP = "if 1:\n    __import__('sys').stdout.write(' '); __import__('sys').stdout.flush()"


def _ipc_dir() -> str:
    path = os.path.join(tempfile.gettempdir(), f"wfnb-ipc-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


class KernelSession:
    """One started kernel and its client, used by one run (or one notebook step), then shut
    down. ``run`` executes code and returns its outputs as nbformat outputs."""

    ALIVE_CHECK = 0.5   # seconds between liveness checks while waiting for output
    GRACE = 2.0         # seconds an interrupted kernel gets before it is shut down

    def __init__(self, kernel_name: str = "python3", cwd: str | None = None):
        from jupyter_client.manager import KernelManager  # only when a kernel starts
        self.kernel_name = kernel_name
        # IPC sockets in a private folder: local only, no TCP ports, no plaintext warning
        self.km = KernelManager(kernel_name=kernel_name, transport="ipc",
                                ip=os.path.join(_ipc_dir(), secrets.token_hex(6)))
        try:
            self.km.start_kernel(cwd=cwd) if cwd else self.km.start_kernel()
        except Exception as exc:  # NoSuchKernel, a broken kernelspec ...: infrastructure
            raise KernelUnavailable(f"kernel {kernel_name!r} could not be started: "
                                    f"{type(exc).__name__}: {exc}") from exc
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=120)
            # a first execution pays the kernel's one-off costs (its first stdout write
            # takes ~35 ms): do it here, leaving no name, history or execution count behind
            self.kc.execute_interactive(_WARM_UP, store_history=False, timeout=60,
                                        output_hook=lambda msg: None)
        except Exception:
            self.shutdown()
            raise
        self.execution_count = 0

    @property
    def pid(self) -> int | None:
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        return getattr(process, "pid", None)

    def alive(self) -> bool:
        return self.km.has_kernel and self.km.is_alive()

    def run(self, code: str, cancel: threading.Event | None = None) -> tuple[list, int | None]:
        """Execute ``code``; returns (outputs, execution count). Raises CellError when it
        raises, Interrupted when ``cancel`` is set meanwhile, KernelDied when the kernel
        dies."""
        from nbformat.v4 import output_from_msg
        msg_id = self.kc.execute(code, store_history=True, allow_stdin=False)
        outputs: list = []
        count = None
        idle = False
        reply: dict | None = None
        interrupted_at: float | None = None
        last_check = time.monotonic()
        while not (idle and reply is not None):
            if cancel is not None and cancel.is_set() and interrupted_at is None:
                interrupted_at = time.monotonic()
                self.km.interrupt_kernel()
            if interrupted_at is not None and time.monotonic() - interrupted_at > self.GRACE:
                self.shutdown()
                raise Interrupted("the kernel did not stop when interrupted; it was shut down")
            msg = None
            if not idle:
                try:
                    msg = self.kc.get_iopub_msg(timeout=0.05)
                except queue.Empty:
                    pass
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
                kind, content = msg["msg_type"], msg["content"]
                if kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "execute_input":
                    count = content.get("execution_count")
                elif kind == "clear_output":
                    outputs.clear()
                elif kind in ("stream", "display_data", "execute_result", "error",
                              "update_display_data"):
                    if kind != "update_display_data":
                        outputs.append(output_from_msg(msg))
            if reply is None:
                try:
                    shell = self.kc.get_shell_msg(timeout=0.05 if idle else 0)
                    if shell["parent_header"].get("msg_id") == msg_id:
                        reply = shell["content"]
                except queue.Empty:
                    pass
            if msg is None and time.monotonic() - last_check > self.ALIVE_CHECK:
                last_check = time.monotonic()
                if not self.km.is_alive():
                    code_ = getattr(getattr(self.km.provisioner, "process", None),
                                    "returncode", None)
                    raise KernelDied("the kernel died while running the step"
                                     + (f" (exit code {code_})" if code_ is not None else ""))
        self.execution_count = count or self.execution_count + 1
        if reply.get("status") == "error" or any(o.get("output_type") == "error"
                                                 for o in outputs):
            if interrupted_at is not None:
                raise Interrupted("interrupted")
            err = next((o for o in outputs if o.get("output_type") == "error"), reply)
            error = CellError(err.get("ename", "Error"), err.get("evalue", ""),
                              list(err.get("traceback", [])))
            error.outputs, error.execution_count = outputs, count  # type: ignore[attr-defined]
            raise error
        return outputs, count

    def chdir(self, folder: str) -> None:
        """Make ``folder`` the kernel's working directory (leaves no name behind)."""
        self.kc.execute_interactive(f"__import__('os').chdir({str(folder)!r})",
                                    store_history=False, silent=True, timeout=60)

    def shutdown_soon(self) -> None:
        """Shut down in the background: a used kernel is discarded anyway, and its 20 ms
        shutdown need not delay the step that used it."""
        threading.Thread(target=self.shutdown, daemon=False, name="wfnb-kernel-stop").start()

    def shutdown(self) -> None:
        """Stop the kernel process (idempotent) and what it started: jupyter_client kills the
        kernel's process group (the kernel leads one), and processes that left it for a group
        of their own (``start_new_session=True``) are ended after it."""
        escaped = self._escaped()
        try:
            self.kc.stop_channels()
        except Exception:
            pass
        try:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
        except Exception:
            pass
        children.end(escaped)

    def _escaped(self) -> list[children.Proc]:
        """The kernel's live descendants outside its process group."""
        pid = self.pid
        if pid is None:
            return []
        group = getattr(self.km.provisioner, "pgid", None)
        return [p for p in children.tree([pid]) if p.pid != pid and p.pgrp != group]


class KernelPool:
    """Pre-started kernels per kernel name; ``take`` hands one out and starts a replacement."""

    REFILL_DELAY = 0.3

    def __init__(self, size: int = 2):
        self.size = size
        self._ready: dict[str, deque[KernelSession]] = {}
        self._starting: dict[str, int] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._threads: list[threading.Thread] = []
        # stop refilling before the interpreter joins its threads (as concurrent.futures
        # does), then shut down what is pooled; a kernel left starting at teardown aborts it
        threading._register_atexit(self._stop_refilling)  # type: ignore[attr-defined]
        atexit.register(self.close)

    def _stop_refilling(self) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=30)

    def take(self, kernel_name: str = "python3") -> KernelSession:
        """A fresh, started kernel: from the pool when one is ready, else started now."""
        session = None
        with self._lock:
            ready = self._ready.setdefault(kernel_name, deque())
            while ready and session is None:
                candidate = ready.popleft()
                if candidate.alive():
                    session = candidate
                else:
                    candidate.shutdown()
        # the replacement starts a moment later: starting a kernel takes a core for ~0.5 s,
        # which would otherwise slow the step that just took one
        timer = threading.Timer(self.REFILL_DELAY, self._refill, args=(kernel_name,))
        timer.daemon = True  # a refill not yet begun at exit is simply dropped
        timer.start()
        return session or KernelSession(kernel_name)

    def warm(self, kernel_name: str = "python3") -> None:
        """Start filling the pool for ``kernel_name`` (in the background)."""
        self._refill(kernel_name)

    def _refill(self, kernel_name: str) -> None:
        if self.size <= 0:
            return
        with self._lock:
            if self._closed:
                return
            have = len(self._ready.get(kernel_name, ())) + self._starting.get(kernel_name, 0)
            missing = max(0, self.size - have)
            self._starting[kernel_name] = self._starting.get(kernel_name, 0) + missing
            threads = [threading.Thread(target=self._start_one, args=(kernel_name,),
                                        name=f"wfnb-kernel-warm-{kernel_name}")
                       for _ in range(missing)]
            self._threads = [t for t in self._threads if t.is_alive()] + threads
        for thread in threads:
            thread.start()

    def _start_one(self, kernel_name: str) -> None:
        try:
            session = KernelSession(kernel_name)
        except Exception:
            session = None
        with self._lock:
            self._starting[kernel_name] -= 1
            if session is not None and not self._closed:
                self._ready.setdefault(kernel_name, deque()).append(session)
                session = None
        if session is not None:  # the pool closed meanwhile
            session.shutdown()

    def ready(self, kernel_name: str = "python3") -> int:
        with self._lock:
            return len(self._ready.get(kernel_name, ()))

    def close(self) -> None:
        """Shut down every pooled kernel (at exit, or when the size changes)."""
        with self._lock:
            self._closed = True
            sessions = [s for ready in self._ready.values() for s in ready]
            self._ready.clear()
        for session in sessions:
            session.shutdown()


_pools: dict[int, KernelPool] = {}
_pools_lock = threading.Lock()


def pool(size: int) -> KernelPool:
    """The process's pool for this size (one per configured size)."""
    with _pools_lock:
        if size not in _pools:
            _pools[size] = KernelPool(size)
        return _pools[size]


def strip_ansi(lines: list[str] | str) -> str:
    import re
    text = "\n".join(lines) if isinstance(lines, list) else lines
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


__all__ = ["KernelSession", "KernelPool", "KernelDied", "Interrupted", "CellError", "pool",
           "strip_ansi"]
