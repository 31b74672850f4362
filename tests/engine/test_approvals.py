"""Approval steps through the real engine, across real processes."""
import os
import signal
import threading
import subprocess
import sys
import textwrap

import pytest

import wfnb
from tests.helpers import cli_env, poll, spawn
from wfnb import Param, Workflow
from wfnb.engine.core.errors import DecisionError
from wfnb.engine.core.records import utcnow


def waiting(ws, run_id):
    rows = ws.sql(f"select status, owner_id from runs where id = '{run_id}'")
    return len(rows) and rows["status"][0] == "Waiting for Approval" and rows["owner_id"][0] is None


def start_waiting(ws, **params):
    run = ws.start("expense_approval", **{"employee": "ana", "amount": 120.0, **params})
    poll(lambda: waiting(ws, run.id), what="the run to wait, released")
    return run


def wfnb_cli(ws, *args, **env):
    return subprocess.run([sys.executable, "-m", "wfnb", *args, "--workspace", str(ws.root)],
                          env=cli_env(**env), capture_output=True, text=True, timeout=120)


def test_a_waiting_run_holds_no_thread_and_approval_inputs_reach_downstream(ws):
    run = start_waiting(ws)
    assert run.id not in ws.liveness.live  # released: no driver thread, no owner
    assert {t.step: t.status.value for t in run.refresh().tasks} == {
        "Start": "Completed", "check": "Completed", "sign_off": "Waiting for Approval"}
    assert run.progress == 0.5
    done = ws.approve(run.id, comment="receipts fine", cost_centre="OPS").wait(30)
    assert done.status == "Completed"
    assert done.result("payout") == {"paid": 120.0, "to": "ana", "cost_centre": "OPS",
                                     "approved_by": "tester"}
    rows = ws.sql("select step, decision, \"user\", comment, inputs->>'cost_centre' cc "
                  "from approvals").to_dict("records")
    assert rows == [{"step": "sign_off", "decision": "approve", "user": "tester",
                     "comment": "receipts fine", "cc": "OPS"}]
    statuses = ws.sql(f"select status from events where run_id = '{run.id}' and kind = 'run' "
                      "order by seq")["status"].tolist()
    assert statuses == ["Pending", "Running", "Waiting for Approval", "Running", "Completed"]


def test_reject_skips_downstream_and_rejects_the_run(ws):
    run = start_waiting(ws)
    done = ws.reject(run.id, comment="no receipt").wait(30)
    assert done.status == "Rejected"
    assert done.error == "step 'sign_off' was rejected by tester: no receipt"
    assert {t.step: t.status.value for t in done.tasks} == {
        "Start": "Completed", "check": "Completed", "sign_off": "Rejected", "payout": "Skipped"}


def test_bad_and_second_decisions_are_refused_and_change_nothing(ws):
    run = start_waiting(ws)
    with pytest.raises(wfnb.ParamError) as err:
        ws.approve(run.id, cost_centre="MARKETING", extra=1)
    assert set(err.value.errors) == {"cost_centre", "extra"}
    with pytest.raises(DecisionError, match=r"inputs \(cost_centre\) go with an approval"):
        ws.approvals.decide(run.id, None, "reject", None, {"cost_centre": "OPS"})
    with pytest.raises(DecisionError, match="step 'nope' of run .* is not waiting"):
        ws.approve(run.id, step="nope", cost_centre="OPS")
    assert ws.sql("select count(*) n from approvals")["n"][0] == 0
    ws.approve(run.id, cost_centre="OPS").wait(30)
    with pytest.raises(DecisionError, match="'sign_off' of run .* was already approved by "
                                            "tester at"):
        ws.reject(run.id)
    assert ws.sql("select count(*) n from approvals")["n"][0] == 1
    assert ws.get_run(run.id).status == "Completed"
    with pytest.raises(DecisionError, match="has no step waiting for approval"):
        ws.approve(ws.run("daily_sales", date="2026-11-23").id)


def test_a_waiting_run_can_be_cancelled_and_its_approval_step_is_cancelled(ws):
    run = start_waiting(ws)
    ended = ws.cancel(run.id)
    assert ended.status == "Cancelled"
    assert ended.task("sign_off").status.value == "Cancelled"
    with pytest.raises(DecisionError):
        ws.approve(run.id, cost_centre="OPS")


def test_a_decision_reaches_the_live_owner_while_other_steps_still_run(ws):
    """The run waits but its process still runs a sibling step: that process applies a
    decision recorded by another process."""
    release = ws.root / "release-slow"
    wf_code = f"""
        import os
        from wfnb import Workflow
        wf = Workflow("branchy")
        wf.approval("ok")

        @wf.step()
        def slow(ctx):  # runs until the test lets it go
            while not os.path.exists({str(release)!r}) and not ctx.sleep(0.05):
                pass
            return "slow done"

        wf.step(lambda ok, slow: [ok["approved_by"], slow], name="join", after=["ok", "slow"])
    """
    (ws.root / "workflows" / "branchy.py").write_text(textwrap.dedent(wf_code))
    run = ws.start("branchy")
    poll(lambda: run.status == "Waiting for Approval")
    assert run.id in ws.liveness.live  # still owned: "slow" runs
    out = wfnb_cli(ws, "approve", run.id, WFNB_USER="lea")
    assert out.returncode == 0, out.stderr
    assert "the process that owns the run carries it on" in out.stdout
    release.write_text("go")
    assert run.wait(30).status == "Completed"
    assert run.result("join") == ["lea", "slow done"]


@pytest.mark.slow
def test_approve_from_another_process_after_the_starting_one_was_killed(ws):
    proc = spawn(f"""
        import time, wfnb
        ws = wfnb.open({str(ws.root)!r})
        run = ws.start("expense_approval", employee="bo", amount=99)
        print(run.id, flush=True)
        time.sleep(600)
    """)
    run_id = proc.stdout.readline().strip()
    poll(lambda: waiting(ws, run_id), timeout=60, what="the run to wait")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    out = wfnb_cli(ws, "approve", run_id, "-p", "cost_centre=R&D", "-m", "late but fine",
                   WFNB_USER="lea")
    assert out.returncode == 0, out.stderr
    assert "carrying the run on in this process until it ends or waits again" in out.stdout
    assert f"run {run_id} Completed" in out.stdout
    run = ws.get_run(run_id)
    assert run.status == "Completed" and run.result("payout")["cost_centre"] == "R&D"
    assert ws.sql("select comment from approvals")["comment"][0] == "late but fine"


@pytest.mark.slow
def test_two_processes_deciding_at_once_exactly_one_wins(ws):
    run = start_waiting(ws)
    go = ws.root / "go"
    code = f"""
        import os, sys, time, wfnb
        from wfnb.engine.services.approvals import DecisionError
        ws = wfnb.open({str(ws.root)!r})
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
        try:
            decided = getattr(ws, sys.argv[1])(
                {run.id!r}, **({{"cost_centre": "OPS"}} if sys.argv[1] == "approve" else {{}}))
            decided.wait(60)  # the recording process carries the run on: let it finish
            print("won")
        except DecisionError as exc:
            print("lost:", exc)
    """
    procs = [spawn(code, verb, stderr=None, WFNB_USER=user)
             for verb, user in (("approve", "lea"), ("reject", "lou"))]
    go.write_text("now")
    outs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert outs[1] == "won" and outs[0].startswith("lost: step 'sign_off'")
    assert "was already" in outs[0] or "is not waiting" in outs[0]
    assert ws.sql("select count(*) n from approvals")["n"][0] == 1
    final = poll(lambda: (r := ws.get_run(run.id)).done and r, timeout=30)
    decision = ws.sql("select decision from approvals")["decision"][0]
    assert final.status == {"approve": "Completed", "reject": "Rejected"}[decision]


@pytest.mark.slow
@pytest.mark.parametrize("on_timeout, status", [("reject", "Rejected"), ("fail", "Failed"),
                                                ("approve", "Completed")])
def test_a_deadline_acts_when_no_process_was_alive_at_it(factory, on_timeout, status):
    factory.module("quick", f"""
        from wfnb import Workflow
        wf = Workflow("quick")
        wf.approval("ok", timeout="1s", on_timeout={on_timeout!r})
        wf.step(lambda ok: ok["approved_by"], name="after", after=["ok"])
    """)
    root = factory.root
    proc = spawn(f"""
        import wfnb
        ws = wfnb.open({str(root)!r})
        run = ws.start("quick")
        while run.status != "Waiting for Approval" or run.id in ws.liveness.live:
            run.refresh()
        print(run.id)
    """)
    run_id = proc.communicate(timeout=60)[0].strip().splitlines()[-1]
    assert proc.returncode == 0
    deadline = wfnb.engine.store.store.Store.for_path(
        root / ".wfnb" / "history.duckdb").query(
        "select inputs->>'deadline' d from tasks where run_id = ? and step = 'ok'",
        [run_id])[0]["d"]
    poll(lambda: utcnow().isoformat() > deadline, timeout=5, what="the deadline to pass")
    ws = factory.open()  # nobody was alive at the deadline: opening applies it
    run = ws.get_run(run_id).wait(30)
    assert run.status == status
    decision = ws.sql("select decision, \"user\" from approvals").to_dict("records")
    assert decision == [{"decision": on_timeout, "user": "wfnb (timeout)"}]
    if on_timeout == "approve":
        assert run.result("after") == "wfnb (timeout)"


def test_pending_approvals_lists_what_waits(ws):
    run = start_waiting(ws)
    pending = ws.pending_approvals()
    assert [(p.run_id, p.step, p.approvers) for p in pending] == [
        (run.id, "sign_off", ["lead", "admin"])]
    assert pending[0].fields[0]["name"] == "cost_centre" and pending[0].deadline is not None


def test_a_step_whose_decision_is_recorded_no_longer_waits_for_anyone(ws):
    """Another process recorded a decision and died before the run moved on: the step is
    decided, so no inbox offers it again (a second decision would be refused)."""
    from wfnb.engine.store import approvals
    run, other = start_waiting(ws), start_waiting(ws, employee="bo")
    ws.store.transact(lambda con: approvals.record(con, run.id, "sign_off", "approve", "lea",
                                                   "fine", {"cost_centre": "OPS"}))
    assert [(p.run_id, p.step) for p in ws.pending_approvals()] == [(other.id, "sign_off")]
    assert [p.run_id for p in ws.pending_approvals(workflow="expense_approval")] == [other.id]
    assert ws.pending_approvals(workflow="daily_sales") == []


def test_a_run_whose_workflow_lost_its_waiting_step_ends_in_error_on_resume(ws):
    path = ws.root / "workflows" / "gate.py"
    path.write_text(textwrap.dedent("""
        from wfnb import Workflow
        wf = Workflow("gate")
        wf.approval("ok")
        wf.step(lambda ok: 1, name="go", after=["ok"])
    """))
    run = ws.start("gate")
    poll(lambda: waiting(ws, run.id))
    path.write_text(textwrap.dedent("""
        from wfnb import Workflow
        wf = Workflow("gate")
        wf.step(lambda: 1, name="go")
    """))
    ended = ws.approve(run.id).wait(30)
    assert ended.status == "Error"
    assert ended.error == ("could not resume the run: step 'ok' of this run is no longer "
                           "in the workflow")


def test_a_cancel_right_as_the_run_starts_waiting_is_not_lost(ws):
    for _ in range(3):
        run = ws.start("expense_approval", employee="ana", amount=1)
        poll(lambda: run.status == "Waiting for Approval")
        assert ws.cancel(run.id).status == "Cancelled"
        assert ws.get_run(run.id).status == "Cancelled"


def test_wait_applies_a_deadline_and_a_late_decision_is_refused(factory):
    factory.module("soon", """
        from wfnb import Param, Workflow
        wf = Workflow("soon")
        wf.approval("ok", timeout="1s", on_timeout="approve",
                    inputs=[Param("n", type="int", default=3), Param("note")])
        wf.step(lambda ok: ok, name="after", after=["ok"])
    """)
    ws = factory.open()
    run = ws.start("soon")
    poll(lambda: waiting(ws, run.id))
    late = ws.start("soon")
    poll(lambda: waiting(ws, late.id))
    poll(lambda: late.refresh() and __import__("datetime").datetime.fromisoformat(
        late.task("ok").inputs["deadline"]) < utcnow(), timeout=5, what="the deadline")
    with pytest.raises(DecisionError, match="passed its deadline .* decided by "
                                            "on_timeout='approve'"):
        ws.reject(late.id)
    assert run.wait(30).status == "Completed"  # nobody decided: waiting applied the deadline
    assert run.result("after") == {"n": 3, "note": None, "approved_by": "wfnb (timeout)",
                                   "comment": run.result("after")["comment"]}
    assert late.wait(30).status == "Completed"


def test_the_owner_gets_validated_inputs_when_it_is_the_deciding_process(ws):
    wf = Workflow("typed_gate")
    wf.approval("ok", inputs=[Param("n", type="int", required=True),
                              Param("tag", default="x")])
    go = threading.Event()
    wf.step(lambda: go.wait(30) and None, name="slow")  # keeps the run owned here
    wf.step(lambda ok, slow: [ok["n"], ok["tag"]], name="use", after=["ok", "slow"])
    run = ws.start(wf)  # a workflow object, as defined in a notebook cell
    poll(lambda: run.status == "Waiting for Approval")
    ws.approve(run.id, n="5")
    go.set()
    assert run.wait(30).status == "Completed" and run.result("use") == [5, "x"]


def test_a_workflow_defined_in_a_cell_resumes_after_its_run_was_given_up(ws):
    wf = Workflow("cell_gate")
    wf.approval("ok")
    wf.step(lambda ok: ok["approved_by"], name="after", after=["ok"])
    run = ws.start(wf)
    poll(lambda: waiting(ws, run.id))
    assert ws.approve(run.id).wait(30).status == "Completed"
    assert ws.get_run(run.id).result("after") == "tester"


@pytest.mark.slow
def test_a_short_command_hands_a_woken_run_to_a_background_process(factory):
    factory.module("woken", """
        from wfnb import Workflow
        wf = Workflow("woken")
        wf.approval("ok", timeout="1s", on_timeout="approve")
        wf.step(lambda ok: "done", name="after", after=["ok"])
    """)
    ws = factory.open()
    run = ws.start("woken")
    poll(lambda: waiting(ws, run.id))
    deadline = run.refresh().task("ok").inputs["deadline"]
    poll(lambda: utcnow().isoformat() > deadline, timeout=5, what="the deadline")
    out = wfnb_cli(ws, "runs", "--limit", "1")  # a short command notices the deadline
    assert out.returncode == 0, out.stderr
    final = poll(lambda: (r := factory.open().get_run(run.id)).done and r, timeout=60,
                 what="the background process to finish the run")
    assert final.status == "Completed" and final.result("after") == "done"


def test_a_decision_found_while_giving_the_run_up_lets_the_next_steps_run_first(ws,
                                                                                monkeypatch):
    """The last running sibling ends just after a decision was recorded elsewhere: the owner
    finds the decision as it gives the run up, and must run what the decision unblocks
    before it ends the run (it once ended the run Completed with that step still Pending)."""
    monkeypatch.setattr(ws.store, "poll_interval", 30.0)  # the owner does not poll meanwhile
    release = ws.root / "release-slow"
    (ws.root / "workflows" / "branchy.py").write_text(textwrap.dedent(f"""
        import os
        from wfnb import Workflow
        wf = Workflow("branchy")
        wf.approval("ok")

        @wf.step()
        def slow(ctx):
            while not os.path.exists({str(release)!r}) and not ctx.sleep(0.01):
                pass
            return "slow done"

        wf.step(lambda ok, slow: [ok["approved_by"], slow], name="join", after=["ok", "slow"])
    """))
    for _ in range(3):
        release.unlink(missing_ok=True)
        run = ws.start("branchy")
        poll(lambda: run.status == "Waiting for Approval")
        assert wfnb_cli(ws, "approve", run.id, WFNB_USER="lea").returncode == 0
        release.write_text("go")
        assert run.wait(30).status == "Completed"
        assert [(t.step, t.status.value) for t in ws.get_run(run.id).tasks] == [
            ("Start", "Completed"), ("ok", "Completed"), ("slow", "Completed"),
            ("join", "Completed")]
