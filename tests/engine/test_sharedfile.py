"""How processes take turns on the history file: a writer that finds it taken waits in line
(``<history>.queue``), leaves the line when served, and a waiter that died is cleared."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import wfnb
from tests.helpers import poll, spawn

HOLD = """
    import sys, time
    from pathlib import Path
    from wfnb.engine.store.store import Store
    store = Store.for_path(sys.argv[1])
    with store.connect():
        Path(sys.argv[2]).touch()
        while not Path(sys.argv[3]).exists():
            time.sleep(0.01)
"""
WRITE = """
    import sys, time
    from pathlib import Path
    from wfnb.engine.store.store import Store
    store = Store.for_path(sys.argv[1])  # opening reads the file: readers do not queue
    Path(sys.argv[2]).touch()
    while not Path(sys.argv[3]).exists():  # the file is taken meanwhile
        time.sleep(0.01)
    store.transact(lambda con: con.execute(
        "INSERT INTO events (ts, kind, actor) VALUES (now()::TIMESTAMP, 'note', 'waiter')"))
    print("written")
"""


def opened_writer(tmp_path, path) -> subprocess.Popen:
    """A process with the history open that writes once the file is taken (``holding``)."""
    opened = tmp_path / "opened"
    waiter = spawn(WRITE, path, opened, tmp_path / "held", stderr=subprocess.PIPE)
    poll(lambda: opened.exists() or waiter.poll() is not None, timeout=60, what="the writer")
    assert opened.exists(), waiter.communicate()[1]
    return waiter


def holding(tmp_path, path) -> tuple[subprocess.Popen, object]:
    """A process that holds the history file until ``release`` exists."""
    held, release = tmp_path / "held", tmp_path / "release"
    holder = spawn(HOLD, path, held, release, stderr=subprocess.PIPE)
    poll(lambda: held.exists() or holder.poll() is not None, timeout=60, what="the holder")
    assert held.exists(), holder.communicate()[1]
    return holder, release


def test_a_writer_that_finds_the_file_taken_waits_in_line_until_served(tmp_path):
    ws = wfnb.open(tmp_path / "ws")
    store = ws.store
    store.release()
    waiter = opened_writer(tmp_path, store.path)
    holder, release = holding(tmp_path, store.path)
    try:
        poll(lambda: [pid for _, pid in store.signals.waiting_writers()] == [waiter.pid],
             timeout=60, what="the waiter in line")
        # once it has waited its patience, a writer coming now lets it go first
        poll(lambda: not store._first_in_line(time.monotonic_ns()), timeout=10,
             what="the waiter to be first in line")
        release.touch()
        out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0 and out.strip() == "written", err
        assert store.signals.waiting_writers() == []  # it left the line when served
        assert store.query("SELECT count(*) AS n FROM events WHERE kind = 'note'")[0]["n"] == 1
    finally:
        release.touch()
        holder.communicate(timeout=60)
        if waiter.poll() is None:
            waiter.kill()


def test_a_waiter_that_died_in_line_is_cleared(tmp_path):
    ws = wfnb.open(tmp_path / "ws")
    store = ws.store
    store.release()
    waiter = opened_writer(tmp_path, store.path)
    holder, release = holding(tmp_path, store.path)
    try:
        poll(lambda: [pid for _, pid in store.signals.waiting_writers()] == [waiter.pid],
             timeout=60, what="the waiter in line")
        os.kill(waiter.pid, signal.SIGKILL)
        waiter.wait(timeout=30)
        poll(lambda: store.signals.waiting_writers() == [], timeout=10, what="the dead waiter gone")
        assert store._first_in_line(time.monotonic_ns())
        with open(store.path + ".queue", "rb") as fh:
            fh.seek(16 * (waiter.pid % 64))
            assert fh.read(16).strip(b"\0") == b""  # its slot is empty again
    finally:
        release.touch()
        holder.communicate(timeout=60)


def test_one_busy_process_keeps_the_file_with_nobody_in_line(tmp_path):
    ws = wfnb.open(tmp_path / "ws")
    store = ws.store
    assert store.signals.waiting_writers() == []
    assert not store._hold_over(store.share_hold * 2)  # nobody waits: max_hold applies
    assert store._hold_over(store.max_hold * 1.5)


def test_a_writer_waiting_for_its_turn_lets_the_readers_of_its_process_in(tmp_path):
    import threading
    ws = wfnb.open(tmp_path / "ws")
    store = ws.store
    store.release()
    holder, release = holding(tmp_path, store.path)
    note = "INSERT INTO events (ts, kind, actor) VALUES (now(), 'note', 'test')"
    errors: list[BaseException] = []

    def write() -> None:
        try:
            store.transact(lambda con: con.execute(note))
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    first = threading.Thread(target=write)
    second = threading.Thread(target=write)
    try:
        first.start()
        poll(lambda: store._opener is first, timeout=30, what="the writer waiting its turn")
        second.start()  # waits for the first (one turn-taker per process), not in flock
        # the process's own lock is free between the waiting writer's attempts
        for _ in range(20):
            assert store._db_lock.acquire(timeout=1.0)
            assert store._opener is first and store._held is None
            store._db_lock.release()
    finally:
        release.touch()
        holder.communicate(timeout=60)
    first.join(timeout=60)
    second.join(timeout=60)
    assert not errors and not first.is_alive() and not second.is_alive()
    assert store._opener is None
    assert store.query("SELECT count(*) AS n FROM events WHERE kind = 'note'")[0]["n"] == 2


BUSY = """
    import sys, time
    from pathlib import Path
    from wfnb.engine.store.sharedfile import SharedFile
    from wfnb.engine.store.store import Store
    SharedFile.share_hold = SharedFile.max_hold = 600.0  # never hands over to others in line
    store = Store.for_path(sys.argv[1])
    note = "INSERT INTO events (ts, kind, actor) VALUES (now()::TIMESTAMP, 'note', 'busy')"
    store.transact(lambda con: con.execute(note))
    Path(sys.argv[2]).touch()
    while not Path(sys.argv[3]).exists():
        store.transact(lambda con: con.execute(note))
"""


def test_a_server_goes_first_past_another_process_that_keeps_writing(tmp_path, factory):
    """The Jupyter server's store is ``interactive``: its reads, and the writes a request
    waits for (``flush``), are served while another process keeps the file busy, instead of
    after that process's turn (here as long as it likes: 600 s)."""
    factory.module("one", """
        from wfnb import Workflow
        wf = Workflow("one")
        wf.step(lambda: 1, name="a")
    """)
    ws = factory.open(user="ana")
    store = ws.store
    store.release()
    busy, release = tmp_path / "busy", tmp_path / "release"
    writer = spawn(BUSY, store.path, busy, release, stderr=subprocess.PIPE)
    try:
        poll(lambda: busy.exists() or writer.poll() is not None, timeout=60, what="busy")
        assert busy.exists(), writer.communicate()[1]
        store.interactive = True
        seen = store.query("SELECT count(*) AS n FROM events WHERE actor = 'busy'")[0]["n"]
        assert seen >= 1 and writer.poll() is None  # read while it still writes
        run = ws.start("one")
        store.flush()
        assert writer.poll() is None  # stored while it still writes
        rows = store.query("SELECT status FROM runs WHERE id = ?", [run.id])
        assert len(rows) == 1
    finally:
        store.interactive = False
        release.touch()
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert run.wait(timeout=60).status == "Completed"


def test_a_turn_that_goes_first_ends_others_turns_and_passes_the_line(tmp_path):
    import fcntl
    ws = wfnb.open(tmp_path / "ws")
    store = ws.store
    turn_cost = store._open_cost + store._close_cost
    assert not store.signals.first_waiting() and not store._hold_over(turn_cost + 0.001)
    # another process waiting for a turn that goes first holds <history>.first shared
    with open(store.path + ".first", "rb") as other:
        fcntl.flock(other, fcntl.LOCK_SH)
        assert store.signals.first_waiting()
        assert store._hold_over(turn_cost + 0.001)  # a holder gives the file up at once
        now = time.monotonic_ns()
        assert not store._first_in_line(now)  # an ordinary writer lets it go first ...
        assert store._first_in_line(now - int(store.defer_limit * 1e9) - 1)  # ... not forever
        fcntl.flock(other, fcntl.LOCK_UN)
    assert not store.signals.first_waiting() and store._first_in_line(time.monotonic_ns())


def test_threads_going_first_together_hold_the_process_s_place_until_the_last_is_served(
        tmp_path):
    ws = wfnb.open(tmp_path / "ws")
    store = ws.store
    store.signals.press(True)
    store.signals.press(True)  # a reader and a flushed write, say
    store.signals.press(False)
    assert store.signals.first_waiting()  # the other still waits
    store.signals.press(False)
    assert not store.signals.first_waiting()
