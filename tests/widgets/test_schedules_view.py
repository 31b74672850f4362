"""The schedules view's state against a real workspace: the list, the live preview of a cron
being typed, per-field errors, add / pause / resume / delete, and permissions."""
from __future__ import annotations

import datetime as dt

import wfnb
from tests.helpers import TEAM_ROLES, poll
from wfnb.widgets.schedules_view import SchedulesView, preview


def test_the_preview_reads_the_next_runs_in_the_schedules_time_zone():
    now = dt.datetime(2026, 3, 27, 12, 0)  # the Friday before Berlin moves to summer time
    times, errors = preview("0 6 * * *", "Europe/Berlin", now=now, count=3)
    assert errors == {}
    assert times == ["Sat 2026-03-28 06:00 CET", "Sun 2026-03-29 06:00 CEST",
                     "Mon 2026-03-30 06:00 CEST"]
    times, errors = preview("0 6 * * 1-5", "America/New_York", now=now, count=2)
    assert times == ["Mon 2026-03-30 06:00 EDT", "Tue 2026-03-31 06:00 EDT"]


def test_a_bad_cron_and_a_bad_time_zone_are_each_said_at_their_field(ws):
    view = SchedulesView(ws)
    assert view.draft["workflow"] and view.preview and view.errors == {}
    view.draft = {**view.draft, "cron": "0 6 * *"}
    assert view.preview == [] and list(view.errors) == ["cron"]
    assert "'0 6 * *' is not a cron expression" in view.errors["cron"]
    view.draft = {**view.draft, "cron": "*/15 9-17 * * 1-5", "timezone": "Europe/Berln"}
    assert list(view.errors) == ["timezone"]
    assert "'Europe/Berln' is not a known time zone" in view.errors["timezone"]
    view.draft = {**view.draft, "timezone": "Asia/Tokyo"}
    assert view.errors == {} and len(view.preview) == 5
    assert all(t.endswith(" JST") for t in view.preview)
    assert not view.add()  # the engine refuses the same way: nothing is written
    view.close()


def test_add_pause_resume_and_delete_a_schedule(ws):
    view = SchedulesView(ws)
    assert not view.add({"workflow": "daily_sales", "cron": "30 7 * * *",
                         "timezone": "Europe/Berlin", "catchup": "none",
                         "params": {"date": "2026-13-01"}})
    assert view.errors == {"params.date": "'2026-13-01' is not a date (YYYY-MM-DD)"}
    assert ws.schedules() == []
    assert view.add({"workflow": "daily_sales", "cron": "30 7 * * *",
                     "timezone": "Europe/Berlin", "catchup": "latest",
                     "params": {"date": "2026-11-23", "rows": ""}})
    assert view.errors == {} and view.message.startswith("Added schedule sch-")
    [made] = ws.schedules()
    [row] = view.schedules
    assert row == {
        "id": made.id, "workflow": "daily_sales", "cron": "30 7 * * *",
        "timezone": "Europe/Berlin", "catchup": "latest", "paused": False,
        "arguments": "date=2026-11-23", "created_by": "tester",
        "next_fire": made.next_fire.isoformat(timespec="seconds") + "Z",
        "next_runs": row["next_runs"], "can_change": True}
    assert len(row["next_runs"]) == 3 and all(" 07:30 CE" in t for t in row["next_runs"])

    assert view.pause(made.id)
    assert view.schedules[0]["paused"] and view.schedules[0]["next_runs"] == []
    assert ws.schedules()[0].paused
    assert view.resume(made.id)
    assert not ws.schedules()[0].paused and len(view.schedules[0]["next_runs"]) == 3
    assert view.delete(made.id)
    assert ws.schedules() == [] and view.schedules == []
    assert not view.delete(made.id) and "no schedule with id" in view.message
    view.close()


def test_the_form_messages_reach_the_view_like_the_browser_sends_them(ws):
    view = SchedulesView(ws)
    draft = {"workflow": "slow_etl", "cron": "0 * * * *", "timezone": "UTC",
             "catchup": "none", "params": {"seconds": "2"}}
    view._message(None, {"action": "add", "draft": draft}, [])
    [made] = ws.schedules()
    assert made.params == {"seconds": "2"}  # as given; checked, and converted per run
    view._message(None, {"action": "pause", "id": made.id}, [])
    assert ws.schedules()[0].paused
    view._message(None, {"action": "delete", "id": made.id}, [])
    assert ws.schedules() == []
    view.close()


def test_a_schedule_made_elsewhere_shows_up_live(ws, examples):
    view = SchedulesView(ws)
    other = wfnb.open(examples, user="other")
    made = other.schedule("daily_sales", cron="0 6 * * *", params={"date": "2026-11-23"})
    poll(lambda: [s["id"] for s in view.schedules] == [made.id], timeout=5,
         what="the other process's schedule in the view")
    view.close()


def test_only_those_who_may_run_a_workflow_may_change_its_schedules(factory):
    factory.module("daily", """
        from wfnb import Workflow
        wf = Workflow("daily")
        wf.step(lambda: 1, name="one")
    """)
    (factory.root / "wfnb.toml").write_text(TEAM_ROLES)
    made = factory.open(user="ana").schedule("daily", cron="0 6 * * *")
    lead = SchedulesView(factory.open(user="lea"))  # may list, may not run
    assert [s["id"] for s in lead.schedules] == [made.id]
    assert lead.schedules[0]["can_change"] is False and not lead.can_add
    assert lead.schedules[0]["arguments"] == ""
    assert not lead.pause(made.id) and "RUN_WORKFLOW" in lead.message
    assert not factory.open(user="root").schedules()[0].paused
    lead.close()
    ops = SchedulesView(factory.open(user="otto"))  # may not even list workflows
    assert ops.schedules == [] and "LIST_WORKFLOWS" in ops.error
    ops.close()
