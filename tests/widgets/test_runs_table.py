"""The runs table's state against a real workspace: open runs count up in the browser (they
carry their start, not a frozen duration), the text filter, and "Waiting for me"."""
from __future__ import annotations

import wfnb
from tests.helpers import TEAM_ROLES, poll
from wfnb.widgets.runs_table import RunsTable


def test_open_runs_carry_their_start_and_ended_runs_their_duration(ws):
    done = ws.run("daily_sales", date="2026-11-23")
    slow = ws.start("slow_etl", seconds=600)
    table = RunsTable(ws)
    poll(lambda: {r["id"]: r["status"] for r in table.rows}.get(slow.id) == "Running",
         timeout=10, what="the slow run to be running")
    rows = {r["id"]: r for r in table.rows}
    assert rows[slow.id]["active"] and rows[slow.id]["duration"] is None
    assert rows[slow.id]["since"].endswith("Z")  # the browser counts up from here
    assert not rows[done.id]["active"] and rows[done.id]["since"] is None
    assert rows[done.id]["duration"] == round(done.duration, 3)
    ws.cancel(slow.id)
    poll(lambda: {r["id"]: r for r in table.rows}[slow.id]["since"] is None, timeout=10,
         what="the cancelled run to stop counting")
    assert {r["id"]: r for r in table.rows}[slow.id]["duration"] is not None
    table.close()


def test_the_text_filter_and_the_other_filters_combine(ws):
    ids = [ws.run("daily_sales", date=f"2026-10-{d:02d}").id for d in (1, 2, 3)]
    ws.run("flaky_import")
    table = RunsTable(ws)
    table.text = "2026-10-02"
    assert [r["id"] for r in table.rows] == [ids[1]] and table.total == 1
    table.text, table.workflow = "daily", "flaky_import"
    assert table.rows == [] and table.total == 0
    table.close()


def test_waiting_for_me_shows_only_runs_this_user_may_decide(examples):
    (examples / "wfnb.toml").write_text(TEAM_ROLES)
    ana, lea = wfnb.open(examples, user="ana"), wfnb.open(examples, user="lea")
    waiting = ana.start("expense_approval", employee="ana", amount=10)
    ana.start("daily_sales", date="2026-11-23").wait(30)
    poll(lambda: lea.get_run(waiting.id).status == "Waiting for Approval", timeout=10,
         what="the expense to wait for approval")

    mine = RunsTable(lea)
    assert mine.can_approve and mine.total == 2
    mine.mine = True
    assert [r["id"] for r in mine.rows] == [waiting.id] and mine.total == 1
    # a run that starts waiting later appears by itself
    later = ana.start("expense_approval", employee="bo", amount=20)
    poll(lambda: [r["id"] for r in mine.rows] == [later.id, waiting.id], timeout=10,
         what="the second waiting run in 'waiting for me'")
    # and one decided leaves it
    lea.approve(waiting.id, comment="fine", cost_centre="OPS")
    poll(lambda: [r["id"] for r in mine.rows] == [later.id], timeout=10,
         what="the decided run to leave 'waiting for me'")
    lea.reject(later.id, comment="no")
    poll(lambda: mine.rows == [] and mine.total == 0, timeout=10, what="an empty list")
    mine.close()

    analyst = RunsTable(ana)  # may not approve: no such filter
    assert not analyst.can_approve
    analyst.close()


def test_older_and_newer_page_by_key_and_a_page_stays_put_as_runs_arrive(ws):
    ids = [ws.run("daily_sales", date=f"2026-10-{d:02d}").id for d in range(1, 12)][::-1]
    table = RunsTable(ws)
    table.page_size = 4
    pages = []
    for page in (0, 1, 2):
        table.page = page  # one step at a time: the page after the last row shown
        pages.append([r["id"] for r in table.rows])
        assert table._cursor == (None if page == 0 else ("after", table._cursor[1]))
    assert pages == [ids[0:4], ids[4:8], ids[8:11]] and table.total == 11
    table.page = 1  # back: the page before the first row shown
    assert table._cursor[0] == "before" and [r["id"] for r in table.rows] == ids[4:8]
    newer = ws.run("daily_sales", date="2026-10-30").id
    table.refresh()  # as a live repaint would: page 1 keeps its rows, the count moves on
    assert [r["id"] for r in table.rows] == ids[4:8] and table.total == 12
    table.page = 0
    assert [r["id"] for r in table.rows] == [newer, *ids[0:3]]
    table.page, table.page = 2, 0  # a jump goes by offset
    table.page = 2
    assert table._cursor is None and [r["id"] for r in table.rows] == [newer, *ids][8:12]
    table.status = "Completed"  # a filter starts again from the first page's query
    assert table._cursor is None
    table.close()


def test_a_table_of_one_workflow_repaints_for_its_new_runs_not_for_the_others(ws):
    from wfnb.engine.store.events import EventFeed
    seen: list[dict] = []
    unsubscribe = EventFeed.for_store(ws.store).subscribe(seen.extend)
    daily, everything = RunsTable(ws, "daily_sales"), RunsTable(ws)
    try:
        ws.store.flush()
        seen.clear()
        other = ws.start("flaky_import")
        ws.store.flush()
        pending = poll(lambda: [e for e in seen if e.get("run_id") == other.id
                                and e.get("status") == "Pending"], timeout=10,
                       what="the new run's Pending event")
        assert not daily._relevant(pending)  # under load, a repaint costs a turn on the file
        assert everything._relevant(pending)
        mine = ws.start("daily_sales", date="2026-11-23")
        poll(lambda: any(r["id"] == mine.id for r in daily.rows), timeout=10,
             what="the daily_sales table to show its new run")
    finally:
        unsubscribe()
        daily.close()
        everything.close()
