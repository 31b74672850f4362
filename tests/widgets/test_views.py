"""The views' state as real runs progress (traits, not pixels)."""
import subprocess
import sys
import time

import pytest

import wfnb
from tests.helpers import TEAM_ROLES, cli_env, poll
from wfnb import Workflow
from wfnb.widgets.live import MAX_RATE
from wfnb.widgets.run_dialog import RunDialog

ROLES = TEAM_ROLES


def test_the_gallery_has_a_card_per_workflow_and_shows_the_last_run(ws):
    gallery = ws.gallery()
    cards = {c["name"]: c for c in gallery.cards.cards}
    assert set(cards) == {w.name for w in ws.workflows()}
    assert cards["sales_cells"]["kinds"] == ["cell"] and cards["daily_sales"]["can_run"]
    assert cards["expense_approval"]["kinds"] == ["approval", "python"]
    assert cards["daily_sales"]["last_status"] is None
    run = ws.run("flaky_import")
    poll(lambda: {c["name"]: c for c in gallery.cards.cards}["flaky_import"]["last_status"]
         == "Failed", timeout=5, what="the card to show the failed run")
    assert {c["name"]: c for c in gallery.cards.cards}["flaky_import"]["last_run"] == run.id


def test_cards_of_workflows_the_user_may_not_run_have_no_run_button(examples):
    (examples / "wfnb.toml").write_text(ROLES)
    lead = wfnb.open(examples, user="lea").gallery()
    assert not any(c["can_run"] for c in lead.cards.cards)
    analyst = wfnb.open(examples, user="ana").gallery()
    assert all(c["can_run"] for c in analyst.cards.cards)


def test_the_run_dialog_shows_every_field_error_and_starts_nothing(ws):
    dialog = RunDialog(ws, "daily_sales")
    assert [f["name"] for f in dialog.fields] == ["date", "region", "rows"]
    assert dialog.values == {"date": None, "region": "EU", "rows": 120}
    assert dialog.start({"date": "2026-02-30", "region": "EU", "rows": "0"}) is False
    assert dialog.errors == {"date": "'2026-02-30' is not a date (YYYY-MM-DD)",
                             "rows": "'0' is below the minimum 1"}
    assert dialog.run == {} and ws.sql("select count(*) n from runs")["n"][0] == 0
    assert dialog.start({"date": "2026-11-23", "region": "US", "rows": "10"}) is True
    poll(lambda: dialog.run.get("status") == "Completed", timeout=10)
    assert dialog.run["progress"] == 1.0 and dialog.errors == {}
    steps = {s["name"]: s for s in dialog.steps}
    assert [s["name"] for s in dialog.steps][0] == "Start"
    assert steps["report"]["status"] == "Completed" and '"focus": 3' in steps["report"]["summary"]


def test_the_run_dialog_offers_approve_and_reject_only_to_those_who_may_decide(examples):
    (examples / "wfnb.toml").write_text(ROLES)
    ana, lea = wfnb.open(examples, user="ana"), wfnb.open(examples, user="lea")
    dialog = RunDialog(ana, "expense_approval")
    assert dialog.start({"employee": "ana", "amount": "42.5"})
    poll(lambda: dialog.run.get("status") == "Waiting for Approval", timeout=10)
    waiting = {s["name"]: s for s in dialog.steps}["sign_off"]
    assert waiting["status"] == "Waiting for Approval"
    assert waiting["decision"]["can_decide"] is False  # an analyst may not approve
    assert waiting["decision"]["fields"][0]["name"] == "cost_centre"
    lead_view = wfnb.open(examples, user="lea").run_details(dialog.current_run.id)
    assert lead_view.view.run["status"] == "Waiting for Approval"
    lead_dialog = RunDialog(lea, "expense_approval")
    lead_dialog._run = lea.get_run(dialog.current_run.id)
    lead_dialog._relevant_runs = {dialog.current_run.id}
    lead_dialog.refresh()
    assert {s["name"]: s for s in lead_dialog.steps}["sign_off"]["decision"]["can_decide"]
    lead_dialog._message(None, {"action": "approve", "step": "sign_off", "comment": "ok",
                                "inputs": {"cost_centre": "R&D"}}, [])
    poll(lambda: dialog.run.get("status") == "Completed", timeout=10,
         what="the analyst's dialog to see the approval")
    assert '"cost_centre": "R&D"' in {s["name"]: s for s in dialog.steps}["payout"]["summary"]


def test_the_runs_table_pages_filters_and_opens_details(ws):
    ids = [ws.run("daily_sales", date=f"2026-10-{d:02d}").id for d in range(1, 13)]
    failed = ws.run("flaky_import").id
    box = ws.runs_table()
    table = box.view
    table.page_size = 5
    assert table.total == 13 and [r["id"] for r in table.rows] == [failed, *ids[::-1][:4]]
    table.page = 2
    assert [r["id"] for r in table.rows] == ids[::-1][9:]
    table.status = "Failed"
    table.page = 0
    assert table.total == 1 and table.rows[0]["id"] == failed
    table.status, table.text = "", "2026-10-07"
    assert [r["id"] for r in table.rows] == [ids[6]]
    table._message(None, {"action": "details", "run_id": ids[6]}, [])
    details = box.navigator.current
    assert [t["step"] for t in details.tasks][0] == "Start" and details.can_rerun
    details._message(None, {"action": "rerun"}, [])
    dialog = box.navigator.current
    assert isinstance(dialog, RunDialog) and dialog.values["date"] == "2026-10-07"
    assert dialog.rerun_of == ids[6]  # Start Rerun: ws.rerun, a run linked to its parent


def test_details_follow_a_live_run_and_cancel_it(ws):
    run = ws.start("slow_etl", seconds=600)
    details = ws.run_details(run.id).view
    poll(lambda: [t["step"] for t in details.tasks] == ["Start", "stage"], timeout=5,
         what="the first step to appear")
    assert details.can_cancel and details.run["status"] == "Running"
    details._message(None, {"action": "cancel"}, [])
    poll(lambda: details.run["status"] == "Cancelled", timeout=5)
    assert not details.can_cancel


@pytest.mark.slow
def test_runs_started_elsewhere_appear_within_two_seconds(ws):
    table = ws.runs_table().view
    assert table.total == 0
    proc = subprocess.run([sys.executable, "-m", "wfnb", "run", "daily_sales", "-p",
                           "date=2026-11-23", "--workspace", str(ws.root)],
                          env=cli_env(WFNB_USER="other"), capture_output=True, timeout=60)
    assert proc.returncode == 0
    row = poll(lambda: table.rows and table.rows[0], timeout=2,
               what="the other process's run in the table")
    assert row["created_by"] == "other" and row["status"] == "Completed"


def test_a_thousand_step_run_does_not_flood_the_channel(ws):
    wf = Workflow("thousand")
    wf.step(lambda: 0, name="s0")
    for i in range(1, 1000):
        wf.step(lambda **kw: 0, name=f"s{i}", after=[f"s{i - 1}"])
    dialog = RunDialog(ws, wf)
    sent_before, started = dialog.messages_sent, time.monotonic()
    dialog.start({})
    poll(lambda: dialog.run.get("status") == "Completed", timeout=60)
    sent, took = dialog.messages_sent - sent_before, time.monotonic() - started
    # repaints are throttled (at most MAX_RATE a second, however slow the machine), never
    # one per transition
    assert 1 <= sent <= MAX_RATE * took + 3 and sent < 100, (sent, took)
    assert len(dialog.steps) == 1001 and all(s["status"] == "Completed" for s in dialog.steps)


def test_the_gallery_shows_the_next_scheduled_time_and_the_table_filters_by_trigger(ws):
    made = ws.schedule("daily_sales", cron="0 6 * * *", params={"date": "2026-11-23"})
    cards = {c["name"]: c for c in ws.gallery().cards.cards}
    assert cards["daily_sales"]["next_run"] == made.next_fire.isoformat(timespec="minutes") + "Z"
    assert cards["flaky_import"]["next_run"] is None
    ws.run("daily_sales", date="2026-11-23")
    ws.run_due_schedules(now=made.next_fire)[0].wait(30)
    table = ws.runs_table().view
    table.trigger = "schedule"
    assert [r["trigger"] for r in table.rows] == ["schedule"]
    table.trigger = "manual"
    assert [r["trigger"] for r in table.rows] == ["manual"]


def test_the_gallery_lists_broken_files_and_drops_them_once_fixed(factory):
    factory.module("good", """
        from wfnb import Workflow
        wf = Workflow("good")
        wf.step(lambda: 1, name="only")
    """)
    bad = factory.module("bad", 'from wfnb import Workflow\nwf = Workflow("fixed")\nx = (\n')
    cards = factory.open(user="tester").gallery().cards
    assert [c["name"] for c in cards.cards] == ["good"] and cards.error == ""
    [problem] = cards.problems
    assert (problem["file"], problem["line"], problem["workflows"]) == ("workflows/bad.py", 3, [])
    assert problem["message"].startswith("cannot be imported: SyntaxError")
    bad.write_text(bad.read_text().replace("x = (", 'wf.step(lambda: 2, name="only")'))
    cards._message(None, {"action": "reload"}, [])  # "Check again"
    poll(lambda: cards.problems == [] and len(cards.cards) == 2, timeout=5,
         what="the gallery to load the fixed file")
    assert sorted(c["name"] for c in cards.cards) == ["fixed", "good"]
