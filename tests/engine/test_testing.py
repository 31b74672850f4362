"""Test runs, step tests and test sessions."""
import pytest

import wfnb
from wfnb.engine.core.errors import TestSessionError

from ..helpers import TEAM_ROLES


def test_a_test_run_is_kept_out_of_the_history_views_and_fills_the_session(ws):
    run = ws.test("daily_sales", date="2026-11-23", region="US")
    assert run.status == "Completed" and run.trigger == "test"
    assert ws.runs() == [] and ws.runs(trigger="test")[0].id == run.id
    session = ws.test_session("daily_sales")
    shown = session.show()
    assert shown["Start"] == {"date": "2026-11-23", "region": "US", "rows": 120}
    assert shown["extract"] == {"date": "2026-11-23", "rows": 120} and shown["us"] == 36


def test_one_step_runs_on_the_session_values_or_given_ones(ws):
    ws.test("daily_sales", date="2026-11-23", region="US")
    step = ws.test_step("daily_sales", "report")
    assert step.status == "Completed" and step.trigger == "test"
    assert step.result("report")["focus"] == 36  # region US from the session's arguments
    given = ws.test_step("daily_sales", "report", eu=1, us=2, apac=3, region="EU")
    assert given.result("report") == {"date": "2026-11-23", "totals": {"EU": 1, "US": 2,
                                                                       "APAC": 3}, "focus": 1}
    assert ws.test_session("daily_sales").show()["report"]["focus"] == 1  # the latest test


def test_a_missing_upstream_value_is_named_and_clear_empties_the_session(ws):
    session = ws.test_session("daily_sales")
    session.clear()
    with pytest.raises(TestSessionError, match="step 'report' needs the result of upstream "
                                               "step 'extract'"):
        ws.test_step("daily_sales", "report", date="2026-11-23")
    ws.test("daily_sales", date="2026-11-23")
    assert session.show()
    session.active = False  # an inactive session is not used ...
    with pytest.raises(TestSessionError, match="upstream step 'extract'"):
        ws.test_step("daily_sales", "report", date="2026-11-23")
    session.active = True
    assert ws.test_step("daily_sales", "report").status == "Completed"
    session.clear()
    assert session.show() == {}
    with pytest.raises(TestSessionError, match="has no step 'nope'"):
        ws.test_step("daily_sales", "nope")


def test_the_session_survives_a_restart_and_is_per_user(ws, monkeypatch):
    ws.test("daily_sales", date="2026-11-23")
    wfnb.engine.store.store.Store._instances.clear() if hasattr(
        wfnb.engine.store.store.Store, "_instances") else None
    again = wfnb.open(ws.root)  # as a new kernel would
    assert again.test_session("daily_sales").show()["eu"] == 60
    other = wfnb.open(ws.root, user="someone-else")
    assert other.test_session("daily_sales").show() == {}


def test_an_approval_step_in_a_step_test_is_decided_by_the_tester(ws):
    ws.test_session("expense_approval").clear()
    checked = ws.test_step("expense_approval", "check", employee="ana", amount=5)
    assert checked.result("check")["policy_ok"] is True
    run = ws.test_step("expense_approval", "sign_off", cost_centre="OPS")
    assert run.result("sign_off") == {"cost_centre": "OPS", "approved_by": "tester",
                                      "comment": "decided in a test"}
    paid = ws.test_step("expense_approval", "payout")
    assert paid.result("payout")["cost_centre"] == "OPS"


def test_a_tester_without_view_details_still_fills_their_own_session(factory, monkeypatch):
    (factory.root / "wfnb.toml").write_text(TEAM_ROLES.replace(
        "[users]", 'tester = ["LIST_WORKFLOWS", "RUN_WORKFLOW"]\n\n[users]')
        + 'tina = ["tester"]\n')
    factory.module("sums", """
        from wfnb import Workflow
        wf = Workflow("sums")
        wf.step(lambda: [1, 2, 3], name="numbers")
        wf.step(lambda numbers: sum(numbers), name="total", after=["numbers"])
    """)
    monkeypatch.setenv("WFNB_USER", "tina")
    ws = factory.open()
    run = ws.test("sums")
    assert run.status == "Completed"
    assert ws.test_session("sums").show() == {"Start": {}, "numbers": [1, 2, 3], "total": 6}
    with pytest.raises(wfnb.PermissionDenied, match="VIEW_DETAILS"):
        run.tasks  # the run's details stay refused; the session is the tester's own
