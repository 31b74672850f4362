"""End the processes a step started when it is cancelled or times out.

A Python step runs on a thread of this process, so it has no process of its own to stop. On
Linux each thread keeps its own list of children (``/proc/<pid>/task/<tid>/children``), which
tells the processes one step's thread started (``subprocess``, ``os.system``, ``os.fork``,
``multiprocessing`` ...) from those of the steps running beside it. While a step runs it is
*watched*: once its cancel flag is set (the run was cancelled or the step timed out), the
processes its thread started since the step began get SIGTERM with all their descendants (and
their process group, when one of them leads its own), then SIGKILL after ``GRACE`` seconds if
they are still there. A step's processes still running when this process exits are ended too,
once :func:`install` has registered the exit handler that does it (the engine calls it before
registering its own; watching a step or ending processes calls it too).

Not ended: processes started by threads the step started itself; processes that had already
left the step's tree (a double-forked daemon, ``cmd &`` of a shell that has since exited)
unless they are in a process group that one of the step's processes leads; anything on a system
without per-thread children lists (not Linux): there nothing is ended.
"""
from __future__ import annotations

import atexit
import os
import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterable, Iterator, NamedTuple

GRACE = 5.0   # seconds between SIGTERM and SIGKILL
POLL = 0.1    # seconds between looks at the cancel flags of the watched steps
AT_EXIT = 1.0  # seconds the processes of steps still running at exit get before SIGKILL


class Proc(NamedTuple):
    """One process, told apart from a later one with the same pid by its start time."""

    pid: int
    start: int   # clock ticks after boot (field 22 of /proc/<pid>/stat)
    pgrp: int


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, start time) of ``pid``, None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
        fields = data[data.rindex(b")") + 2:].split()  # the name in parentheses may hold spaces
        return fields[0].decode(), int(fields[2]), int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _read_pids(path: str) -> list[int]:
    try:
        fd = os.open(path, os.O_RDONLY)  # not open(): a third of the cost
    except OSError:
        return []
    try:
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
        return [int(p) for p in data.split()]
    except (OSError, ValueError):
        return []
    finally:
        os.close(fd)


def _children(pid: int) -> list[int]:
    """The children of every thread of ``pid``."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    return [c for tid in tids for c in _read_pids(f"/proc/{pid}/task/{tid}/children")]


def _proc(pid: int) -> Proc | None:
    """``pid`` if it is a live process (a zombie is dead: it only waits to be reaped)."""
    stat = _stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return None
    return Proc(pid, stat[2], stat[1])


def alive(proc: Proc) -> bool:
    """Is this very process (not a later one given its pid) still running?"""
    now = _proc(proc.pid)
    return now is not None and now.start == proc.start


def tree(pids: Iterable[int]) -> list[Proc]:
    """These processes and all their live descendants, parents first."""
    found: dict[int, Proc] = {}
    todo = list(pids)
    while todo:
        pid = todo.pop(0)
        if pid in found:
            continue
        proc = _proc(pid)
        if proc is not None:
            found[pid] = proc
            todo.extend(_children(pid))
    return list(found.values())


def _signal(procs: Iterable[Proc], groups: Iterable[int], sig: int) -> None:
    for group in groups:
        try:
            os.killpg(group, sig)
        except OSError:  # the group is gone
            pass
    for proc in procs:
        if alive(proc):
            try:
                os.kill(proc.pid, sig)
            except OSError:  # it ended meanwhile, or is not ours to signal
                pass


def _own_groups(procs: Iterable[Proc]) -> set[int]:
    """Process groups led by one of ``procs`` (never this process's own group)."""
    mine = os.getpgrp()
    return {p.pgrp for p in procs if p.pgrp == p.pid and p.pgrp != mine}


def end(procs: list[Proc], grace: float = GRACE) -> None:
    """SIGTERM ``procs`` (and the groups they lead) now, SIGKILL what is left after ``grace``
    seconds (in the background)."""
    if not procs:
        return
    install()  # what outlives its grace period at exit is killed then
    groups = _own_groups(procs)
    _signal(procs, groups, signal.SIGTERM)
    _reaper.kill_later(time.monotonic() + grace, procs, groups)


def _kill_survivors(procs: list[Proc], groups: set[int]) -> None:
    """SIGKILL what is left of ``procs``, with what they started since they were seen."""
    left = [p for p in procs if alive(p)]
    # a group is signalled only while one of its known members lives: its id cannot have
    # been given to another group then
    groups = {g for g in groups if any(p.pgrp == g for p in left)}
    everything = tree(p.pid for p in left)
    _signal(everything, groups | _own_groups(everything), signal.SIGKILL)


def _ticks() -> int:
    """Now, in the clock of a process's start time (clock ticks after boot)."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME) // (10**9 // _TICKS_PER_S)


class _Watch:
    """One running step: its thread's children list, and when the step began. The list is
    read only once the step is cancelled: a child the thread has, started since then, is the
    step's (reading it costs tens of microseconds, too much for every step)."""

    def __init__(self, cancel: threading.Event):
        self.cancel = cancel
        self.path = f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children"
        self.since = _ticks()
        self.before: set[Proc] = set()
        if getattr(_per_thread, "ended", -1) >= self.since:
            # the thread's previous step ended in this very tick: what it left may have
            # started in it too, so those are told apart the slow way
            self.before = {p for p in map(_proc, _read_pids(self.path)) if p is not None}
        self.ended: set[Proc] = set()
        self._lock = threading.Lock()   # the reaper and the step's own thread may both end

    def started(self) -> list[Proc]:
        """Live processes this step started, with their descendants, not yet ended."""
        new = [p for p in map(_proc, _read_pids(self.path)) if p is not None
               and p.start >= self.since and p not in self.before]
        return [p for p in tree(p.pid for p in new) if p not in self.ended]

    def end(self, grace: float = GRACE) -> list[Proc]:
        with self._lock:
            procs = self.started()
            self.ended.update(procs)
        end(procs, grace)
        return procs


class _Reaper:
    """One daemon thread: ends the processes of watched steps once they are cancelled, and
    SIGKILLs what has outlived its grace period."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start afresh (in a forked child: the steps and processes it copied are not its
        own, and its copy of the thread does not run)."""
        self._cond = threading.Condition()
        self._watches: set[_Watch] = set()
        self._later: list[tuple[float, list[Proc], set[int]]] = []
        self._thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        with self._cond:
            self._watches.add(watch)
            if len(self._watches) == 1:  # else the thread already looks every POLL seconds
                self._start()

    def remove(self, watch: _Watch) -> None:
        with self._cond:
            self._watches.discard(watch)

    def kill_later(self, when: float, procs: list[Proc], groups: set[int]) -> None:
        with self._cond:
            self._later.append((when, procs, groups))
            self._start()

    def _start(self) -> None:
        """Start the thread, or wake it (it may be sleeping until a later deadline)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="wfnb-children")
            self._thread.start()
        else:
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._watches and not self._later:
                    self._cond.wait()
                wait = POLL if self._watches else \
                    min(when for when, _, _ in self._later) - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                cancelled = [w for w in self._watches if w.cancel.is_set()]
                now = time.monotonic()
                due = [item for item in self._later if item[0] <= now]
                self._later = [item for item in self._later if item[0] > now]
            for watch in cancelled:  # again on every pass: a step may start more meanwhile
                _quietly(watch.end)
            for _, procs, groups in due:
                _quietly(_kill_survivors, procs, groups)

    def at_exit(self) -> None:
        """The process is exiting and the threads of steps still running die with it: their
        processes get SIGTERM now and SIGKILL after ``AT_EXIT`` seconds, as do those still
        waiting for their SIGKILL. (Registered by :func:`install`, before the engine's own
        exit handler, so it runs after that one has ended the runs as Error.)"""
        with self._cond:
            watches, later, self._later = list(self._watches), self._later, []
        procs = [p for w in watches for p in _quietly(w.started) or ()]
        groups = _own_groups(procs)
        _quietly(_signal, procs, groups, signal.SIGTERM)
        procs += [p for _, ps, _ in later for p in ps]
        groups |= {g for _, _, gs in later for g in gs}
        deadline = time.monotonic() + AT_EXIT
        while any(alive(p) for p in procs) and time.monotonic() < deadline:
            time.sleep(0.02)
        _quietly(_kill_survivors, procs, groups)


def _quietly(fn, *args):
    """Ending processes is best effort: one that cannot be read or signalled is left."""
    try:
        return fn(*args)
    except Exception:
        return None


_reaper = _Reaper()
_installed = False
_install_lock = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reaper.reset)
_per_thread = threading.local()   # .ended: when its last watched step ended (ticks)
_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_supported: bool | None = None


def install() -> None:
    """Register the exit handler that ends the processes of the steps still running when this
    process exits (idempotent). Exit handlers run last-registered first: called before the
    engine registers its own, the runs are ended (as Error) before their processes."""
    global _installed
    if _installed:  # every step calls this: no lock once done
        return
    with _install_lock:
        if not _installed:
            atexit.register(_reaper.at_exit)
            _installed = True


def supported() -> bool:
    """Does this system list each thread's children (Linux with /proc)?"""
    global _supported
    if _supported is None:
        _supported = hasattr(time, "CLOCK_BOOTTIME") and os.path.exists(
            f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children")
    return _supported


@contextmanager
def ended_on(cancel: threading.Event) -> Iterator[None]:
    """Watch the processes this thread starts inside the block: once ``cancel`` is set they
    are ended, with their descendants (see the module's docstring for what is not)."""
    if not supported():
        yield
        return
    install()  # a step still running at exit has its processes ended
    watch = _Watch(cancel)
    _reaper.add(watch)
    try:
        yield
    finally:
        _reaper.remove(watch)
        if cancel.is_set():  # the step came back after its cancel: what it left goes now
            _quietly(watch.end)
        _per_thread.ended = _ticks()


__all__ = ["ended_on", "end", "tree", "alive", "supported", "install", "Proc", "GRACE"]
