"""Processes a step started are ended when the step is cancelled or times out: real runs,
real ``sleep`` processes, their pids checked in /proc."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from wfnb import Param, Workflow
from wfnb.engine.steps import children

from ..helpers import cli_env, poll

pytestmark = pytest.mark.skipif(not children.supported(),
                                reason="needs per-thread children lists (Linux /proc)")

MARKS = [Param("marks", required=True)]


def gone(pid: int) -> bool:
    """Ended: no such process, or a zombie waiting for its parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def pid_in(path: Path) -> int:
    """The pid a step wrote to ``path``, once it is there."""
    text = poll(lambda: path.exists() and path.read_text().strip(), timeout=30,
                what=f"{path.name} to be written")
    return int(text)


@pytest.fixture
def leftovers():
    """Pids a test expects to end; whatever a failing test leaves is killed at teardown."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if not gone(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def lws(factory, monkeypatch):
    monkeypatch.setenv("WFNB_USER", "tester")
    (factory.root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n\n'
                                            '[kernels]\npool_size = 0\n')
    return factory.open()


def test_a_cancel_ends_the_process_a_python_step_waits_for(lws, tmp_path, leftovers):
    wf = Workflow("waits_on_sleep", params=MARKS)

    @wf.step()
    def hold(marks):
        proc = subprocess.Popen(["sleep", "300"])
        Path(marks, "pid").write_text(str(proc.pid))
        proc.wait()
        Path(marks, "returned").write_text(str(proc.returncode))

    run = lws.start(wf, marks=str(tmp_path))
    pid = pid_in(tmp_path / "pid")
    leftovers.append(pid)
    assert not gone(pid)
    assert lws.cancel(run.id).status == "Cancelled"
    poll(lambda: gone(pid), timeout=10, what="the step's sleep to end after the cancel")
    # the step was only waiting for it: its thread is free again
    assert poll(lambda: (tmp_path / "returned").exists() and
                (tmp_path / "returned").read_text(), timeout=10) == str(-signal.SIGTERM)


def test_a_timeout_ends_the_process_and_frees_the_thread(lws, tmp_path, leftovers):
    wf = Workflow("too_slow_sleep", params=MARKS)

    @wf.step(timeout=1)
    def hold(marks):
        done = subprocess.run(["sh", "-c", f"echo $$ > {marks}/pid; exec sleep 300"])
        Path(marks, "returned").write_text(str(done.returncode))

    run = lws.run(wf, marks=str(tmp_path))
    pid = pid_in(tmp_path / "pid")
    leftovers.append(pid)
    assert run.status == "Failed" and run.task("hold").error == "timed out after 1 s"
    poll(lambda: gone(pid), timeout=10, what="the step's sleep to end after the timeout")
    assert poll(lambda: (tmp_path / "returned").exists() and
                (tmp_path / "returned").read_text(), timeout=10) == str(-signal.SIGTERM)


def test_a_cancel_ends_a_shell_and_the_processes_it_started(lws, tmp_path, leftovers):
    wf = Workflow("shell_sleeps", params=MARKS)

    @wf.step()
    def shell(marks):
        subprocess.run(["sh", "-c", f"sleep 300 & echo $! > {marks}/bg; echo $$ > {marks}/sh; "
                        "sleep 300"])

    run = lws.start(wf, marks=str(tmp_path))
    sh, background = pid_in(tmp_path / "sh"), pid_in(tmp_path / "bg")
    leftovers.extend([sh, background])
    # the shell's children: the background sleep and the one it waits for
    kids = poll(lambda: [int(p) for p in Path(f"/proc/{sh}/task/{sh}/children").read_text()
                         .split()] if len(Path(f"/proc/{sh}/task/{sh}/children").read_text()
                                          .split()) == 2 else None, timeout=10,
                what="the shell to start both sleeps")
    leftovers.extend(kids)
    assert background in kids
    assert lws.cancel(run.id).status == "Cancelled"
    poll(lambda: all(gone(p) for p in [sh, *kids]), timeout=10,
         what="the shell and both its sleeps to end")


def test_a_process_in_a_group_of_its_own_is_ended_with_its_group(lws, tmp_path, leftovers):
    """A child that leads its own process group takes the group with it, even a member its
    shell left behind before the cancel (an orphan, no longer in the step's tree)."""
    wf = Workflow("own_group", params=MARKS)

    @wf.step(timeout=1)
    def detach(marks):
        leader = subprocess.Popen(["sh", "-c", f"sleep 300 & echo $! > {marks}/orphan; "
                                   f"echo $$ > {marks}/leader; exec sleep 300"],
                                  start_new_session=True)
        leader.wait()

    run = lws.run(wf, marks=str(tmp_path))
    leader, orphan = pid_in(tmp_path / "leader"), pid_in(tmp_path / "orphan")
    leftovers.extend([leader, orphan])
    assert run.status == "Failed"
    poll(lambda: gone(leader) and gone(orphan), timeout=10,
         what="the group leader and the other member of its group to end")


def test_only_the_cancelled_steps_processes_are_ended(lws, tmp_path, leftovers):
    wf = Workflow("two_branches", params=MARKS)

    @wf.step(timeout=1)
    def late(marks):
        subprocess.run(["sh", "-c", f"echo $$ > {marks}/late; exec sleep 300"])

    @wf.step()
    def busy(ctx, marks):
        proc = subprocess.Popen(["sleep", "300"])
        Path(marks, "busy").write_text(str(proc.pid))
        while not Path(marks, "go").exists() and not ctx.sleep(0.02):
            pass
        alive = proc.poll() is None
        proc.kill()
        proc.wait()
        return alive

    run = lws.start(wf, marks=str(tmp_path))
    late_pid, busy_pid = pid_in(tmp_path / "late"), pid_in(tmp_path / "busy")
    leftovers.extend([late_pid, busy_pid])
    poll(lambda: gone(late_pid), timeout=10, what="the timed-out step's sleep to end")
    assert not gone(busy_pid)  # started by the other step, on another thread: left alone
    (tmp_path / "go").write_text("")
    run.wait(timeout=30)
    assert run.task("late").status == "Failed" and run.task("busy").status == "Completed"
    assert run.result("busy") is True


def test_a_step_that_completes_leaves_what_it_started(lws, tmp_path, leftovers):
    wf = Workflow("starts_a_server", params=MARKS)

    @wf.step()
    def serve(marks):
        proc = subprocess.Popen(["sleep", "300"])
        return proc.pid

    run = lws.run(wf, marks=str(tmp_path))
    pid = run.result("serve")
    leftovers.append(pid)
    assert run.status == "Completed" and not gone(pid)



def test_what_an_earlier_step_on_the_same_thread_left_is_not_ended(factory, tmp_path,
                                                                    leftovers):
    """One thread runs both steps, back to back: the second one's timeout ends its own
    process, not the one the first step left running."""
    (factory.root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n\n'
                                            '[executor]\nmax_workers = 1\n')
    wf = Workflow("one_thread", params=MARKS)

    @wf.step()
    def leave(marks):
        return subprocess.Popen(["sleep", "300"]).pid

    @wf.step(after=["leave"], timeout=1)
    def hold(marks):
        subprocess.run(["sh", "-c", f"echo $$ > {marks}/pid; exec sleep 300"])

    run = factory.open(user="tester").run(wf, marks=str(tmp_path))
    left, held = run.result("leave"), pid_in(tmp_path / "pid")
    leftovers.extend([left, held])
    assert run.task("hold").error == "timed out after 1 s"
    poll(lambda: gone(held), timeout=10, what="the timed-out step's sleep to end")
    assert not gone(left)


SCRIPT = '''
import sys, time
from pathlib import Path
import wfnb
from wfnb import Param, Workflow

marks = Path(sys.argv[2])
wf = Workflow("runaway", params=[Param("marks", required=True)])

@wf.step()
def hold(marks):
    import subprocess
    proc = subprocess.Popen(["sleep", "300"])
    Path(marks, "pid").write_text(str(proc.pid))
    proc.wait()

ws = wfnb.open(sys.argv[1], user="tester")
run = ws.start(wf, marks=str(marks))
while not (marks / "pid").exists():
    time.sleep(0.02)
(marks / "run").write_text(run.id)
# the script ends here, its run still going
'''


def test_a_process_that_exits_mid_step_ends_what_the_step_started(factory, tmp_path,
                                                                  leftovers):
    (factory.root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n')
    script = tmp_path / "runaway.py"
    script.write_text(SCRIPT)
    with open(tmp_path / "out.log", "wb") as log:  # not a pipe: the sleep would hold it open
        out = subprocess.run([sys.executable, str(script), str(factory.root), str(tmp_path)],
                             stdout=log, stderr=subprocess.STDOUT, timeout=120, env=cli_env())
    pid = int((tmp_path / "pid").read_text())
    leftovers.append(pid)
    assert out.returncode == 0, (tmp_path / "out.log").read_text()
    poll(lambda: gone(pid), timeout=10, what="the step's sleep to end with its process")
    run = factory.open().get_run((tmp_path / "run").read_text())
    assert run.status == "Error" and "exited" in run.error


def test_a_cancelled_notebook_step_ends_what_its_kernel_started(lws, tmp_path, leftovers):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("marks = ''", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(textwrap.dedent("""
                    import subprocess
                    from pathlib import Path
                    away = subprocess.Popen(["sleep", "300"], start_new_session=True)
                    Path(marks, "away").write_text(str(away.pid))
                    subprocess.run(["sh", "-c", f"sleep 300 & echo $! > {marks}/bg; "
                                    f"echo $$ > {marks}/sh; sleep 300"])
                """))]
    path = tmp_path / "sleeper.ipynb"
    nbformat.write(nb, str(path))
    wf = Workflow("notebook_sleeps", params=MARKS)
    wf.notebook("sleeper", path)
    run = lws.start(wf, marks=str(tmp_path))
    pids = [pid_in(tmp_path / name) for name in ("away", "sh", "bg")]
    leftovers.extend(pids)
    assert lws.cancel(run.id).status == "Cancelled"
    # the kernel's process group goes with the kernel; a process in a session of its own too
    poll(lambda: all(gone(p) for p in pids), timeout=30,
         what="every process the notebook started to end")
