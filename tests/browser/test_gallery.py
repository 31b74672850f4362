"""The views in a real JupyterLab, driven in headless Chromium (Debian's) by Playwright."""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, poll

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-output" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

playwright_api = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):  # ./dev test installs it; say so rather than pass silently
    pytest.fail(f"{CHROMIUM} is missing: run ./dev test (it installs Debian's chromium)",
                pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path, app: str, path: str):
    """A Jupyter server (``jupyterlab`` or ``notebook``) on ``root``; yields the page URL."""
    port, token = free_port(), secrets.token_hex(8)
    env = {**os.environ, "WFNB_WORKSPACE": str(root / "examples"), "WFNB_USER": "tester"}
    log = open(root / "lab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", app, "--no-browser", f"--port={port}",
         f"--ServerApp.token={token}", "--ServerApp.ip=127.0.0.1", "--allow-root",
         f"--ServerApp.root_dir={root}"], env=env, stdout=log, stderr=subprocess.STDOUT)

    def up() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api?token={token}", timeout=2)
            return True
        except OSError:
            return False
    try:
        poll(up, timeout=90, interval=0.3, what="JupyterLab to answer")
        yield f"http://127.0.0.1:{port}/{path}?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def workspace_copy(root: Path) -> Path:
    shutil.copytree(EXAMPLES, root / "examples",
                    ignore=shutil.ignore_patterns(".wfnb", "__pycache__"))
    (root / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "Gallery.ipynb", root / "notebooks" / "Gallery.ipynb")
    return root


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory) -> Path:
    return workspace_copy(tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def lab(lab_root):
    """JupyterLab 4 on a copy of the gallery notebook and the example workspace."""
    yield from serve(lab_root, "jupyterlab", "lab/tree/notebooks/Gallery.ipynb")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (one per test module)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


def accept_dialog(page) -> None:
    """Notebook 7 sometimes asks which kernel to use while it starts: take its default."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count() and dialog.first.is_visible():
        page.screenshot(path=str(SHOTS / "dialog.png"))
        dialog.first.locator(".jp-Dialog-button.jp-mod-accept").click()
        dialog.first.wait_for(state="detached")


@contextlib.contextmanager
def gallery_open(browser, url: str, wait_idle: bool = True):
    """A page on the gallery notebook, all cells run, the cards drawn. (Notebook 7 shows no
    "Idle" text; cells run there once the kernel is up, as they are queued.)"""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    try:
        page.goto(url)
        page.wait_for_selector(".jp-Notebook")
        if wait_idle:
            page.wait_for_function("() => document.body.innerText.includes('Idle')",
                                   timeout=90_000)
        else:  # Notebook 7 may first ask for the kernel
            try:
                page.wait_for_selector(".jp-Dialog", timeout=5_000)
            except playwright_api.TimeoutError:
                pass
        # Run All Cells, again if the kernel was not ready to take them (Notebook 7 shows no
        # status text to wait for): each try waits for the cards with a deadline
        for attempt in range(4):
            accept_dialog(page)
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            try:
                page.wait_for_selector(".wfnb-card", timeout=30_000)
                break
            except playwright_api.TimeoutError:
                if attempt == 3:
                    raise
        news = page.locator(".jp-toast-button:text-is('No')")  # JupyterLab's news question
        if news.count():
            news.first.click()
        yield page
    finally:
        page.close()


@pytest.fixture(scope="module")
def lab_page(browser, lab):
    with gallery_open(browser, lab) as opened:
        yield opened


def card(lab_page, workflow):
    return lab_page.locator(f".wfnb-card[data-workflow='{workflow}']")


def field(lab_page, name):
    return lab_page.locator(f".wfnb-run-dialog .wfnb-field[data-field='{name}']")


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
