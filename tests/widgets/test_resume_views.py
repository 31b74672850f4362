"""Rerun from failure and Rerun from here in Run Details: the form opens in that mode, the new
run reuses what completed (shown as reused, linked to the parent), a refusal is the dialog's
message with nothing started, and force runs the steps that read a changed param."""
from __future__ import annotations

from tests.engine.test_resume import CHAIN, ran  # noqa: F401 - the chain of the engine tests
from tests.helpers import TEAM_ROLES
from wfnb.widgets.run_dialog import RunDialog


def failed_chain(factory, user="ana"):
    factory.module("chain", CHAIN)
    (factory.root / "workflows" / "broken").touch()
    ws = factory.open(user=user)
    failed = ws.run("chain", n=3)
    (factory.root / "workflows" / "broken").unlink()
    return ws, failed


def test_rerun_from_failure_in_details_reuses_what_completed_and_shows_it(factory):
    ws, failed = failed_chain(factory)
    box = ws.run_details(failed.id)
    details = box.view
    assert details.can_rerun and details.run["done"] and details.run["status"] == "Failed"
    details._message(None, {"action": "rerun", "from_failure": True}, [])
    dialog = box.navigator.current
    assert isinstance(dialog, RunDialog)
    assert (dialog.rerun_of, dialog.rerun_mode) == (failed.id, "from_failure")
    assert dialog.start(dict(dialog.values))
    run = dialog.current_run.wait(60)
    assert run.status == "Completed" and run.record.rerun_mode == "from_failure"
    assert (ran(factory, "extract"), ran(factory, "load")) == (1, 2)
    # the new run's details: reused tasks link to the parent run, the mode is said
    shown = ws.run_details(run.id).view
    tasks = {t["step"]: t for t in shown.tasks}
    assert tasks["extract"]["reused_run"] == failed.id and tasks["transform"]["reused_from"]
    assert tasks["load"]["reused_from"] == ""
    assert (shown.run["rerun_mode"], shown.run["parent_id"]) == ("from_failure", failed.id)


def test_rerun_from_here_on_a_task(factory):
    ws, failed = failed_chain(factory)
    box = ws.run_details(failed.id)
    box.view._message(None, {"action": "rerun", "from_step": "transform"}, [])
    dialog = box.navigator.current
    assert (dialog.rerun_mode, dialog.rerun_step) == ("from_step", "transform")
    assert dialog.start(dict(dialog.values))
    run = dialog.current_run.wait(60)
    assert run.record.rerun_from == "transform"
    assert {t.step for t in run.task_records() if t.reused_from} == {"extract"}


def test_a_refused_resume_is_the_dialog_s_message_and_force_starts_it(factory):
    ws, failed = failed_chain(factory)
    box = ws.run_details(failed.id)
    box.view._message(None, {"action": "rerun", "from_failure": True}, [])
    dialog = box.navigator.current
    before = len(ws.runs())
    assert not dialog.start({**dialog.values, "n": 5})
    assert "extract read n" in dialog.message and "force" in dialog.message
    assert len(ws.runs()) == before and dialog.current_run is None
    dialog._message(None, {"action": "start", "values": {**dialog.values, "n": 5},
                           "force": True}, [])
    run = dialog.current_run.wait(60)
    assert run.status == "Completed" and run.result("load")["total"] == 100


def test_the_resume_buttons_need_run_workflow_and_an_ended_run(factory):
    ws, failed = failed_chain(factory)
    (factory.root / "wfnb.toml").write_text(TEAM_ROLES)
    lea = factory.open(user="lea")  # a lead: VIEW_DETAILS, no RUN_WORKFLOW
    assert not lea.run_details(failed.id).view.can_rerun
    ok = ws.rerun(failed.id, from_failure=True).wait(60)
    shown = ws.run_details(ok.id).view
    assert shown.can_rerun and shown.run["status"] == "Completed"  # no Rerun from failure


def test_details_list_artifacts_with_their_size(factory):
    factory.module("objs3", """
        from wfnb import Workflow
        wf = Workflow("objs3")

        @wf.step()
        def make():
            return {1, 2, 3}  # a set: not JSON, pickled
    """)
    ws = factory.open(user="ana")
    run = ws.run("objs3")
    [art] = ws.run_details(run.id).view.artifacts
    assert (art["step"], art["kind"]) == ("make", "pickle")
    assert art["size"] > 0 and art["size_text"].endswith(" B")


def test_compare_with_parent_from_details_shows_what_differs(factory):
    ws, failed = failed_chain(factory)
    run = ws.rerun(failed.id, from_failure=True, label="y").wait(60)
    box = ws.run_details(run.id)
    box.view._message(None, {"action": "compare", "other": failed.id}, [])
    view = box.navigator.current
    assert type(view).__name__ == "CompareView"
    c = view.comparison
    assert (c["a"]["id"], c["b"]["id"]) == (failed.id, run.id)
    assert c["params"] == [{"name": "label", "a": "x", "b": "y"}]
    steps = {s["step"]: s for s in c["steps"]}
    assert steps["load"]["a"]["status"] == "Failed" and steps["extract"]["b"]["reused"]
