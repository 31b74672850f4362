"""Rerun from failure in a notebook cell's Run Details, in real JupyterLab and Chromium: the
new run completes, its first step shown as reused from the failed run; a changed parameter
is refused in the dialog's one line until the force box is ticked."""
from __future__ import annotations

import nbformat
import pytest

from tests.browser.lab import SHOTS, serve
from tests.helpers import WorkspaceFactory
from tests.server.test_api import FRAGILE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def failed(tmp_path_factory):
    """A workspace (where ``serve`` points WFNB_WORKSPACE) with one failed run of
    ``fragile``, and a notebook showing its details; yields (lab URL, run id)."""
    root = tmp_path_factory.mktemp("resume")
    factory = WorkspaceFactory(root / "examples")
    factory.module("fragile", FRAGILE)
    down = factory.root / "workflows" / "down"
    down.touch()
    run = factory.open(user="tester").run("fragile", n=3)
    assert run.status == "Failed"
    down.unlink()  # what made it fail is fixed: resuming it completes
    (root / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f'import os, wfnb\nwfnb.open(os.environ["WFNB_WORKSPACE"]).run_details("{run.id}")')],
        metadata={"kernelspec": {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}})  # no kernel question
    nbformat.write(nb, root / "notebooks" / "Resume.ipynb")
    for url in serve(root, "jupyterlab", "lab/tree/notebooks/Resume.ipynb"):
        yield url, run.id


@pytest.fixture(scope="module")
def page(browser, failed):
    """The notebook, run: the failed run's details in its cell."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    try:
        page.goto(failed[0])
        page.wait_for_selector(".jp-Notebook")
        page.wait_for_function("() => document.body.innerText.includes('Idle')",
                               timeout=90_000)
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        page.wait_for_selector("button.wfnb-resume")
        yield page
    finally:
        page.close()


def resume(page) -> None:
    """Rerun from failure, on the failed run's details (the cell's first view)."""
    page.locator("button.wfnb-resume").first.click()
    page.wait_for_selector(".wfnb-title:text-is('Resume from failure: Fragile')")


def test_rerun_from_failure_in_a_cell_completes_with_the_first_step_reused(page, failed):
    parent = failed[1]
    resume(page)
    assert "steps that completed in it are reused" in page.inner_text(".wfnb-rerun-of")
    page.click("button.wfnb-start")
    page.click("button.wfnb-details")  # the new run's details
    # the cell keeps the failed run's details; the new run's open below them
    shown = page.locator(".wfnb-run-details").filter(
        has=page.locator(".wfnb-run-summary", has_text="Completed"))
    shown.wait_for()
    summary = shown.locator(".wfnb-run-summary").inner_text()
    assert f"resumed from the failure of {parent}" in summary
    first = shown.locator("tr.wfnb-task[data-step='first']").inner_text()
    assert "reused from" in first and parent in first
    assert "reused" not in shown.locator("tr.wfnb-task[data-step='second']").inner_text()
    page.screenshot(path=str(SHOTS / "resume-from-failure.png"))


def test_a_changed_param_is_refused_in_one_line_then_force_runs_it(page):
    resume(page)
    box = page.locator(".wfnb-run-dialog .wfnb-field[data-field='n'] input")
    box.fill("5")
    page.click("button.wfnb-start")
    message = page.locator(".wfnb-run-dialog .wfnb-message")
    message.wait_for()
    assert "first read n" in message.inner_text() and "\n" not in message.inner_text()
    page.check(".wfnb-run-dialog input.wfnb-force-box")
    page.click("button.wfnb-start")
    page.click("button.wfnb-details")
    shown = page.locator(".wfnb-run-details").filter(
        has=page.locator(".wfnb-args", has_text='"n":5')).filter(
        has=page.locator(".wfnb-run-summary", has_text="Completed"))
    shown.wait_for()
    assert "reused" not in shown.locator("tbody").inner_text()  # force: all ran again
