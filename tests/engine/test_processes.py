"""Several real processes on one workspace: nothing lost, nothing stuck, signals cross."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import cli_env, poll, spawn

pytestmark = pytest.mark.slow


def active_run(ws, workflow):
    rows = ws.sql(f"select id from runs where workflow = '{workflow}' and status = 'Running'")
    return rows["id"][0] if len(rows) else None


def test_four_processes_on_one_workspace_lose_no_run_task_or_event(ws):
    per_process = 8
    code = f"""
        import wfnb
        ws = wfnb.open({str(ws.root)!r})
        runs = [ws.start("daily_sales", date="2026-11-23") for _ in range({per_process})]
        print(sorted(r.wait(120).status for r in runs))
    """
    procs = [spawn(code, WFNB_USER=f"user{i}") for i in range(4)]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    n = 4 * per_process
    counts = ws.sql("""select (select count(*) from runs where status = 'Completed') runs,
                              (select count(*) from tasks where status = 'Completed') tasks,
                              (select count(*) from events where kind = 'run') run_events,
                              (select count(*) from events where kind = 'task') task_events,
                              (select count(distinct created_by) from runs) users""")
    assert counts.to_dict("records")[0] == {"runs": n, "tasks": n * 6, "run_events": n * 3,
                                            "task_events": n * 6 * 3, "users": 4}


def test_kill_9_mid_step_leaves_a_run_that_becomes_error(ws):
    proc = spawn(f"""
        import wfnb
        ws = wfnb.open({str(ws.root)!r})
        ws.run("slow_etl", seconds=600)
    """)
    run_id = poll(lambda: active_run(ws, "slow_etl"), timeout=60, what="the run to be Running")
    poll(lambda: len(ws.get_run(run_id).tasks) > 1, what="the first step to start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    killed_at = time.monotonic()
    run = poll(lambda: (r := ws.get_run(run_id)).status == "Error" and r, timeout=10,
               what="the lost run to be marked Error")
    assert time.monotonic() - killed_at < 10
    assert run.error.startswith(f"runner lost: process {proc.pid}")
    assert {t.step: t.status.value for t in run.tasks} == {"Start": "Completed",
                                                           "stage": "Error"}


def test_cancel_from_another_process_takes_effect_within_two_seconds(ws):
    proc = subprocess.Popen([sys.executable, "-m", "wfnb", "run", "slow_etl", "-p",
                             "seconds=600", "--workspace", str(ws.root)], env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    run_id = poll(lambda: active_run(ws, "slow_etl"), timeout=60, what="the run to be Running")
    asked = time.monotonic()
    run = ws.cancel(run_id, wait=10)
    assert run.status == "Cancelled" and time.monotonic() - asked < 2.5
    assert run.error == "cancelled by tester"
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 1 and f"run {run_id} Cancelled" in out
    events = ws.sql(f"select kind, actor from events where run_id = '{run_id}' "
                    "and kind = 'cancel_requested'")
    assert events.to_dict("records") == [{"kind": "cancel_requested", "actor": "tester"}]


def test_a_file_held_by_another_process_delays_writes_but_loses_nothing(ws):
    holder = spawn(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(ws.config.history)!r})
        print("holding", flush=True)
        time.sleep(1.5)
        con.close()
    """)
    assert holder.stdout.readline().strip() == "holding"
    started = time.monotonic()
    run = ws.run("daily_sales", date="2026-11-23")
    assert run.status == "Completed" and time.monotonic() - started > 0.5
    holder.wait(10)
    assert ws.sql(f"select count(*) n from tasks where run_id = '{run.id}'")["n"][0] == 6


def test_a_run_of_a_process_that_exited_is_not_left_running(ws):
    """A process that exits (not killed) while its run is active: the next reader fixes it."""
    proc = spawn(f"""
        import os, wfnb
        ws = wfnb.open({str(ws.root)!r})
        run = ws.start("slow_etl", seconds=600)
        import time
        while len(run.tasks) < 2 or run.tasks[1].status.value != "Running":
            time.sleep(0.01)
        ws.store.flush()
        os._exit(0)
    """)
    proc.wait(60)
    run = poll(lambda: (r := ws.runs(workflow="slow_etl")) and r[0].status == "Error" and r[0],
               timeout=10, what="the orphaned run to be marked Error")
    assert "runner lost" in run.error


def test_a_script_that_exits_with_a_live_run_ends_it_as_error_on_the_way_out(ws):
    proc = spawn(f"""
        import wfnb
        ws = wfnb.open({str(ws.root)!r})
        run = ws.start("slow_etl", seconds=600)
        print(run.id, flush=True)
    """)
    out = proc.communicate(timeout=60)[0]
    run = ws.get_run(out.split()[0])  # no waiting: the exiting process wrote it
    assert run.status == "Error"
    assert run.error.startswith("the process running this run exited")
