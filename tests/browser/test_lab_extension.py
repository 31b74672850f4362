"""The lab extension in real JupyterLab and Chromium, without a cell written: the Workflows
sidebar shows the gallery (served by the wfnb server extension over the views socket), the
views' buttons, the palette and the launcher open the other views as main-area tabs, the status
bar and the notifications follow my runs and what waits for my decision, notebooks and files
open their workflow's run form, and an executed notebook opens as a document.

One JupyterLab serves a copy of the examples with roles (tests.helpers.TEAM_ROLES), and three
people log in with their own tokens (tests.identity.TokenUsers), each in a browser context of
their own: ana (analyst: runs workflows), lea (lead: approves, may not run) and root (admin)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import wfnb
from tests.browser.lab import (
    SHOTS,
    contrast_audit,
    luminance,
    playwright_api,
    serve,
    set_theme,
    theme_colour,
    workspace_copy,
)
from tests.helpers import TEAM_ROLES, poll

pytestmark = pytest.mark.slow

WFNB = str(Path(sys.executable).with_name("wfnb"))
MAIN = "#jp-main-dock-panel"
USERS = ("ana", "lea", "root")
SIDEBAR_TAB = ".jp-SideBar .lm-TabBar-tab[data-id='wfnb-sidebar']"
STATUS = "#jp-main-statusbar .jp-wfnb-Status"

# two workflows in one file: a sign-off without approver fields (approved from a
# notification) and one with a cost centre (approved in its form)
SIGN_OFFS = '''
from wfnb import Param, Workflow

quick_sign = Workflow("quick_sign", title="Quick sign-off",
                      description="Prepare, a lead signs off, book.")

@quick_sign.step()
def prepare():
    return 1

quick_sign.approval("sign", after=["prepare"], approvers=["lead"], description="Check it")

@quick_sign.step(after=["sign"])
def book(prepare):
    return prepare

booked = Workflow("booked_sign", title="Booked sign-off",
                  description="A lead signs off and books it to a cost centre.")

@booked.step()
def ready():
    return 2

booked.approval("book", after=["ready"], approvers=["lead"],
                inputs=[Param("cost_centre", type="choice", choices=["OPS", "R&D"],
                              required=True)])
'''


# a chain whose last step fails while a flag file exists (resumed from its failure)
RESUMABLE = '''
from pathlib import Path
from wfnb import Workflow

resumable = Workflow("resumable", title="Resumable")

@resumable.step()
def fetch():
    return [3, 4]

@resumable.step(after=["fetch"])
def store(fetch):
    if (Path(__file__).parent / "resumable-down").exists():
        raise RuntimeError("the store is down")
    return sum(fetch)
'''


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory) -> Path:
    root = workspace_copy(tmp_path_factory.mktemp("labext"))
    toml = root / "examples" / "wfnb.toml"
    toml.write_text(toml.read_text() + "\n[roles]" + TEAM_ROLES.split("[roles]", 1)[1])
    (root / "examples" / "workflows" / "sign_offs.py").write_text(SIGN_OFFS)
    (root / "examples" / "workflows" / "resumable.py").write_text(RESUMABLE)
    return root


@pytest.fixture(scope="module")
def lab_url(lab_root):
    """JupyterLab on the workspace copy, on its default page (no notebook opened)."""
    yield from serve(lab_root, "jupyterlab", "lab", users={f"{u}-token": u for u in USERS})


@pytest.fixture(scope="module")
def history(lab_root):
    """The history, read in this process as the admin."""
    return wfnb.open(lab_root / "examples", user="root")


def login(url: str, user: str) -> str:
    return f"{url}?token={user}-token"


def open_page(browser, lab_url: str, user: str, path: str = ""):
    """A page of its own browser context, logged in as ``user``, on a JupyterLab workspace
    (layout) of their own (as if each had their own server), showing the file at ``path``
    if given; the sidebar's tab and the status bar are there."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(login(f"{lab_url}/workspaces/{user}" + (f"/tree/{path}" if path else ""), user))
    page.wait_for_selector(SIDEBAR_TAB)
    page.wait_for_selector(STATUS)
    return page


@pytest.fixture(scope="module")
def page(browser, lab_url):
    """root's page (the admin: every view opens)."""
    page = open_page(browser, lab_url, "root")
    yield page
    page.close()


@pytest.fixture(scope="module")
def ana(browser, lab_url):
    page = open_page(browser, lab_url, "ana")
    yield page
    page.close()


@pytest.fixture(scope="module")
def lea(browser, lab_url):
    page = open_page(browser, lab_url, "lea")
    yield page
    page.close()


def api(lab_url: str, method: str, path: str, user: str, body: dict | None = None):
    """(status, JSON) of a server API call (``api/kernels``, ``wfnb/api/runs``) as ``user``,
    by their token (a token-authenticated request needs no XSRF token)."""
    base = lab_url.rsplit("/lab", 1)[0]
    request = urllib.request.Request(
        f"{base}/{path}", method=method, headers={"Authorization": f"token {user}-token"},
        data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def start(lab_url: str, user: str, workflow: str, **params) -> str:
    code, body = api(lab_url, "POST", "wfnb/api/runs", user,
                     {"workflow": workflow, "params": params})
    assert code == 201, body
    return body["run"]["id"]


def reaches(history, run_id: str, *statuses: str, timeout: float = 60) -> None:
    poll(lambda: history.get_run(run_id).status in statuses, timeout=timeout, interval=0.1,
         what=f"run {run_id} to be {' or '.join(statuses)}")


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
        page.click(SIDEBAR_TAB)
    sidebar.wait_for(state="visible")
    return sidebar


def toast(page, run_id: str, text: str = ""):
    """The notification about ``run_id`` (saying ``text``)."""
    return page.locator(f".Toastify__toast:has-text('{run_id}')"
                        + (f":has-text('{text}')" if text else ""))


def status_counts(page) -> tuple[int, int]:
    item = page.locator(STATUS)
    return int(item.get_attribute("data-running")), int(item.get_attribute("data-approvals"))


def settled(page) -> None:
    """No toast is sliding in or out (a screenshot shows them where they stay)."""
    page.wait_for_function("""() => [...document.querySelectorAll('.Toastify__toast')]
        .every((t) => t.getAnimations().every((a) => a.playState !== 'running'))""")


def hide_toasts(page) -> None:
    def hidden() -> bool:
        close = page.locator(".Toastify__toast .jp-Notification-Toast-Close")
        if close.count():
            try:  # it may be gone by now
                close.first.click(timeout=2_000)
            except playwright_api.TimeoutError:
                pass
        return page.locator(".Toastify__toast").count() == 0
    poll(hidden, timeout=30, interval=0.2, what="the notifications to hide")


# ---- the sidebar, tabs, palette, launcher -----------------------------------------------------
def test_sidebar_shows_the_gallery_without_a_notebook(page, lab_url, lab_root):
    listed = json.loads(subprocess.run(
        [WFNB, "workflows", "--json", "--workspace", str(lab_root / "examples")],
        capture_output=True, text=True, check=True,
        env={**os.environ, "WFNB_USER": "root"}).stdout)
    expected = sorted(w["title"] for w in listed)
    assert expected, "the example workspace lists no workflow"

    tab_node = page.locator(SIDEBAR_TAB)
    assert tab_node.get_attribute("title") == "Workflows"
    # a fresh JupyterLab shows the sidebar: nothing to click
    sidebar = page.locator("#wfnb-sidebar")
    sidebar.wait_for(state="visible")
    sidebar.locator(".wfnb-card").first.wait_for()
    poll(lambda: sorted(sidebar.locator(".wfnb-card-title").all_inner_texts()) == expected,
         timeout=20, interval=0.1, what=f"the cards {expected}")
    assert page.locator(STATUS).inner_text() == "Workflows: idle"
    page.screenshot(path=str(SHOTS / "lab-sidebar.png"))

    # no cell was written or run: no notebook is open and no kernel started
    assert page.locator(".jp-Notebook").count() == 0
    assert api(lab_url, "GET", "api/kernels", "root") == (200, [])
    assert not page.errors, page.errors


def test_view_runs_opens_one_runs_tab(page):
    sidebar = open_sidebar(page)
    sidebar.locator(".wfnb-view-all").click()
    view = shown_view(page, "Workflow runs")
    view.locator(".wfnb-runs-table").wait_for()

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
        page.goto(login(lab_url, "root"))
        page.wait_for_selector(SIDEBAR_TAB)
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


# ---- running, approving, refusing -------------------------------------------------------------
def test_a_run_from_a_card_shows_a_form_error_then_completes_in_its_tab(ana, history):
    card = open_sidebar(ana).locator(".wfnb-card[data-workflow='daily_sales']")
    card.locator(".wfnb-run").click()
    dialog = shown_view(ana, "Run daily_sales").locator(".wfnb-run-dialog")

    def field(name: str):
        return dialog.locator(f".wfnb-field[data-field='{name}']")
    field("date").locator("input").fill("2026-11-23")
    field("rows").locator("input").fill("0")
    dialog.locator("button.wfnb-start").click()
    error = field("rows").locator(".wfnb-field-error")
    error.wait_for()
    assert error.inner_text().strip(), "the error at the field says nothing"
    assert dialog.locator(".wfnb-run-status").count() == 0  # nothing started

    field("rows").locator("input").fill("500")
    dialog.locator("button.wfnb-start").click()
    dialog.locator(".wfnb-run-status:has-text('Completed')").wait_for()
    run_id = dialog.locator(".wfnb-run-status code").inner_text()
    run = history.get_run(run_id)
    assert (run.workflow, run.status, run.created_by) == ("daily_sales", "Completed", "ana")
    assert run.params["rows"] == 500
    # ana started it: the end of her run is announced to her
    toast(ana, run_id, "ended: Completed").wait_for()
    settled(ana)
    ana.screenshot(path=str(SHOTS / "lab-run-dialog.png"))
    assert not ana.errors, ana.errors


def test_the_status_bar_counts_and_an_approver_approves_from_the_notification(
        ana, lea, lab_url, history):
    assert status_counts(lea) == (0, 0)
    open_sidebar(lea)
    run_id = start(lab_url, "ana", "quick_sign")

    # ana's run is counted on her status bar; lea is told it waits for her, and counts it
    poll(lambda: status_counts(ana) == (1, 0), timeout=30, interval=0.1,
         what="ana's status bar to count her run")
    notice = toast(lea, run_id, "waits for your decision")
    notice.wait_for()
    assert status_counts(lea) == (0, 1)
    assert lea.locator(STATUS).inner_text() == "1 to approve"
    assert "⟳ 1 running" == ana.locator(STATUS).inner_text()
    assert "quick_sign" in notice.inner_text() and "step sign" in notice.inner_text()
    settled(lea)
    lea.screenshot(path=str(SHOTS / "lab-notification.png"))

    # her status bar opens the Approvals tab, which lists it
    lea.locator(STATUS).click()
    inbox = shown_view(lea, "Approvals").locator(".wfnb-inbox")
    inbox.locator(f".wfnb-inbox-item[data-run='{run_id}']").wait_for()

    notice.locator(".jp-toast-button:text-is('Approve')").click()
    reaches(history, run_id, "Completed")
    decided = {t.step: t for t in history.get_run(run_id).tasks}["sign"]
    assert decided.status == "Completed"
    toast(lea, run_id, "Approved").wait_for()
    toast(ana, run_id, "ended: Completed").wait_for()  # the end of ana's run, to ana
    poll(lambda: status_counts(ana) == (0, 0) and status_counts(lea) == (0, 0), timeout=30,
         interval=0.1, what="both status bars to count nothing")
    inbox.locator(f".wfnb-inbox-item[data-run='{run_id}']").wait_for(state="detached")
    # the waiting notification slides away, and is not raised again (once per run and state)
    poll(lambda: toast(lea, run_id, "waits for your decision").count() == 0, timeout=15,
         interval=0.1, what="the waiting notification to go")
    assert not lea.errors, lea.errors


def test_reject_from_the_notification_asks_for_a_comment(ana, lea, lab_url, history):
    run_id = start(lab_url, "ana", "quick_sign")
    notice = toast(lea, run_id, "waits for your decision")
    notice.locator(".jp-toast-button:text-is('Reject')").click()
    dialog = lea.locator(".jp-Dialog")
    dialog.locator("input").fill("numbers do not add up")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    reaches(history, run_id, "Rejected")
    assert history.sql(
        "SELECT data->>'comment' AS c FROM events WHERE kind = 'approval' AND run_id = ?",
        [run_id])["c"].tolist() == ["numbers do not add up"]
    toast(ana, run_id, "ended: Rejected").wait_for()


def test_an_approval_with_fields_is_approved_in_its_form(lea, lab_url, history):
    run_id = start(lab_url, "ana", "booked_sign")
    notice = toast(lea, run_id, "waits for your decision")
    notice.locator(".jp-toast-button:text-is('Approve…')").click()
    details = shown_view(lea, f"Run {run_id}")
    details.locator(".wfnb-approvals").wait_for()  # the form with the cost centre
    assert history.get_run(run_id).status == "Waiting for Approval"
    api(lab_url, "POST", f"wfnb/api/runs/{run_id}/cancel", "root", {})


def test_a_user_without_run_workflow_is_refused_by_the_server(lea, history):
    sidebar = open_sidebar(lea)
    card = sidebar.locator(".wfnb-card[data-workflow='daily_sales']")
    card.wait_for()
    assert card.locator(".wfnb-view-runs").count() == 1
    assert sidebar.locator(".wfnb-run").count() == 0  # no Run button on any card

    # the server refuses it all the same: a POST from her page, as JupyterLab would send it
    answer = lea.evaluate("""async () => {
        const xsrf = document.cookie.split('; ').find((c) => c.startsWith('_xsrf='));
        const reply = await fetch('/wfnb/api/runs', {
          method: 'POST', credentials: 'same-origin',
          headers: {'Content-Type': 'application/json',
                    'X-XSRFToken': decodeURIComponent(xsrf.slice('_xsrf='.length))},
          body: JSON.stringify({workflow: 'daily_sales', params: {date: '2026-11-23'}})});
        return {status: reply.status, body: await reply.json()};
    }""")
    assert answer["status"] == 403, answer
    assert answer["body"]["capability"] == "RUN_WORKFLOW"
    assert "RUN_WORKFLOW is missing for user 'lea'" in answer["body"]["message"]
    # recorded; and it is her only refusal: the shell asks nothing she may not
    denied = history.sql(
        "SELECT data->>'capability' AS cap FROM events WHERE kind = 'denied' "
        "AND actor = 'lea'")
    assert denied["cap"].tolist() == ["RUN_WORKFLOW"]
    assert all(run.created_by != "lea" for run in history.runs(limit=500))


# ---- notebooks and files ------------------------------------------------------------------------
def test_the_executed_notebook_of_a_notebook_step_opens_in_a_lab_tab(ana, lab_url, history):
    run_id = start(lab_url, "ana", "mixed_report", region="EU")
    reaches(history, run_id, "Completed", timeout=120)
    open_sidebar(ana).locator(".wfnb-view-all").click()
    runs = shown_view(ana, "Workflow runs")
    row = runs.locator(f".wfnb-row[data-run='{run_id}']")
    row.locator(".wfnb-status:text-is('Completed')").wait_for()
    hide_toasts(ana)
    ana.screenshot(path=str(SHOTS / "lab-runs-tab.png"))
    row.locator(".wfnb-view-details").click()
    details = shown_view(ana, f"Run {run_id}")
    details.locator(".wfnb-task[data-step='report']").click()
    link = details.locator(".wfnb-open-notebook")
    link.wait_for()
    assert link.inner_text() == f".wfnb/artifacts/{run_id}/report-1.ipynb"
    hide_toasts(ana)
    ana.screenshot(path=str(SHOTS / "lab-details-tab.png"))

    link.click()  # the executed copy, read-only, as a notebook document
    notebook = ana.locator(f"{MAIN} .jp-NotebookPanel:visible")
    notebook.locator(".jp-OutputArea-output:has-text('EU: 120 rows -> total 240')").wait_for()
    assert tab(ana, "report-1.ipynb").count() == 1
    assert notebook.get_by_text("notebook is read-only").is_visible()
    assert not ana.errors, ana.errors


def test_run_as_workflow_from_the_notebook_toolbar_and_the_file_browser(browser, lab_url):
    page = open_page(browser, lab_url, "ana", "examples/workflows/sales_cells.ipynb")
    try:
        button = page.locator(f"{MAIN} .jp-NotebookPanel:visible .jp-wfnb-RunAsWorkflow")
        button.wait_for()
        button.click()
        shown_view(page, "Run sales_cells").locator(".wfnb-run-dialog").wait_for()

        # the file browser: a declared workflow, a module of two, a module that is not one
        listing = page.locator("#filebrowser .jp-DirListing-content")

        def browser_shown() -> bool:  # its tab toggles it: click until it shows
            if not listing.is_visible():
                page.click(".jp-SideBar .lm-TabBar-tab[data-id='filebrowser']")
            return listing.is_visible()
        poll(browser_shown, timeout=20, interval=0.5, what="the file browser to show")

        def menu_of(name: str):
            page.keyboard.press("Escape")
            listing.locator(f".jp-DirListing-item:has-text('{name}')").click(button="right")
            menu = page.locator(".lm-Menu").last
            menu.wait_for()
            # (a command that is not visible stays in the menu, hidden)
            return menu.locator(".lm-Menu-item:not(.lm-mod-hidden) "
                                ".lm-Menu-itemLabel:text-is('Run Workflow')")

        menu_of("weekly_report.wfnb.toml").click()
        shown_view(page, "Run weekly_report").locator(".wfnb-run-dialog").wait_for()
        assert menu_of("regional_sales.py").count() == 0
        menu_of("sign_offs.py").click()
        choice = page.locator(".jp-Dialog")
        assert "sign_offs.py defines 2 workflows" in choice.inner_text()
        choice.locator("select").select_option("Quick sign-off (quick_sign)")
        choice.locator(".jp-Dialog-button.jp-mod-accept").click()
        shown_view(page, "Run quick_sign").locator(".wfnb-run-dialog").wait_for()

        # a notebook that is not a workflow has no button
        page.keyboard.press("Escape")
        page.locator("#filebrowser .jp-BreadCrumbs-item:text-is('examples')").click()
        listing.locator(".jp-DirListing-item:has-text('notebooks')").dblclick()
        listing.locator(".jp-DirListing-item:has-text('report.ipynb')").dblclick()
        tab(page, "report.ipynb").wait_for()
        panel = page.locator(f"{MAIN} .jp-NotebookPanel:visible")
        panel.locator(".jp-NotebookPanel-toolbar").wait_for()
        assert panel.locator(".jp-wfnb-RunAsWorkflow").count() == 1
        assert not panel.locator(".jp-wfnb-RunAsWorkflow").is_visible()
        assert not page.errors, page.errors
    finally:
        page.close()


# ---- themes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_rerun_from_failure_in_a_details_tab_reuses_and_says_so(ana, lab_url, lab_root,
                                                                 history, theme):
    set_theme(ana, theme)
    down = lab_root / "examples" / "workflows" / "resumable-down"
    down.touch()
    failed = start(lab_url, "ana", "resumable")
    reaches(history, failed, "Failed")
    down.unlink()
    open_sidebar(ana).locator(".wfnb-view-all").click()
    runs = shown_view(ana, "Workflow runs")
    runs.locator(f".wfnb-row[data-run='{failed}'] .wfnb-view-details").click()
    details = shown_view(ana, f"Run {failed}")
    details.locator(".wfnb-task[data-step='store'] .wfnb-rerun-here").wait_for()
    details.locator(".wfnb-resume").click()
    dialog = shown_view(ana, "Resume resumable")
    help_text = dialog.locator(".wfnb-rerun-of").inner_text()
    assert "The steps that completed in it are reused, not run again." in help_text
    assert dialog.locator(".wfnb-title").inner_text() == "Resume from failure: Resumable"
    dialog.locator(".wfnb-start").click()
    dialog.locator(".wfnb-run-status .wfnb-status:text-is('Completed')").wait_for()
    child = history.runs(workflow="resumable", limit=1)[0]
    assert (child.parent_id, child.record.rerun_mode) == (failed, "from_failure")
    dialog.locator(".wfnb-details").click()
    shown = shown_view(ana, f"Run {child.id}")
    fetch = shown.locator(".wfnb-task[data-step='fetch']")
    fetch.locator(".wfnb-reused").wait_for()
    assert fetch.locator(".wfnb-reused").inner_text().strip() == f"reused from {failed}"
    assert shown.locator(".wfnb-task[data-step='store'] .wfnb-reused").count() == 0
    assert "resumed from the failure of" in shown.locator(".wfnb-run-summary").inner_text()
    hide_toasts(ana)
    result = contrast_audit(ana, 4.5, scope=".jp-wfnb-View")
    assert result["checked"] >= 10 and not result["failures"], result["failures"]
    ana.screenshot(path=str(SHOTS / f"lab-resumed-{theme}.png"))
    # Compare with parent: the two runs side by side in a tab
    shown.locator(".wfnb-compare-parent").click()
    compared = shown_view(ana, f"Compare {child.id}")
    store = compared.locator(".wfnb-compare-steps tr[data-step='store']")
    store.wait_for()
    cells = [c.strip() for c in store.locator("td").all_inner_texts()]
    assert cells[0] == "store" and cells[1].startswith("Failed") and \
        cells[2].startswith("Completed"), cells
    assert "reused" in compared.locator(".wfnb-compare-steps tr[data-step='fetch']").inner_text()
    assert compared.locator(".wfnb-same-params").inner_text() == "The same in both runs."
    hide_toasts(ana)
    result = contrast_audit(ana, 4.5, scope=".jp-wfnb-View")
    assert result["checked"] >= 8 and not result["failures"], result["failures"]
    if theme == "dark":
        set_theme(ana, "light")
    for label in (f"Compare {child.id}", f"Run {child.id}", "Resume resumable", f"Run {failed}"):
        tab(ana, label).locator(".lm-TabBar-tabCloseIcon").click()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_shell_reads_in_the_theme(page, lab_url, history, theme):
    set_theme(page, theme)
    run_id = start(lab_url, "ana", "daily_sales", date="2026-11-23")
    reaches(history, run_id, "Completed")
    sidebar = open_sidebar(page)
    sidebar.locator(".wfnb-card").first.wait_for()
    sidebar.locator(".wfnb-view-all").click()
    runs = shown_view(page, "Workflow runs")
    runs.locator(f".wfnb-row[data-run='{run_id}'] .wfnb-view-details").click()
    shown_view(page, f"Run {run_id}").locator(".wfnb-task").first.wait_for()
    hide_toasts(page)

    def audit(view: str) -> None:  # the sidebar, the tab shown and the status bar
        result = contrast_audit(page, 4.5, scope=".jp-wfnb-View, .jp-wfnb-Status")
        assert result["checked"] >= 20, (view, result)
        assert not result["failures"], f"{view}:\n" + "\n".join(
            f"{f['selector']} {f['text']!r}: {f['fg']} on {f['bg']} = {f['ratio']}:1"
            for f in result["failures"])
    audit("run details")
    tab(page, "Workflow runs").click()
    shown_view(page, "Workflow runs").locator(f".wfnb-row[data-run='{run_id}']").wait_for()
    audit("workflow runs")
    # the shell's own parts take the theme's colours
    layout = luminance(theme_colour(page, "--jp-layout-color1"))
    for selector in ("#wfnb-sidebar", f"{MAIN} .jp-wfnb-View:visible"):
        bg = page.locator(selector).first.evaluate("el => getComputedStyle(el).backgroundColor")
        assert abs(luminance(bg) - layout) < 0.01, (selector, bg)
    page.screenshot(path=str(SHOTS / f"lab-{theme}.png"))
    if theme == "dark":
        set_theme(page, "light")  # the other tests' pages share the setting
