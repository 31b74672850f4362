"""Fixtures for the browser tests: JupyterLab on a copy of the examples, and Chromium."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.lab import (
    CHROMIUM,
    FLAGS,
    SHOTS,
    gallery_open,
    playwright_api,
    serve,
    workspace_copy,
)


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


@pytest.fixture(scope="module")
def lab_page(browser, lab):
    with gallery_open(browser, lab) as opened:
        yield opened
