"""The Dask executor on a real distributed.LocalCluster of worker processes: steps run on the
workers, the history stays here, cancel and timeouts reach the worker (and end the processes a
step started there), a killed worker or a cluster that cannot start ends its task and run in
Error (or the step is retried)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

import wfnb
from wfnb.engine import api as engine_module

from ..helpers import cli_env, poll
from .test_children import gone

pytestmark = pytest.mark.slow
pytest.importorskip("distributed")

DASK = '[workspace]\npaths = ["workflows"]\n\n[executor]\nkind = "dask"\nworkers = 2\n'

STEPS = '''
import os
from pathlib import Path
from wfnb import Param, Workflow

wf = Workflow("remote", params=[Param("n", type="int", default=4), Param("marks", default="")])

@wf.step()
def square(ctx, n):
    print("squaring on", os.getpid())
    ctx.logger.info("n is %s", n)
    return {"pid": os.getpid(), "squares": [i * i for i in range(n)]}

@wf.step(after=["square"])
def total(square):
    return sum(square["squares"])

@wf.step(after=["square"])
def broken(square):
    raise ValueError(f"no good: {len(square['squares'])}")


slow = Workflow("slow", params=[Param("marks", required=True)])

@slow.step(timeout=60)
def wait(ctx, marks):
    Path(marks, "pid").write_text(str(os.getpid()))
    while not ctx.sleep(0.05):   # until cancelled
        pass
    Path(marks, "saw-cancel").write_text("yes")
    return "stopped"


timed = Workflow("timed", params=[Param("marks", required=True)])

@timed.step(timeout=1)
def too_long(ctx, marks):
    while not ctx.sleep(0.05):
        pass
    Path(marks, "saw-timeout").write_text("yes")


dying = Workflow("dying", params=[Param("marks", required=True)])

@dying.step(retries=1)
def fragile(ctx, marks):
    if ctx.attempt == 1:
        Path(marks, "pid").write_text(str(os.getpid()))
        ctx.sleep(60)
    return f"attempt {ctx.attempt} on {os.getpid()}"


doomed = Workflow("doomed", params=[Param("marks", required=True)])

@doomed.step()
def once(ctx, marks):
    Path(marks, "pid").write_text(str(os.getpid()))
    ctx.sleep(60)


selfkill = Workflow("selfkill")

@selfkill.step()
def kill_my_worker():
    from distributed import get_worker
    get_worker()  # raises anywhere but on a worker: never kill the driver
    os.kill(os.getpid(), 9)


spawner = Workflow("spawner", params=[Param("marks", required=True)])

@spawner.step()
def shell(marks):
    import subprocess
    subprocess.run(["sh", "-c", f"sleep 300 & echo $! > {marks}/bg; echo $$ > {marks}/sh; "
                    "sleep 300"])
'''


@pytest.fixture(scope="module")
def cluster_settings():
    yield
    for key, executor in list(engine_module._executors.items()):  # stop the LocalCluster
        if executor.kind == "dask":
            executor.shutdown()
            del engine_module._executors[key]


@pytest.fixture
def dws(factory, cluster_settings, tmp_path):
    (factory.root / "wfnb.toml").write_text(DASK)
    factory.module("remote", STEPS)
    return factory.open(user="tester")


def test_steps_run_on_worker_processes_and_come_back_into_the_history(dws):
    assert dws.executor.kind == "dask"
    run = dws.run("remote", n=5)
    assert run.status == "Failed" and run.error == "step 'broken' failed: ValueError: no good: 5"
    square = run.task("square")
    worker_pid = square.result["pid"]
    assert worker_pid != os.getpid()
    assert worker_pid in {p for p in dws.executor.client.run(os.getpid).values()}
    assert square.result["squares"] == [0, 1, 4, 9, 16] and run.result("total") == 30
    assert f"squaring on {worker_pid}" in square.log and "n is 5" in square.log
    broken = run.task("broken")
    assert broken.status == "Failed"
    source = dws.root / "workflows" / "remote.py"
    line = source.read_text().splitlines().index('    raise ValueError(f"no good: '
                                                  '{len(square[\'squares\'])}")') + 1
    assert f'File "{source}", line {line}, in broken\n    raise ValueError(f"no good' \
        in broken.traceback  # the real file and line, not <dynamic-code>
    # the workers never opened the history: wfnb's store is not even imported there
    on_workers = dws.executor.client.run(lambda: "wfnb.engine.store.store" in sys.modules)
    assert on_workers and not any(on_workers.values())
    assert dws.sql("select count(*) n from tasks where run_id = ?", [run.id])["n"][0] == 4


def test_a_cancel_reaches_the_step_on_its_worker(dws, tmp_path):
    run = dws.start("slow", marks=str(tmp_path))
    pid = int(poll(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text(),
                   timeout=30, what="the step to start on a worker"))
    assert pid != os.getpid()
    dws.cancel(run.id)
    assert run.wait(timeout=20).status == "Cancelled"
    poll(lambda: (tmp_path / "saw-cancel").exists(), timeout=10,
         what="the step on the worker to see ctx.cancelled")


def test_a_timeout_fails_the_task_and_stops_the_step_on_its_worker(dws, tmp_path):
    run = dws.run("timed", marks=str(tmp_path))
    assert run.status == "Failed" and run.task("too_long").error == "timed out after 1 s"
    poll(lambda: (tmp_path / "saw-timeout").exists(), timeout=10,
         what="the step on the worker to see the timeout")


def test_a_killed_worker_is_an_error_or_a_retry(dws, tmp_path):
    (tmp_path / "a").mkdir()
    run = dws.start("doomed", marks=str(tmp_path / "a"))
    pid = int(poll(lambda: (tmp_path / "a" / "pid").exists() and
                   (tmp_path / "a" / "pid").read_text(), timeout=30, what="the step to start"))
    os.kill(pid, signal.SIGKILL)
    assert run.wait(timeout=60).status == "Error"
    task = run.task("once")
    assert task.status == "Error" and "WorkerLost: the Dask worker running step 'once' was " \
        "lost" in task.error
    # a step with retries left is tried again, on a live worker
    (tmp_path / "b").mkdir()
    poll(lambda: len(dws.executor.client.scheduler_info()["workers"]) == 2, timeout=60,
         what="the nanny to restart the killed worker")
    run = dws.start("dying", marks=str(tmp_path / "b"))
    pid = int(poll(lambda: (tmp_path / "b" / "pid").exists() and
                   (tmp_path / "b" / "pid").read_text(), timeout=30, what="the first attempt"))
    os.kill(pid, signal.SIGKILL)
    assert run.wait(timeout=60).status == "Completed"
    attempts = [t for t in run.tasks if t.step == "fragile"]
    assert [(t.attempt, t.status.value) for t in attempts] == [(1, "Error"), (2, "Completed")]
    assert run.result("fragile").startswith("attempt 2 on ") and str(pid) not in \
        run.result("fragile")


def test_a_step_that_kills_its_own_worker_ends_the_run_in_error(dws):
    run = dws.run("selfkill")
    assert run.status == "Error", run.error
    task = run.task("kill_my_worker")
    assert task.status == "Error"
    assert task.error.startswith("WorkerLost: the Dask worker running step 'kill_my_worker' "
                                 "was lost (KilledWorker")
    assert run.error.startswith("step 'kill_my_worker': WorkerLost: the Dask worker running")
    assert len(run.tasks) == 2  # no retries: Dask itself re-ran nothing either
    poll(lambda: len(dws.executor.client.scheduler_info()["workers"]) == 2, timeout=60,
         what="the nanny to restart the killed worker")


def test_a_cancel_ends_the_processes_a_step_started_on_its_worker(dws, tmp_path):
    run = dws.start("spawner", marks=str(tmp_path))
    pids: list[int] = []
    try:
        for name in ("sh", "bg"):  # the first step may wait for the cluster to start
            pids.append(int(poll(lambda: (tmp_path / name).exists() and
                                 (tmp_path / name).read_text(), timeout=90,
                                 what=f"the step to write {name}")))
        dws.cancel(run.id)
        assert run.wait(timeout=20).status == "Cancelled"
        poll(lambda: all(gone(p) for p in pids), timeout=15,
             what="the shell and its background sleep on the worker to end")
    finally:
        for pid in pids:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


STDIN_SCRIPT = """
import wfnb
from wfnb import Workflow

wf = Workflow("from_stdin")
wf.step(lambda: 42, name="answer")
for processes in (True, False):
    ws = wfnb.open({root!r}, user="tester",
                   executor={{"kind": "dask", "workers": 1, "processes": processes}})
    run = ws.run(wf)
    print(run.status, "|", run.task("answer").status, "|", run.error)
"""


def test_a_script_read_from_stdin_is_told_why_the_local_cluster_cannot_start(factory):
    """Worker processes re-run the script that started them (multiprocessing's spawn):
    read from stdin, there is no file to re-run, and Dask's bare "Nanny failed to start"
    would end the run as if the step had failed."""
    (factory.root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n')
    out = subprocess.run([sys.executable, "-"], input=STDIN_SCRIPT.format(root=str(
        factory.root)), capture_output=True, text=True, timeout=240, cwd=factory.root,
        env=cli_env())
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stdout + out.stderr
    status, task, error = lines[0].split(" | ")
    assert (status, task) == ("Error", "Error")
    assert error == (
        "step 'answer': ClusterUnavailable: the Dask LocalCluster cannot start its worker "
        "processes: each one re-runs the script that started it, and this script ('<stdin>') "
        "is not a file. Run it from a file (python script.py) or a notebook, connect to a "
        "running cluster (executor={'kind': 'dask', 'address': 'tcp://host:8786'}), or run "
        "the workers as threads of this process (executor={'kind': 'dask', 'processes': "
        "False})")
    # the way out it names works from the very same script
    assert lines[1] == "Completed | Completed | None", out.stderr


def test_a_scheduler_address_dask_cannot_use_ends_the_run_in_error(factory):
    (factory.root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n')
    factory.module("remote", STEPS)
    ws = factory.open(user="tester", executor={"kind": "dask", "address": "tcp2://nowhere:1"})
    run = ws.run("remote")
    assert (run.status, run.task("square").status) == ("Error", "Error")
    assert run.error.startswith("step 'square': ClusterUnavailable: cannot connect to the Dask "
                                "scheduler at tcp2://nowhere:1: ValueError: unknown address "
                                "scheme 'tcp2'")


def test_notebook_steps_run_with_papermill_on_a_worker(examples, cluster_settings):
    text = (examples / "wfnb.toml").read_text().replace('kind = "local"', 'kind = "dask"')
    (examples / "wfnb.toml").write_text(text.replace("max_workers = 16", "workers = 2"))
    ws = wfnb.open(examples, user="tester")
    assert ws.executor.kind == "dask"
    run = ws.run("mixed_report", region="US")
    assert run.status == "Completed", run.error
    assert run.result("publish") == "US total 160"
    report = run.task("report")
    assert report.notebook and (examples / report.notebook).is_file()  # written back here
    assert "US: 80 rows -> total 160" in (examples / report.notebook).read_text()


def test_a_bad_executor_setting_is_named(factory):
    (factory.root / "wfnb.toml").write_text(DASK.replace("workers = 2", "workers = 0"))
    with pytest.raises(wfnb.ConfigError, match=r"wfnb\.toml: \[executor\] workers must be an "
                                               "integer >= 1, got 0"):
        factory.open()
    (factory.root / "wfnb.toml").write_text(DASK.replace("workers = 2", "adress = 'x'"))
    with pytest.raises(wfnb.ConfigError, match="unknown key 'adress' in \\[executor\\]"):
        factory.open()
    (factory.root / "wfnb.toml").write_text(DASK)
    with pytest.raises(wfnb.ConfigError, match="kind = 'spark' is unknown"):
        factory.open(executor="spark")
    with pytest.raises(wfnb.ConfigError, match="threads: unknown for kind = 'dask'"):
        factory.open(executor={"kind": "dask", "threads": 4})
    assert factory.open(executor="local").executor.kind == "local"  # the argument wins


def test_an_existing_cluster_by_its_address(factory, tmp_path):
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    try:
        (factory.root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n')
        factory.module("remote", STEPS)
        ws = factory.open(user="tester", executor={"kind": "dask",
                                                   "address": cluster.scheduler_address})
        run = ws.run("remote", n=3)
        with Client(cluster) as client:
            pids = set(client.run(os.getpid).values())
        assert run.task("square").result["pid"] in pids
        assert run.result("total") == 5 and ws.executor.cluster is None  # none of its own
    finally:
        for key, executor in list(engine_module._executors.items()):
            if getattr(executor, "address", None) == cluster.scheduler_address:
                executor.shutdown()
                del engine_module._executors[key]
        cluster.close()


def test_a_declared_step_whose_module_imports_a_workspace_helper(dws):
    (dws.root / "workflows" / "shop.py").write_text(
        "import shop_helpers\n\ndef extract():\n    return shop_helpers.clean()\n")
    (dws.root / "workflows" / "shop_helpers.py").write_text(
        "import os\n\ndef clean():\n    return ['clean', os.getpid()]\n")
    (dws.root / "workflows" / "shop.wfnb.toml").write_text(
        '[[steps]]\nname = "extract"\ncall = "shop:extract"\nretries = 2\n')
    run = dws.run("shop")
    assert run.status == "Completed", run.error
    word, pid = run.result("extract")
    assert word == "clean" and pid != os.getpid() and len(run.tasks) == 2  # no retries
