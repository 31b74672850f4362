"""Concurrent `wfnb run` commands on one workspace: runs reported against runs stored.

L shell-like loops (default 8) each run `wfnb run quick` R times (default 30) one after the
other, all loops at once, on one workspace. Each command prints `run <id> Completed` and exits
0 when its run completed. At the end the history is read with a plain DuckDB connection and
every reported id is looked up.

Prints: commands, reported Completed, stored Completed among them, lost (reported but not
stored as Completed: must be 0), processes that died by a signal (SIGABRT at exit: must be 0),
wall time and runs per second, and the last line of each command that exited non-zero.

Run from the repository root::

    .venv/bin/python benchmarks/cli_durability.py              # 8 loops x 30
    .venv/bin/python benchmarks/cli_durability.py --loops 4 --runs 10
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

QUICK = '''
from wfnb import Workflow

wf = Workflow("quick")

@wf.step()
def one(ctx):
    return {"n": 1}
'''

REPORTED = re.compile(r"^run (\S+) Completed", re.MULTILINE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=8)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wfnb-cli-durability-")) / "ws"
    (root / "workflows").mkdir(parents=True)
    (root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n')
    (root / "workflows" / "quick.py").write_text(QUICK)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def loop() -> None:
        for _ in range(args.runs):
            proc = subprocess.run([sys.executable, "-m", "wfnb", "run", "quick",
                                   "--workspace", str(root)], capture_output=True, text=True)
            with lock:
                results.append((proc.returncode, proc.stdout + proc.stderr))

    started = time.monotonic()
    threads = [threading.Thread(target=loop) for _ in range(args.loops)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - started
    reported = [rid for _, out in results for rid in REPORTED.findall(out)]
    con = duckdb.connect(str(root / ".wfnb" / "history.duckdb"), read_only=True)
    stored = dict(con.execute("SELECT id, status FROM runs").fetchall())
    con.close()
    kept = [rid for rid in reported if stored.get(rid) == "Completed"]
    signalled = [code for code, _ in results if code < 0 or code > 2]
    print(f"{args.loops} loops x {args.runs} `wfnb run quick` on one workspace ({root})")
    print(f"commands:             {len(results)}")
    print(f"reported Completed:   {len(reported)}")
    print(f"stored Completed:     {len(kept)}")
    print(f"lost:                 {len(reported) - len(kept)}   (target 0)")
    print(f"died by a signal:     {len(signalled)}   (target 0)")
    print(f"wall time:            {took:.1f} s ({len(results) / took:.2f} commands/s)")
    failed = [(code, out.strip().splitlines()[-1] if out.strip() else "")
              for code, out in results if code != 0]
    print(f"exited non-zero:      {len(failed)}")
    for code, last in failed[:10]:
        print(f"  exit {code}: {last[:200]}")


if __name__ == "__main__":
    main()
