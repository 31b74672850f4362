"""An open view notices a dead runner by itself: no other process has to open the workspace."""
import os
import signal
import subprocess
import time

import pytest

from tests.helpers import poll, spawn
from wfnb.widgets.live import shows_active_run

pytestmark = pytest.mark.slow


def runner(root, user: str = "tester") -> subprocess.Popen:
    return spawn(f"""
        import wfnb
        ws = wfnb.open({str(root)!r})
        ws.run("slow_etl", seconds=600)
    """, WFNB_USER=user)


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


def test_a_repaint_that_fails_is_tried_again_without_another_event(ws):
    """The history was busy when the run's last event came: the view tries again by itself
    instead of showing the run as waiting forever."""
    from wfnb.widgets.run_details import RunDetails

    class BusyHistory(RunDetails):
        busy, event_at, failed_at = False, 0.0, 0.0

        def _on_events(self, events):
            self.event_at = time.monotonic()
            super()._on_events(events)

        def _state(self):
            if self.busy:
                if self._ws.get_run(self._run.id).done:
                    self.failed_at = time.monotonic()
                raise RuntimeError("the history is busy")
            return super()._state()

    run = ws.start("expense_approval", employee="ana", amount=12.0)
    view = BusyHistory(ws, run.id)
    poll(lambda: view.run["status"] == "Waiting for Approval", what="the view to show the wait")
    view.busy = True
    ws.approve(run.id, cost_centre="OPS").wait(30)
    # the repaint for the run's last event failed: no event will come any more, so only a
    # retry can show the end
    poll(lambda: view.failed_at > view.event_at > 0 and time.monotonic() - view.event_at > 1,
         timeout=15, what="a repaint to fail after the last event, and the events to stop")
    view.busy = False
    poll(lambda: view.run["status"] == "Completed", timeout=10, what="the retried repaint")
    view.close()
