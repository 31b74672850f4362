"""The lab extension in real JupyterLab and Chromium, without a notebook: the Workflows sidebar
shows the gallery (served by the wfnb server extension over the views socket), and the views'
buttons, the palette and the launcher open the other views as main-area tabs."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.browser.lab import SHOTS, serve, workspace_copy
from tests.helpers import poll

pytestmark = pytest.mark.slow

WFNB = str(Path(sys.executable).with_name("wfnb"))
MAIN = "#jp-main-dock-panel"


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory) -> Path:
    return workspace_copy(tmp_path_factory.mktemp("labext"))


@pytest.fixture(scope="module")
def lab_url(lab_root):
    """JupyterLab on the workspace copy, on its default page (no notebook opened)."""
    yield from serve(lab_root, "jupyterlab", "lab")


@pytest.fixture(scope="module")
def page(browser, lab_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(lab_url)
    page.wait_for_selector(".jp-SideBar .lm-TabBar-tab[data-id='wfnb-sidebar']")
    page.errors = errors
    yield page
    page.close()


def api(lab_url: str, path: str):
    """GET a server API path (``api/kernels``) with the page's token."""
    base, token = lab_url.split("/lab?token=")
    with urllib.request.urlopen(f"{base}/{path}?token={token}", timeout=10) as reply:
        return json.loads(reply.read())


def tab(page, label: str):
    return page.locator(f"{MAIN} .lm-TabBar-tab:has(.lm-TabBar-tabLabel:text-is('{label}'))")


def shown_view(page, label: str):
    """The view in the main-area tab called ``label`` (the tab must be the current one)."""
    tab(page, label).wait_for()
    poll(lambda: "lm-mod-current" in (tab(page, label).get_attribute("class") or ""),
         timeout=20, interval=0.1, what=f"the {label!r} tab to be the current one")
    return page.locator(f"{MAIN} .jp-wfnb-View:visible")


def open_sidebar(page):
    sidebar = page.locator("#wfnb-sidebar")
    if not sidebar.is_visible():
        page.click(".jp-SideBar .lm-TabBar-tab[data-id='wfnb-sidebar']")
    sidebar.wait_for(state="visible")
    return sidebar


def test_sidebar_shows_the_gallery_without_a_notebook(page, lab_url, lab_root):
    listed = json.loads(subprocess.run(
        [WFNB, "workflows", "--json", "--workspace", str(lab_root / "examples")],
        capture_output=True, text=True, check=True).stdout)
    expected = sorted(w["title"] for w in listed)
    assert expected, "the example workspace lists no workflow"

    tab_node = page.locator(".jp-SideBar .lm-TabBar-tab[data-id='wfnb-sidebar']")
    assert tab_node.get_attribute("title") == "Workflows"
    sidebar = open_sidebar(page)
    sidebar.locator(".wfnb-card").first.wait_for()
    poll(lambda: sorted(sidebar.locator(".wfnb-card-title").all_inner_texts()) == expected,
         timeout=20, interval=0.1, what=f"the cards {expected}")
    page.screenshot(path=str(SHOTS / "lab-extension-sidebar.png"))

    # no cell was written or run: no notebook is open and no kernel started
    assert page.locator(".jp-Notebook").count() == 0
    assert api(lab_url, "api/kernels") == []
    assert not page.errors, page.errors


def test_view_runs_opens_one_runs_tab(page):
    sidebar = open_sidebar(page)
    sidebar.locator(".wfnb-view-all").click()
    view = shown_view(page, "Workflow runs")
    view.locator(".wfnb-runs-table").wait_for()
    page.screenshot(path=str(SHOTS / "lab-extension-runs-tab.png"))

    # asked again, the tab is brought forward, not opened twice
    sidebar.locator(".wfnb-card[data-workflow='daily_sales'] .wfnb-view-runs").click()
    shown_view(page, "Runs: daily_sales").locator(".wfnb-runs-table").wait_for()
    sidebar.locator(".wfnb-view-all").click()
    shown_view(page, "Workflow runs")
    assert tab(page, "Workflow runs").count() == 1

    # the view's Close closes its tab
    tab(page, "Runs: daily_sales").click()
    shown_view(page, "Runs: daily_sales").locator(".wfnb-close").click()
    tab(page, "Runs: daily_sales").wait_for(state="detached")
    assert tab(page, "Workflow runs").count() == 1


def test_run_and_editor_open_tabs_named_for_their_workflow(page):
    sidebar = open_sidebar(page)
    card = sidebar.locator(".wfnb-card[data-workflow='daily_sales']")
    card.locator(".wfnb-run").click()
    shown_view(page, "Run daily_sales").locator(".wfnb-run-dialog").wait_for()
    card.locator(".wfnb-open-editor").click()
    shown_view(page, "Editor: daily_sales").locator(".wfnb-editor").wait_for()


def test_palette_and_launcher(page):
    page.click("#jp-main-statusbar")  # the page has the keyboard
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    palette.wait_for(state="visible")
    commands = {"wfnb:open-sidebar": "Workflows: Open sidebar", "wfnb:runs": "Workflows: View runs",
                "wfnb:inbox": "Workflows: Approvals", "wfnb:schedules": "Workflows: Schedules"}
    palette.fill("Workflows")
    for command, label in commands.items():
        item = page.locator(f".lm-CommandPalette-item[data-command='{command}']")
        item.wait_for(state="visible")
        assert item.locator(".lm-CommandPalette-itemLabel").inner_text() == label
    palette.fill("Workflows: Approvals")
    page.locator(".lm-CommandPalette-item[data-command='wfnb:inbox']").click()
    shown_view(page, "Approvals").locator(".wfnb-inbox").wait_for()

    page.locator(f"{MAIN} .lm-TabBar-addButton:visible").first.click()  # a new launcher
    page.locator(".jp-Launcher:visible").get_by_role("button", name="Workflows", exact=True).click()
    shown_view(page, "Workflow runs")
    assert tab(page, "Workflow runs").count() == 1
    assert not page.errors, page.errors


def test_views_come_back_after_the_socket_drops(browser, lab_url):
    """The socket closes under the page (a server restart, a proxy): the page connects again,
    after a pause, and its views are opened again and answer."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    routes = []

    def through(route):  # to the real server, kept to be closed by the test
        route.connect_to_server()
        routes.append(route)
    page.route_web_socket(re.compile(r"/wfnb/api/views"), through)
    try:
        page.goto(lab_url)
        page.wait_for_selector(".jp-SideBar .lm-TabBar-tab[data-id='wfnb-sidebar']")
        sidebar = open_sidebar(page)
        sidebar.locator(".wfnb-card").first.wait_for()
        assert len(routes) == 1
        routes[0].close(code=1001, reason="going away")
        # (a call into the page lets Playwright run the route handler meanwhile)
        poll(lambda: page.evaluate("1") and len(routes) == 2, timeout=20, interval=0.1,
             what="the page to connect again")
        sidebar.locator(".wfnb-card[data-workflow='daily_sales'] .wfnb-view-runs").click()
        shown_view(page, "Runs: daily_sales").locator(".wfnb-runs-table").wait_for()
        assert len(routes) == 2  # one socket for all the views
    finally:
        page.close()
