"""The runs table's text filter: id, workflow, user and arguments, case-insensitive, with the
count of all matches; histories written before the search column are migrated."""
from __future__ import annotations

import duckdb

import wfnb


def test_text_matches_id_workflow_user_and_arguments_in_any_case(ws, monkeypatch):
    eu = ws.run("daily_sales", date="2026-11-23", region="EU")
    us = ws.run("daily_sales", date="2026-11-24", region="US")
    flaky = wfnb.open(ws.root, user="Ana.Lyst").run("flaky_import")

    def found(text):
        runs, total = ws.search_runs(text=text, limit=10)
        assert total == len(runs)
        return {r.id for r in runs}
    assert found("DAILY") == {eu.id, us.id}            # workflow
    assert found("ana.lyst") == {flaky.id}             # user, other case
    assert found('"region": "us"') == {us.id}          # an argument, as JSON
    assert found("2026-11-23") == {eu.id}
    assert found(us.id[-6:].upper()) == {us.id}        # the id
    assert found("no such thing") == set()
    assert ws.search_runs(text="daily", limit=1)[1] == 2  # the count is of every match


def test_a_history_from_before_the_search_column_is_migrated(ws):
    eu = ws.run("daily_sales", date="2026-11-23", region="EU")
    path = ws.config.history
    ws.store.release()
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE runs DROP COLUMN search")
    con.execute("DELETE FROM schema_version WHERE version = 7")
    con.close()
    wfnb.engine.store.Store._instances.clear()  # as a new process would see it
    again = wfnb.open(ws.root, user="tester")
    assert {r.id for r in again.search_runs(text="eu", limit=5)[0]} == {eu.id}


def test_a_text_count_can_stop_at_a_limit_and_a_short_page_needs_no_count(ws, monkeypatch):
    for day in range(1, 6):
        ws.run("daily_sales", date=f"2026-11-0{day}")
    assert ws.search_runs(text="daily", limit=10)[1] == 5           # the last page counts itself
    assert ws.search_runs(text="daily", limit=2)[1] == 5            # exact without a limit
    assert ws.search_runs(text="daily", limit=2, count_limit=3)[1] == 4  # 4 = "more than 3"
    assert ws.search_runs(text="daily", limit=2, count_limit=10)[1] == 5
    assert ws.search_runs(text="daily", limit=2, offset=4)[1] == 5
    assert ws.search_runs(text="daily", limit=2, offset=10)[1] == 5  # past the end: counted

    from wfnb.widgets import runs_table
    monkeypatch.setattr(runs_table, "COUNT_LIMIT", 3)
    table = ws.runs_table().view
    table.text = "daily"
    assert (table.total, table.more) == (3, True)   # shown as "3+"
    table.text = "2026-11-01"
    assert (table.total, table.more) == (1, False)
