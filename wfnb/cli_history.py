"""``wfnb runs``, ``show``, ``diff``, ``sql`` and ``workflows``: the commands that read the
history and the workflows, and change nothing."""
from __future__ import annotations

import json
import sys

import wfnb
from wfnb.cli_output import EXIT_BAD_INPUT, EXIT_OK, as_json, fmt, table, task_dict
from wfnb.engine.services.artifacts import size_text


def cmd_diff(ws: wfnb.Workspace, args) -> int:
    comparison = ws.compare(args.run_a, args.run_b)
    print(as_json(comparison.to_dict()) if args.json else comparison.text())
    return EXIT_OK


RUN_COLUMNS = ["id", "workflow", "status", "progress", "created_by", "created_at", "duration",
               "trigger"]


def cmd_runs(ws: wfnb.Workspace, args) -> int:
    runs = ws.runs(workflow=args.workflow, status=args.status, limit=args.limit,
                   offset=args.offset)
    rows = [r.to_dict() for r in runs]
    if args.json:
        print(as_json(rows))
    elif rows:
        for row in rows:
            row["progress"] = f"{row['progress']:.0%}"
        print(table(rows, RUN_COLUMNS))
    else:
        print("no runs")
    return EXIT_OK


def cmd_show(ws: wfnb.Workspace, args) -> int:
    run = ws.get_run(args.run_id)
    tasks = run.tasks
    if args.json:
        print(as_json({**run.to_dict(), "tasks": [task_dict(t) for t in tasks],
                       "artifacts": [a.to_dict() for a in run.artifacts()]}))
        return EXIT_OK
    info = run.to_dict()
    for key in ("id", "workflow", "version", "status", "progress", "created_by", "trigger",
                "parent_id", "rerun_mode", "rerun_from", "created_at", "started_at",
                "ended_at", "duration", "error"):
        value = f"{info[key]:.0%}" if key == "progress" else fmt(info[key])
        if value:
            print(f"{key + ':':<12} {value}")
    print(f"{'params:':<12} {json.dumps(run.params)}")
    print()
    rows = [{"step": t.step, "attempt": t.attempt,
             "status": t.status.value + (" (reused)" if t.reused_from else ""),
             "started": t.started_at, "duration": t.duration,
             "result": json.dumps(t.result)[:60] if t.result is not None else None}
            for t in tasks]
    print(table(rows, ["step", "attempt", "status", "started", "duration", "result"]))
    files = run.artifacts()
    if files:
        print("\nartifacts:")
        print(table([{"step": a.step, "kind": a.kind, "size": size_text(a.size),
                      "path": a.path + (" (the parent's)" if a.reused else "")}
                     for a in files], ["step", "kind", "size", "path"]))
    for t in tasks:
        if t.log or t.traceback or t.error:
            print(f"\n--- {t.step} (attempt {t.attempt}) ---")
            if t.log:
                print(t.log.rstrip())
            if t.traceback:
                print(t.traceback.rstrip())
            elif t.error:
                print(t.error)
    return EXIT_OK


def cmd_sql(ws: wfnb.Workspace, args) -> int:
    df = ws.sql(args.query)
    if args.json:
        print(df.to_json(orient="records", date_format="iso", indent=2))
    else:
        print(df.to_string(index=False) if len(df.columns) else "(no result)")
    return EXIT_OK


def cmd_workflows(ws: wfnb.Workspace, args) -> int:
    """The valid workflows on stdout (a JSON list with --json, as ever); the broken files on
    stderr (JSON ``{"problems": [...]}`` with --json), and then exit 2."""
    items = [wf.describe() for wf in ws.workflows()]
    problems = ws.workflow_problems()
    if args.json:
        print(as_json(items))
    else:
        rows = [{"name": i["name"], "title": i["title"], "steps": len(i["steps"]),
                 "params": ", ".join(p["name"] + ("*" if p["required"] else "")
                                     for p in i["params"])} for i in items]
        print(table(rows, ["name", "title", "steps", "params"]) if rows else "no workflows")
    if not problems:
        return EXIT_OK
    sys.stdout.flush()  # the table first, then the broken files, when both go to a terminal
    if args.json:
        print(as_json({"problems": [p.to_dict() for p in problems]}), file=sys.stderr)
    else:
        files = len({p.file for p in problems})
        print(f"\nbroken files ({files}; their workflows are left out and cannot be run):",
              file=sys.stderr)
        for problem in problems:
            print("  " + str(problem).replace("\n", "\n    "), file=sys.stderr)
    return EXIT_BAD_INPUT
