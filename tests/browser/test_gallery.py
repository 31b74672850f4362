"""The views in a real JupyterLab, driven in headless Chromium (Debian's) by Playwright."""
from __future__ import annotations

import pytest

from tests.browser.lab import SHOTS, card, field, gallery_open, serve, workspace_copy
from tests.helpers import poll

pytestmark = pytest.mark.slow


def test_gallery_run_dialog_field_errors_then_a_completed_run(lab_page):
    assert card(lab_page, "daily_sales").locator("button.wfnb-run").is_visible()
    lab_page.screenshot(path=str(SHOTS / "gallery.png"))
    card(lab_page, "daily_sales").locator("button.wfnb-run").click()
    field(lab_page, "date").locator("input").fill("2026-11-23")
    field(lab_page, "rows").locator("input").fill("0")
    lab_page.click("button.wfnb-start")
    error = field(lab_page, "rows").locator(".wfnb-field-error")
    error.wait_for()
    assert "below the minimum 1" in error.inner_text()
    assert "wfnb-invalid" in field(lab_page, "rows").get_attribute("class")  # marked in red
    assert "wfnb-invalid" not in field(lab_page, "date").get_attribute("class")
    lab_page.screenshot(path=str(SHOTS / "run-dialog-errors.png"))
    field(lab_page, "rows").locator("input").fill("500")
    lab_page.click("button.wfnb-start")
    lab_page.wait_for_selector(".wfnb-run-status:has-text('Completed')")
    assert lab_page.locator(".wfnb-run-status").inner_text().strip().endswith("100%") or \
        "100%" in lab_page.locator(".wfnb-run-status").inner_text()
    lab_page.screenshot(path=str(SHOTS / "run-dialog-completed.png"))


def test_approve_a_waiting_step_from_the_dialog(lab_page):
    lab_page.click(".wfnb-run-dialog button.wfnb-close")
    card(lab_page, "expense_approval").locator("button.wfnb-run").click()
    field(lab_page, "employee").locator("input").fill("ana")
    field(lab_page, "amount").locator("input").fill("99.5")
    lab_page.click("button.wfnb-start")
    decision = lab_page.locator(".wfnb-decision")
    decision.wait_for()
    assert "Waiting for Approval" in lab_page.locator(".wfnb-run-status").inner_text()
    decision.locator("select").select_option("OPS")
    decision.locator("input.wfnb-comment").fill("receipts checked")
    lab_page.screenshot(path=str(SHOTS / "approval.png"))
    decision.locator("button.wfnb-approve").click()
    lab_page.wait_for_selector(".wfnb-run-status:has-text('Completed')")
    assert "OPS" in lab_page.locator(".wfnb-run-dialog tr[data-step='payout']").inner_text()


def test_view_runs_then_details_then_cancel_a_slow_run(lab_page):
    lab_page.click(".wfnb-run-dialog button.wfnb-close")
    card(lab_page, "slow_etl").locator("button.wfnb-run").click()
    field(lab_page, "seconds").locator("input").fill("120")
    lab_page.click("button.wfnb-start")
    lab_page.wait_for_selector(".wfnb-run-status:has-text('Running')")
    lab_page.click(".wfnb-view-all")
    table = lab_page.locator(".wfnb-runs-table")
    table.wait_for()
    poll(lambda: table.locator("tr.wfnb-row").count() >= 3, timeout=10,
         what="the three runs in the table")
    lab_page.screenshot(path=str(SHOTS / "runs-table.png"))
    row = table.locator("tr.wfnb-row", has_text="slow_etl").first
    row.hover()
    row.locator("button.wfnb-view-details").click()
    details = lab_page.locator(".wfnb-run-details")
    details.wait_for()
    details.locator("tr.wfnb-task[data-step='Start']").wait_for()
    details.locator("tr.wfnb-task[data-step='stage']").wait_for()
    lab_page.screenshot(path=str(SHOTS / "run-details.png"))
    details.locator("button.wfnb-cancel").click()
    details.locator(".wfnb-confirm-yes").click()  # Cancel asks first
    lab_page.wait_for_selector(".wfnb-run-details .wfnb-status:text-is('Cancelled')")
    assert details.locator("button.wfnb-cancel").count() == 0
    lab_page.screenshot(path=str(SHOTS / "run-details-cancelled.png"))


def test_the_editor_draws_the_graph_refuses_a_bad_edit_saves_a_good_one_and_tests_a_node(
        lab_page, lab_root):
    declared = lab_root / "examples" / "workflows" / "weekly_report.wfnb.toml"
    original = declared.read_text()
    card(lab_page, "weekly_report").locator("button.wfnb-open-editor").click()
    editor = lab_page.locator(".wfnb-editor")
    editor.wait_for()
    graph = editor.locator("svg.wfnb-graph")
    steps = graph.locator("g.wfnb-node").evaluate_all("els => els.map(e => e.dataset.step)")
    assert sorted(steps) == ["Start", "chart", "extract", "sign_off", "summary"]
    edges = graph.locator("path.wfnb-edge").evaluate_all(
        "els => els.map(e => [e.dataset.from, e.dataset.to, e.getBBox().width])")
    assert sorted((a, b) for a, b, _ in edges) == [
        ("Start", "extract"), ("chart", "sign_off"), ("extract", "chart"),
        ("extract", "summary"), ("summary", "chart")]
    assert all(width > 0 for _, _, width in edges)  # drawn, not just listed
    version = editor.locator(".wfnb-title small").inner_text()

    graph.locator("g.wfnb-node[data-step='summary']").click()
    timeout = editor.locator("[data-field='steps.summary.timeout'] input")
    timeout.fill("soon")
    editor.locator("button.wfnb-save").click()
    editor.locator(".wfnb-problems li:has-text('steps.summary.timeout')").wait_for()
    assert "not a duration" in editor.locator(".wfnb-problems").inner_text()
    assert editor.locator("[data-field='steps.summary.timeout'].wfnb-invalid").count() == 1
    assert declared.read_text() == original  # never saved
    lab_page.screenshot(path=str(SHOTS / "editor-invalid.png"))

    timeout.fill("45s")
    editor.locator("button.wfnb-save").click()
    editor.locator(".wfnb-message:has-text('Saved version')").wait_for()
    saved = declared.read_text()
    assert 'timeout = "45s"' in saved and "# A workflow declared in a file" in saved
    poll(lambda: editor.locator(".wfnb-title small").inner_text() != version,
         what="the editor to show the new version")

    graph.locator("g.wfnb-node[data-step='extract']").click()
    editor.locator("button.wfnb-test-step:text-is('Test Run: extract')").click()
    editor.locator(".wfnb-test-status .wfnb-status:text-is('Completed')").wait_for()
    assert "wfnb-node-Completed" in graph.locator(
        "g.wfnb-node[data-step='extract']").get_attribute("class")
    editor.locator("button.wfnb-show-session").click()
    editor.locator(".wfnb-session tr[data-step='extract']").wait_for()
    lab_page.screenshot(path=str(SHOTS / "editor.png"))
    editor.locator("button.wfnb-close").click()
    editor.wait_for(state="detached")


def test_the_views_render_in_notebook_7(browser, tmp_path):
    root = workspace_copy(tmp_path / "nb7")
    for url in serve(root, "notebook", "notebooks/notebooks/Gallery.ipynb"):
        with gallery_open(browser, url, wait_idle=False) as page7:
            card(page7, "daily_sales").locator("button.wfnb-run").click()
            field(page7, "date").locator("input").fill("2026-11-23")
            page7.click("button.wfnb-start")
            page7.wait_for_selector(".wfnb-run-status:has-text('Completed')")
            page7.screenshot(path=str(SHOTS / "notebook7.png"))
