"""A process that takes a run on (a decision, a deadline) finishes it, or hands it off durably,
before it exits: real processes on one workspace, the history read after they exit."""
import subprocess
import sys
import textwrap
import time

import pytest

import wfnb
from tests.helpers import cli_env, poll
from wfnb.engine.services.approvals import PendingApproval

pytestmark = pytest.mark.slow

TWO_GATES = """
    import time
    from wfnb import Param, Workflow
    wf = Workflow("two_gates")
    wf.approval("first", approvers=["lead"], inputs=[Param("n", type="int", required=True)])

    @wf.step(after=["first"])
    def work(ctx, first):
        ctx.sleep(float(open({pause!r}).read()))  # long enough that an exit must wait for it
        return first["n"] * 2

    wf.approval("second", after=["work"], description="look at the work")
    wf.step(lambda work, second: [work, second["approved_by"]], name="finish",
            after=["work", "second"])
"""


def python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=cli_env(**env),
                          capture_output=True, text=True, timeout=180)


def park(root, workflow: str, **params) -> str:
    """Start a run in a process that exits once the run waits for approval, ownerless."""
    out = python(f"""
        import time, wfnb
        ws = wfnb.open({str(root)!r}, user="ana")
        run = ws.start({workflow!r}, **{params!r})
        deadline = time.monotonic() + 60
        while run.status != "Waiting for Approval" or run.id in ws.liveness.live:
            assert time.monotonic() < deadline, run.status
            time.sleep(0.01)
            run.refresh()
        print(run.id)
    """)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[-1]


def row(ws, run_id) -> dict:
    return ws.sql(f"select status, error, owner_id from runs where id = '{run_id}'").to_dict(
        "records")[0]


@pytest.fixture
def gates(factory):
    pause = factory.root / "pause"
    pause.write_text("1.5")
    factory.module("two_gates", TWO_GATES.format(pause=str(pause)))
    return factory


def test_a_rejection_from_a_short_lived_process_ends_the_run_rejected(ws):
    run_id = park(ws.root, "expense_approval", employee="ana", amount=120.0)
    assert row(ws, run_id)["owner_id"] is None  # nobody owns it: the deciding process will
    out = python(f"""
        import wfnb
        wfnb.open({str(ws.root)!r}, user="lead").reject({run_id!r}, comment="no")
    """)
    assert out.returncode == 0, out.stderr
    run = ws.get_run(run_id)  # no polling: the process finished the run before it exited
    assert (run.status, run.error) == ("Rejected", "step 'sign_off' was rejected by lead: no")
    assert {t.step: t.status.value for t in run.tasks} == {
        "Start": "Completed", "check": "Completed", "sign_off": "Rejected", "payout": "Skipped"}
    assert ws.sql("select decision, \"user\", comment from approvals").to_dict("records") == [
        {"decision": "reject", "user": "lead", "comment": "no"}]


def test_an_approval_from_a_short_lived_process_carries_the_run_to_its_next_approval(gates):
    ws = gates.open(user="lead")
    run_id = park(gates.root, "two_gates")
    started = time.monotonic()
    out = python(f"""
        import wfnb
        wfnb.open({str(gates.root)!r}, user="lead").approve({run_id!r}, n="21")
    """)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started > 1.5  # it waited for "work" before exiting
    assert row(ws, run_id) == {"status": "Waiting for Approval", "error": None,
                               "owner_id": None}  # parked again: durable, and nobody's
    run = ws.get_run(run_id)
    assert {t.step: t.status.value for t in run.tasks} == {
        "Start": "Completed", "first": "Completed", "work": "Completed",
        "second": "Waiting for Approval"}
    assert run.result("work") == 42
    out = python(f"""
        import wfnb
        wfnb.open({str(gates.root)!r}, user="lea").approve({run_id!r}, comment="ok")
    """)
    assert out.returncode == 0, out.stderr
    run = ws.get_run(run_id)
    assert run.status == "Completed" and run.result("finish") == [42, "lea"]


def test_the_command_line_rejects_a_run_whose_starting_process_has_exited(ws):
    run_id = park(ws.root, "expense_approval", employee="bo", amount=7.0)
    out = subprocess.run([sys.executable, "-m", "wfnb", "reject", run_id, "-m", "no receipt",
                          "--workspace", str(ws.root)], env=cli_env(WFNB_USER="lead"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"run {run_id} Rejected" in out.stdout
    run = ws.get_run(run_id)
    assert run.status == "Rejected" and run.error.endswith("rejected by lead: no receipt")


def test_a_run_claimed_but_not_started_at_exit_is_handed_to_a_background_process(gates):
    """The decision is recorded and the run claimed, but the process exits before it drives
    it (as when a sweep claims a run just as the exit begins): the run is given back and a
    `wfnb _resume` process carries it on."""
    (gates.root / "pause").write_text("0")
    ws = gates.open(user="lead")
    run_id = park(gates.root, "two_gates")
    out = python(f"""
        import wfnb
        ws = wfnb.open({str(gates.root)!r}, user="lead")
        step, route, _ = ws.approvals.decide({run_id!r}, None, "approve", None, {{"n": 2}})
        assert route == "claimed" and {run_id!r} in ws.liveness.claims
    """)  # and exits without resuming it
    assert out.returncode == 0, out.stderr
    # read with SQL only: a get_run() here would sweep, and carry the run on itself
    def steps() -> dict:
        rows = ws.sql(f"select step, status from tasks where run_id = '{run_id}'")
        return dict(rows.itertuples(index=False))
    poll(lambda: steps().get("second") == "Waiting for Approval", timeout=60,
         what="the background process to carry the run to its next approval")
    assert steps() == {"Start": "Completed", "first": "Completed", "work": "Completed",
                       "second": "Waiting for Approval"}
    poll(lambda: row(ws, run_id)["owner_id"] is None, timeout=30,
         what="the background process to give the waiting run back")
    assert (gates.root / ".wfnb" / "logs" / f"{run_id}.log").exists()  # `wfnb _resume` did it
    assert ws.get_run(run_id).result("work") == 4


def test_the_wait_at_exit_is_bounded_and_a_run_still_going_then_ends_in_error(gates):
    (gates.root / "pause").write_text("600")
    ws = gates.open(user="lead")
    run_id = park(gates.root, "two_gates")
    started = time.monotonic()
    out = python(f"""
        import wfnb
        ws = wfnb.open({str(gates.root)!r}, user="lead")
        ws.liveness.finish_wait = 1.5
        ws.approve({run_id!r}, n=1)
    """)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started < 60
    assert f"wfnb: waiting up to 1.5 s for {run_id}, taken on by this process" in out.stderr
    run = ws.get_run(run_id)
    assert run.status == "Error" and run.error.startswith("the process running this run exited")
    assert run.task("work").status.value == "Error"


def test_run_approvals_says_who_may_decide_each_waiting_step(gates):
    (gates.root / "wfnb.toml").write_text(textwrap.dedent("""
        [workspace]
        paths = ["workflows"]
        [roles]
        lead = ["APPROVE", "VIEW_RUNS", "VIEW_DETAILS"]
        analyst = ["RUN_WORKFLOW", "VIEW_RUNS", "VIEW_DETAILS", "LIST_WORKFLOWS"]
        guest = ["LIST_WORKFLOWS"]
        [users]
        lea = ["lead"]
        ana = ["analyst"]
        gus = ["guest"]
    """))
    run_id = park(gates.root, "two_gates")
    [waiting] = gates.open(user="lea").run_approvals(run_id)
    assert isinstance(waiting, PendingApproval)
    assert (waiting.run_id, waiting.workflow, waiting.step, waiting.started_by) == (
        run_id, "two_gates", "first", "ana")
    assert waiting.approvers == ["lead"] and waiting.deadline is None
    assert [f["name"] for f in waiting.fields] == ["n"] and waiting.fields[0]["required"]
    assert waiting.can_decide is True and waiting.decision is None
    [seen] = gates.open(user="ana").run_approvals(run_id)  # sees it, may not decide it
    assert seen.step == "first" and seen.can_decide is False
    with pytest.raises(wfnb.PermissionDenied, match="may not VIEW_DETAILS"):
        gates.open(user="gus").run_approvals(run_id)
    with pytest.raises(wfnb.NotFound, match="no run with id 'nope'"):
        gates.open(user="lea").run_approvals("nope")
    # a decision recorded, not yet applied by the run: shown, and nobody may decide again
    lea = gates.open(user="lea")
    lea.approvals.decide(run_id, None, "approve", "fine", {"n": 3})
    [decided] = lea.run_approvals(run_id)
    assert decided.can_decide is False
    assert (decided.decision["user"], decided.decision["comment"]) == ("lea", "fine")
    lea.resume(run_id)  # the claim this process took: carry the run on, to "second"
    poll(lambda: [a.step for a in lea.run_approvals(run_id)] == ["second"], timeout=30,
         what="the run to wait at its second approval")
