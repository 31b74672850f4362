"""The run dialog: the form for a workflow's params, then the run's live progress, its
approval steps (Approve / Reject for those who may decide) and per-step outcomes.

Also what every view that shows approval forms shares (Run Details, the inbox): a waiting
step as the form draws it, and a decision taken from a view."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..engine.core.errors import ParamError, WfnbError
from ..engine.core.states import TASK_TERMINAL, TaskStatus
from .assets import css, esm
from .live import Live

HERE = Path(__file__).parent


def with_approval_form(name: str) -> tuple[str, str]:
    """A view's module and styles, with the shared approval form (approval_form.js/.css)."""
    return (esm(name) + (HERE / "approval_form.js").read_text(),
            css(name) + (HERE / "approval_form.css").read_text())


def iso(value: dt.datetime | str | None) -> str | None:
    """A stored (naive UTC) time as ISO text the browser reads as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


def since(task_or_run) -> str | None:
    """The start of a task or run still going (its duration counts up in the browser)."""
    active = task_or_run.ended_at is None and task_or_run.started_at is not None
    status = getattr(task_or_run, "status", None)
    if active and status is not None and status in TASK_TERMINAL:
        active = False
    return iso(task_or_run.started_at) if active else None


def summary(value: Any, limit: int = 80) -> str:
    if value is None:
        return ""
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def waiting_approval(ws, run_id: str, task) -> dict:
    """A step waiting for a decision, as the approval form draws it: who may decide, its
    inputs, its deadline, and whether the current user may decide."""
    info = task.inputs or {}
    approvers = list(info.get("approvers") or [])
    return {"run_id": run_id, "step": task.step, "approvers": approvers,
            "fields": info.get("fields") or [], "description": info.get("description", ""),
            "deadline": iso(info.get("deadline")), "on_timeout": info.get("on_timeout", "reject"),
            "since": iso(task.started_at),
            "can_decide": ws.can("APPROVE") and ws.permissions.among(ws.user, approvers)}


def waiting_approvals(ws, run_id: str, tasks: list) -> list[dict]:
    """Every step of a run waiting for a decision (the latest attempt of each step)."""
    latest = {t.step: t for t in tasks}
    return [waiting_approval(ws, run_id, t) for t in latest.values()
            if t.status.value == TaskStatus.WAITING.value]


def decide(ws, run_id: str, action: str, step: str | None, comment: str | None,
           inputs: dict | None) -> dict:
    """Record a decision taken in a view. Returns what the form shows: ``{}`` once recorded,
    else ``{"fields": {name: problem}, "message": text}`` (bad inputs go to their field)."""
    try:
        if action == "approve":
            ws.approve(run_id, step=step, comment=comment or None, **(inputs or {}))
        else:
            ws.reject(run_id, step=step, comment=comment or None)
    except ParamError as exc:
        return {"fields": dict(exc.errors), "message": ""}
    except WfnbError as exc:
        return {"fields": {}, "message": str(exc)}
    return {}


def step_rows(ws, wf, run) -> list[dict]:
    """One row per step of the workflow, in order, with its latest task's state."""
    latest = {t.step: t for t in run.tasks} if run is not None else {}
    rows = []
    for name in ["Start", *wf.order()]:
        task = latest.get(name)
        step = wf.steps.get(name)
        row = {"name": name, "kind": step.kind if step else "start",
               "status": task.status.value if task else "Not started",
               "attempt": task.attempt if task else 0,
               "duration": round(task.duration, 3) if task and task.duration is not None
               and task.ended_at is not None else None,
               "since": since(task) if task else None,
               "summary": summary(task.result) if task and name != "Start" else "",
               "error": task.error or "" if task else "", "decision": None}
        if task is not None and task.status.value == TaskStatus.WAITING.value:
            row["decision"] = waiting_approval(ws, run.id, task)
        rows.append(row)
    return rows


class DecidesApprovals:
    """Approve / Reject from a view of one run (``_run``): a refused decision comes back in
    ``decision_errors`` under ``"<run id>:<step>"``, at its fields."""

    def decide(self, decision: str, step: str | None = None, comment: str | None = None,
               inputs: dict | None = None) -> None:
        """Approve or reject a waiting step; bad inputs come back at their fields."""
        problem = decide(self._ws, self._run.id, decision, step, comment, inputs)
        key = f"{self._run.id}:{step}"
        self.decision_errors = {k: v for k, v in self.decision_errors.items() if k != key} | (
            {key: problem} if problem else {})
        self.refresh()


class RunDialog(DecidesApprovals, Live, anywidget.AnyWidget):
    """Run a workflow: fill the form, Start Execution, watch it, decide its approvals. Given
    ``rerun_of`` (a run id), the form is that run's arguments and Start Execution reruns it
    (``ws.rerun``: a ``rerun`` run linked to its parent) with what was changed."""

    _esm, _css = with_approval_form("run_dialog")
    workflow = traitlets.Dict({}).tag(sync=True)
    fields = traitlets.List([]).tag(sync=True)
    values = traitlets.Dict({}).tag(sync=True)
    errors = traitlets.Dict({}).tag(sync=True)
    run = traitlets.Dict({}).tag(sync=True)
    steps = traitlets.List([]).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    rerun_of = traitlets.Unicode("").tag(sync=True)
    rerun_mode = traitlets.Unicode("").tag(sync=True)  # "", "from_failure" or "from_step"
    rerun_step = traitlets.Unicode("").tag(sync=True)  # the step of "from_step"
    force = traitlets.Bool(False).tag(sync=True)       # rerun steps that read changed params
    # a refused decision, by "run_id:step": {"fields": {name: problem}, "message": text}
    decision_errors = traitlets.Dict({}).tag(sync=True)
    back = traitlets.Unicode("").tag(sync=True)  # the view Close returns to, if any

    def __init__(self, ws, workflow: str, values: dict | None = None, on_intent=None,
                 rerun_of: str | None = None, from_failure: bool = False,
                 from_step: str | None = None, **kw):
        super().__init__(**kw)
        self._wf = ws.workflow(workflow)
        self._run = None
        self._relevant_runs = set()
        self._on_intent = on_intent
        self.rerun_of = rerun_of or ""
        if rerun_of and (from_failure or from_step):  # a resume: Rerun from failure / here
            self.rerun_mode = "from_failure" if from_failure else "from_step"
            self.rerun_step = from_step or ""
        self.workflow = {"name": self._wf.name, "title": self._wf.title,
                         "description": self._wf.description}
        self.fields = [p.to_dict() for p in self._wf.params]
        self.values = {p.name: p.to_dict()["default"] for p in self._wf.params} | {
            k: v for k, v in (values or {}).items()}
        self._prefilled = dict(self.values)
        self.on_msg(self._message)
        self._start_live(ws)

    @property
    def current_run(self):
        """The run started from this dialog (None before Start Execution)."""
        return self._run

    def start(self, values: dict | None = None) -> bool:
        """Start Execution with the form's values; False (and field errors shown) if bad."""
        values = dict(self.values if values is None else values)
        self.values = values
        try:
            if self.rerun_of:  # only what the user changed overrides the parent's arguments
                overrides = {k: v for k, v in values.items() if k not in self._prefilled
                             or v != self._prefilled[k]}
                self._run = self._ws.rerun(
                    self.rerun_of, from_failure=self.rerun_mode == "from_failure",
                    from_step=self.rerun_step or None, force=self.force, **overrides)
            else:
                self._run = self._ws.start(self._wf.name, **values)
        except ParamError as exc:
            self.errors = dict(exc.errors)
            self.message = "Fix the fields marked in red; nothing was started."
            return False
        except WfnbError as exc:
            self.errors, self.message = {}, str(exc)
            return False
        self.errors, self.message = {}, ""
        self._relevant_runs = {self._run.id}
        self.refresh()
        return True

    def _state(self) -> dict[str, Any]:
        run = self._run
        if run is not None:
            run.refresh()
        rows = step_rows(self._ws, self._wf, run)
        info = {} if run is None else {
            "id": run.id, "status": run.status, "progress": round(run.progress, 4),
            "error": run.error or "", "trigger": run.trigger, "parent_id": run.parent_id or "",
            "duration": round(run.duration, 3) if run.done and run.duration is not None
            else None,
            "since": None if run.done else iso(run.started_at)}
        return {"run": info, "steps": rows}

    def _message(self, _widget, content: dict, _buffers) -> None:
        action = content.get("action")
        if action == "start":
            self.force = bool(content.get("force", self.force))
            self.start(content.get("values") or {})
        elif action in ("approve", "reject"):
            self.decide(action, content.get("step"), content.get("comment"),
                        content.get("inputs"))
        elif self._on_intent is not None:
            self._on_intent(content)
