"""Finding runs: the runs table's text filter (id, workflow, user and arguments,
case-insensitive, with the count of all matches; histories written before the search column
are migrated), keyset paging (``after=`` / ``before=`` a run shown) and the ``run_ids``
filter of "Waiting for me"."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

import wfnb
from tests.helpers import poll


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
    # as schema 6 left it (migrations 7 and 8 undone)
    for column in ("search", "rerun_mode", "rerun_from"):
        con.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    con.execute("DROP INDEX tasks_run_id")  # (DuckDB alters no table an index depends on)
    for column in ("reused_from", "params_used"):
        con.execute(f"ALTER TABLE tasks DROP COLUMN {column}")
    con.execute("CREATE INDEX tasks_run_id ON tasks (run_id)")
    con.execute("DROP TABLE workflow_steps")
    con.execute("DELETE FROM schema_version WHERE version >= 7")
    con.close()
    wfnb.engine.store.store.Store._instances.clear()  # as a new process would see it
    again = wfnb.open(ws.root, user="tester")
    assert {r.id for r in again.search_runs(text="eu", limit=5)[0]} == {eu.id}
    # and a run from before schema 8 can be rerun (whole: its steps' versions are unknown)
    rerun = again.rerun(eu.id).wait(60)
    assert rerun.status == "Completed" and rerun.record.rerun_mode == "all"


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


# ---- keyset paging ---------------------------------------------------------------------------
def tied_history(ws, copies: int = 9) -> None:
    """Real runs, cloned in the history file with few distinct creation times, so that many
    runs tie on ``created_at`` and only the id orders them; some clones are test runs."""
    ws.run("daily_sales", date="2026-11-23", region="EU")
    ws.run("flaky_import")
    ws.run("daily_sales", date="2026-11-24", region="US")

    def clone(con):
        con.execute(f"""
            INSERT INTO runs SELECT r.* REPLACE (
                r.id || '-c' || lpad(i::VARCHAR, 2, '0') AS id,
                TIMESTAMP '2026-01-01' + to_minutes((i % 4)::BIGINT) AS created_at,
                CASE WHEN i % 7 = 3 THEN 'test' ELSE r.trigger END AS trigger,
                r.search || ' clone' || i AS search)
            FROM runs r, range({copies}) t(i)""")
        # and the originals tie with each other too
        con.execute("UPDATE runs SET created_at = TIMESTAMP '2026-01-01 00:02:00' "
                    "WHERE id NOT LIKE '%-c%'")
    ws.store.transact(clone)


def walk(page, limit: int, **filters) -> list[list[str]]:
    """Pages from the newest on, each one ``after=`` the last run of the one before."""
    pages, last = [], None
    while True:
        runs = page(limit=limit, after=last, **filters)
        if not runs:
            return pages
        pages.append([r.id for r in runs])
        last = runs[-1]


def walk_back(ws, limit: int, oldest: list[str], **filters) -> list[list[str]]:
    """Pages from the oldest one on, each one ``before=`` the first run of the one after."""
    pages, first = [oldest], ws.get_run(oldest[0])
    while runs := ws.search_runs(limit=limit, before=first, **filters)[0]:
        pages.insert(0, [r.id for r in runs])
        first = runs[0]
    return pages


# (filters, page sizes): every filter, and page sizes that do and do not divide the count
CASES = [({}, (2, 7)), ({"workflow": "daily_sales"}, (4,)), ({"status": "Failed"}, (3,)),
         ({"trigger": "test"}, (2,)), ({"text": "clone1"}, (3,))]


def test_keyset_pages_concatenate_to_exactly_the_offset_pages(ws):
    tied_history(ws)
    ties = ws.sql("SELECT count(*) - count(DISTINCT created_at) AS n FROM runs")["n"][0]
    assert ties > 20  # most runs share their creation time with others
    for filters, limits in CASES:
        every = [r.id for r in ws.search_runs(limit=1000, **filters)[0]]
        assert len(every) >= 3, filters
        for limit in limits:
            by_offset = [[r.id for r in ws.search_runs(limit=limit, offset=o, **filters)[0]]
                         for o in range(0, len(every), limit)]
            by_key = walk(lambda **kw: ws.search_runs(**kw)[0], limit, **filters)
            assert by_key == by_offset, (filters, limit)
            assert sum(by_key, []) == every
            if "text" not in filters:  # runs() has no text filter
                assert walk(ws.runs, limit, **filters) == by_offset
            assert walk_back(ws, limit, by_offset[-1], **filters) == by_offset, (filters, limit)


def test_a_keyset_page_counts_every_match_and_takes_the_cursor_in_any_form(ws):
    tied_history(ws)
    every, total = ws.search_runs(limit=1000)
    assert total == len(every)
    last = every[9]
    expected = [r.id for r in every[10:15]]
    forms = [last, (last.created_at, last.id), [last.created_at.isoformat(), last.id],
             (last.created_at.isoformat() + "Z", last.id),
             (last.created_at.replace(tzinfo=dt.timezone.utc).astimezone(
                 dt.timezone(dt.timedelta(hours=2))).isoformat(), last.id),
             {"created_at": last.created_at.isoformat(), "id": last.id, "status": "x"}]
    for form in forms:
        runs, count = ws.search_runs(limit=5, after=form)
        assert ([r.id for r in runs], count) == (expected, total), form
        assert [r.id for r in ws.runs(limit=5, after=form)] == expected
    # the first page, before the newest run, is empty; after the oldest too
    assert ws.search_runs(limit=5, before=every[0]) == ([], total)
    assert ws.runs(limit=5, after=every[-1]) == []
    # a cursor need not be a run that exists: the page starts where it would be
    assert [r.id for r in ws.runs(limit=3, after=(dt.datetime(2026, 1, 1, 0, 2), "~"))] == \
        [r.id for r in every if r.created_at <= dt.datetime(2026, 1, 1, 0, 2)][:3]


def test_bad_cursors_and_page_arguments_are_refused_naming_the_argument(ws):
    run = ws.run("daily_sales", date="2026-11-23")
    cases = [
        (dict(after=42), r"after=42 is not a cursor: give the last run shown"),
        (dict(before="20261123-abc"), r"before='20261123-abc' is not a cursor"),
        (dict(after=(run.created_at,)), r"after=\(.*\) is not a cursor"),
        (dict(before=("yesterday", run.id)), r"before: created_at 'yesterday' is not a time "
                                             r"\(ISO 8601"),
        (dict(after=(dt.date(2026, 1, 1), run.id)), r"after: created_at datetime.date"),
        (dict(after=(run.created_at, 5)), r"after: id 5 is not a run id"),
        (dict(before=(run.created_at, "")), r"before: id '' is not a run id"),
        (dict(after=run, before=run), r"give after= \(older runs\) or before= \(newer runs\), "
                                      r"not both"),
        (dict(after=run, offset=5), r"offset=5 and after= both say where the page starts"),
        (dict(limit=0), r"limit=0 must be an integer >= 1"),
        (dict(offset=-1), r"offset=-1 must be an integer >= 0"),
    ]
    for kwargs, message in cases:
        with pytest.raises(wfnb.WfnbError, match=message):
            ws.runs(**kwargs)
        with pytest.raises(wfnb.WfnbError, match=message):
            ws.search_runs(**kwargs)


# ---- run_ids: "Waiting for me" -------------------------------------------------------------
def test_run_ids_keeps_only_those_runs_as_waiting_for_me_needs(ws):
    done = ws.run("daily_sales", date="2026-11-23")
    failed = ws.run("flaky_import")
    waiting = ws.start("expense_approval", employee="ana", amount=120.0)
    poll(lambda: waiting.status == "Waiting for Approval", what="the approval")
    mine = [p.run_id for p in ws.pending_approvals()]
    assert mine == [waiting.id]
    runs, total = ws.search_runs(run_ids=mine)
    assert ([r.id for r in runs], total) == ([waiting.id], 1)
    ids = (i for i in [done.id, failed.id, "no-such-run", done.id])  # any iterable
    assert {r.id for r in ws.search_runs(run_ids=ids)[0]} == {done.id, failed.id}
    assert ws.search_runs(run_ids=[done.id, failed.id], status="Failed")[0][0].id == failed.id
    assert ws.search_runs(run_ids=[done.id, failed.id], limit=1)[1] == 2
    assert [r.id for r in ws.search_runs(run_ids=[done.id, failed.id, waiting.id],
                                         after=waiting)[0]] == [failed.id, done.id]
    assert ws.search_runs(run_ids=[]) == ([], 0)
    with pytest.raises(wfnb.WfnbError, match=r"run_ids='abc' must be an iterable of run ids"):
        ws.search_runs(run_ids="abc")
    with pytest.raises(wfnb.WfnbError, match=r"run_ids: 7 is not a run id"):
        ws.search_runs(run_ids=[done.id, 7])
    ws.approve(waiting.id, cost_centre="OPS")
