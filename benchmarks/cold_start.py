"""Cold start: how long a fresh process takes to show the first page, against importing the
libraries wfnb builds on.

Each figure is one fresh Python process (``python -c ...``), repeated ``--reps`` times with
the three kinds interleaved, so that noise hits them alike. A process times itself from its
first line to the end of the work (the interpreter's own start-up is the same for all three
and is left out); the whole process, start to exit, is shown beside it.

* **baseline**: ``import duckdb, pandas``;
* **first page**: ``import wfnb; ws = wfnb.open(copy of examples/); ws.workflows();
  ws.search_runs(limit=25)``, what the runs table and the gallery need first;
* **gallery**: the same, then ``ws.gallery()`` (the gallery's state built from the engine and
  its widgets made; ipywidgets works without a kernel).

The workspace is a copy of ``examples/`` in a temporary folder, opened once before timing (its
history created, its modules' bytecode cached, in the temporary folder through
``PYTHONPYCACHEPREFIX``), as a workspace in use is. Target: the first
page within 2x of the baseline. It then prints the 10 slowest imports (cumulative, from
``python -X importtime``) of ``import wfnb`` and of the first-page script.

Run from the repository root::

    .venv/bin/python benchmarks/cold_start.py              # 15 repetitions, ~1 minute
    .venv/bin/python benchmarks/cold_start.py --reps 5
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0

PRELUDE = "import time as _t; _t0 = _t.perf_counter()\n"
REPORT = "print('__elapsed__', _t.perf_counter() - _t0)\n"
WORK = {
    "baseline": "import duckdb, pandas\n",
    "first page": ("import wfnb\nws = wfnb.open({root!r})\nws.workflows()\n"
                   "ws.search_runs(limit=25)\n"),
    "gallery": ("import wfnb\nws = wfnb.open({root!r})\nws.workflows()\n"
                "ws.search_runs(limit=25)\ng = ws.gallery()\n"
                "assert g.cards.cards and not g.cards.error, g.cards.error\n"),
}


ENV = dict(os.environ)
CWD = {"dir": str(ROOT)}  # a folder without a wfnb package in it (set in main)


class Failed(Exception):
    """A timed process exited with an error (its last line of stderr)."""


def once(code: str) -> tuple[float, float]:
    """(seconds the process timed itself, seconds from start to exit)."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=CWD["dir"], env=ENV)
    whole = time.perf_counter() - started
    if out.returncode != 0:
        raise Failed((out.stderr.strip().splitlines() or ["(no output)"])[-1])
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("__elapsed__"))
    return float(line.split()[1]), whole


def slowest_imports(code: str, n: int = 10) -> list[tuple[float, float, str]]:
    """The ``n`` imports with the largest cumulative time: (cumulative s, self s, module)."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                         capture_output=True, text=True, cwd=CWD["dir"], env=ENV)
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line[len("import time:"):].split("|")
        rows.append((int(cumulative) / 1e6, int(own) / 1e6, name.rstrip()))
    return sorted(rows, reverse=True)[:n]


def spread(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="wfnb-cold-"))
    # bytecode cached as in any installation (site-packages has it), but in the temporary
    # folder: a checkout or a shell may say not to write it (PYTHONDONTWRITEBYTECODE), and
    # compiling wfnb's and the workflows' modules at every start would be counted
    ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    ENV["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    # `python -c` puts its folder first on the path: not the repository's, so that wfnb is
    # the one installed (or the one PYTHONPATH names, to time another version)
    CWD["dir"] = str(tmp)
    try:
        root = tmp / "examples"
        shutil.copytree(ROOT / "examples", root,
                        ignore=shutil.ignore_patterns(".wfnb", "__pycache__", "*.pyc"))
        codes = {k: PRELUDE + v.format(root=str(root)) + REPORT for k, v in WORK.items()}
        for kind, code in list(codes.items()):  # untimed: history, bytecode, disk cache
            try:
                once(code)
            except Failed as exc:
                if kind != "gallery":
                    sys.exit(f"{kind} failed: {exc}")
                print(f"gallery left out, it fails: {exc}")  # the views are not the engine
                del codes[kind]
        inside: dict[str, list[float]] = {k: [] for k in codes}
        whole: dict[str, list[float]] = {k: [] for k in codes}
        for _ in range(args.reps):
            for kind, code in codes.items():
                t_in, t_whole = once(code)
                inside[kind].append(t_in)
                whole[kind].append(t_whole)

        base = statistics.median(inside["baseline"])
        print(f"fresh processes, {args.reps} repetitions each (Python {sys.version.split()[0]})")
        print()
        print(f"{'':<12} {'median s':>9} {'min-max s':>13} {'ratio':>7} "
              f"{'whole process s':>16}")
        for kind in codes:
            med = statistics.median(inside[kind])
            print(f"{kind:<12} {med:>9.3f} {spread(inside[kind]):>13} {med / base:>6.2f}x "
                  f"{statistics.median(whole[kind]):>16.3f}")
        ratio = statistics.median(inside["first page"]) / base
        print()
        print(f"first page vs baseline: {ratio:.2f}x (target <= {TARGET_RATIO:g}x: "
              f"{'pass' if ratio <= TARGET_RATIO else 'MISS'})")
        for title, code in (("import wfnb", "import wfnb"),
                            ("the first-page script", codes["first page"])):
            print()
            print(f"10 slowest imports of {title} (python -X importtime, cumulative):")
            for cumulative, own, name in slowest_imports(code):
                print(f"  {cumulative * 1000:8.1f} ms  (self {own * 1000:6.1f} ms)  {name}")
        if args.json:
            print(json.dumps({k: {"median": statistics.median(v), "min": min(v),
                                  "max": max(v)} for k, v in inside.items()}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
