"""What a process reports is what the history holds: under concurrent CLI and API processes, at
exit, after a freeze, and whatever text a run carries. Real processes, a real DuckDB file."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
import threading

import duckdb
import pytest

from tests.helpers import PYTHON, QUICK, cli_env, poll

API_RUNNER = """
import sys, wfnb
ws = wfnb.open(sys.argv[1])
for _ in range(int(sys.argv[2])):
    run = ws.run("quick")
    print(f"run {run.id} {run.status}", flush=True)
"""

REPORTED = re.compile(r"^run (\S+) Completed", re.MULTILINE)


def stored(root) -> dict[str, str]:
    """Every run the history holds, read by a plain DuckDB connection (not by wfnb)."""
    con = duckdb.connect(str(root / ".wfnb" / "history.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT id, status FROM runs").fetchall())
    finally:
        con.close()


@pytest.mark.slow
def test_every_run_reported_by_concurrent_cli_and_api_processes_is_stored(factory):
    """8 processes at once (6 loops of `wfnb run`, 2 API scripts): each run a process reported
    Completed is in the history as Completed, and no process aborts at exit."""
    factory.module("quick", QUICK)
    factory.open()  # create the history before the crowd arrives
    root = factory.root
    outputs: list[tuple[list[str], int, str]] = []
    lock = threading.Lock()

    def call(command: list[str]) -> None:
        proc = subprocess.run(command, capture_output=True, text=True, env=cli_env(),
                              timeout=600)
        with lock:
            outputs.append((command, proc.returncode, proc.stdout + proc.stderr))

    def cli_loop(times: int) -> None:
        for _ in range(times):
            call([PYTHON, "-m", "wfnb", "run", "quick", "--workspace", str(root)])

    script = root / "api_runner.py"
    script.write_text(API_RUNNER)
    threads = [threading.Thread(target=cli_loop, args=(4,)) for _ in range(6)]
    threads += [threading.Thread(target=call, args=([PYTHON, str(script), str(root), "8"],))
                for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    aborted = [(cmd, code, out[-500:]) for cmd, code, out in outputs if code < 0 or code > 2]
    assert not aborted, f"processes died at exit: {aborted}"
    assert all(code == 0 for _, code, _ in outputs), outputs
    reported = [rid for _, _, out in outputs for rid in REPORTED.findall(out)]
    assert len(reported) == 6 * 4 + 2 * 8
    history = stored(root)
    lost = [rid for rid in reported if history.get(rid) != "Completed"]
    assert not lost, f"{len(lost)} of {len(reported)} runs reported Completed are not stored " \
                     f"as Completed: {[(rid, history.get(rid)) for rid in lost]}"


FROZEN = """
import time
from pathlib import Path
from wfnb import Workflow

wf = Workflow("frozen")

@wf.step()
def wait_for_go(ctx):
    go = Path(ctx.workspace) / "go"
    while not go.exists() and not ctx.cancelled:
        time.sleep(0.05)
    return "done"
"""


def holds_history_lock(pid: int, root) -> bool:
    """Does process ``pid`` hold a lock on the history's files (a flock or DuckDB's own)?"""
    inodes = {os.stat(p).st_ino for p in (root / ".wfnb").glob("history.duckdb*")}
    with open("/proc/locks") as fh:
        for line in fh:
            parts = line.split()
            # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (a blocked waiter has "->")
            if "->" in parts:
                continue
            holder, ident = int(parts[4]), parts[5]
            if holder == pid and int(ident.rsplit(":", 1)[1]) in inodes:
                return True
    return False


@pytest.fixture
def frozen_ws(factory):
    """A workspace whose runners count as hung after 3 s without a heartbeat."""
    (factory.root / "wfnb.toml").write_text(
        '[workspace]\npaths = ["workflows"]\nhung_after = 3\n')
    factory.module("frozen", FROZEN)
    return factory.open()


def freeze_until_lost(ws, proc: subprocess.Popen) -> str:
    """Once ``proc``'s run has its step running, SIGSTOP ``proc`` (at a moment it holds no
    lock on the history: a process frozen holding it would block every other) and wait
    until this process marks the run Error; returns the run's id."""
    running = poll(lambda: [r for r in ws.runs(workflow="frozen")
                            if any(t.step == "wait_for_go" and t.status.value == "Running"
                                   for t in r.tasks)],
                   timeout=120, what="the step to run")
    run_id = running[0].id

    def frozen_without_the_file() -> bool:
        os.kill(proc.pid, signal.SIGSTOP)
        if not holds_history_lock(proc.pid, ws.root):
            return True
        os.kill(proc.pid, signal.SIGCONT)
        return False
    poll(frozen_without_the_file, timeout=30, interval=0.01, what="a clean freeze")
    # this process finds no heartbeat for more than 3 s: the run is lost
    ended = poll(lambda: ws.get_run(run_id).status == "Error" and ws.get_run(run_id),
                 timeout=60, interval=0.2, what="the frozen run to be marked Error")
    assert "no heartbeat" in ended.error
    return run_id


def finish(proc: subprocess.Popen) -> str:
    """Wake ``proc`` and return what it printed."""
    try:
        os.kill(proc.pid, signal.SIGCONT)
        return proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_a_runner_frozen_past_its_limit_reports_the_ending_the_history_holds(frozen_ws):
    """SIGSTOP a `wfnb run` past ``hung_after``: another process marks the run Error. Woken
    with SIGCONT, the runner's step completes, but it reports the history's Error and exits
    1, and the history still says Error: no split brain."""
    root = frozen_ws.root
    proc = subprocess.Popen([PYTHON, "-m", "wfnb", "run", "frozen", "--workspace", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=cli_env())
    try:
        run_id = freeze_until_lost(frozen_ws, proc)
        (root / "go").touch()  # the step can finish once its process wakes up
    finally:
        out = finish(proc)
    assert proc.returncode == 1, out
    assert f"run {run_id} Error" in out and "no heartbeat" in out, out
    assert "Completed" not in out.split(f"run {run_id} Error")[-1]
    assert stored(root)[run_id] == "Error"


@pytest.mark.slow
def test_a_frozen_api_runner_wait_returns_the_history_s_ending(frozen_ws, tmp_path):
    """The same through the API, with a step that is still running when its process wakes:
    the runner adopts the history's Error at once (its step is told to stop), and
    ``run.wait()`` returns it with the history's tasks."""
    script = tmp_path / "runner.py"
    script.write_text(textwrap.dedent(f"""
        import wfnb
        ws = wfnb.open({str(frozen_ws.root)!r})
        run = ws.start("frozen")
        run.wait(timeout=300)
        print("ended", run.status, run.error, flush=True)
        print("tasks", [(t.step, t.status.value) for t in run.tasks], flush=True)
    """))
    proc = subprocess.Popen([PYTHON, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=cli_env())
    try:
        run_id = freeze_until_lost(frozen_ws, proc)  # no "go": the step would wait for ever
    finally:
        out = finish(proc)
    assert proc.returncode == 0, out
    assert "ended Error runner lost" in out, out
    assert "('wait_for_go', 'Error')" in out, out  # the tasks are the history's too
    assert stored(frozen_ws.root)[run_id] == "Error"


BAD_TEXT = """
import os
from wfnb import Workflow

wf = Workflow("bad_text")

@wf.step()
def name_from_disk(ctx):
    raw = os.fsdecode(b"caf\\xe9.csv")     # a non-UTF-8 file name: 'caf\\udce9.csv'
    print("reading", raw)
    return {"file": raw, "lone": "x\\ud800y"}

@wf.step(after=["name_from_disk"])
def fails_with_it(ctx, name_from_disk):
    raise ValueError("cannot open " + name_from_disk["file"])
"""


def test_text_a_store_cannot_take_is_stored_escaped_and_blocks_nothing(factory):
    """A step that prints and returns lone surrogates (a non-UTF-8 file name, say): its run
    is stored, with the text escaped, and runs queued beside it and after it are stored too."""
    factory.module("bad_text", BAD_TEXT)
    factory.module("quick", QUICK)
    ws = factory.open()
    before = ws.start("quick")
    bad = ws.start("bad_text")
    beside = ws.start("quick")
    for run in (before, bad, beside):
        run.wait(timeout=60)
    after = ws.run("quick")
    assert bad.status == "Failed"
    history = dict(ws.sql("select id, status from runs").values.tolist())
    assert {r.id: history.get(r.id) for r in (before, bad, beside, after)} == {
        before.id: "Completed", bad.id: "Failed", beside.id: "Completed",
        after.id: "Completed"}
    snapshot = ws.get_run(bad.id)
    first = snapshot.task("name_from_disk")
    assert first.result == {"file": "caf\\xe9.csv", "lone": "x\\ud800y"}
    assert "reading caf\\xe9.csv" in first.log
    assert "cannot open caf\\xe9.csv" in snapshot.task("fails_with_it").error


def test_a_user_name_with_a_non_utf8_byte_is_refused_at_the_door(factory):
    factory.module("quick", QUICK)
    factory.open()
    env = cli_env()
    env_bytes = {k.encode(): v.encode() for k, v in env.items()}
    env_bytes[b"WFNB_USER"] = b"caf\xe9"
    proc = subprocess.run([PYTHON, "-m", "wfnb", "run", "quick", "--workspace",
                           str(factory.root)], capture_output=True, env=env_bytes, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and "not valid UTF-8" in err and "WFNB_USER" in err, err
    assert "Traceback" not in err
    assert stored(factory.root) == {}


BIG = """
from wfnb import Workflow

wf = Workflow("big")

@wf.step()
def big(ctx):
    return "x" * 100_000_000
"""


@pytest.mark.slow
def test_a_100_mb_result_from_the_cli_is_stored_as_reported(factory):
    """A 100 MB step result, from `wfnb run` beside another: what was reported is stored."""
    factory.module("big", BIG)
    factory.module("quick", QUICK)
    factory.open()
    procs = [subprocess.Popen([PYTHON, "-m", "wfnb", "run", name, "--workspace",
                               str(factory.root)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=cli_env())
             for name in ("big", "quick", "big")]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    reported = [rid for out in outs for rid in REPORTED.findall(out)]
    assert len(reported) == 3
    history = stored(factory.root)
    assert {rid: history.get(rid) for rid in reported} == {rid: "Completed" for rid in reported}
    ws = factory.open()
    assert len(ws.get_run(reported[0]).task("big").result) == 100_000_000


def test_a_process_that_exits_right_after_a_run_leaves_it_stored(factory, tmp_path):
    """Exit straight after ``wait()`` with the history's connection still kept: the run is
    stored and the process exits cleanly (the connection was closed by the main thread)."""
    factory.module("quick", QUICK)
    script = tmp_path / "one.py"
    script.write_text(textwrap.dedent(f"""
        import wfnb
        ws = wfnb.open({str(factory.root)!r})
        run = ws.run("quick")
        ws.runs()                      # a read keeps the connection open for a moment
        print("run", run.id, run.status, flush=True)
    """))
    ids = []
    for _ in range(3):
        proc = subprocess.run([PYTHON, str(script)], capture_output=True, text=True,
                              env=cli_env(), timeout=120)
        assert proc.returncode == 0, proc.stderr
        ids += REPORTED.findall(proc.stdout)
    assert len(ids) == 3
    history = stored(factory.root)
    assert all(history.get(rid) == "Completed" for rid in ids)


def test_a_row_the_file_refuses_is_left_out_and_blocks_nothing_beside_it(factory):
    """A task row whose id is already stored (two processes once drove one run) is refused
    by the file: it alone is left out, with a write_failed event, and the run row and events
    queued beside it, and every later write, are stored."""
    from wfnb.engine.core.records import RunRecord, TaskRecord

    factory.module("quick", QUICK)
    ws = factory.open()
    done = ws.run("quick")
    store = ws.store
    taken = done.tasks[-1]
    fresh = RunRecord(id=ws.new_run_id(), workflow="quick", created_by="tester",
                      owner_id=ws.liveness.owner_id)  # ours: no sweep takes it for lost
    clash = TaskRecord(id=taken.id, run_id=fresh.id, step="one")  # never stored: an INSERT
    with store.records_lock:
        store.put(run=fresh, task=clash, event={"run_id": fresh.id, "kind": "run",
                                                "status": "Pending"})
    store.flush(timeout=30)
    assert getattr(clash, "_write_failed", "").startswith("ConstraintException")
    later = ws.run("quick")
    history = dict(ws.sql("select id, status from runs").values.tolist())
    assert history == {done.id: "Completed", fresh.id: "Pending", later.id: "Completed"}
    failed = ws.sql("select run_id, data from events where kind = 'write_failed'")
    assert failed["run_id"].tolist() == [fresh.id]
    assert f"task {taken.id}" in failed["data"][0]
    assert ws.get_run(done.id).task("one").run_id == done.id  # the stored row is untouched
