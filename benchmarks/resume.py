"""Resuming a failed run: what ``ws.rerun(run_id, from_failure=True)`` costs against running
one step.

In a fresh temporary workspace (history in DuckDB) it writes two workflows:

* ``chain20``: 20 steps in a chain, each sleeping ``--step-ms`` (default 50 ms: "real work")
  and returning a JSON result of 1,000 numbers (so a reused result is read back and decoded,
  not free); the last step fails while a flag file exists;
* ``one``: a single step with the same body: the fixed cost of a run plus one executed step,
  the issue's budget for a resumed chain.

Each repetition, interleaved so noise hits all alike: the chain fails (timed: the whole
chain), the flag is removed, the failed run is resumed from its failure (timed from
``ws.rerun`` until ``run.wait()`` returns, i.e. the ending is durable in the history), and
``one`` runs (timed the same way). It prints medians, min-max, the ratio resumed / one step,
and how many steps each resumed run executed (its Completed tasks without ``reused_from``,
read from the history with SQL), plus the same for a resume ``from_step`` the middle step.

    .venv/bin/python benchmarks/resume.py            # about 1 minute
    .venv/bin/python benchmarks/resume.py --quick    # about 20 s
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
    wf = Workflow("chain20")

    def work(**upstream):
        time.sleep({step_s})
        return list(range(1000))

    for i in range(20):
        wf.step(work, name=f"s{{i}}", after=[f"s{{i - 1}}"] if i else [])

    def last(s19):
        time.sleep({step_s})  # the same work as the others: one executed step costs the same
        if FLAG.exists():
            raise RuntimeError("the last step failed")
        return len(s19)

    wf.step(last, name="last", after=["s19"])
"""
ONE = """
    import time
    from wfnb import Workflow

    wf = Workflow("one")

    @wf.step()
    def work():
        time.sleep({step_s})
        return list(range(1000))
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
    args = ap.parse_args()
    reps = args.reps or (5 if args.quick else 15)
    root = Path(tempfile.mkdtemp(prefix="wfnb-resume-"))
    try:
        (root / "workflows").mkdir()
        (root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n')
        step_s = args.step_ms / 1000
        (root / "workflows" / "chain20.py").write_text(
            textwrap.dedent(CHAIN).format(step_s=step_s))
        (root / "workflows" / "one.py").write_text(textwrap.dedent(ONE).format(step_s=step_s))
        flag = root / "workflows" / "broken"
        ws = wfnb.open(root, user="bench")
        print(f"wfnb resume  (python {os.sys.version.split()[0]}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}); each step {args.step_ms:g} ms; "
              f"{reps} repetitions after a cold one")
        ws.run("one")  # cold: imports, the DAG closures
        figures: dict[str, list[float]] = {"full": [], "resumed": [], "from_step": [],
                                           "one": []}
        ran: dict[str, list[int]] = {"resumed": [], "from_step": []}
        for rep in range(reps + 1):
            flag.touch()
            t_full, failed = timed(lambda: ws.run("chain20"))
            assert failed.status == "Failed", failed.error
            flag.unlink()
            t_res, resumed = timed(lambda: ws.rerun(failed.id, from_failure=True).wait(120))
            assert resumed.status == "Completed", resumed.error
            t_step, mid = timed(lambda: ws.rerun(failed.id, from_step="s10").wait(120))
            assert mid.status == "Completed", mid.error
            t_one, one = timed(lambda: ws.run("one"))
            assert one.status == "Completed", one.error
            if rep == 0:
                continue  # cold
            for key, value in (("full", t_full), ("resumed", t_res), ("from_step", t_step),
                               ("one", t_one)):
                figures[key].append(value)
            ran["resumed"].append(executed(ws, resumed.id))
            ran["from_step"].append(executed(ws, mid.id))

        def row(label: str, key: str, note: str = "") -> None:
            values = figures[key]
            print(f"{label:<52} {statistics.median(values):8.1f} "
                  f"{min(values):8.1f}-{max(values):<8.1f} {note}")
        print(f"\n{'(ms, until the ending is durable)':<52} {'median':>8} {'min-max':>17}")
        row("the chain, failing at its last step (21 steps)", "full")
        row("one run of one step (fixed cost + 1 executed step)", "one")
        row("resumed from the failure (ws.rerun from_failure)", "resumed",
            f"executed steps: {sorted(set(ran['resumed']))}")
        row("rerun from_step='s10' (11 steps executed)", "from_step",
            f"executed steps: {sorted(set(ran['from_step']))}")
        ratio = statistics.median(figures["resumed"]) / statistics.median(figures["one"])
        verdict = "pass" if ratio <= 1.0 + 0.25 else "MISS"
        print(f"\nresumed / one-step run: {ratio:.2f}x (target: at most one executed step plus "
              f"the fixed cost of a run, i.e. about 1.0x; {verdict} with 25 % for noise)")
        extra = statistics.median(figures["resumed"]) - statistics.median(figures["one"])
        print(f"resumed - one-step run: {extra:+.1f} ms ({extra / 20:.2f} ms per reused step: "
              "reading the parent run, checking it, writing 20 reused tasks and their results)")
        print(f"resumed / the whole chain: "
              f"{statistics.median(figures['resumed']) / statistics.median(figures['full']):.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
