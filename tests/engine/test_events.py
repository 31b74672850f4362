"""The event feed views listen to: other processes' commits reach it through their bell (a
few bytes in ``<history>.changed``), and a writer that rings no bell is still heard by the
feed's slower poll of the events table."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading

import duckdb
import pytest

from wfnb.engine.store.events import EventFeed
from wfnb.engine.core.records import utcnow
from wfnb.engine.store.store import Store
from tests.helpers import cli_env, poll


def listen(ws) -> tuple[list[dict], callable]:
    """Events the workspace's feed delivers, and its unsubscribe."""
    seen: list[dict] = []
    lock = threading.Lock()

    def listener(events):
        with lock:
            seen.extend(events)
    return seen, EventFeed.for_store(ws.store).subscribe(listener)


def run_elsewhere(root, code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env=cli_env(WFNB_USER="other"), timeout=120, cwd=root)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_another_processs_run_reaches_the_feed_by_its_bell(ws, monkeypatch):
    feed = EventFeed.for_store(ws.store)
    monkeypatch.setattr(feed, "POLL_EVERY", 3600.0)  # the bell alone can tell it now
    seen, unsubscribe = listen(ws)
    try:
        run_id = run_elsewhere(ws.root, f"""
            import wfnb
            print(wfnb.open({str(ws.root)!r}).run("daily_sales", date="2026-11-23").id)
        """)
        poll(lambda: any(e["run_id"] == run_id and e["kind"] == "run"
                         and e["status"] == "Completed" for e in list(seen)),
             timeout=20, what="the other process's run to reach the feed")
    finally:
        unsubscribe()


def test_a_process_does_not_hear_its_own_bell_but_hears_the_others(ws):
    store = ws.store
    before = store.bell()
    assert before is not None
    store.ring()
    assert store.bell() == before  # its own commits reach its views directly
    run_elsewhere(ws.root, f"""
        import wfnb
        wfnb.open({str(ws.root)!r}).store.ring()
        print("rang")
    """)
    assert store.bell() != before
    heard = store.bell()
    store.ring()
    assert store.bell() == heard


def test_a_writer_that_rings_no_bell_is_heard_by_the_slower_poll(ws, monkeypatch):
    feed = EventFeed.for_store(ws.store)
    monkeypatch.setattr(feed, "POLL_EVERY", 0.2)
    seen, unsubscribe = listen(ws)
    try:
        poll(lambda: feed._thread is not None and feed._thread.is_alive(), what="the feed")
        # a DuckDB shell, say: it knows nothing of the bell
        ws.store.release()
        with ws.store._db_lock:
            con = duckdb.connect(str(ws.store.path))
            try:
                con.execute("INSERT INTO events (ts, kind, actor) VALUES (?, 'note', 'shell')",
                            [utcnow()])
            finally:
                con.close()
        poll(lambda: any(e["kind"] == "note" for e in list(seen)), timeout=20,
             what="the silent writer's event")
    finally:
        unsubscribe()


READ_ONLY_CHECK = """
import sys
from wfnb.engine.store.store import Store
store = Store.for_path(sys.argv[1])
assert store.bell() is None
store.ring()  # nothing to ring: no error either
print("runs:", store.query("SELECT count(*) AS n FROM runs")[0]["n"])
"""


def test_a_read_only_history_folder_has_no_bell_and_still_reads(ws, tmp_path):
    ws.run("daily_sales", date="2026-11-23")
    ws.store.release()
    ro = tmp_path / "ro"
    ro.mkdir()
    shutil.copy(ws.store.path, ro / "history.duckdb")
    os.chmod(ro, 0o555)  # a folder nobody may write: read-only users still open it
    check = [sys.executable, "-c", READ_ONLY_CHECK, str(ro / "history.duckdb")]
    if os.access(ro, os.W_OK):  # root writes any folder: make it a read-only mount instead
        check = ["unshare", "-m", "sh", "-c", 'mount --bind "$1" "$1" && mount -o '
                 'remount,bind,ro "$1" && shift && exec "$@"', "sh", str(ro), *check]
    try:
        done = subprocess.run(check, capture_output=True, text=True, env=cli_env(),
                              timeout=120)
    finally:
        os.chmod(ro, 0o755)
    if done.returncode != 0 and "mount" in done.stderr and "runs:" not in done.stdout:
        pytest.skip(f"this user may write any folder, and cannot mount one read-only: "
                    f"{done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["runs:", "1"]
    assert sorted(p.name for p in ro.iterdir()) == ["history.duckdb"]  # it wrote nothing
