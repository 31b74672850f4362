"""Helpers of the ``wfnb`` command's modules: parsing ``-p key=value``, usage errors, and
what the command prints (tables, JSON, a run followed to its end)."""
from __future__ import annotations

import json
from typing import Any

import wfnb
from wfnb.engine.core.params import parse_assignments as parse_params  # noqa: F401 - for the commands
from wfnb.engine.core.states import RunStatus

# exit codes of every wfnb command (see wfnb.cli)
EXIT_OK, EXIT_RUN_NOT_COMPLETED, EXIT_BAD_INPUT = 0, 1, 2


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def table(rows: list[dict], columns: list[str]) -> str:
    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=fmt)


def task_dict(task) -> dict:
    row = task.to_row()
    row.update(inputs=task.inputs, result=task.result, duration=task.duration,
               params_used=task.params_used)
    return row


def follow(ws: wfnb.Workspace, run: wfnb.Run, quiet: bool) -> None:
    """Print each task's status changes until the run ends or waits for a decision that
    nobody here will take."""
    seen: dict[str, str] = {}
    while True:
        try:
            run.wait(timeout=0.2)
            finished = True
        except TimeoutError:
            finished = (run.status == RunStatus.WAITING.value
                        and run.id not in ws.liveness.live)
        if not quiet:
            for task in run.tasks:
                label = f"{task.step}" + (f" (attempt {task.attempt})" if task.attempt > 1 else "")
                if seen.get(task.id) != task.status.value:
                    seen[task.id] = task.status.value
                    extra = f": {task.error}" if task.error else ""
                    print(f"  {label:<30} {task.status.value}{extra}", flush=True)
        if finished:
            return


def finish(ws: wfnb.Workspace, run: wfnb.Run, args) -> int:
    """Print how the run ended (or what it waits for), with its tasks only for a user with
    VIEW_DETAILS; return the exit code."""
    details = ws.can("VIEW_DETAILS")
    if args.json:
        tasks = {"tasks": [task_dict(t) for t in run.tasks]} if details else {}
        print(as_json({**run.to_dict(), **tasks}))
    elif run.status == RunStatus.WAITING.value:
        steps = ", ".join(t.step for t in run.tasks if t.status.value == run.status) \
            if details else ""
        print(f"run {run.id} is Waiting for Approval" + (f" ({steps})" if steps else "")
              + f"; nothing runs meanwhile. Decide with: wfnb approve {run.id}  or  "
              f"wfnb reject {run.id}")
    else:
        took = f" in {seconds(run.duration)}" if run.duration is not None else ""
        print(f"run {run.id} {run.status}{took}" + (f": {run.error}" if run.error else ""))
    return EXIT_OK if run.status == RunStatus.COMPLETED.value else EXIT_RUN_NOT_COMPLETED
