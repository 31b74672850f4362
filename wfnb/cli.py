"""The ``wfnb`` command: a thin layer over the same public API the notebooks use.

Exit codes: 0 the run Completed (or the command did what it was asked); 1 the run ended in any
other status; 2 bad usage or bad input, in which case nothing was created.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import wfnb
from wfnb.cli_output import (EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_NOT_COMPLETED, as_json, finish,
                             follow, parse_params, table)
from wfnb.cli_history import cmd_diff, cmd_runs, cmd_show, cmd_sql, cmd_workflows
from wfnb.cli_schedules import cmd_scheduler, cmd_schedules
from wfnb.engine.core.errors import StoreError, UsageError, WfnbError
from wfnb.engine.core.states import RunStatus
from wfnb.lab import cmd_lab


# ---- commands ------------------------------------------------------------------------------
def _start_detached(ws: wfnb.Workspace, args, name: str, given: dict[str, str],
                    parent: str | None) -> int:
    """--no-wait: the run goes on in its own process, which owns it until it ends. The child
    gets the -p text as given; a rerun's child reads its parent's arguments from the history
    itself (--rerun-of), so they never pass through text (nor show on a command line)."""
    resume = _resume_options(args)
    params = ws.rerun_plan(parent, given, **resume)[1] if parent else given  # refusals first
    ws.validate(name, **params)  # exit 2 before anything starts
    run_id = ws.new_run_id()
    logs = ws.root / ".wfnb" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "wfnb", "_execute", name, "--workspace", str(ws.root),
               "--run-id", run_id, "--trigger", "rerun" if parent else "manual"]
    command += ["--rerun-of", parent] if parent else []
    command += ["--from-failure"] if resume.get("from_failure") else []
    command += ["--from-step", resume["from_step"]] if resume.get("from_step") else []
    command += ["--force"] if resume.get("force") else []
    for key, value in given.items():
        command += ["-p", f"{key}={value}"]
    with open(logs / f"{run_id}.log", "wb") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                 env={**os.environ, "WFNB_USER": ws.user})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not ws.exists(run_id):
            if child.poll() is not None:
                text = (logs / f"{run_id}.log").read_text().strip()
                print(f"error: the run could not start: {text}", file=sys.stderr)
                return EXIT_RUN_NOT_COMPLETED
            time.sleep(0.05)  # polling for the child's first write
            continue
        if args.json:
            print(as_json({"id": run_id, "pid": child.pid}))
        else:
            print(f"run {run_id} started in the background (pid {child.pid}); "
                  f"follow it with: wfnb show {run_id}")
        return EXIT_OK
    print(f"error: run {run_id} did not appear in the history within 60 s", file=sys.stderr)
    return EXIT_RUN_NOT_COMPLETED


def _launch(ws: wfnb.Workspace, args, workflow: str, given: dict[str, str],
            parent: str | None = None) -> int:
    """Start a run of ``workflow`` with the -p text ``given`` (with ``parent``: a rerun of it,
    its arguments updated by ``given``), then follow it to its end (or, with --no-wait, leave
    it to a child)."""
    if args.no_wait:
        return _start_detached(ws, args, workflow, given, parent)
    if parent:
        name, params, plan = ws.rerun_plan(parent, given, **_resume_options(args))
        run = ws.submit(name, params, trigger="rerun", parent_id=parent, plan=plan)
    else:
        run = ws.submit(workflow, given)
    if not args.json:
        origin = f" ({_MODES[run.record.rerun_mode or 'all']} of {parent})" if parent else ""
        print(f"run {run.id} of {run.workflow} started{origin}", flush=True)
    # a user without VIEW_DETAILS follows the run without its tasks (they would be refused)
    follow(ws, run, quiet=args.json or not ws.can("VIEW_DETAILS"))
    return finish(ws, run, args)


_MODES = {"all": "rerun", "from_failure": "resumed from the failure",
          "from_step": "rerun from a step"}


def _resume_options(args) -> dict:
    """``ws.rerun``'s mode from --from-failure / --from-step / --force (rerun, _execute)."""
    return {"from_failure": bool(getattr(args, "from_failure", False)),
            "from_step": getattr(args, "from_step", None),
            "force": bool(getattr(args, "force", False))}


def cmd_run(ws: wfnb.Workspace, args) -> int:
    return _launch(ws, args, args.workflow, parse_params(args.param))


def cmd_rerun(ws: wfnb.Workspace, args) -> int:
    parent = ws.get_run(args.run_id)
    return _launch(ws, args, parent.workflow, parse_params(args.param), parent.id)


def _decision(ws: wfnb.Workspace, args, kind: str) -> int:
    if kind == "approve":
        run = ws.approve(args.run_id, step=args.step, comment=args.comment,
                         **parse_params(args.param))
    else:
        run = ws.reject(args.run_id, step=args.step, comment=args.comment)
    say = (lambda text: None) if args.json else (lambda text: print(text, flush=True))
    say(f"{kind[:-1] if kind.endswith('e') else kind}ed run {run.id} as {ws.user}")
    if run.id not in ws.liveness.live:
        say("the process that owns the run carries it on")
        if args.json:
            print(as_json({"id": run.id, "decision": kind, "carried_on": "by its owner"}))
        return EXIT_OK
    say("carrying the run on in this process until it ends or waits again")
    follow(ws, run, quiet=args.json or not ws.can("VIEW_DETAILS"))
    code = finish(ws, run, args)
    settled = (RunStatus.COMPLETED.value, RunStatus.WAITING.value, RunStatus.REJECTED.value)
    return EXIT_OK if run.status in settled else code


def cmd_approve(ws: wfnb.Workspace, args) -> int:
    return _decision(ws, args, "approve")


def cmd_reject(ws: wfnb.Workspace, args) -> int:
    return _decision(ws, args, "reject")


def cmd_approvals(ws: wfnb.Workspace, args) -> int:
    pending = ws.pending_approvals(workflow=args.workflow)
    if args.json:
        print(as_json([p.to_dict() for p in pending]))
    elif pending:
        rows = [{"run": p.run_id, "workflow": p.workflow, "step": p.step,
                 "waiting since": p.waiting_since, "deadline": p.deadline,
                 "approvers": ", ".join(p.approvers) or "anyone with APPROVE",
                 "description": p.description} for p in pending]
        print(table(rows, list(rows[0])))
    else:
        print(f"nothing waits for {ws.user}")
    return EXIT_OK


def cmd_resume(ws: wfnb.Workspace, args) -> int:
    """The background process that carries on a run woken by a deadline or a decision."""
    if args.run_id in ws.liveness.live:  # opening the workspace already claimed it
        run = ws.get_run(args.run_id)
    else:
        run = ws.take_on(args.run_id)
        if run is None:
            print(f"run {args.run_id} is carried on elsewhere (or has ended)")
            return EXIT_OK
    follow(ws, run, quiet=True)
    return finish(ws, run, args)


def cmd_execute(ws: wfnb.Workspace, args) -> int:
    params = parse_params(args.param)
    plan = None
    if args.rerun_of:  # the parent's stored arguments, as the values they were, then -p
        _, params, plan = ws.rerun_plan(args.rerun_of, params, **_resume_options(args))
    run = ws.submit(args.workflow, params, trigger=args.trigger, parent_id=args.rerun_of,
                    run_id=args.run_id, plan=plan)
    follow(ws, run, quiet=True)  # until it ends, or waits for a decision (then nothing is held)
    return finish(ws, run, args)


def cmd_cancel(ws: wfnb.Workspace, args) -> int:
    run = ws.cancel(args.run_id, wait=args.wait)
    print(f"run {run.id} {run.status}")
    return EXIT_OK if run.status == RunStatus.CANCELLED.value else EXIT_RUN_NOT_COMPLETED


def cmd_init(root: str) -> int:
    existed = (Path(root) / "wfnb.toml").exists()
    ws = wfnb.open(root)
    state = "already a workspace" if existed else "created"
    print(f"{ws.root}: {state} (wfnb.toml, history in {ws.config.history})")
    return EXIT_OK


# ---- parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    def workspace_option(p: argparse.ArgumentParser, default: Any) -> None:
        p.add_argument("--workspace", "-w", metavar="DIR", default=default,
                       help="workspace folder (default: $WFNB_WORKSPACE, else the current one)")

    parser = argparse.ArgumentParser(prog="wfnb", description="Run and query wfnb workflows.")
    parser.add_argument("--version", action="version", version=f"wfnb {wfnb.__version__}")
    workspace_option(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, fn, help: str | None, **kw) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, **kw)
        workspace_option(p, argparse.SUPPRESS)  # so --workspace works anywhere on the line
        p.set_defaults(fn=fn)
        if help is None:  # internal: not listed in --help
            sub._choices_actions.pop()
        return p

    def json_option(p):
        p.add_argument("--json", action="store_true", help="print JSON")

    p = command("run", cmd_run, "start a run and follow it to the end")
    p.add_argument("workflow")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE")
    p.add_argument("--no-wait", action="store_true", help="start it in the background and return")
    json_option(p)

    p = command("rerun", cmd_rerun, "run a past run again with its arguments (and overrides)")
    p.add_argument("run_id")

    def resume_options(p):
        how = p.add_mutually_exclusive_group()
        how.add_argument("--from-failure", action="store_true", help="reuse the results of "
                         "the steps that completed; run the failed ones and what follows")
        how.add_argument("--from-step", metavar="STEP", help="reuse the results of the "
                         "completed steps upstream of STEP; run STEP and what follows")
        p.add_argument("--force", action="store_true", help="with -p changing a parameter "
                       "that a reused step read: run that step again instead of refusing")
    resume_options(p)
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE")
    p.add_argument("--no-wait", action="store_true", help="start it in the background and return")
    json_option(p)

    p = command("runs", cmd_runs, "list runs, newest first")
    p.add_argument("--workflow")
    p.add_argument("--status")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--offset", type=int, default=0)
    json_option(p)

    p = command("show", cmd_show, "show a run, its tasks, results and debug output")
    p.add_argument("run_id")
    json_option(p)

    p = command("cancel", cmd_cancel, "cancel a run, wherever it runs")
    p.add_argument("run_id")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for it to stop")

    p = command("sql", cmd_sql, "query the history (read-only)")
    p.add_argument("query")
    json_option(p)

    p = command("workflows", cmd_workflows, "list the workspace's workflows")
    json_option(p)

    for name, fn, verb in (("approve", cmd_approve, "approve"), ("reject", cmd_reject,
                                                                    "reject")):
        p = command(name, fn, f"{verb} a run's step that waits for approval")
        p.add_argument("run_id")
        p.add_argument("--step", help="which step, when several wait")
        p.add_argument("--comment", "-m")
        if name == "approve":
            p.add_argument("-p", "--param", action="append", metavar="FIELD=VALUE",
                           help="an approver input field")
        else:
            p.set_defaults(param=None)
        json_option(p)

    p = command("approvals", cmd_approvals, "list the approvals waiting for you")
    p.add_argument("--workflow")
    json_option(p)

    p = command("schedules", cmd_schedules, "list, add, pause, resume or delete schedules")
    p.add_argument("action", nargs="?", choices=["list", "add", "pause", "resume", "delete"])
    p.add_argument("target", nargs="?", metavar="WORKFLOW|SCHEDULE_ID")
    p.add_argument("--cron", help="e.g. '0 6 * * 1-5' (a 6th field counts seconds)")
    p.add_argument("--timezone", default="UTC")
    p.add_argument("--catchup", default="none", choices=["none", "latest", "all"])
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE")
    json_option(p)

    p = command("scheduler", cmd_scheduler, "run due schedules, as a long-lived process")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")
    p.add_argument("--ticks", type=int, help="stop after this many ticks (default: never)")

    command("init", None, "make the folder a workspace (wfnb.toml and .wfnb/)")

    p = command("lab", cmd_lab, "open JupyterLab with the Workflows sidebar on the workspace")
    p.add_argument("--notebook", help="a notebook to open as well (e.g. "
                   "notebooks/Gallery.ipynb, the views in a cell)")
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--no-browser", action="store_true")

    p = command("diff", cmd_diff, "compare two runs: params, steps, results that differ")
    p.add_argument("run_a")
    p.add_argument("run_b")
    json_option(p)

    p = command("_resume", cmd_resume, None)  # carries on a run in the background
    p.add_argument("run_id")
    p.set_defaults(json=False)

    p = command("_execute", cmd_execute, None)  # the background process of --no-wait
    p.add_argument("workflow")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE")
    p.add_argument("--run-id", required=True)
    p.add_argument("--trigger", default="manual")
    p.add_argument("--rerun-of", metavar="RUN_ID", help="start with this run's arguments "
                   "(read from the history), updated by -p; recorded as the parent")
    resume_options(p)
    p.set_defaults(json=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 for bad usage, 0 for --help
        return int(exc.code or 0)
    root = args.workspace or os.environ.get("WFNB_WORKSPACE") or "."
    try:
        if args.command == "init":
            return cmd_init(root)
        if not (Path(root) / "wfnb.toml").exists():
            raise UsageError(f"{Path(root).resolve()} is not a wfnb workspace (no wfnb.toml); "
                             "create one with: wfnb init")
        # runs this command did not ask for but wakes (a deadline passed, a decision nobody
        # carried on) go on in a background process of their own, never in this one, which
        # exits when its own work is done; only `_resume` (that background process) carries on
        long_lived = args.command in ("_resume", "scheduler")
        ws = wfnb.open(root, carry_on="thread" if long_lived else "detach")
        return args.fn(ws, args)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUN_NOT_COMPLETED
    except wfnb.ParamError as exc:
        print(f"error: invalid arguments for workflow {exc.workflow!r}:", file=sys.stderr)
        for field, problem in exc.errors.items():
            print(f"  {field}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except WfnbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `wfnb runs | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
