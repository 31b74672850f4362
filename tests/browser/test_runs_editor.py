"""The runs table, the editor and the schedules view in a real JupyterLab at 1024 px, driven
in headless Chromium: what the user reads and types, while runs progress in another process
(this test's), as they would under a scheduler or a colleague's kernel."""
from __future__ import annotations

import json

import pytest

import wfnb
from tests.browser.lab import SHOTS, accept_dialog, playwright_api, serve
from tests.helpers import poll

pytestmark = pytest.mark.slow

CELLS = [
    ("import os\nimport wfnb\nfrom wfnb.widgets.schedules_view import SchedulesView\n"
     "ws = wfnb.open(os.environ['WFNB_WORKSPACE'])"),
    "ws.runs_table()",
    "ws.editor('expense_approval')",
    "ws.editor('weekly_report')",
    "SchedulesView(ws)",
]
TABLE = ".wfnb-runs-table"
EXPENSE = ".wfnb-editor:has(.wfnb-title:has-text('Expense approval'))"
WEEKLY = ".wfnb-editor:has(.wfnb-title:has-text('Weekly report'))"
SCHEDULES = ".wfnb-schedules"


def notebook(cells: list[str]) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}",
                                  "metadata": {}, "outputs": [], "source": src}
                                 for i, src in enumerate(cells)],
                       "metadata": {"kernelspec": {"display_name": "Python 3",
                                                   "language": "python", "name": "python3"}},
                       "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture(scope="module")
def lab(lab_root):
    (lab_root / "notebooks" / "Views.ipynb").write_text(notebook(CELLS))
    yield from serve(lab_root, "jupyterlab", "lab/tree/notebooks/Views.ipynb")


@pytest.fixture(scope="module")
def here(lab_root):
    """The workspace opened in this (the test's) process: runs started here progress while
    the kernel's views show them."""
    ws = wfnb.open(lab_root / "examples", user="tester")
    yield ws
    for run in ws.runs(status="Running") + ws.runs(status="Waiting for Approval"):
        try:
            ws.cancel(run.id, wait=5)
        except wfnb.WfnbError:
            pass


@pytest.fixture(scope="module")
def page(browser, lab, here):
    """The notebook at 1024 x 900, every cell run, every view drawn."""
    page = browser.new_page(viewport={"width": 1024, "height": 900})
    page.set_default_timeout(60_000)
    try:
        page.goto(lab)
        page.wait_for_selector(".jp-Notebook")
        page.wait_for_function("() => document.body.innerText.includes('Idle')", timeout=90_000)
        for attempt in range(4):
            accept_dialog(page)
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            try:
                page.wait_for_selector(SCHEDULES, timeout=30_000)
                break
            except playwright_api.TimeoutError:
                if attempt == 3:
                    raise
        news = page.locator(".jp-toast-button:text-is('No')")
        if news.count():
            news.first.click()
        yield page
    finally:
        page.close()


def rows_shown(page) -> list[str]:
    return page.locator(f"{TABLE} tr.wfnb-row").evaluate_all(
        "els => els.map(e => e.dataset.run)")


def test_the_table_fits_1024_px_and_filters_as_you_type_while_a_run_progresses(page, here):
    daily = [here.run("daily_sales", date=f"2026-10-{d:02d}").id for d in (1, 2)]
    slow = here.start("slow_etl", seconds=3)
    table = page.locator(TABLE)
    poll(lambda: set(rows_shown(page)) >= {*daily, slow.id}, timeout=15,
         what="the runs in the kernel's table")
    page.locator(f"{TABLE} tr[data-run='{slow.id}']").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "runs-table-1024.png"))

    # one line per run id, the whole id in its tooltip, every column inside the panel
    cell = table.locator(f"tr[data-run='{slow.id}'] td.wfnb-run-id")
    assert cell.get_attribute("title") == slow.id
    assert cell.locator("code").evaluate("e => e.getClientRects().length") == 1
    assert cell.inner_text().strip() == slow.id.split("-")[-1]
    box = table.bounding_box()
    scroller = table.locator(".wfnb-table-scroll").bounding_box()
    for header in ("Run", "Trigger", "Duration"):
        th = table.locator(f"th:text-is('{header}')").bounding_box()
        assert th["width"] > 0 and box["x"] <= th["x"] and \
            th["x"] + th["width"] <= min(box["x"] + box["width"], scroller["x"] + scroller["width"]) + 0.5, \
            (header, th, box, scroller)
    assert table.locator(f"tr[data-run='{slow.id}'] td.wfnb-trigger").inner_text() == "manual"

    # filter as you type: no Enter, no blur
    text = table.locator("input.wfnb-filter-text")
    text.click()
    page.keyboard.type("daily", delay=40)
    poll(lambda: sorted(rows_shown(page)) == sorted(daily), timeout=5,
         what="the table to show only daily_sales after typing (debounced)")
    assert text.evaluate("e => e === document.activeElement")

    # a live repaint while typing keeps focus, the typed text and the row nodes
    page.keyboard.press("Control+A")
    page.keyboard.type("slow", delay=40)
    poll(lambda: rows_shown(page) == [slow.id], timeout=5, what="only the slow run")
    row = table.locator(f"tr[data-run='{slow.id}']")
    row.evaluate("e => { window.__slowRow = e; }")
    before = row.locator("td.wfnb-state").inner_text()
    page.keyboard.type("_e", delay=40)
    poll(lambda: row.locator("td.wfnb-state").inner_text() != before, timeout=10,
         what="a live update of the slow run's progress")
    page.keyboard.type("tl", delay=40)
    assert text.input_value() == "slow_etl"
    assert text.evaluate("e => e === document.activeElement")
    assert row.evaluate("e => e === window.__slowRow")  # patched in place, not rebuilt
    page.keyboard.press("Enter")
    poll(lambda: rows_shown(page) == [slow.id], timeout=5, what="Enter to apply the filter")
    page.keyboard.press("Control+A")
    page.keyboard.type("nothing-like-this")
    page.keyboard.press("Enter")
    table.locator(".wfnb-empty:text-is('No runs match.')").wait_for(timeout=5_000)
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    poll(lambda: len(rows_shown(page)) >= 3, timeout=5, what="every run again")
    slow.wait(30)


def test_waiting_runs_count_up_and_waiting_for_me_shows_only_them(page, here):
    waiting = here.start("expense_approval", employee="ana", amount=12)
    poll(lambda: here.get_run(waiting.id).status == "Waiting for Approval", timeout=15)
    table = page.locator(TABLE)
    mine = table.locator("input.wfnb-mine")
    mine.check()
    poll(lambda: rows_shown(page) == [waiting.id], timeout=10,
         what="only the waiting run under 'Waiting for me'")
    assert "Waiting for Approval" in table.locator(f"tr[data-run='{waiting.id}']").inner_text()
    # no event arrives while it waits, yet its duration counts up
    duration = table.locator(f"tr[data-run='{waiting.id}'] td.wfnb-duration-cell")
    first = duration.inner_text()
    poll(lambda: duration.inner_text() != first, timeout=4, what="the duration to count up")
    page.screenshot(path=str(SHOTS / "runs-table-waiting-for-me.png"))
    here.reject(waiting.id, comment="not now")
    table.locator(".wfnb-empty:text-is('No runs are waiting for your decision.')").wait_for(
        timeout=10_000)
    mine.uncheck()
    poll(lambda: waiting.id in rows_shown(page), timeout=10, what="every run again")


def test_the_editor_reads_right_tests_in_one_click_and_decides_an_approval(page, here):
    editor = page.locator(EXPENSE)
    editor.scroll_into_view_if_needed()
    params = editor.locator(".wfnb-params").inner_text()
    assert "[object" not in editor.inner_text()
    for expected in ("employee", "str", "amount", "float", "Who claims"):
        assert expected in params, (expected, params)

    # Enter on a focused node selects it, Space too
    node = editor.locator("g.wfnb-node[data-step='check']")
    node.focus()
    page.keyboard.press("Enter")
    editor.locator(".wfnb-settings[data-node='check']").wait_for(timeout=5_000)
    editor.locator("g.wfnb-node[data-step='payout']").focus()
    page.keyboard.press(" ")
    editor.locator(".wfnb-settings[data-node='payout']").wait_for(timeout=5_000)
    assert editor.locator("g.wfnb-node[data-step='payout']").evaluate(
        "e => e === document.activeElement")

    # type a test argument, then one click on Run Test starts the test with it
    tests_before = {r.id for r in here.runs(trigger="test")}
    editor.locator("input[name='test-employee']").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("bea")
    editor.locator("input[name='test-amount']").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("42.5")
    editor.locator("button.wfnb-run-test").click()  # the blur of the field and the click
    status = editor.locator(".wfnb-test-status")
    status.wait_for(timeout=10_000)
    started = poll(lambda: [r for r in here.runs(trigger="test") if r.id not in tests_before],
                   timeout=10, what="the test run")
    assert len(started) == 1 and started[0].params == {"employee": "bea", "amount": 42.5}
    assert started[0].id in status.inner_text()

    # it waits for approval: decided here, a bad input first refused at its field
    decision = editor.locator(".wfnb-decision[data-step='sign_off']")
    decision.wait_for(timeout=15_000)
    assert "sign_off waits for approval" in decision.inner_text()
    assert "Check the claim against the receipts" in decision.inner_text()
    assert "Deadline:" in decision.inner_text()
    waited = decision.locator(".wfnb-elapsed")
    first = waited.inner_text()
    poll(lambda: waited.inner_text() != first, timeout=4, what="the wait to count up")
    decision.locator("input.wfnb-comment").fill("receipts checked")
    decision.locator("button.wfnb-approve").click()  # no cost centre yet
    error = decision.locator("[data-field='cost_centre'] .wfnb-field-error")
    error.wait_for(timeout=10_000)
    assert "is required" in error.inner_text()
    assert "wfnb-invalid" in decision.locator("[data-field='cost_centre']").get_attribute("class")
    assert decision.locator("input.wfnb-comment").input_value() == "receipts checked"
    decision.locator("select[name='cost_centre']").select_option("R&D")
    page.screenshot(path=str(SHOTS / "editor-approval.png"))
    decision.locator("button.wfnb-approve").click()
    editor.locator(".wfnb-test-status .wfnb-status:text-is('Completed')").wait_for(
        timeout=15_000)
    assert decision.count() == 0
    done = here.get_run(started[0].id)
    assert done.status == "Completed"
    assert [t.result["cost_centre"] for t in done.tasks if t.step == "payout"] == ["R&D"]


def test_a_field_with_a_problem_is_marked_red_and_discard_restores_it(page):
    editor = page.locator(WEEKLY)
    editor.scroll_into_view_if_needed()
    editor.locator("g.wfnb-node[data-step='summary']").focus()
    page.keyboard.press("Enter")
    timeout = editor.locator("[data-field='steps.summary.timeout'] input")
    original = timeout.input_value()
    timeout.fill("soon")
    editor.locator("g.wfnb-node[data-step='extract']").click()  # the problem is elsewhere now
    editor.locator("button.wfnb-validate").click()
    editor.locator(".wfnb-problems li:has-text('steps.summary.timeout')").wait_for()
    assert "fix the fields marked in red" in editor.locator(".wfnb-message").inner_text()
    assert "wfnb-node-invalid" in editor.locator(
        "g.wfnb-node[data-step='summary']").get_attribute("class")
    editor.locator(".wfnb-problems button.wfnb-goto").click()  # Show: to the field
    field = editor.locator("[data-field='steps.summary.timeout']")
    assert "wfnb-invalid" in field.get_attribute("class")
    looks = timeout.evaluate("""e => {
        const bad = getComputedStyle(e.closest('.wfnb-panel')).getPropertyValue('--wfnb-bad');
        const probe = document.createElement('span');
        probe.style.color = bad; e.closest('.wfnb-panel').append(probe);
        const want = getComputedStyle(probe).color; probe.remove();
        const ok = e.closest('.wfnb-settings').querySelector("[data-field$='.retries'] input");
        return { width: getComputedStyle(e).borderTopWidth, colour: getComputedStyle(e).borderTopColor,
                 want, other: ok ? getComputedStyle(ok).borderTopColor : null };
    }""")
    assert looks["width"] == "2px" and looks["colour"] == looks["want"], looks
    assert looks["other"] != looks["want"], looks
    page.screenshot(path=str(SHOTS / "editor-field-marked.png"))
    editor.locator("button.wfnb-discard").click()
    poll(lambda: timeout.input_value() == original, timeout=5,
         what="Discard to put the saved value back in the field")


def test_schedules_preview_as_typed_errors_at_the_field_add_pause_resume_delete(page, here):
    view = page.locator(SCHEDULES)
    view.scroll_into_view_if_needed()
    view.locator("select[name='workflow']").select_option("daily_sales")
    cron = view.locator("input[name='cron']")
    cron.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("0 6 * *", delay=30)
    error = view.locator("[data-field='cron'] .wfnb-field-error")
    # the message follows each key: wait for the one about the whole input
    poll(lambda: error.count() == 1
         and "'0 6 * *' is not a cron expression" in error.inner_text(),
         timeout=5, what="the field error for '0 6 * *'")
    page.keyboard.type(" 1-5", delay=30)
    zone = view.locator("input[name='timezone']")
    zone.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("Europe/Berln", delay=30)
    view.locator("[data-field='timezone'] .wfnb-field-error:has-text('not a known time zone')") \
        .wait_for(timeout=5_000)
    assert error.count() == 0  # the cron is right now
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.type("lin", delay=30)
    times = view.locator(".wfnb-preview-times li")
    poll(lambda: times.count() == 5, timeout=5, what="five next runs in the preview")
    shown = times.all_inner_texts()
    assert all(t.split()[0] in ("Mon", "Tue", "Wed", "Thu", "Fri") and " 06:00 CE" in t
               for t in shown), shown
    assert "Next runs (Europe/Berlin)" in view.locator(".wfnb-preview").inner_text()
    assert cron.input_value() == "0 6 * * 1-5"
    view.locator("input[name='param-date']").fill("2026-11-23")
    page.screenshot(path=str(SHOTS / "schedules-add.png"))
    view.locator("button.wfnb-add").click()
    row = view.locator("tr.wfnb-schedule")
    row.wait_for(timeout=10_000)
    [made] = here.schedules()
    assert (made.workflow, made.cron, made.timezone, made.params) == (
        "daily_sales", "0 6 * * 1-5", "Europe/Berlin", {"date": "2026-11-23"})
    text = row.inner_text()
    assert "daily_sales" in text and "date=2026-11-23" in text and "0 6 * * 1-5" in text
    assert "Europe/Berlin" in text and "Active" in text
    table, panel = view.locator("table.wfnb-schedules-table").bounding_box(), view.bounding_box()
    assert table["x"] + table["width"] <= panel["x"] + panel["width"], (table, panel)
    assert row.locator(".wfnb-next-runs li").all_inner_texts() == shown[:3]

    row.locator("button.wfnb-pause").click()
    row.locator(".wfnb-state .wfnb-status:text-is('Paused')").wait_for(timeout=10_000)
    assert here.schedules()[0].paused
    row.locator("button.wfnb-resume").click()
    row.locator(".wfnb-state .wfnb-status:text-is('Active')").wait_for(timeout=10_000)
    assert not here.schedules()[0].paused
    row.locator("button.wfnb-delete").click()
    confirm = view.locator(f"tr.wfnb-confirm-row[data-schedule='{made.id}'] .wfnb-confirm")
    assert "Delete the schedule of daily_sales (0 6 * * 1-5, Europe/Berlin)?" in \
        confirm.inner_text()
    box, panel = confirm.bounding_box(), view.bounding_box()
    assert box["x"] + box["width"] <= panel["x"] + panel["width"]  # in sight, not scrolled off
    confirm.locator("button.wfnb-confirm-no").click()
    assert here.schedules() and confirm.count() == 0
    row.locator("button.wfnb-delete").click()
    page.screenshot(path=str(SHOTS / "schedules-confirm-delete.png"))
    confirm.locator("button.wfnb-confirm-yes").click()
    view.locator(".wfnb-empty:text-is('No schedules yet.')").wait_for(timeout=10_000)
    assert here.schedules() == []
