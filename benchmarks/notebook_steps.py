"""Latency of a trivial 2-cell notebook step: wfnb with the warm kernel pool, wfnb without it,
and plain ``papermill.execute_notebook``, measured in one run, with the ratios.

    .venv/bin/python benchmarks/notebook_steps.py [--reps N]

"step" is the task's own duration (started_at -> ended_at: parameterise, execute the cells,
write the executed notebook); "run" is ws.run() from start to a durable terminal status
(adds the engine's fixed cost per run). Target: the step with the pool at least 10x faster
than plain papermill.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import papermill

import wfnb


def notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("y = x + 1")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))
    return path


def workspace(root: Path, nb: Path, pool: int) -> wfnb.Workspace:
    (root / "workflows").mkdir(parents=True)
    (root / "wfnb.toml").write_text(f'[workspace]\npaths = ["workflows"]\n'
                                    f'[kernels]\npool_size = {pool}\n')
    (root / "workflows" / "nb.py").write_text(
        "from wfnb import Workflow\nwf = Workflow('nb')\n"
        f"wf.notebook('two_cells', {str(nb)!r}, parameters={{'x': 2}})\n")
    return wfnb.open(root)


def time_wfnb(ws: wfnb.Workspace, reps: int, pool: bool) -> tuple[list[float], list[float]]:
    steps, runs = [], []
    for _ in range(reps):
        if pool:  # measure a warm start: wait for the replacement kernel, as between runs
            deadline = time.monotonic() + 60
            while ws.kernel_pool.ready() < ws.kernel_pool.size and time.monotonic() < deadline:
                time.sleep(0.02)
        started = time.perf_counter()
        run = ws.run("nb")
        runs.append(time.perf_counter() - started)
        assert run.status == "Completed", run.error
        steps.append(run.task("two_cells").duration)
    return steps, runs


def time_papermill(nb: Path, out: Path, reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        papermill.execute_notebook(str(nb), str(out), parameters={"x": 2}, progress_bar=False,
                                   kernel_name="python3")
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        nb = notebook(tmp / "two_cells.ipynb")
        pooled = workspace(tmp / "pooled", nb, pool=2)
        cold = workspace(tmp / "cold", nb, pool=0)
        pooled.warm_kernels()
        pooled.run("nb")  # imports and first-use costs, not measured
        cold.run("nb")
        pm = time_papermill(nb, tmp / "out.ipynb", args.reps)
        warm_steps, warm_runs = time_wfnb(pooled, args.reps, pool=True)
        cold_steps, cold_runs = time_wfnb(cold, args.reps, pool=False)
    med = statistics.median
    base = med(pm)
    print(f"trivial 2-cell notebook, median of {args.reps} (ms)")
    print(f"{'path':<44}{'median':>9}{'min':>9}{'vs papermill':>14}")
    rows = [("plain papermill.execute_notebook", pm),
            ("wfnb step, warm kernel pool", warm_steps),
            ("wfnb run (start -> durable end), warm pool", warm_runs),
            ("wfnb step, no pool (pool_size = 0)", cold_steps),
            ("wfnb run, no pool", cold_runs)]
    for label, values in rows:
        print(f"{label:<44}{med(values) * 1000:>9.1f}{min(values) * 1000:>9.1f}"
              f"{base / med(values):>13.1f}x")
    ratio = base / med(warm_steps)
    print(f"\nwarm-pool step vs papermill: {ratio:.1f}x faster (target >= 10x: "
          f"{'pass' if ratio >= 10 else 'MISS'})")


if __name__ == "__main__":
    main()
