"""The small files beside the history through which its processes signal each other, without
taking the history itself (see :mod:`~wfnb.engine.store.sharedfile` for how they take turns):

* ``<history>.changed``, the bell: a process that commits events writes 8 random bytes in its
  slot (one of 64, by process id); views elsewhere read 512 bytes every few ms to learn of it;
* ``<history>.readers``: held shared by a process waiting to read (writers let it in first);
* ``<history>.queue``: (pid, since when) in the slot of each process waiting to write, so
  writers go about in the order they came;
* ``<history>.first``: held shared by an interactive process (the Jupyter server) while a
  person waits for its turn; probed through a second open file.

In a folder this user may not write, there are no such files: every signal is then silent
(DuckDB's own lock still protects the history, and views ask the history instead).
"""
from __future__ import annotations

import fcntl
import os
import struct
import threading
import time

BELL_SLOTS = 64  # of 8 bytes each in <history>.changed; a process rings in pid % 64
QUEUE_SLOTS = 64  # of (pid, since) in <history>.queue; a waiting writer's is pid % 64
_ENTRY = struct.Struct("=QQ")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _held_shared(fd: int | None) -> bool:
    """Does another open file hold a lock on the file of ``fd``? (tried exclusive, at once,
    and let go); False without the file."""
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def _open(path: str, create: bool = True) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o666) if create else os.open(path, os.O_RDWR)


class Signals:
    """This process's ends of the signal files of the history at ``path``."""

    def __init__(self, path: str):
        self._rang = b""                 # what this process last wrote in its bell slot
        self._pressing = 0               # threads here that hold <history>.first
        self._press_lock = threading.Lock()
        try:
            self.readers_fd: int | None = _open(f"{path}.readers")
            self.queue_fd: int | None = _open(f"{path}.queue")
            self.first_fd: int | None = _open(f"{path}.first")
            self.first_probe_fd: int | None = _open(f"{path}.first", create=False)
        except OSError:  # a read-only folder
            self.readers_fd = self.queue_fd = self.first_fd = self.first_probe_fd = None
        try:
            self.bell_fd: int | None = _open(f"{path}.changed")
        except OSError:  # views here and elsewhere fall back to asking the file
            self.bell_fd = None

    # ---- the bell: <history>.changed ------------------------------------------------------
    def ring(self) -> None:
        """Tell the other processes' views that events were committed (after the commit)."""
        if self.bell_fd is not None:
            self._rang = os.urandom(8)
            try:
                os.pwrite(self.bell_fd, self._rang, 8 * (os.getpid() % BELL_SLOTS))
            except OSError:
                pass

    def bell(self) -> bytes | None:
        """What the bell holds now, this process's own last ring left out: it changes when
        another process commits events; None when there is no bell (a read-only folder)."""
        if self.bell_fd is None:
            return None
        try:
            heard = bytearray(os.pread(self.bell_fd, 8 * BELL_SLOTS, 0).ljust(
                8 * BELL_SLOTS, b"\0"))  # slots past the end: never rung
        except OSError:
            return None
        mine = slice(8 * (os.getpid() % BELL_SLOTS), 8 * (os.getpid() % BELL_SLOTS) + 8)
        if heard[mine] == self._rang:
            heard[mine] = bytes(8)
        return bytes(heard)

    # ---- readers go first: <history>.readers -----------------------------------------------
    def wait_to_read(self, on: bool) -> None:
        """Hold (or let go) ``<history>.readers`` while a read waits for the history."""
        if self.readers_fd is not None:
            fcntl.flock(self.readers_fd, fcntl.LOCK_SH if on else fcntl.LOCK_UN)

    def readers_waiting(self) -> bool:
        """Does another process wait to read? (it holds ``<history>.readers`` shared)"""
        return _held_shared(self.readers_fd)

    # ---- the writers' queue: (pid, since) per slot of <history>.queue ----------------------
    def enqueue(self, since: int) -> bool:
        """Write (this pid, ``since``) in this process's slot; False if it cannot."""
        if self.queue_fd is None:
            return False
        try:
            os.pwrite(self.queue_fd, _ENTRY.pack(os.getpid(), since),
                      _ENTRY.size * (os.getpid() % QUEUE_SLOTS))
            return True
        except OSError:
            return False

    def dequeue(self) -> None:
        """Clear this process's slot, unless a process sharing the slot wrote it since."""
        self._clear_slot(os.getpid() % QUEUE_SLOTS, os.getpid())

    def waiting_writers(self) -> list[tuple[int, int]]:
        """(since, pid) of the other processes waiting to write, oldest first; a waiter
        that died waiting (its slot written 0.5 s ago or more, its process gone) is cleared."""
        if self.queue_fd is None:
            return []
        try:
            data = os.pread(self.queue_fd, _ENTRY.size * QUEUE_SLOTS, 0)
        except OSError:
            return []
        me, now = os.getpid(), time.monotonic_ns()
        found = []
        for slot, (pid, since) in enumerate(_ENTRY.iter_unpack(
                data[:len(data) - len(data) % _ENTRY.size])):
            if not pid or pid == me:
                continue
            if now - since > 0.5e9 and not _alive(pid):
                self._clear_slot(slot, pid)
                continue
            found.append((since, pid))
        return sorted(found)

    def _clear_slot(self, slot: int, pid: int) -> None:
        if self.queue_fd is None:
            return
        at = _ENTRY.size * slot
        try:
            if _ENTRY.unpack(os.pread(self.queue_fd, _ENTRY.size, at).ljust(
                    _ENTRY.size, b"\0"))[0] == pid:
                os.pwrite(self.queue_fd, bytes(_ENTRY.size), at)
        except (OSError, struct.error):
            pass

    # ---- going first: <history>.first, held shared by whoever a person waits for ----------
    def press(self, on: bool) -> None:
        """Hold ``<history>.first`` (shared) while a thread here goes first. Counted: the
        lock is the process's (one open file), not the thread's."""
        if self.first_fd is None:
            return
        with self._press_lock:
            self._pressing += 1 if on else -1
            if self._pressing == (1 if on else 0):
                fcntl.flock(self.first_fd, fcntl.LOCK_SH if on else fcntl.LOCK_UN)

    def first_waiting(self) -> bool:
        """Does a process wait for a turn that goes first? (probed through a second open
        file: it sees this process's own hold too, which only a waiter has)"""
        return _held_shared(self.first_probe_fd)
