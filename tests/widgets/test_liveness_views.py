"""An open view notices a dead runner by itself: no other process has to open the workspace."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import cli_env, poll
from wfnb.widgets.live import shows_active_run

pytestmark = pytest.mark.slow


def runner(root, user: str = "tester") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import wfnb
        ws = wfnb.open({str(root)!r})
        ws.run("slow_etl", seconds=600)
    """)], env=cli_env(WFNB_USER=user), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def running_step(ws) -> str | None:
    rows = ws.sql("select r.id from runs r join tasks t on t.run_id = r.id "
                  "where r.workflow = 'slow_etl' and t.step = 'stage' and t.status = 'Running'")
    return rows["id"][0] if len(rows) else None


def test_run_details_shows_error_within_10_s_of_a_kill_9_of_its_runner(ws):
    proc = runner(ws.root)
    try:
        run_id = poll(lambda: running_step(ws), timeout=60, what="the first step to run")
        box = ws.run_details(run_id)
        view = box.view
        assert view.run["status"] == "Running"
        table = ws.runs_table()  # a second view of the same run, in the same process
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(10)  # (a zombie counts as dead too; this only tidies up)
        poll(lambda: view.run["status"] == "Error", timeout=10, interval=0.01,
             what="Run Details to show the killed run as Error")
        latency = time.monotonic() - killed
        print(f"\nkill -9 -> Error in an open Run Details: {latency:.2f} s")
        assert latency < 10
        assert view.run["error"].startswith(f"runner lost: process {proc.pid}")
        assert {t["step"]: t["status"] for t in view.tasks} == {"Start": "Completed",
                                                                "stage": "Error"}
        assert not view.can_cancel
        poll(lambda: {r["id"]: r["status"] for r in table.view.rows}[run_id] == "Error",
             timeout=5, what="the runs table to show it too")
        stored = ws.sql(f"select status from runs where id = '{run_id}'")["status"][0]
        assert stored == "Error"  # written to the history, not only shown
    finally:
        proc.kill()
        proc.wait(10)


def test_a_view_of_finished_runs_does_not_check_owners():
    """Only a live run is worth the check: a finished one cannot lose its owner."""
    assert shows_active_run({"run": {"status": "Running"}, "tasks": []})
    assert shows_active_run({"cards": [{"last_status": "Waiting for Approval"}]})
    assert shows_active_run({"rows": [{"id": "a", "status": "Completed"},
                                      {"id": "b", "status": "Pending"}]})
    assert not shows_active_run({"run": {"status": "Error", "params": {"note": "Running"}},
                                 "tasks": [{"status": "Completed"}], "message": "Running"})
