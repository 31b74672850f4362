"""How long after its cell runs does the gallery appear, in real JupyterLab, in a fresh kernel?

Against a baseline measured the same way in the same run: a cell that imports duckdb and
pandas and prints a line. Each trial starts a new kernel (the notebook's session is deleted
and the page reloaded), waits for it to be idle, then times Run All Cells until the cards (or
the printed line) are on the screen.

    .venv/bin/python benchmarks/first_paint.py --trials 5

Needs Debian's chromium (./dev test installs it).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser.lab import CHROMIUM, FLAGS, playwright_api, serve, workspace_copy  # noqa: E402

BASELINE = {"cells": [{"cell_type": "code", "execution_count": None, "id": "b1", "metadata": {},
                       "outputs": [], "source": "import duckdb, pandas\nprint('baseline ready')"}],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def drop_sessions(base: str, token: str) -> None:
    """Delete every kernel session, so the next page load starts a fresh kernel."""
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}") as r:
        sessions = json.load(r)
    for s in sessions:
        req = urllib.request.Request(f"{base}/api/sessions/{s['id']}?token={token}",
                                     method="DELETE")
        urllib.request.urlopen(req).close()


def trial(page, url: str, done_selector: str) -> float:
    page.goto(url)
    page.wait_for_selector(".jp-Notebook")
    page.wait_for_function("() => document.body.innerText.includes('Idle')", timeout=120_000)
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    started = time.perf_counter()
    page.wait_for_selector(done_selector, timeout=120_000)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = workspace_copy(Path(tmp))
        (root / "notebooks" / "Baseline.ipynb").write_text(json.dumps(BASELINE))
        served = serve(root, "jupyterlab", "lab/tree/notebooks/Gallery.ipynb")
        gallery_url = next(served)
        base, token = gallery_url.split("/lab/")[0], gallery_url.split("token=")[1]
        baseline_url = gallery_url.replace("Gallery.ipynb", "Baseline.ipynb")
        times: dict[str, list[float]] = {"baseline": [], "gallery": []}
        try:
            with playwright_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                for i in range(args.trials + 1):  # the first round warms disk caches: dropped
                    for name, url, sel in (
                            ("baseline", baseline_url, ".jp-OutputArea-output:has-text('baseline ready')"),
                            ("gallery", gallery_url, ".wfnb-card")):
                        drop_sessions(base, token)
                        took = trial(page, url, sel)
                        if i:
                            times[name].append(took)
                browser.close()
        finally:
            served.close()
    b, g = statistics.median(times["baseline"]), statistics.median(times["gallery"])
    print(f"fresh kernel, Run All Cells until shown, median of {args.trials} "
          f"(min-max):")
    for name, xs in times.items():
        print(f"  {name:9} {statistics.median(xs):6.2f} s  ({min(xs):.2f}-{max(xs):.2f})")
    print(f"  gallery / baseline: {g / b:.2f}x; the gallery takes {g - b:+.2f} s more than "
          "importing duckdb and pandas")


if __name__ == "__main__":
    main()
