"""Load: several processes running workflows on one workspace at once.

N worker processes (default 8) each run a small workflow (``a -> (b, c) -> d``, trivial
steps) over and over for S seconds (default 60) on one workspace, one DuckDB history; they
start together once all of them have opened the workspace (imports are not load). This
process watches as a view does (the EventFeed: its own commits at once, other processes'
when their bell rings) and measures how long a status change takes to reach it. At the end
it checks the history against what the workers say they did.

Prints:

* runs per second and step transitions per second (run and task status changes written to the
  history during the load), in total; target >= 500 transitions/s;
* p50 / p99 latency from a status change (the event's timestamp, taken when the worker made
  the change) to its delivery to this process's view feed;
* lost runs, tasks and events: runs a worker finished that the history lacks or holds
  unfinished, tasks and events missing against a calibration run (must all be 0).

Run from the repository root::

    .venv/bin/python benchmarks/load.py                  # 8 processes, 60 s
    .venv/bin/python benchmarks/load.py --processes 4 --seconds 10
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import wfnb

WORKFLOW = '''
from wfnb import Workflow

wf = Workflow("load")

@wf.step()
def a():
    return 1

@wf.step(after=["a"])
def b(a):
    return a + 1

@wf.step(after=["a"])
def c(a):
    return a + 2

@wf.step(after=["b", "c"])
def d(b, c):
    return b + c
'''
TARGET_TRANSITIONS = 500.0


def worker(root: str, number: int, seconds: float) -> None:
    """One load process: open the workspace, say so, wait for the start signal, then run the
    workflow for ``seconds``; print the ids. Start-up (imports, opening) is not load."""
    ws = wfnb.open(root, user=f"load{number}")
    (Path(root) / f"ready-{number}").touch()
    go = Path(root) / "go"
    while not go.exists():
        time.sleep(0.01)
    until = float(go.read_text()) + seconds
    runs = []
    while time.time() < until:
        run = ws.run("load")
        runs.append([run.id, run.status])
    print(json.dumps({"worker": number, "runs": runs}))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), float(args.worker[2]))
        return

    root = Path(tempfile.mkdtemp(prefix="wfnb-load-"))
    try:
        (root / "workflows").mkdir()
        (root / "workflows" / "load.py").write_text(textwrap.dedent(WORKFLOW))
        (root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n')
        ws = wfnb.open(root, user="observer")
        calibration = ws.run("load")  # what one run writes: its tasks and events
        per_run = ws.sql("select kind, count(*) n from events where run_id = ? group by kind",
                         [calibration.id]).set_index("kind")["n"].to_dict()
        tasks_per_run = len(calibration.tasks)

        latencies: list[float] = []
        window: dict[str, dt.datetime] = {}

        def seen(events: list[dict]) -> None:
            now = utcnow()
            for e in events:
                if e.get("kind") in ("run", "task") and e.get("run_id") != calibration.id \
                        and e.get("ts") is not None:
                    latencies.append((now - e["ts"]).total_seconds())
        from wfnb.engine.store.events import EventFeed
        unsubscribe = EventFeed.for_store(ws.store).subscribe(seen)

        print(f"{args.processes} processes x {args.seconds:g} s on {root} ...", flush=True)
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(root), str(n),
                                   str(args.seconds)], stdout=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
                 for n in range(args.processes)]
        deadline = time.time() + 300
        while not all((root / f"ready-{n}").exists() for n in range(args.processes)):
            if time.time() > deadline or any(p.poll() is not None for p in procs):
                sys.exit("the worker processes did not start")
            time.sleep(0.05)
        window["start"] = utcnow()
        (root / "go.tmp").write_text(repr(time.time()))
        (root / "go.tmp").rename(root / "go")  # all at once, when all of them are ready
        outputs = [p.communicate()[0] for p in procs]
        window["end"] = utcnow()
        failed = [n for n, p in enumerate(procs) if p.returncode != 0]
        if failed:
            sys.exit(f"worker processes {failed} failed")
        time.sleep(1.5)  # let the feed deliver the last commits
        unsubscribe()

        reported = [r for out in outputs for r in json.loads(out.strip().splitlines()[-1])["runs"]]
        ids = [r[0] for r in reported]
        elapsed = (window["end"] - window["start"]).total_seconds()
        stored = ws.sql("select id, status from runs where id <> ?", [calibration.id])
        status = dict(zip(stored["id"], stored["status"]))
        lost_runs = sum(1 for i in ids if status.get(i) != "Completed")
        not_completed = sum(1 for r in reported if r[1] != "Completed")
        tasks = ws.sql("select count(*) n from tasks where run_id <> ?", [calibration.id])["n"][0]
        events = ws.sql("select kind, count(*) n from events where run_id <> ? and run_id is "
                        "not null group by kind", [calibration.id]).set_index("kind")["n"]
        lost_tasks = tasks_per_run * len(ids) - int(tasks)
        lost_events = sum(per_run.values()) * len(ids) - int(events.sum())
        transitions = ws.sql(
            "select count(*) n from events where kind in ('run', 'task') and run_id <> ? "
            "and ts between ? and ?", [calibration.id, window["start"], window["end"]])["n"][0]
        lat = sorted(latencies)

        def pct(q: float) -> float:
            return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

        print()
        print(f"{'figure':<44} {'result':>12}")
        print(f"{'runs finished (all workers)':<44} {len(ids):>12,}")
        print(f"{'runs per second':<44} {len(ids) / elapsed:>12.1f}")
        print(f"{'status transitions per second':<44} {transitions / elapsed:>12.1f}"
              f"   target >= {TARGET_TRANSITIONS:g}: "
              f"{'met' if transitions / elapsed >= TARGET_TRANSITIONS else 'MISSED'}")
        print(f"{'change -> other process view, p50':<44} {pct(0.50):>9.0f} ms")
        print(f"{'change -> other process view, p99':<44} {pct(0.99):>9.0f} ms")
        print(f"{'changes measured':<44} {len(lat):>12,}")
        print(f"{'runs not Completed (as workers saw them)':<44} {not_completed:>12}")
        print(f"{'lost runs':<44} {lost_runs:>12}")
        print(f"{'lost tasks':<44} {lost_tasks:>12}")
        print(f"{'lost events':<44} {lost_events:>12}")
        if lost_runs or lost_tasks or lost_events:
            sys.exit("LOST DATA")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
