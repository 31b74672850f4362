"""Engine overhead: what wfnb adds on top of running trivial Python functions.

Builds four workflows in code, in a fresh temporary workspace (history in DuckDB):

* ``single``       - one trivial step
* ``chain_100``    - 100 trivial steps, each ``after`` the previous one
* ``chain_1000``   - 1,000 trivial steps, each ``after`` the previous one
* ``fanout_1000``  - 1,000 independent trivial steps

For each, it times ``ws.start(wf)`` up to ``run.wait()`` returning (i.e. until the run's
terminal status is durable in the DuckDB history), over several repetitions after one
untimed cold run (which pays one-off costs such as the DAG closures of ``validate()``),
and reports the median (plus min/max, and the cold run separately). Timed runs of the four
workflows are interleaved so that background noise affects them alike.

From those it derives:

* fixed cost of a run: the 1-step time, and the intercept of the line through the two chains
  (T100 - 100 * marginal);
* marginal cost per step: (T1000 - T100) / 900 for chains, T / 1000 for the fan-out;

and compares with a plain-Python baseline measured in the same process: calling the same
trivial function in a loop, and a ``ThreadPoolExecutor`` (16 workers, like wfnb's default local
executor) running the same chain (submit, wait, submit the next) and fan-out (submit all,
wait all).

Targets: <= 0.2 ms per step, <= 50 ms fixed cost per run.

Run from the repository root::

    .venv/bin/python benchmarks/engine_overhead.py            # ~1-2 minutes
    .venv/bin/python benchmarks/engine_overhead.py --quick    # fewer repetitions
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, wait

import wfnb

TARGET_STEP_MS = 0.2
TARGET_FIXED_MS = 50.0


def noop():
    """The trivial step body used everywhere (engine and baselines)."""
    return None


# ---- workflows ------------------------------------------------------------------------------
def chain(name: str, n: int) -> wfnb.Workflow:
    wf = wfnb.Workflow(name)
    for i in range(n):
        wf.step(noop, name=f"s{i}", after=[f"s{i - 1}"] if i else [])
    return wf


def fanout(name: str, n: int) -> wfnb.Workflow:
    wf = wfnb.Workflow(name)
    for i in range(n):
        wf.step(noop, name=f"s{i}")
    return wf


# ---- timing helpers -------------------------------------------------------------------------
def time_one(ws, wf: wfnb.Workflow) -> float:
    """Seconds from ``ws.start(wf)`` to ``run.wait()`` returning; exits if the run failed."""
    t0 = time.perf_counter()
    run = ws.start(wf)
    run.wait()
    elapsed = time.perf_counter() - t0
    if run.status != "Completed":
        sys.exit(f"{wf.name}: run {run.id} ended {run.status}: {run.error}")
    return elapsed


def time_engine(ws, workflows: dict, reps: dict) -> dict:
    """One untimed cold run of each workflow, then the timed runs, interleaved round-robin so
    that noise from other processes and the growing history hits every workflow alike."""
    results = {key: {"first": time_one(ws, wf), "times": []} for key, (wf, _) in workflows.items()}
    for i in range(max(reps.values())):
        for key, (wf, _) in workflows.items():
            if i < reps[key]:
                results[key]["times"].append(time_one(ws, wf))
    for r in results.values():
        r["median"] = statistics.median(r["times"])
    return results


def median_time(fn, reps: int) -> float:
    fn()  # warm-up
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def baselines(reps: int) -> dict[str, float]:
    """Per-step seconds of the same trivial work without wfnb."""
    n = 1000
    pool = ThreadPoolExecutor(max_workers=16)

    def loop():
        for _ in range(n):
            noop()

    def pool_chain():
        for _ in range(n):
            pool.submit(noop).result()

    def pool_fanout():
        wait([pool.submit(noop) for _ in range(n)])

    out = {
        "python loop": median_time(loop, reps * 5) / n,
        "ThreadPoolExecutor chain": median_time(pool_chain, reps) / n,
        "ThreadPoolExecutor fan-out": median_time(pool_fanout, reps) / n,
    }
    pool.shutdown()
    return out


# ---- report ---------------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return f"{seconds * 1e3:10.3f}"


def verdict(value_s: float, target_ms: float) -> str:
    return "pass" if value_s * 1e3 <= target_ms else "MISS"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    opts = ap.parse_args()
    # repetitions (after one warm-up run each)
    reps = {"single": 10, "chain_100": 5, "chain_1000": 3, "fanout_1000": 3} if opts.quick else \
           {"single": 40, "chain_100": 25, "chain_1000": 15, "fanout_1000": 15}

    tmp = tempfile.mkdtemp(prefix="wfnb-bench-")
    try:
        t0 = time.perf_counter()
        ws = wfnb.open(tmp)
        open_s = time.perf_counter() - t0
        workflows = {
            "single": (chain("single", 1), 1),
            "chain_100": (chain("chain_100", 100), 100),
            "chain_1000": (chain("chain_1000", 1000), 1000),
            "fanout_1000": (fanout("fanout_1000", 1000), 1000),
        }
        print("  timing " + ", ".join(f"{k} x {reps[k]}" for k in workflows)
              + " (+1 cold run each), interleaved ...", flush=True)
        results = time_engine(ws, workflows, reps)
        base = baselines(3 if opts.quick else 10)
        total_runs = ws.sql("SELECT count(*) AS n FROM runs")["n"][0]
        total_tasks = ws.sql("SELECT count(*) AS n FROM tasks")["n"][0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"wfnb engine overhead  (python {sys.version.split()[0]}, duckdb "
          f"{__import__('duckdb').__version__}, wfnb.open of empty workspace {open_s * 1e3:.1f} ms;"
          f" history at end: {total_runs} runs, {total_tasks} tasks)")
    print()
    print("Time from ws.start() to run.wait() returning (terminal status durable), ms")
    print(f"{'workflow':<14}{'steps':>6}{'reps':>6}{'median':>11}{'min':>11}{'max':>11}"
          f"{'cold 1st':>11}")
    for key, (wf, n) in workflows.items():
        r = results[key]
        print(f"{key:<14}{n:>6}{len(r['times']):>6}{ms(r['median']):>11}{ms(min(r['times'])):>11}"
              f"{ms(max(r['times'])):>11}{ms(r['first']):>11}")

    t1 = results["single"]["median"]
    t100, t1000 = results["chain_100"]["median"], results["chain_1000"]["median"]
    chain_step = (t1000 - t100) / 900
    intercept = t100 - 100 * chain_step
    fan_step = results["fanout_1000"]["median"] / 1000
    fan_marginal = (results["fanout_1000"]["median"] - t1) / 999

    print()
    print("Derived figures, ms")
    print(f"{'figure':<52}{'value':>11}{'target':>10}  verdict")
    print(f"{'fixed cost per run: 1-step workflow':<52}{ms(t1):>11}{'<= 50':>10}  "
          f"{verdict(t1, TARGET_FIXED_MS)}")
    print(f"{'fixed cost per run: chain intercept T100-100*m':<52}{ms(intercept):>11}{'<= 50':>10}"
          f"  {verdict(intercept, TARGET_FIXED_MS)}")
    print(f"{'per step, chain: (T1000 - T100) / 900':<52}{ms(chain_step):>11}{'<= 0.2':>10}  "
          f"{verdict(chain_step, TARGET_STEP_MS)}")
    print(f"{'per step, fan-out: T / 1000':<52}{ms(fan_step):>11}{'<= 0.2':>10}  "
          f"{verdict(fan_step, TARGET_STEP_MS)}")
    print(f"{'per step, fan-out: (T - T1) / 999':<52}{ms(fan_marginal):>11}{'<= 0.2':>10}  "
          f"{verdict(fan_marginal, TARGET_STEP_MS)}")

    print()
    print("Plain-Python baseline (same trivial function, 1,000 calls), per step")
    print(f"{'baseline':<30}{'us/step':>11}{'wfnb chain / this':>20}{'wfnb fan-out / this':>22}")
    for name, per in base.items():
        print(f"{name:<30}{per * 1e6:>11.3f}{chain_step / per:>19,.0f}x{fan_step / per:>21,.0f}x")
    print(f"{'wfnb (chain, fan-out)':<30}{chain_step * 1e6:>11.1f}  /  {fan_step * 1e6:.1f}")


if __name__ == "__main__":
    main()
