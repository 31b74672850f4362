"""History at scale: how fast the history queries are on a store holding 1,000,000 runs.

Setup (not timed against the targets, but reported): ``wfnb.open(tmpdir)`` creates an empty
workspace and its DuckDB history; rows are then bulk-inserted with ``INSERT ... SELECT FROM
range(N)`` straight into its tables, with a realistic spread:

* runs: 10 workflows (skewed: a few dominate), 20 users, triggers manual/schedule/rerun,
  ``created_at`` spread over one year (ids sortable by time, like ``new_run_id``), statuses
  ~90 % Completed, ~6 % Failed, ~2 % Cancelled, ~1 % Error, ~0.5 % Rejected; the 30 newest runs
  are active (Running / Pending / Waiting for Approval), owned by a live owner row (this
  process), so liveness does not reap them;
* tasks: ``Start`` + ``--steps`` steps per run (default 3, i.e. 4,000,000 task rows);
* events: one at creation and one at the end of each run, one at the end of each task.

Then, on that workspace, it times (median of ``--reps`` repetitions, default 15):

* the engine's public read API: ``ws.runs(limit=50)`` (filtered by workflow, status, both, and
  a page 10,000 runs deep, by ``offset`` and by keyset, ``after=`` the last run shown, in
  the same run; the ratio is printed under the table), ``ws.get_run(id)`` and ``ws.get_run(id).tasks`` (random ids);
* ``ws.sql(...)`` for counts by status and by workflow;
* ``Liveness.reap(force=True)``, which ``runs()``/``get_run()`` pay at most every 2 s (so the
  plain ``ws.runs`` rows, called back to back, mostly skip it; a separate row shows
  ``ws.runs(limit=50)`` when a reap is due, as for a view refreshing every few seconds);
* ``Store.connect(read_only=True)`` open+close, and an open+write+close cycle
  (``Store.transact`` inserting one event), and the writer's commit of one run row
  (``store.put(run=...)`` + ``store.flush()``, what every status change costs);
* the runs table's pages (``ws.search_runs``: a page and the count), deep by offset and by
  keyset, and "Waiting for me" (``run_ids=`` 30 run ids);
* a complete 1-step run (``ws.run``) on the big history, and ``wfnb.open`` in a fresh process.

Target: <= 50 ms each; the table shows pass / MISS.

Run from the repository root::

    .venv/bin/python benchmarks/history.py               # 1,000,000 runs, ~1-2 minutes
    .venv/bin/python benchmarks/history.py --runs 100000 --reps 5
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import duckdb

import wfnb
from wfnb.engine.core.records import RunRecord, new_run_id, utcnow

TARGET_MS = 50.0

WORKFLOWS = ["daily_sales", "slow_etl", "flaky_import", "customer_sync", "invoice_export",
             "ml_retrain", "inventory_check", "report_weekly", "gdpr_purge", "backup_verify"]


# ---- setup ----------------------------------------------------------------------------------
def populate(path: str, n: int, steps: int) -> dict[str, float]:
    """Bulk-insert ``n`` runs (+ tasks, events) into the history file at ``path``."""
    wf_list = "[" + ", ".join(f"'{w}'" for w in WORKFLOWS) + "]"
    span_us = 365 * 86400 * 1_000_000
    seconds: dict[str, float] = {}
    con = duckdb.connect(path)
    try:
        con.execute("CREATE TEMP MACRO u(i, salt) AS (hash(i, salt) % 1000000)::DOUBLE / 1e6")
        t0 = time.perf_counter()
        con.execute(f"""
            CREATE TEMP TABLE gen AS
            WITH base AS (
                SELECT i,
                       TIMESTAMP '2025-01-01' + to_microseconds(
                           (i * ({span_us} // {n}) + u(i, 'jit') * 0.9 * ({span_us} // {n}))::BIGINT
                       ) AS created_at,
                       {wf_list}[1 + floor(pow(u(i, 'wf'), 2) * 10)::INT] AS workflow,
                       u(i, 'st') AS s,
                       u(i, 'dur') AS d,
                       i >= {n} - 30 AS active
                FROM range({n}) t(i)
            )
            SELECT *,
                   printf('%s-%03d-%06x', strftime(created_at, '%Y%m%d-%H%M%S'),
                          (epoch_ms(created_at) % 1000)::INT, i) AS id,
                   CASE WHEN active THEN ['Running', 'Pending', 'Waiting for Approval'][1 + i % 3]
                        WHEN s < 0.90 THEN 'Completed' WHEN s < 0.96 THEN 'Failed'
                        WHEN s < 0.98 THEN 'Cancelled' WHEN s < 0.99 THEN 'Error'
                        WHEN s < 0.995 THEN 'Rejected' ELSE 'Completed' END AS status,
                   created_at + INTERVAL 120 MILLISECOND AS started_at,
                   CASE WHEN active THEN NULL
                        ELSE created_at + to_microseconds((1e6 + d * 600e6)::BIGINT) END AS ended_at
            FROM base
        """)
        owner = f"{os.uname().nodename}:{os.getpid()}:bench0"
        con.execute(f"""
            INSERT INTO runs BY NAME
            SELECT id, workflow,
                   substr(md5(workflow), 1, 12) AS version,
                   json_object('date', strftime(created_at, '%Y-%m-%d'), 'region',
                               ['EU', 'US', 'APAC'][1 + i % 3], 'rows', (d * 10000)::INT) AS params,
                   status,
                   CASE WHEN status = 'Completed' THEN 1.0 ELSE 0.5 END AS progress,
                   {steps + 1} AS tasks_total,
                   CASE WHEN status = 'Completed' THEN {steps + 1} ELSE {steps} END AS tasks_done,
                   'user' || (hash(i, 'usr') % 20) AS created_by,
                   CASE WHEN u(i, 'tr') < 0.7 THEN 'manual' WHEN u(i, 'tr') < 0.95 THEN 'schedule'
                        ELSE 'rerun' END AS trigger,
                   NULL AS parent_id,
                   created_at, started_at, ended_at,
                   CASE WHEN status = 'Failed' THEN
                            'step ''s{steps}'' failed: ValueError: bad row ' || (i % 977)
                        WHEN status = 'Cancelled' THEN 'cancelled by user' || (i % 20)
                        WHEN status = 'Error' THEN 'runner lost: process ' || (i % 30000)
                            || ' stopped while the run was active'
                        END AS error,
                   CASE WHEN active AND status <> 'Waiting for Approval' THEN '{owner}'
                        ELSE 'host' || (i % 7) || ':' || (i % 30000) || ':abcdef' END AS owner_id,
                   coalesce(ended_at, started_at) AS updated_at,
                   lower(concat_ws(' ', id, workflow, created_by, CAST(params AS VARCHAR)))
                       AS search
            FROM gen
        """)
        # the owner of the active runs: this (live) process, with a heartbeat far ahead
        con.execute("INSERT INTO owners VALUES (?, ?, ?, now()::TIMESTAMP, "
                    "now()::TIMESTAMP + INTERVAL 1 YEAR)", [owner, os.uname().nodename, os.getpid()])
        seconds["runs"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        con.execute(f"""
            INSERT INTO tasks (id, run_id, step, kind, attempt, seq, status, inputs, result,
                               result_ref, error, traceback, log, created_at, started_at,
                               ended_at)
            SELECT g.id || ':' || step || ':1' AS id, g.id AS run_id, step,
                   CASE WHEN j = 0 THEN 'start' ELSE 'python' END AS kind,
                   1 AS attempt, j AS seq,
                   CASE WHEN j < {steps} OR g.status = 'Completed' THEN 'Completed'
                        WHEN g.status IN ('Pending', 'Waiting for Approval') THEN 'Pending'
                        ELSE g.status END AS status,
                   CASE WHEN j = 0 THEN '{{"rows": 100}}' ELSE NULL END AS inputs,
                   CASE WHEN j < {steps} OR g.status = 'Completed' THEN '{{"rows": ' || j || '}}'
                        END AS result,
                   NULL AS result_ref,
                   CASE WHEN j = {steps} AND g.status = 'Failed' THEN 'ValueError: bad row' END,
                   CASE WHEN j = {steps} AND g.status = 'Failed'
                        THEN 'Traceback (most recent call last): ... ValueError: bad row' END,
                   CASE WHEN j > 0 THEN 'processed ' || j || ' chunk(s)' || chr(10) ELSE '' END,
                   g.created_at, g.started_at + to_microseconds(j * 1000), g.ended_at
            FROM gen g, (SELECT j, CASE WHEN j = 0 THEN 'Start' ELSE 's' || j END AS step
                         FROM range({steps + 1}) s(j)) s
        """)
        seconds["tasks"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        con.execute("""
            INSERT INTO events (ts, run_id, task_id, kind, status, actor, data)
            SELECT created_at, id, NULL, 'run', 'Pending', 'user1', '{"trigger": "manual"}' FROM gen
            UNION ALL
            SELECT ended_at, id, NULL, 'run', status, NULL, NULL FROM gen WHERE ended_at IS NOT NULL
            UNION ALL
            SELECT coalesce(ended_at, started_at), run_id, id, 'task', status, NULL,
                   '{"step": "' || step || '", "attempt": 1}' FROM tasks
        """)
        seconds["events"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        con.execute("CHECKPOINT")
        seconds["checkpoint"] = time.perf_counter() - t0
    finally:
        con.close()
    return seconds


# ---- timing ---------------------------------------------------------------------------------
def timed(fn, reps: int) -> list[float]:
    out = []
    for i in range(reps):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def open_in_fresh_process(root: str, reps: int) -> list[float]:
    """``wfnb.open`` as a new kernel pays it (schema check, reap), imports excluded."""
    # `wfnb.open` is looked up before the clock starts: `import wfnb` is lazy, and the
    # lookup imports the engine (pandas, duckdb), which is import time, not open time
    code = ("import sys, time, wfnb; open_ = wfnb.open; t0 = time.perf_counter(); "
            "open_(sys.argv[1]); print(time.perf_counter() - t0)")
    return [float(subprocess.run([sys.executable, "-c", code, root], check=True,
                                 capture_output=True, text=True).stdout) for _ in range(reps)]


def noop():
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1_000_000, help="runs in the history")
    ap.add_argument("--steps", type=int, default=3, help="steps per run (tasks = steps + 1)")
    ap.add_argument("--reps", type=int, default=15, help="repetitions per measurement")
    ap.add_argument("--keep", action="store_true", help="keep the workspace (prints its path)")
    opts = ap.parse_args()

    root = tempfile.mkdtemp(prefix="wfnb-history-")
    try:
        ws = wfnb.open(root)
        path = str(ws.store.path)
        print(f"  populating {path} with {opts.runs:,} runs ...", flush=True)
        t0 = time.perf_counter()
        ws.store.release()  # this process opens the file itself: let the store's go first
        setup = populate(path, opts.runs, opts.steps)
        setup_s = time.perf_counter() - t0
        counts = {t: ws.sql(f"SELECT count(*) AS n FROM {t}")["n"][0]
                  for t in ("runs", "tasks", "events")}
        size_mb = os.path.getsize(path) / 2**20
        ids = list(ws.sql("SELECT id FROM runs USING SAMPLE 200 ROWS")["id"])
        random.Random(1).shuffle(ids)
        single = wfnb.Workflow("bench_single")
        single.step(noop, name="only")
        ws.run(single)  # warm: executor threads, writer thread

        def write_event(con):
            con.execute("INSERT INTO events (ts, kind, actor) VALUES (?, 'bench', 'bench')",
                        [utcnow()])

        rec = RunRecord(id=new_run_id(), workflow="bench_put", tasks_total=1)

        def put_flush(_):
            with ws.store.records_lock:
                rec.tasks_done = 0
                ws.store.put(run=rec, event={"run_id": rec.id, "kind": "run",
                                             "status": str(rec.status)})
            ws.store.flush()

        def runs_reap_due(_):
            # runs()/get_run() reap at most every 2 s: a view refreshing less often pays it
            # on each call (private attribute, set here only to avoid sleeping 2 s per rep)
            ws.liveness._last_reap = 0.0
            ws.runs(limit=50)

        def con_ro(_):
            with ws.store.connect(read_only=True):
                pass

        wf_name, reps = WORKFLOWS[3], opts.reps
        deep = min(10_000, opts.runs - 100)
        # keyset paging: the page after the last run shown, 10,000 runs deep
        shown = ws.runs(limit=1, offset=deep - 1)[0]
        last = (shown.created_at, shown.id)
        table_last = ws.search_runs(limit=1, offset=deep - 1)[0][0]
        # "Waiting for me" filters on the ids of the runs waiting for the user: a handful
        waiting = [r.id for r in ws.runs(limit=30)]
        cases = [
            ("ws.runs(limit=50)", lambda i: ws.runs(limit=50)),
            (f"ws.runs(workflow={wf_name!r}, limit=50)",
             lambda i: ws.runs(workflow=wf_name, limit=50)),
            ("ws.runs(status='Failed', limit=50)", lambda i: ws.runs(status="Failed", limit=50)),
            (f"ws.runs(workflow={wf_name!r}, status='Failed', limit=50)",
             lambda i: ws.runs(workflow=wf_name, status="Failed", limit=50)),
            (f"ws.runs(limit=50, offset={deep:_})", lambda i: ws.runs(limit=50, offset=deep)),
            (f"ws.runs(limit=50, after=run {deep:_} deep)  (keyset)",
             lambda i: ws.runs(limit=50, after=last)),
            ("ws.runs(limit=50), reap due (call >= 2 s after the last)", runs_reap_due),
            ("ws.get_run(id)", lambda i: ws.get_run(ids[i % len(ids)])),
            ("ws.get_run(id).tasks", lambda i: ws.get_run(ids[-1 - i % len(ids)]).tasks),
            ("ws.sql(count by status)",
             lambda i: ws.sql("SELECT status, count(*) FROM runs GROUP BY 1")),
            ("ws.sql(count by workflow)",
             lambda i: ws.sql("SELECT workflow, count(*) FROM runs GROUP BY 1")),
            ("ws.liveness.reap(force=True)", lambda i: ws.liveness.reap(force=True)),
            ("runs table page: ws.search_runs(limit=25) + count",
             lambda i: ws.search_runs(limit=25)),
            (f"runs table page {deep:_} deep, offset + count",
             lambda i: ws.search_runs(limit=25, offset=deep)),
            (f"runs table page {deep:_} deep, after= (keyset) + count",
             lambda i: ws.search_runs(limit=25, after=table_last)),
            (f"runs table, Waiting for me: search_runs(run_ids=<{len(waiting)} ids>)",
             lambda i: ws.search_runs(limit=25, run_ids=waiting)),
            ("runs table page, status filter",
             lambda i: ws.search_runs(status="Failed", limit=25, offset=25)),
            ("runs table page, text filter",
             lambda i: ws.search_runs(text="customer", limit=25, count_limit=10_000)),
            ("gallery: ws.last_runs()", lambda i: ws.last_runs()),
            ("Store.connect(read_only=True) open+close", con_ro),
            ("Store.transact: open+insert event+close", lambda i: ws.store.transact(write_event)),
            ("writer commit of 1 run row (put+flush)", put_flush),
            ("ws.run(1-step workflow), start->durable", lambda i: ws.run(single)),
        ]
        results = []
        for name, fn in cases:
            print(f"  timing {name} ...", flush=True)
            fn(0)  # warm-up
            results.append((name, timed(fn, reps)))
        print("  timing wfnb.open in a fresh process ...", flush=True)
        results.append(("wfnb.open(workspace) in a new process", open_in_fresh_process(root, 5)))
        sanity = ws.runs(limit=3)
    finally:
        if opts.keep:
            print(f"  kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"wfnb history at scale  (python {sys.version.split()[0]}, duckdb {duckdb.__version__})")
    print(f"history: {counts['runs']:,} runs, {counts['tasks']:,} tasks, {counts['events']:,} "
          f"events; file {size_mb:,.0f} MB; setup {setup_s:.1f} s ("
          + ", ".join(f"{k} {v:.1f} s" for k, v in setup.items()) + ")")
    print("newest runs: " + "; ".join(f"{r.id} {r.workflow} {r.status}" for r in sanity))
    print()
    print(f"{'operation':<62}{'reps':>5}{'median':>10}{'min':>9}{'max':>9}{'target':>8}  verdict")
    for name, times in results:
        med = statistics.median(times) * 1e3
        print(f"{name:<62}{len(times):>5}{med:>10.1f}{min(times) * 1e3:>9.1f}"
              f"{max(times) * 1e3:>9.1f}{'<= 50':>8}  {'pass' if med <= TARGET_MS else 'MISS'}")
    print("(times in ms)")
    med = {name: statistics.median(times) * 1e3 for name, times in results}
    by_offset = med[f"ws.runs(limit=50, offset={deep:_})"]
    by_key = med[f"ws.runs(limit=50, after=run {deep:_} deep)  (keyset)"]
    print(f"deep page, {deep:,} runs in: keyset {by_key:.1f} ms vs offset {by_offset:.1f} ms "
          f"(offset / keyset = {by_offset / by_key:.1f}x); runs table "
          f"{med[f'runs table page {deep:_} deep, after= (keyset) + count']:.1f} vs "
          f"{med[f'runs table page {deep:_} deep, offset + count']:.1f} ms")


if __name__ == "__main__":
    main()
