"""Runs through the real engine: thread pool, DuckDB history, state machine."""
import datetime as dt
import threading

import pytest

import wfnb
from wfnb import Param, ParamError, Workflow

from tests.helpers import poll


def statuses(run):
    return {t.step: t.status.value for t in run.tasks}


def test_the_example_runs_and_its_history_is_in_duckdb(ws):
    run = ws.run("daily_sales", date="2026-11-23", region="US")
    assert run.status == "Completed" and run.progress == 1.0
    assert [t.step for t in run.tasks][0] == "Start"
    assert run.result("report") == {"date": "2026-11-23", "totals": {"EU": 60, "US": 36,
                                                                     "APAC": 24}, "focus": 36}
    stored = ws.get_run(run.id)  # from the history, not from memory
    fresh = wfnb.open(ws.root).sql(f"select status, params->>'region' r, created_by from runs "
                                   f"where id = '{run.id}'")
    assert fresh.to_dict("records") == [{"status": "Completed", "r": "US",
                                         "created_by": "tester"}]
    assert statuses(stored) == {"Start": "Completed", "extract": "Completed", "eu": "Completed",
                                "us": "Completed", "apac": "Completed", "report": "Completed"}
    assert stored.task("report").result["focus"] == 36
    assert "focus US" in stored.task("report").log
    assert "extracting 120 rows" in stored.task("extract").log


def test_params_reach_steps_typed(ws):
    wf = Workflow("typed", params=[Param("day", type="date", required=True)])
    seen = {}

    @wf.step()
    def look(day):
        seen["day"] = day
        return day.isoformat()
    run = ws.run(wf, day="2026-02-03")
    assert seen["day"] == dt.date(2026, 2, 3) and run.result("look") == "2026-02-03"


def test_fan_out_steps_run_concurrently(ws):
    wf = Workflow("fan")
    barrier = threading.Barrier(3, timeout=10)
    wf.step(lambda: 1, name="root")
    for name in ("a", "b", "c"):  # each waits for the other two: only passes if concurrent
        wf.step(lambda root: barrier.wait() + root, name=name, after=["root"])
    wf.step(lambda a, b, c: a + b + c, name="join", after=["a", "b", "c"])
    run = ws.run(wf)
    assert run.status == "Completed", run.error
    assert run.result("join") == 0 + 1 + 2 + 3


def test_a_failure_skips_downstream_and_fails_the_run_while_other_branches_finish(ws):
    run = ws.run("flaky_import")
    assert run.status == "Failed"
    assert run.error == ("step 'fetch' failed: FileNotFoundError: missing.csv is not in "
                         "the landing folder")
    assert statuses(run) == {"Start": "Completed", "fetch": "Failed", "load": "Skipped",
                             "notify": "Completed"}
    fetch = ws.get_run(run.id).task("fetch")
    assert "Traceback" in fetch.traceback and "raise FileNotFoundError" in fetch.traceback


def test_retries_make_a_new_attempt_each_time(ws):
    wf = Workflow("retrying")
    calls = []

    @wf.step(retries=2, retry_delay=0.01)
    def shaky(ctx):
        calls.append(ctx.attempt)
        if len(calls) < 3:
            raise ConnectionError(f"try {len(calls)}")
        return "ok"
    run = ws.run(wf)
    assert run.status == "Completed" and calls == [1, 2, 3]
    attempts = [(t.attempt, t.status.value, t.error) for t in ws.get_run(run.id).tasks
                if t.step == "shaky"]
    assert attempts == [(1, "Failed", "ConnectionError: try 1"),
                        (2, "Failed", "ConnectionError: try 2"), (3, "Completed", None)]


def test_retries_run_out(ws):
    wf = Workflow("hopeless")
    wf.step(lambda: 1 / 0, name="boom", retries=1)
    run = ws.run(wf)
    assert run.status == "Failed" and len(run.tasks) == 3
    assert run.error == "step 'boom' failed: ZeroDivisionError: division by zero"


def test_a_timeout_fails_the_step_and_tells_it_through_ctx(ws):
    wf = Workflow("slowpoke")
    told = threading.Event()

    @wf.step(timeout=0.2)
    def slow(ctx):
        ctx.sleep(30)
        if ctx.cancelled:
            told.set()
    run = ws.run(wf)
    assert run.status == "Failed"
    assert run.task("slow").error == "timed out after 0.2 s"
    assert told.wait(5)


def test_cancel_stops_scheduling_and_marks_everything_cancelled(ws):
    run = ws.start("slow_etl", seconds=30)
    poll(lambda: run.task("stage").status.value == "Running" if len(run.tasks) > 1 else False)
    ended = ws.cancel(run.id)
    assert ended.status == "Cancelled"
    assert statuses(ws.get_run(run.id)) == {"Start": "Completed", "stage": "Cancelled"}
    assert ws.get_run(run.id).error == "cancelled by tester"


def test_bad_arguments_create_no_run(ws):
    before = ws.sql("select count(*) n from runs")["n"][0]
    with pytest.raises(ParamError) as err:
        ws.start("daily_sales", date="yesterday", rows=0)
    assert set(err.value.errors) == {"date", "rows"}
    with pytest.raises(wfnb.NotFound, match="no workflow named 'nope'.*known: daily_sales"):
        ws.start("nope")
    assert ws.sql("select count(*) n from runs")["n"][0] == before


def test_results_that_are_not_json_become_artifacts(ws):
    wf = Workflow("objects")

    class Box:
        def __init__(self, v):
            self.v = v

    wf.step(lambda: {1, 2, 3}, name="aset")
    wf.step(lambda aset: sorted(aset), name="listed", after=["aset"])
    run = ws.run(wf)
    task = ws.get_run(run.id).task("aset")
    assert task.result["$artifact"].endswith("aset-1.pkl") and task.result["type"] == "set"
    assert ws.get_run(run.id).result("aset") == {1, 2, 3}  # unpickled from the artifact
    assert run.result("listed") == [1, 2, 3]


def test_rerun_reuses_arguments_with_overrides_and_links_the_parent(ws):
    first = ws.run("daily_sales", date="2026-11-23", region="EU", rows=10)
    second = ws.rerun(first.id, region="US").wait(30)
    assert second.parent_id == first.id and second.trigger == "rerun"
    assert second.params == {"date": "2026-11-23", "region": "US", "rows": 10}
    assert ws.sql(f"select parent_id from runs where id = '{second.id}'")["parent_id"][0] \
        == first.id


def test_runs_are_listed_newest_first_filtered_and_paged(ws):
    ids = [ws.run("daily_sales", date=f"2026-11-0{i}").id for i in range(1, 4)]
    failed = ws.run("flaky_import").id
    assert [r.id for r in ws.runs(limit=10)] == [failed, *reversed(ids)]
    assert [r.id for r in ws.runs(workflow="daily_sales", limit=2)] == ids[:0:-1]
    assert [r.id for r in ws.runs(workflow="daily_sales", limit=2, offset=2)] == ids[:1]
    assert [r.id for r in ws.runs(status="failed")] == [failed]
    with pytest.raises(wfnb.WfnbError, match="'Done' is not a run status"):
        ws.runs(status="Done")


def test_sql_is_read_only(ws):
    run = ws.run("daily_sales", date="2026-11-23")
    for query in ("delete from runs", "update runs set status = 'Failed'",
                  "drop table tasks", "insert into events (ts, kind) values (now(), 'x')"):
        with pytest.raises(wfnb.SqlError, match="read-only"):
            ws.sql(query)
    assert ws.get_run(run.id).status == "Completed"
    with pytest.raises(wfnb.SqlError, match="COPY statements are refused"):
        ws.sql(f"copy runs to '{ws.root / 'leak.csv'}'")
    assert not (ws.root / "leak.csv").exists()
    with pytest.raises(wfnb.SqlError, match="one statement at a time"):
        ws.sql("select 1; select 2")
    with pytest.raises(wfnb.SqlError, match="query failed: .*no_such_table"):
        ws.sql("select * from no_such_table")
    assert ws.sql("describe runs")["column_name"][0] == "id"


def test_every_transition_is_an_event(ws):
    run = ws.run("flaky_import")
    events = ws.sql(f"select kind, status, data->>'step' step from events "
                    f"where run_id = '{run.id}' and kind in ('run', 'task') order by seq")
    run_statuses = events[events.kind == "run"].status.tolist()
    assert run_statuses == ["Pending", "Running", "Failed"]
    fetch = events[events.step == "fetch"].status.tolist()
    assert fetch == ["Pending", "Running", "Failed"]


def test_a_timeout_counts_from_when_the_step_starts_not_while_it_waits_for_a_worker(factory):
    (factory.root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n'
                                            '[executor]\nmax_workers = 1\n')
    ws = factory.open()
    wf = Workflow("one_worker")
    wf.step(lambda ctx: ctx.sleep(0.6), name="hog")
    wf.step(lambda: "quick", name="quick", timeout=0.3)
    run = ws.run(wf)
    assert run.status == "Completed", run.error
    assert run.result("quick") == "quick"


@pytest.mark.slow
def test_an_artifact_of_a_class_from_a_workflow_module_loads_in_a_fresh_process(factory,
                                                                                 tmp_path):
    factory.module("objs", """
        from wfnb import Workflow
        class Point:
            def __init__(self, x, y):
                self.x, self.y = x, y
        wf = Workflow("points")
        wf.step(lambda: Point(3, 4), name="make")
    """)
    run = factory.open().run("points")
    assert run.status == "Completed"
    import shutil
    import subprocess
    import sys
    moved = tmp_path / "moved"  # results survive the workspace folder moving too
    shutil.copytree(factory.root, moved)
    out = subprocess.run([sys.executable, "-c", f"""
import wfnb
p = wfnb.open({str(moved)!r}).get_run({run.id!r}).result("make")
print(type(p).__name__, p.x, p.y)"""], capture_output=True, text=True, timeout=60)
    assert out.stdout == "Point 3 4\n", out.stderr
