"""wfnb next to Prefect 3: the same trivial workflows, the fixed cost of a run and the marginal
cost of a step, and the ratios.

Workflows (every step returns at once): a 1-step workflow; 100- and 1,000-step chains (each
step takes the previous one's result); 100- and 1,000-step fan-outs (independent steps).

* wfnb: ``ws.start(wf)`` to ``run.wait()`` returning (the run's end durable in DuckDB), the
  default local executor, a fresh workspace.
* Prefect 3: a ``@flow`` of ``@task`` s, run in its own virtualenv (``.venv-prefect``, created
  on first use: Prefect is never a wfnb dependency) against a ``prefect server start`` that
  the benchmark starts first (its one-off start-up is not counted).
  A chain calls each task on the previous result; a fan-out submits every task to the
  default ``ThreadPoolTaskRunner`` and waits for all. Prefect rounds a flow's reported duration
  up to whole seconds, so the task loop is timed with ``perf_counter`` inside the flow; the
  1-step flow is timed from the outside (flow call to return).

Fixed cost per run = the 1-step time. Per step = (T1000 - T100) / 900 for chains, and
(T1000 - T100) / 900 for fan-outs too (so neither includes the run's fixed cost). Medians of
``--repeat`` runs (after a warm-up run of each). Targets: wfnb >= 10x lower per step and >= 20x
lower per run.

    .venv/bin/python benchmarks/compare_prefect.py              # ~3 minutes (+ install)
    .venv/bin/python benchmarks/compare_prefect.py --repeat 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (100, 1000)


# ---- the Prefect side (runs in the Prefect virtualenv; imports nothing of wfnb) --------------
def prefect_side(repeat: int) -> None:
    from prefect import flow, task

    @task
    def step(x=None):
        return x

    @flow
    def one():
        return step(0)

    @flow
    def chain(n: int) -> float:
        t0 = time.perf_counter()
        x = 0
        for _ in range(n):
            x = step(x)
        return time.perf_counter() - t0

    @flow
    def fanout(n: int) -> float:
        t0 = time.perf_counter()
        futures = [step.submit(i) for i in range(n)]
        for f in futures:
            f.result()
        return time.perf_counter() - t0

    out: dict[str, list[float]] = {"one": [], **{f"chain_{n}": [] for n in SIZES},
                                   **{f"fanout_{n}": [] for n in SIZES}}
    # the 1-step flows first: a flow that follows a 1,000-task one also waits for the
    # client to finish reporting the earlier task runs, which is not this flow's own cost
    one()  # warm-up
    for _ in range(repeat):
        t0 = time.perf_counter()
        one()
        out["one"].append(time.perf_counter() - t0)
    for n in SIZES:  # warm-up
        chain(n)
        fanout(n)
    for _ in range(repeat):
        for n in SIZES:
            out[f"chain_{n}"].append(chain(n))
            out[f"fanout_{n}"].append(fanout(n))
    print("RESULT " + json.dumps(out))


# ---- the wfnb side ---------------------------------------------------------------------------
def wfnb_side(repeat: int) -> dict[str, list[float]]:
    import wfnb

    def noop():
        return None

    def chain(n):  # each step takes the previous one's result, as in the Prefect chain
        wf = wfnb.Workflow(f"chain_{n}")
        wf.step(noop, name="s0")
        for i in range(1, n):
            wf.step(eval(f"lambda s{i - 1}: s{i - 1}"), name=f"s{i}", after=[f"s{i - 1}"])
        return wf

    def fanout(n):
        wf = wfnb.Workflow(f"fanout_{n}")
        for i in range(n):
            wf.step(noop, name=f"s{i}")
        return wf

    flows = {"one": chain(1)}
    for n in SIZES:
        flows[f"chain_{n}"], flows[f"fanout_{n}"] = chain(n), fanout(n)
    root = Path(tempfile.mkdtemp(prefix="wfnb-vs-prefect-"))
    (root / "wfnb.toml").write_text('[workspace]\npaths = []\n')
    ws = wfnb.open(root, user="bench")
    out: dict[str, list[float]] = {k: [] for k in flows}
    for wf in flows.values():  # warm-up
        ws.run(wf)
    for _ in range(repeat):
        for name, wf in flows.items():
            t0 = time.perf_counter()
            run = ws.start(wf).wait()
            out[name].append(time.perf_counter() - t0)
            if run.status != "Completed":
                sys.exit(f"{name}: {run.status} {run.error}")
    return out


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(port: int, server: subprocess.Popen, timeout: float = 180.0) -> None:
    """Poll the server's health endpoint with a deadline."""
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"prefect server start exited with {server.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"the Prefect server did not answer within {timeout:g} s")


def prefect_python() -> str:
    venv = ROOT / ".venv-prefect"
    python = venv / "bin" / "python"
    if not python.exists():
        print("creating .venv-prefect with Prefect 3 (only for this benchmark) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "prefect>=3,<4"], check=True)
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--prefect-side", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prefect_side:
        prefect_side(args.repeat)
        return
    home = tempfile.mkdtemp(prefix="prefect-home-")
    env = {**os.environ, "PREFECT_HOME": home, "PREFECT_LOGGING_LEVEL": "ERROR",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    python = prefect_python()
    port = free_port()
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    print(f"Prefect server on port {port} ...", flush=True)
    server = subprocess.Popen([str(Path(python).parent / "prefect"), "server", "start",
                               "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port, server)
        print("Prefect 3 flows ...", flush=True)
        proc = subprocess.run([python, __file__, "--prefect-side", "--repeat",
                               str(args.repeat)], env=env, capture_output=True, text=True)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        sys.exit(f"the Prefect side failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    prefect = json.loads(line[len("RESULT "):])
    print("wfnb ...", flush=True)
    ours = wfnb_side(args.repeat)
    version = subprocess.run([python, "-c", "import prefect; print(prefect.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    report(ours, prefect, version, args.repeat)


def report(ours: dict, theirs: dict, version: str, repeat: int) -> None:
    med = {side: {k: statistics.median(v) * 1000 for k, v in data.items()}
           for side, data in (("wfnb", ours), ("prefect", theirs))}

    def figures(m):
        return {"fixed cost per run (1-step)": m["one"],
                "per step, chain (T1000-T100)/900": (m["chain_1000"] - m["chain_100"]) / 900,
                "per step, fan-out (T1000-T100)/900": (m["fanout_1000"] - m["fanout_100"]) / 900,
                "chain of 100, whole": m["chain_100"], "chain of 1000, whole": m["chain_1000"],
                "fan-out of 1000, whole": m["fanout_1000"]}
    w, p = figures(med["wfnb"]), figures(med["prefect"])
    targets = {"fixed cost per run (1-step)": 20, "per step, chain (T1000-T100)/900": 10,
               "per step, fan-out (T1000-T100)/900": 10}
    print(f"\nwfnb vs Prefect {version}, medians of {repeat} runs, ms")
    print(f"{'figure':<38} {'wfnb':>10} {'Prefect':>11} {'ratio':>8}  target")
    for name in w:
        ratio = p[name] / w[name] if w[name] > 0 else float("inf")
        target = targets.get(name)
        verdict = "" if target is None else (f">= {target}x: " +
                                             ("met" if ratio >= target else "MISSED"))
        print(f"{name:<38} {w[name]:>10.3f} {p[name]:>11.3f} {ratio:>7.1f}x  {verdict}")


if __name__ == "__main__":
    main()
