"""The editor's state against a real workspace: the graph, edits checked and saved (or
refused), Run Test / Test Run and the test session, read-only cases."""
from __future__ import annotations

from tests.helpers import DECLARED, LIB, TEAM_ROLES, poll
from wfnb.widgets.editor import Editor, layout


def test_the_graph_draws_every_step_left_of_what_waits_for_it(ws):
    for wf in ws.workflows():
        graph = layout(wf)
        at = {n["name"]: n for n in graph["nodes"]}
        assert set(at) == {"Start", *wf.steps}
        assert sorted(map(tuple, graph["edges"])) == sorted(
            [("Start", n) for n, s in wf.steps.items() if not s.after]
            + [(d, n) for n, s in wf.steps.items() for d in s.after])
        for a, b in graph["edges"]:
            assert at[a]["x"] < at[b]["x"], (wf.name, a, b)
        spots = [(n["x"], n["y"]) for n in graph["nodes"]]
        assert len(spots) == len(set(spots))  # no two nodes on one spot
        assert all(n["x"] + graph["node_w"] <= graph["width"] and
                   n["y"] + graph["node_h"] <= graph["height"] for n in graph["nodes"])
    chart = {n["name"]: n for n in layout(ws.workflow("weekly_report"))["nodes"]}
    assert chart["chart"]["kind"] == "code" and chart["sign_off"]["kind"] == "approval"


def test_an_invalid_edit_is_shown_per_field_and_never_saved(declared, factory):
    editor = factory.open(user="root").editor("weekly").view
    assert editor.workflow["editable"] and editor.workflow["declared"]
    assert not editor.save({"steps": {"extract": {"after": ["count"]}}})
    assert [p["field"] for p in editor.problems] == ["steps.extract.after"]
    assert "cycle" in editor.problems[0]["message"] and editor.message.startswith("Not saved")
    assert not editor.save({"steps": {"extract": {"parameters": "{not json"}}})
    assert editor.problems[0]["field"] == "steps.extract.parameters"
    assert declared.read_text() == DECLARED


def test_a_valid_edit_is_checked_saved_and_redrawn(declared, factory):
    ws = factory.open(user="root")
    editor = ws.editor("weekly").view
    first = editor.workflow["version"]
    changes = {"steps": {"ok": {"after": ["extract"]}, "count": {"timeout": "30s"}},
               "params": {"region": {"default": "south"}}}
    assert editor.check(changes) and editor.message.startswith("Valid: saving makes version")
    assert declared.read_text() == DECLARED  # checking writes nothing
    assert editor.save(changes)
    assert editor.workflow["version"] != first and editor.message == (
        f"Saved version {editor.workflow['version']}.")
    assert ["extract", "ok"] in editor.graph["edges"]
    assert ["count", "ok"] not in editor.graph["edges"]
    assert editor.settings["steps"]["count"]["timeout"] == "30s"
    assert [v["version"] for v in ws.workflow_versions("weekly")] == [
        editor.workflow["version"], first]
    # a second editor opened before the save cannot overwrite it
    stale = Editor(ws, "weekly")
    stale.workflow = {**stale.workflow, "version": first}
    assert not stale.save({"steps": {"count": {"retries": 2}}})
    assert "changed since it was opened" in stale.message


def test_run_test_test_run_and_the_session_from_the_editor(declared, factory):
    editor = factory.open(user="root").editor("weekly").view
    assert editor.workflow["can_test"] and editor.session == {"active": True, "values": {}}
    assert editor.test_values == {"region": "north"}
    assert not editor.test_selected("count")  # the session holds no upstream value yet
    assert "needs the result of upstream step 'extract'" in editor.message
    assert editor.run_test({"region": "south"})
    poll(lambda: editor.test.get("tasks", {}).get("ok", {}).get("status")
         == "Waiting for Approval", what="the test run to reach its approval")
    assert editor.test["tasks"]["count"] == {"status": "Completed", "summary": "3", "error": ""}
    editor._ws.approve(editor.test["run_id"])
    poll(lambda: editor.session["values"].get("count") == "3", what="the session to hold count")
    assert editor.session["values"]["Start"] == '{"region": "south"}'
    assert editor.test_selected("count")
    poll(lambda: editor.test.get("step") == "count" and editor.test["status"] == "Completed",
         what="the step test")
    assert list(editor.test["tasks"]) == ["count"]  # upstream values came from the session
    editor.set_active(False)
    assert editor.session["active"] is False
    editor.clear_session()
    assert editor.session["values"] == {} and editor.message == "Session cleared."


def test_python_workflows_and_users_without_update_workflow_get_a_read_only_editor(
        declared, factory):
    (factory.root / "wfnb.toml").write_text(TEAM_ROLES)
    assert factory.open(user="root").editor("weekly").view.workflow["editable"]
    ana = factory.open(user="ana").editor("weekly").view
    assert not ana.workflow["editable"] and ana.workflow["can_test"]
    assert not ana.save({"steps": {"count": {"retries": 2}}})
    assert "UPDATE_WORKFLOW" in ana.message and declared.read_text() == DECLARED
    lea = factory.open(user="lea").editor("weekly").view
    assert not lea.workflow["can_test"] and lea.session == {}
    factory.module("plain", '''
        from wfnb import Workflow
        wf = Workflow("plain")
        @wf.step()
        def a():
            return 1
        ''')
    plain = factory.open(user="root").editor("plain").view
    assert not plain.workflow["editable"] and not plain.workflow["declared"]
    assert plain.settings["steps"]["a"]["call"].endswith(":a")
    assert not plain.save({"steps": {"a": {"retries": 1}}})
    assert "defined in Python" in plain.message


def test_a_single_after_string_is_shown_as_one_edge(factory):
    factory.module("lib", LIB)
    (factory.root / "workflows" / "one.wfnb.toml").write_text(
        '[[params]]\nname = "region"\ndefault = "north"\n\n'
        '[[steps]]\nname = "extract"\ncall = "lib:extract"\n\n'
        '[[steps]]\nname = "count"\ncall = "lib:count"\nafter = "extract"\n')
    editor = factory.open(user="root").editor("one").view
    assert editor.settings["steps"]["count"]["after"] == ["extract"]
    assert ["extract", "count"] in editor.graph["edges"]


def test_a_test_run_that_reaches_an_approval_is_decided_in_the_editor(ws):
    editor = ws.editor("expense_approval").view
    assert editor.run_test({"employee": "ana", "amount": "12.5"})
    poll(lambda: editor.test.get("decisions"), what="the test run to wait for approval")
    [waiting] = editor.test["decisions"]
    assert waiting["step"] == "sign_off" and waiting["can_decide"]
    assert waiting["approvers"] == ["lead", "admin"]
    assert [f["name"] for f in waiting["fields"]] == ["cost_centre"]
    # a bad input is refused at its field, and the step still waits
    assert not editor.decide("approve", "sign_off", "ok", {"cost_centre": "MOON"})
    assert list(editor.decision_problem["fields"]) == ["cost_centre"]
    assert editor.test["status"] == "Waiting for Approval"
    editor._message(None, {"action": "approve", "step": "sign_off", "comment": "receipts ok",
                           "inputs": {"cost_centre": "OPS"}}, [])
    assert editor.decision_problem == {}
    poll(lambda: editor.test["status"] == "Completed", what="the approved test run to end")
    assert editor.test["decisions"] == []
    assert '"cost_centre": "OPS"' in editor.test["tasks"]["payout"]["summary"]
    decision = ws.get_run(editor.test["run_id"]).tasks
    assert any(t.step == "sign_off" and t.status.value == "Completed" for t in decision)

    assert editor.run_test()
    poll(lambda: editor.test.get("decisions"), what="the second test run to wait")
    editor._message(None, {"action": "reject", "step": "sign_off", "comment": "no"}, [])
    poll(lambda: editor.test["status"] == "Rejected", what="the rejected test run to end")


def test_only_those_who_may_decide_see_approve_in_the_editor(declared, factory):
    (factory.root / "wfnb.toml").write_text(TEAM_ROLES)
    ana = factory.open(user="ana").editor("weekly").view  # runs tests, may not approve
    assert ana.run_test({"region": "south"})
    poll(lambda: ana.test.get("decisions"), what="the test run to wait for approval")
    assert ana.test["decisions"][0]["can_decide"] is False
    assert not ana.decide("approve", "ok")
    assert "APPROVE" in ana.decision_problem["message"]
    assert ana.test["status"] == "Waiting for Approval"
    ana._ws.cancel(ana.test["run_id"])  # its starter may cancel it: nothing left waiting
    poll(lambda: ana.test["status"] == "Cancelled", what="the test run to be cancelled")
