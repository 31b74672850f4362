"""``wfnb schedules`` and ``wfnb scheduler``."""
from __future__ import annotations

import time

import wfnb
from wfnb.cli_output import EXIT_OK, parse_params, as_json, fmt, table
from wfnb.engine.core.errors import UsageError


def cmd_schedules(ws: wfnb.Workspace, args) -> int:
    action = args.action or "list"
    if action == "add":
        if not args.target or not args.cron:
            raise UsageError("wfnb schedules add WORKFLOW --cron EXPR [--timezone TZ] "
                             "[--catchup none|latest|all] [-p key=value]")
        made = ws.schedule(args.target, cron=args.cron, timezone=args.timezone,
                           params=parse_params(args.param), catchup=args.catchup)
        print(as_json(made.to_dict()) if args.json else
              f"schedule {made.id}: {made.workflow} at '{made.cron}' ({made.timezone}), "
              f"next {fmt(made.next_fire)} UTC")
        return EXIT_OK
    if action in ("pause", "resume", "delete"):
        if not args.target:
            raise UsageError(f"wfnb schedules {action} SCHEDULE_ID")
        {"pause": ws.pause_schedule, "resume": ws.resume_schedule,
         "delete": ws.delete_schedule}[action](args.target)
        print(f"schedule {args.target}: {action}d")
        return EXIT_OK
    items = [s.to_dict() for s in ws.schedules()]
    if args.json:
        print(as_json(items))
    else:
        print(table(items, ["id", "workflow", "cron", "timezone", "catchup", "paused",
                            "next_fire"]) if items else "no schedules")
    return EXIT_OK


def cmd_scheduler(ws: wfnb.Workspace, args) -> int:
    """Run due schedules until stopped (Ctrl-C); the runs go on in this process."""
    print(f"scheduler on {ws.root}, every {args.interval:g} s (Ctrl-C to stop)", flush=True)
    ticks = 0
    while args.ticks is None or ticks < args.ticks:
        for run in ws.run_due_schedules():
            print(f"started {run.id} of {run.workflow}", flush=True)
        ticks += 1
        time.sleep(args.interval)  # the scheduler's own cadence, not a test wait
    return EXIT_OK
