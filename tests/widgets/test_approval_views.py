"""Approvals where the approver is (Run Details, the inbox, the gallery's count), reruns from
Run Details, the back path between views, and views a user may not open: the views' state as
real runs progress, with a real engine and a real DuckDB history."""
import subprocess
import sys

import pytest

import wfnb
from tests.helpers import TEAM_ROLES, cli_env, poll
from wfnb.engine.core.errors import PermissionDenied
from wfnb.widgets.app import Gallery, denied_line
from wfnb.widgets.inbox import Inbox
from wfnb.widgets.run_details import RunDetails
from wfnb.widgets.run_dialog import RunDialog
from wfnb.widgets.runs_table import RunsTable

KEY = "{}:sign_off"


@pytest.fixture
def team(examples):
    """The example workspace with roles: ana (analyst) runs, lea (lead) approves."""
    (examples / "wfnb.toml").write_text(TEAM_ROLES)
    return examples


def waiting_run(ws):
    run = ws.start("expense_approval", employee="ana", amount=42.5)
    poll(lambda: ws.get_run(run.id).status == "Waiting for Approval", timeout=20,
         what="the run to wait for approval")
    return run


def test_run_details_offer_the_decision_to_an_approver_and_say_who_decides_to_others(team):
    ana, lea = wfnb.open(team, user="ana"), wfnb.open(team, user="lea")
    run = waiting_run(ana)
    mine = ana.run_details(run.id).view
    [other] = mine.approvals
    assert other["can_decide"] is False and other["approvers"] == ["lead", "admin"]
    details = lea.run_details(run.id).view
    [waiting] = details.approvals
    assert waiting["can_decide"] is True and waiting["step"] == "sign_off"
    assert [f["name"] for f in waiting["fields"]] == ["cost_centre"]
    assert waiting["deadline"].endswith("Z") and waiting["on_timeout"] == "reject"
    assert waiting["description"].startswith("Check the claim")

    # a missing input comes back at its field, and nothing is decided
    details._message(None, {"action": "approve", "step": "sign_off", "comment": "ok",
                            "inputs": {"cost_centre": ""}}, [])
    assert details.decision_errors == {KEY.format(run.id): {
        "fields": {"cost_centre": "is required"}, "message": ""}}
    assert details.run["status"] == "Waiting for Approval"
    details._message(None, {"action": "approve", "step": "sign_off", "comment": "receipts ok",
                            "inputs": {"cost_centre": "OPS"}}, [])
    assert details.decision_errors == {}
    poll(lambda: details.run["status"] == "Completed", timeout=30, what="the run to complete")
    assert details.approvals == []
    poll(lambda: mine.run["status"] == "Completed" and mine.approvals == [], timeout=15,
         what="the starter's view to follow")
    decided = lea.sql("select \"user\", decision, comment, inputs->>'cost_centre' cc "
                      "from approvals").to_dict("records")
    assert decided == [{"user": "lea", "decision": "approve", "comment": "receipts ok",
                        "cc": "OPS"}]


def test_an_approval_input_error_is_shown_at_its_field_in_the_run_dialog(ws):
    dialog = RunDialog(ws, "expense_approval")
    assert dialog.start({"employee": "ana", "amount": "12"})
    poll(lambda: dialog.run.get("status") == "Waiting for Approval", timeout=20)
    dialog._message(None, {"action": "approve", "step": "sign_off", "inputs": {
        "cost_centre": "BOGUS"}}, [])
    problem = dialog.decision_errors[KEY.format(dialog.run["id"])]
    assert set(problem["fields"]) == {"cost_centre"} and "BOGUS" in problem["fields"]["cost_centre"]
    assert dialog.message == ""  # not at the top
    dialog._message(None, {"action": "reject", "step": "sign_off", "comment": "no"}, [])
    poll(lambda: dialog.run.get("status") == "Rejected", timeout=15)
    assert dialog.decision_errors == {}


def test_durations_of_running_tasks_and_runs_count_from_their_start(ws):
    run = ws.start("slow_etl", seconds=600)
    details = ws.run_details(run.id).view
    poll(lambda: any(t["step"] == "stage" and t["since"] for t in details.tasks), timeout=10,
         what="the running step with its start")
    stage = next(t for t in details.tasks if t["step"] == "stage")
    assert stage["duration"] is None and stage["since"] == stage["started"]
    assert details.run["since"].endswith("Z") and details.run["duration"] is None
    dialog = RunDialog(ws, "slow_etl")
    dialog.start({"seconds": "600"})
    poll(lambda: {s["name"]: s for s in dialog.steps}["stage"]["since"], timeout=10)
    assert dialog.run["since"] and dialog.run["duration"] is None
    ws.cancel(run.id)
    ws.cancel(dialog.current_run.id)
    poll(lambda: details.run["status"] == "Cancelled", timeout=10)
    assert details.run["since"] is None and details.run["duration"] is not None
    assert all(t["since"] is None for t in details.tasks)


def test_the_inbox_lists_what_waits_for_me_and_follows_decisions_made_elsewhere(team):
    ana, lea = wfnb.open(team, user="ana"), wfnb.open(team, user="lea")
    box = lea.inbox()
    inbox = box.view
    assert isinstance(inbox, Inbox) and inbox.items == []
    first = waiting_run(ana)
    item = poll(lambda: inbox.items and inbox.items[0], timeout=10,
                what="the waiting run to appear in the inbox")
    assert (item["run_id"], item["workflow"], item["step"], item["started_by"]) == (
        first.id, "expense_approval", "sign_off", "ana")
    assert item["since"].endswith("Z") and item["deadline"].endswith("Z")
    assert [f["name"] for f in item["fields"]] == ["cost_centre"]

    second = waiting_run(ana)
    poll(lambda: [i["run_id"] for i in inbox.items] == [first.id, second.id], timeout=10,
         what="the second run in the inbox")
    # decided here, with a bad input first: at the field, the item stays
    inbox._message(None, {"action": "approve", "run_id": first.id, "step": "sign_off",
                          "inputs": {}}, [])
    assert inbox.decision_errors[KEY.format(first.id)]["fields"] == {
        "cost_centre": "is required"}
    assert len(inbox.items) == 2
    inbox._message(None, {"action": "approve", "run_id": first.id, "step": "sign_off",
                          "comment": "fine", "inputs": {"cost_centre": "R&D"}}, [])
    assert [i["run_id"] for i in inbox.items] == [second.id]
    # decided in another process (the wfnb command): the inbox follows
    proc = subprocess.run([sys.executable, "-m", "wfnb", "reject", second.id, "--workspace",
                           str(team), "--comment", "no receipts"],
                          env=cli_env(WFNB_USER="root"), capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    poll(lambda: inbox.items == [], timeout=10, what="the inbox to empty")
    poll(lambda: lea.get_run(first.id).status == "Completed", timeout=15)


def test_the_inbox_opens_details_and_back_returns_to_the_same_inbox(team):
    ana, lea = wfnb.open(team, user="ana"), wfnb.open(team, user="lea")
    run = waiting_run(ana)
    gallery = lea.gallery()
    gallery.cards._message(None, {"action": "inbox"}, [])
    inbox = gallery.navigator.current
    poll(lambda: inbox.items, timeout=10)
    inbox._message(None, {"action": "details", "run_id": run.id}, [])
    details = gallery.navigator.current
    assert isinstance(details, RunDetails) and details.run["id"] == run.id
    assert details.approvals[0]["can_decide"] and details.back == "Approvals"
    details._message(None, {"action": "close"}, [])
    assert gallery.navigator.current is inbox and inbox.items[0]["run_id"] == run.id


def test_the_gallery_counts_approvals_waiting_for_me_and_opens_the_inbox(team):
    ana, lea = wfnb.open(team, user="ana"), wfnb.open(team, user="lea")
    assert ana.gallery().cards.approvals == -1  # no Approvals button for an analyst
    gallery = lea.gallery()
    assert gallery.cards.approvals == 0
    run = waiting_run(ana)
    poll(lambda: gallery.cards.approvals == 1, timeout=10, what="the count to go up")
    gallery.cards._message(None, {"action": "inbox"}, [])
    inbox = gallery.navigator.current
    assert isinstance(inbox, Inbox) and [i["run_id"] for i in inbox.items] == [run.id]
    lea.approve(run.id, cost_centre="OPS")
    poll(lambda: gallery.cards.approvals == 0 and inbox.items == [], timeout=10,
         what="the count and the inbox to follow the decision")


def test_the_gallery_opens_the_schedules(ws):
    pytest.importorskip("wfnb.widgets.schedules_view")
    gallery = ws.gallery()
    gallery.cards._message(None, {"action": "schedules"}, [])
    assert type(gallery.navigator.current).__name__ == "SchedulesView"


def test_rerun_from_details_is_a_rerun_of_its_parent_with_the_changes_made(ws):
    parent = ws.run("daily_sales", date="2026-10-07", rows=30)
    box = ws.run_details(parent.id)
    box.view._message(None, {"action": "rerun"}, [])
    dialog = box.navigator.current
    assert isinstance(dialog, RunDialog) and dialog.rerun_of == parent.id
    assert dialog.values == {"date": "2026-10-07", "region": "EU", "rows": 30}
    assert dialog.start({**dialog.values, "rows": "40"})
    child = dialog.current_run.wait(30)
    assert (child.trigger, child.parent_id) == ("rerun", parent.id)
    assert child.params == {"date": "2026-10-07", "region": "EU", "rows": 40}
    assert (dialog.run["trigger"], dialog.run["parent_id"]) == ("rerun", parent.id)


def test_close_returns_to_the_runs_table_with_its_filters_and_page(ws):
    for d in range(1, 8):
        ws.run("daily_sales", date=f"2026-10-{d:02d}")
    gallery = ws.gallery()
    gallery.cards._message(None, {"action": "runs"}, [])
    table = gallery.navigator.current
    assert isinstance(table, RunsTable)
    table.page_size, table.workflow, table.page = 3, "daily_sales", 1
    shown = [r["id"] for r in table.rows]
    table._message(None, {"action": "details", "run_id": shown[0]}, [])
    details = gallery.navigator.current
    assert isinstance(details, RunDetails) and details.back == "Runs"
    details._message(None, {"action": "rerun"}, [])
    dialog = gallery.navigator.current
    assert dialog.back == "Run details"
    dialog._message(None, {"action": "close"}, [])
    assert gallery.navigator.current is details
    details._message(None, {"action": "close"}, [])
    assert gallery.navigator.current is table
    assert (table.page, table.page_size, table.workflow) == (1, 3, "daily_sales")
    assert [r["id"] for r in table.rows] == shown
    table._message(None, {"action": "close"}, [])
    assert gallery.navigator.current is None and gallery.navigator.stack == []
    # a card's intent starts afresh: nothing is kept under it
    gallery.cards._message(None, {"action": "runs"}, [])
    gallery.navigator.current._message(None, {"action": "details", "run_id": shown[0]}, [])
    gallery.cards._message(None, {"action": "run", "workflow": "daily_sales"}, [])
    assert isinstance(gallery.navigator.current, RunDialog)
    assert gallery.navigator.stack == [] and gallery.navigator.current.back == ""


def test_views_the_user_may_not_open_say_so_in_one_line(team):
    nobody = wfnb.open(team, user="x")
    lines = {name: view.line for name, view in {
        "gallery": nobody.gallery(), "runs": nobody.runs_table(),
        "details": nobody.run_details("20260101-000000-000-000000"),
        "inbox": nobody.inbox()}.items()}
    assert lines == {
        "gallery": "You may not open the gallery: LIST_WORKFLOWS is missing for user 'x' "
                   "(roles: none).",
        "runs": "You may not open the runs table: VIEW_RUNS is missing for user 'x' "
                "(roles: none).",
        "details": "You may not see run 20260101-000000-000-000000: VIEW_DETAILS is missing "
                   "for user 'x' (roles: none).",
        "inbox": "You may not approve or reject runs: APPROVE is missing for user 'x' "
                 "(roles: none)."}
    analyst = wfnb.open(team, user="ana")
    assert analyst.inbox().line == ("You may not approve or reject runs: APPROVE is missing "
                                    "for user 'ana' (roles: analyst).")
    assert "wfnb-denied" in analyst.inbox().value
    assert wfnb.open(team, user="lea").run_dialog("daily_sales").line == (
        "You may not run workflow 'daily_sales': RUN_WORKFLOW is missing for user 'lea' "
        "(roles: lead).")
    refused = wfnb.open(team, user="root").sql(
        "select actor, data->>'capability' cap from events where kind = 'denied' order by seq")
    assert refused.to_dict("records")[:4] == [
        {"actor": "x", "cap": c} for c in ("LIST_WORKFLOWS", "VIEW_RUNS", "VIEW_DETAILS",
                                            "APPROVE")]
    # a view opened from another one: the same line in the panel, never a traceback
    otto = wfnb.open(team, user="otto")  # ops: runs and cancels, no details
    box = otto.runs_table()
    box.view._message(None, {"action": "details", "run_id": "20260101-000000-000-000000"}, [])
    assert box.navigator.current.line == (
        "You may not see run 20260101-000000-000-000000: VIEW_DETAILS is missing for user "
        "'otto' (roles: ops).")


def test_a_denied_line_for_someone_with_the_capability_names_what_they_are_not(team):
    lea = wfnb.open(team, user="lea")
    assert isinstance(lea.gallery(), Gallery)
    assert denied_line(lea, PermissionDenied("lea", "APPROVE", "step 's' is for user:bo")) \
        == "Permission denied: step 's' is for user:bo."
