"""Resuming a failed run: what ``ws.rerun(run_id, from_failure=True)`` costs against running
one step.

In a fresh temporary workspace (history in DuckDB) it writes three workflows:

* ``chain20``: 20 steps in a chain, each sleeping ``--step-ms`` (default 50 ms: "real work")
  and returning a JSON result of ``--items`` numbers (1,000: a reused result is read back,
  decoded and copied, not free), or with ``--frames`` a DataFrame of ``--items`` strings
  (pickled to an artifact file); its last step fails while a flag file exists;
* ``chain80``: the same with 80 steps that do no work (only the last one works): what each
  reused step adds, from the difference between the two resumes;
* ``one``: a single step with the same body: the fixed cost of a run plus one executed step,
  the issue's budget for a resumed chain. A rerun also reads its parent run, so the budget
  of a *rerun* is ``ws.rerun`` of a one-step run: that is the baseline of the verdict.

Each repetition, interleaved so noise hits all alike: the chain fails (timed: the whole
chain), the flag is removed, the failed run is resumed from its failure (timed from
``ws.rerun`` until ``run.wait()`` returns, i.e. the ending is durable in the history), then
from the middle step; ``chain80`` fails and is resumed; ``one`` runs, and a one-step run is
rerun (timed the same way). It prints medians, min-max, the ratios, and how many steps each
resumed run executed (its Completed tasks without ``reused_from``, read from the history
with SQL).

    .venv/bin/python benchmarks/resume.py            # about 1 minute
    .venv/bin/python benchmarks/resume.py --quick    # about 25 s
    .venv/bin/python benchmarks/resume.py --frames --items 100000   # DataFrames: ~2 minutes
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

import wfnb

CHAIN = """
    import time
    from pathlib import Path
    from wfnb import Workflow

    FLAG = Path(__file__).parent / "broken"
    wf = Workflow("chain{n}")

    def work(**upstream):
        time.sleep({step_s})
        return {make}

    for i in range({n}):
        wf.step(work, name=f"s{{i}}", after=[f"s{{i - 1}}"] if i else [])

    def last(s{last}):
        time.sleep({last_s})  # the same work as the others: one executed step costs the same
        if FLAG.exists():
            raise RuntimeError("the last step failed")
        return len(s{last})

    wf.step(last, name="last", after=["s{last}"])
"""
ONE = """
    import time
    from wfnb import Workflow

    wf = Workflow("one")

    @wf.step()
    def work():
        time.sleep({step_s})
        return {make}
"""


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def executed(ws: wfnb.Workspace, run_id: str) -> int:
    rows = ws.sql("SELECT count(*) AS n FROM tasks WHERE run_id = ? AND step <> 'Start' "
                  "AND status = 'Completed' AND reused_from IS NULL", [run_id])
    return int(rows["n"][0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 repetitions instead of 15")
    ap.add_argument("--reps", type=int, help="repetitions")
    ap.add_argument("--step-ms", type=float, default=50.0, help="each step's work (ms)")
    ap.add_argument("--items", type=int, default=1000,
                    help="numbers in each step's JSON result (1,000: about 5 KB)")
    ap.add_argument("--frames", action="store_true",
                    help="each step returns a pandas DataFrame of --items rows of text "
                         "(pickled to an artifact file) instead of a JSON list")
    args = ap.parse_args()
    reps = args.reps or (5 if args.quick else 15)
    root = Path(tempfile.mkdtemp(prefix="wfnb-resume-"))
    try:
        (root / "workflows").mkdir()
        (root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n')
        step_s = args.step_ms / 1000
        make = (f"__import__('pandas').DataFrame({{'x': [str(i) for i in range({args.items})]}})"
                if args.frames else f"list(range({args.items}))")
        for n, work_s in ((20, step_s), (80, 0)):
            (root / "workflows" / f"chain{n}.py").write_text(textwrap.dedent(CHAIN).format(
                n=n, last=n - 1, step_s=work_s, last_s=step_s, make=make))
        (root / "workflows" / "one.py").write_text(
            textwrap.dedent(ONE).format(step_s=step_s, make=make))
        flag = root / "workflows" / "broken"
        ws = wfnb.open(root, user="bench")
        print(f"wfnb resume  (python {os.sys.version.split()[0]}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}); each step {args.step_ms:g} ms; "
              f"{reps} repetitions after a cold one")
        first_one = ws.run("one")  # cold: imports, the DAG closures
        keys = ("full", "one", "rerun_one", "resumed", "resumed80", "from_step")
        figures: dict[str, list[float]] = {key: [] for key in keys}
        ran: dict[str, list[int]] = {"resumed": [], "resumed80": [], "from_step": []}
        for rep in range(reps + 1):
            flag.touch()
            t_full, failed = timed(lambda: ws.run("chain20"))
            assert failed.status == "Failed", failed.error
            failed80 = ws.run("chain80")
            assert failed80.status == "Failed", failed80.error
            flag.unlink()
            t_res, resumed = timed(lambda: ws.rerun(failed.id, from_failure=True).wait(120))
            assert resumed.status == "Completed", resumed.error
            t_step, mid = timed(lambda: ws.rerun(failed.id, from_step="s10").wait(120))
            assert mid.status == "Completed", mid.error
            t_res80, resumed80 = timed(
                lambda: ws.rerun(failed80.id, from_failure=True).wait(120))
            assert resumed80.status == "Completed", resumed80.error
            t_one, one = timed(lambda: ws.run("one"))
            assert one.status == "Completed", one.error
            t_again, again = timed(lambda: ws.rerun(first_one.id).wait(120))
            assert again.status == "Completed", again.error
            if rep == 0:
                continue  # cold
            for key, value in zip(keys, (t_full, t_one, t_again, t_res, t_res80, t_step)):
                figures[key].append(value)
            for key, run in (("resumed", resumed), ("resumed80", resumed80),
                             ("from_step", mid)):
                ran[key].append(executed(ws, run.id))

        def row(label: str, key: str, note: str = "") -> None:
            values = figures[key]
            print(f"{label:<52} {statistics.median(values):8.1f} "
                  f"{min(values):8.1f}-{max(values):<8.1f} {note}")
        print(f"\n{'(ms, until the ending is durable)':<52} {'median':>8} {'min-max':>17}")
        med = {key: statistics.median(values) for key, values in figures.items()}
        row("the chain, failing at its last step (21 steps)", "full")
        row("one run of one step (fixed cost + 1 executed step)", "one")
        row("a rerun of a one-step run (+ reading its parent)", "rerun_one")
        row("chain20 resumed from the failure (20 reused)", "resumed",
            f"executed steps: {sorted(set(ran['resumed']))}")
        row("chain80 resumed from the failure (80 reused)", "resumed80",
            f"executed steps: {sorted(set(ran['resumed80']))}")
        row("chain20 rerun from_step='s10' (11 steps executed)", "from_step",
            f"executed steps: {sorted(set(ran['from_step']))}")
        ratio = med["resumed"] / med["rerun_one"]
        verdict = "pass" if ratio <= 1.0 + 0.25 else "MISS"
        print(f"\nresumed chain20 / a rerun of one step: {ratio:.2f}x, "
              f"{med['resumed'] - med['rerun_one']:+.1f} ms (target: at most one executed step "
              f"plus the fixed cost of a run, i.e. about 1.0x; {verdict} with 25 % for noise)")
        print(f"resumed chain20 / a run of one step:   {med['resumed'] / med['one']:.2f}x, "
              f"{med['resumed'] - med['one']:+.1f} ms (reading the parent, and the reused rows)")
        per_step = (med["resumed80"] - med["resumed"]) / 60
        print(f"each reused step adds {per_step:.2f} ms (chain80 - chain20, / 60: a task row, "
              f"its event, its result decoded and copied) against {args.step_ms:g} ms to run it")
        print(f"resumed / the whole chain: {med['resumed'] / med['full']:.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
