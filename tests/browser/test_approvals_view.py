"""Approvals where the approver is, Run Details' clocks, time axis and Cancel confirmation, and
the back path, as a user sees them in Chromium.

Two kinds of test: the views' own modules drawn in a bare page with a small stand-in model (fast:
what each state renders as text), and real JupyterLab on a workspace with roles, where `tester`
(the lab's user, a lead) decides a run that `ana` (an analyst, in this test process) started.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

import wfnb
from tests.browser.lab import SHOTS, workspace_copy
from tests.helpers import TEAM_ROLES, poll
from wfnb.widgets.inbox import Inbox
from wfnb.widgets.run_details import RunDetails
from wfnb.widgets.run_dialog import RunDialog

pytestmark = pytest.mark.slow

# ---- the views' modules with a stand-in model ------------------------------------------------

MODEL = """
window.mount = async (name, state) => {
  const sent = [], handlers = {};
  const model = { get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {},
    send: (c) => sent.push(c), on: (ev, f) => { (handlers[ev] = handlers[ev] || []).push(f); } };
  const el = document.createElement("div");
  el.className = "wfnb-app";
  document.getElementById("root").replaceChildren(el);
  window.views[name].render({ model, el });
  window.view = { sent, update: (k, v) => { state[k] = v; (handlers[`change:${k}`] || []).forEach((f) => f()); } };
};
window.views = {};
"""


def as_script(name: str, esm: str) -> str:
    """A view's module, registering its render() for mount() (each module has its own scope)."""
    return esm.replace("export default { render };", f"window.views.{name} = {{ render }};")


@pytest.fixture(scope="module")
def page(browser):
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.set_content("<div id=root></div>")
    page.add_script_tag(content=MODEL)
    for name, view in (("details", RunDetails), ("dialog", RunDialog), ("inbox", Inbox)):
        page.add_style_tag(content=view._css)
        page.add_script_tag(content=as_script(name, view._esm), type="module")
    page.wait_for_function("() => window.views.details && window.views.dialog && window.views.inbox")
    yield page
    page.close()


def iso(seconds_ago: float = 0.0, days_ahead: float = 0.0) -> str:
    now = dt.datetime.now(dt.UTC)
    at = now - dt.timedelta(seconds=seconds_ago) + dt.timedelta(days=days_ahead)
    return at.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


FIELD = {"name": "cost_centre", "type": "choice", "required": True, "default": None,
         "description": "Where to book it", "choices": ["OPS", "R&D"], "label": "cost_centre"}


def waiting(can_decide: bool) -> dict:
    return {"run_id": "r1", "step": "sign_off", "approvers": ["lead", "admin"],
            "fields": [FIELD], "description": "Check the receipts.", "deadline": iso(days_ahead=2),
            "on_timeout": "reject", "since": iso(30), "can_decide": can_decide}


def details_state(**extra) -> dict:
    run = {"id": "r1", "workflow": "slow_etl", "status": "Running", "progress": 0.25,
           "params": {"seconds": 60}, "created_by": "ana", "trigger": "manual", "parent_id": "",
           "started": iso(12.5), "ended": None, "error": "", "since": iso(12.5), "duration": None}
    tasks = [
        {"id": "t0", "step": "Start", "kind": "start", "attempt": 1, "status": "Completed",
         "started": iso(12.5), "ended": iso(12.5), "since": None, "duration": 0.01, "from": 0,
         "to": 0.01, "result": "", "log": "", "traceback": "", "error": "", "notebook": ""},
        {"id": "t1", "step": "stage", "kind": "python", "attempt": 1, "status": "Running",
         "started": iso(5), "ended": None, "since": iso(5), "duration": None, "from": 7.5,
         "to": None, "result": "", "log": "", "traceback": "", "error": "", "notebook": ""}]
    return {"run": run, "tasks": tasks, "approvals": [], "decision_errors": {},
            "can_cancel": True, "can_rerun": True, "message": "", "back": "", **extra}


def mount(page, name: str, state: dict) -> None:
    page.evaluate("([n, s]) => mount(n, s)", [name, json.loads(json.dumps(state))])


def seconds(text: str) -> float:
    """A duration as the views print it (fmtSeconds): '975 ms', '12.3 s', '3 min 4 s'."""
    text = text.strip()
    if text.endswith(" ms"):
        return float(text[:-3]) / 1000
    if " min " in text:
        minutes, rest = text.split(" min ")
        return 60 * float(minutes) + float(rest.replace(" s", ""))
    return float(text.replace(" s", ""))


def test_running_durations_count_up_between_events(page):
    mount(page, "details", details_state())
    task = page.locator("tr.wfnb-task[data-step='stage'] .wfnb-elapsed")
    run = page.locator(".wfnb-run-summary .wfnb-elapsed")
    first, first_run = seconds(task.inner_text()), seconds(run.inner_text())
    assert 4.5 <= first <= 7 and 12 <= first_run <= 15
    # no event arrives; the clocks go on
    page.wait_for_function("""(t) => parseFloat(document.querySelector(
        "tr.wfnb-task[data-step='stage'] .wfnb-elapsed").textContent) >= t + 1""", arg=first,
        timeout=5000)
    assert seconds(run.inner_text()) >= first_run + 1
    assert page.locator("tr.wfnb-task[data-step='Start']").inner_text().count("10 ms") == 1


def test_the_timeline_has_a_time_axis_in_seconds(page):
    state = details_state(run={**details_state()["run"], "status": "Completed", "since": None,
                               "duration": 24.0, "progress": 1})
    state["tasks"][1].update(status="Completed", since=None, duration=16.0, to=23.5)
    mount(page, "details", state)
    ticks = page.locator(".wfnb-gantt-axis .wfnb-tick").all_inner_texts()
    assert ticks == ["0 s", "5 s", "10 s", "15 s", "20 s"]
    boxes = page.locator(".wfnb-gantt-axis .wfnb-tick").evaluate_all(
        "els => els.map((e) => e.getBoundingClientRect().left)")
    assert boxes == sorted(boxes) and boxes[-1] > boxes[0] + 300  # spread along the track
    bar = page.locator(".wfnb-gantt-row[data-key='t1'] .wfnb-gantt-bar").bounding_box()
    axis = page.locator(".wfnb-gantt-axis").bounding_box()
    assert axis["y"] >= bar["y"] + bar["height"]  # under the bars
    page.screenshot(path=str(SHOTS / "run-details-axis.png"))


def test_cancel_asks_first_in_the_view(page):
    mount(page, "details", details_state())
    page.click("button.wfnb-cancel")
    confirm = page.locator(".wfnb-confirm")
    assert confirm.inner_text().startswith("Cancel run r1?")
    assert page.evaluate("view.sent") == []
    page.click(".wfnb-confirm-no")  # Keep it
    assert confirm.count() == 0 and page.evaluate("view.sent") == []
    page.click("button.wfnb-cancel")
    page.click(".wfnb-confirm-yes")
    assert page.evaluate("view.sent") == [{"action": "cancel"}]
    assert confirm.count() == 0


def test_an_approver_gets_the_form_others_read_who_decides(page):
    mount(page, "details", details_state(approvals=[waiting(False)]))
    other = page.locator(".wfnb-decision")
    assert "Waiting for lead, admin" in other.inner_text()
    assert other.locator("button").count() == 0 and "Deadline:" in other.inner_text()
    mount(page, "details", details_state(approvals=[waiting(True)]))
    form = page.locator(".wfnb-decision")
    text = form.inner_text()
    assert "sign_off waits for approval" in text and "Check the receipts." in text
    assert "(in 2 d); without a decision it is rejected." in text
    form.locator("input.wfnb-comment").fill("looks right")
    page.click("button.wfnb-approve")
    assert page.evaluate("view.sent.pop()") == {
        "action": "approve", "run_id": "r1", "step": "sign_off", "comment": "looks right",
        "inputs": {}}
    # the refusal comes back at the field, not at the top; what was typed stays
    page.evaluate("""() => view.update("decision_errors",
        { "r1:sign_off": { fields: { cost_centre: "is required" }, message: "" } })""")
    field = form.locator(".wfnb-field[data-field='cost_centre']")
    assert "wfnb-invalid" in field.get_attribute("class")
    assert field.locator(".wfnb-field-error").inner_text() == "is required"
    assert field.locator("select").evaluate("e => getComputedStyle(e).borderTopWidth") == "2px"
    assert page.locator(".wfnb-run-details > .wfnb-error").count() == 0
    assert form.locator("input.wfnb-comment").input_value() == "looks right"
    form.locator("select").select_option("OPS")
    page.click("button.wfnb-approve")
    assert page.evaluate("view.sent.pop()")["inputs"] == {"cost_centre": "OPS"}
    page.screenshot(path=str(SHOTS / "run-details-approval-error.png"))


def test_the_run_dialog_marks_fields_with_errors(page):
    fields = [{"name": "rows", "type": "int", "required": False, "default": 120, "min": 1,
               "max": None, "description": "", "choices": None, "label": "rows"}]
    mount(page, "dialog", {"workflow": {"name": "w", "title": "W", "description": ""},
                           "fields": fields, "values": {"rows": 120}, "errors": {},
                           "run": {}, "steps": [], "message": "", "rerun_of": "",
                           "decision_errors": {}, "back": ""})
    page.evaluate("""() => { view.update("errors", { rows: "'0' is below the minimum 1" });
        view.update("message", "Fix the fields marked in red; nothing was started."); }""")
    field = page.locator(".wfnb-field[data-field='rows']")
    assert "wfnb-invalid" in field.get_attribute("class")
    assert field.locator(".wfnb-field-error").inner_text() == "'0' is below the minimum 1"
    assert field.locator("input").evaluate("e => getComputedStyle(e).borderTopWidth") == "2px"


def test_the_inbox_reads_as_a_list_of_decisions(page):
    item = {**waiting(True), "workflow": "expense_approval", "started_by": "ana"}
    mount(page, "inbox", {"items": [item], "decision_errors": {}, "user": "lea", "error": "",
                          "back": "Workflows"})
    text = page.locator(".wfnb-inbox").inner_text()
    assert "Approvals waiting for you (1)" in text
    assert re.search(r"expense_approval · r1 · started by ana · waiting 3\d\.\d s", text), text
    assert "‹ Back" in text
    page.click(".wfnb-inbox button.wfnb-view-details")
    assert page.evaluate("view.sent.pop()") == {"action": "details", "run_id": "r1"}
    page.evaluate("() => view.update('items', [])")
    assert page.locator(".wfnb-inbox-empty").inner_text() == \
        "Nothing is waiting for a decision by lea."


# ---- real JupyterLab: tester (a lead, and ops) decides what ana started ----------------------

ROLES = TEAM_ROLES.replace('root = ["admin"]', 'root = ["admin"]\ntester = ["lead", "ops"]') \
    + '\n[executor]\nkind = "local"\nmax_workers = 16\n'


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory):
    root = workspace_copy(tmp_path_factory.mktemp("approvals"))
    (root / "examples" / "wfnb.toml").write_text(ROLES)
    return root


@pytest.fixture(scope="module")
def ana(lab_root):
    """The analyst, in this process: her runs are released here while they wait."""
    return wfnb.open(lab_root / "examples", user="ana")


def test_an_approver_decides_in_run_details_and_the_inbox_empties(ana, lab_page):
    run = ana.start("expense_approval", employee="ana", amount=99.5)
    poll(lambda: ana.get_run(run.id).status == "Waiting for Approval", timeout=30,
         what="ana's run to wait for approval")
    approvals = lab_page.locator("button.wfnb-approvals")
    approvals.locator(".wfnb-count:text-is('1')").wait_for()
    approvals.click()
    inbox = lab_page.locator(".wfnb-inbox")
    item = inbox.locator(f".wfnb-inbox-item[data-run='{run.id}']")
    item.wait_for()
    assert f"expense_approval · {run.id} · started by ana" in item.inner_text()
    assert "Deadline:" in item.inner_text()
    lab_page.screenshot(path=str(SHOTS / "inbox.png"))
    item.locator("button.wfnb-view-details").click()

    details = lab_page.locator(".wfnb-run-details")
    details.wait_for()
    form = details.locator(".wfnb-decision[data-step='sign_off']")
    form.wait_for()
    assert "Waiting for Approval" in details.locator(".wfnb-run-summary").inner_text()
    form.locator("input.wfnb-comment").fill("receipts checked")
    form.locator("button.wfnb-approve").click()  # no cost centre yet
    field = form.locator(".wfnb-field[data-field='cost_centre']")
    field.locator(".wfnb-field-error:text-is('is required')").wait_for()
    assert "wfnb-invalid" in field.get_attribute("class")
    assert form.locator("input.wfnb-comment").input_value() == "receipts checked"
    lab_page.screenshot(path=str(SHOTS / "run-details-decision-error.png"))
    field.locator("select").select_option("OPS")
    form.locator("button.wfnb-approve").click()
    details.locator(".wfnb-run-summary .wfnb-status:text-is('Completed')").wait_for()
    assert details.locator(".wfnb-decision").count() == 0
    details.locator("tr.wfnb-task[data-step='payout']").click()
    assert '"cost_centre": "OPS"' in details.inner_text()
    lab_page.screenshot(path=str(SHOTS / "run-details-approved.png"))
    decided = ana.approvals_for(run.id, ["sign_off"])
    assert [(d["user"], d["comment"], d["inputs"]) for d in decided] == [
        ("tester", "receipts checked", {"cost_centre": "OPS"})]

    details.locator("button.wfnb-back").click()  # back to the inbox, now empty
    inbox.locator(".wfnb-inbox-empty").wait_for()
    assert "Nothing is waiting for a decision by tester." in inbox.inner_text()
    lab_page.locator("button.wfnb-approvals .wfnb-count:text-is('0')").wait_for()
    inbox.locator("button.wfnb-close").click()
    inbox.wait_for(state="detached")


def test_cancel_asks_for_confirmation_and_close_returns_to_the_runs_table(ana, lab_page):
    run = ana.start("slow_etl", seconds=300)
    lab_page.click("button.wfnb-view-all")
    table = lab_page.locator(".wfnb-runs-table")
    row = table.locator(f"tr.wfnb-row[data-key='{run.id}']")
    row.wait_for()
    row.hover()
    row.locator("button.wfnb-view-details").click()
    details = lab_page.locator(".wfnb-run-details")
    details.locator("tr.wfnb-task[data-step='stage']").wait_for()
    clock = details.locator("tr.wfnb-task[data-step='stage'] .wfnb-elapsed")
    start = seconds(clock.inner_text())
    poll(lambda: seconds(clock.inner_text()) >= start + 1.5, timeout=10,
         what="the running step's clock to count")
    ticks = details.locator(".wfnb-gantt-axis .wfnb-tick")
    assert seconds(ticks.first.inner_text()) == 0 and seconds(ticks.last.inner_text()) > 0

    details.locator("button.wfnb-cancel").click()
    confirm = details.locator(".wfnb-confirm")
    assert confirm.inner_text().startswith(f"Cancel run {run.id}?")
    lab_page.screenshot(path=str(SHOTS / "run-details-cancel-confirm.png"))
    confirm.locator(".wfnb-confirm-no").click()
    assert ana.get_run(run.id).status == "Running"
    details.locator("button.wfnb-cancel").click()
    details.locator(".wfnb-confirm-yes").click()
    details.locator(".wfnb-run-summary .wfnb-status:text-is('Cancelled')").wait_for()
    assert poll(lambda: ana.get_run(run.id).status == "Cancelled", timeout=10)

    details.locator("button.wfnb-back").click()  # the same table as it was
    table.wait_for()
    table.locator(f"tr.wfnb-row[data-key='{run.id}'] .wfnb-status:text-is('Cancelled')").wait_for()


def test_a_rerun_links_to_its_parent_in_run_details_and_the_run_dialog(page):
    rerun = {**details_state()["run"], "trigger": "rerun", "parent_id": "r0"}
    mount(page, "details", details_state(run=rerun))
    link = page.locator(".wfnb-run-summary a.wfnb-parent")
    assert link.inner_text() == "r0"
    link.click()
    assert page.evaluate("window.view.sent") == [{"action": "details", "run_id": "r0"}]
    mount(page, "dialog", {"workflow": {"name": "w", "title": "W", "description": ""},
                           "fields": [], "values": {}, "errors": {}, "steps": [],
                           "message": "", "rerun_of": "r0", "decision_errors": {}, "back": "",
                           "run": {"id": "r1", "status": "Running", "progress": 0.5,
                                   "error": "", "trigger": "rerun", "parent_id": "r0",
                                   "duration": None, "since": iso(3)}})
    page.locator(".wfnb-run-status a.wfnb-parent").click()
    assert page.evaluate("window.view.sent") == [{"action": "details", "run_id": "r0"}]
