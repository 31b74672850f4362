"""The run dialog: the form for a workflow's params, then the run's live progress, its
approval steps (Approve / Reject for those who may decide) and per-step outcomes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..engine.errors import ParamError, WfnbError
from .assets import css, esm
from .live import Live

HERE = Path(__file__).parent


def summary(value: Any, limit: int = 80) -> str:
    if value is None:
        return ""
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
               else None,
               "summary": summary(task.result) if task and name != "Start" else "",
               "error": task.error or "" if task else "", "decision": None}
        if task is not None and task.status.value == "Waiting for Approval":
            info = task.inputs or {}
            row["decision"] = {
                "approvers": info.get("approvers") or [], "fields": info.get("fields") or [],
                "description": info.get("description", ""), "deadline": info.get("deadline"),
                "can_decide": ws.can("APPROVE") and ws.permissions.among(
                    ws.user, info.get("approvers"))}
        rows.append(row)
    return rows


class RunDialog(Live, anywidget.AnyWidget):
    """Run a workflow: fill the form, Start Execution, watch it, decide its approvals."""

    _esm = esm("run_dialog")
    _css = css("run_dialog")
    workflow = traitlets.Dict({}).tag(sync=True)
    fields = traitlets.List([]).tag(sync=True)
    values = traitlets.Dict({}).tag(sync=True)
    errors = traitlets.Dict({}).tag(sync=True)
    run = traitlets.Dict({}).tag(sync=True)
    steps = traitlets.List([]).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

    def __init__(self, ws, workflow: str, values: dict | None = None, on_intent=None, **kw):
        super().__init__(**kw)
        self._wf = ws.workflow(workflow)
        self._run = None
        self._relevant_runs = set()
        self._on_intent = on_intent
        self.workflow = {"name": self._wf.name, "title": self._wf.title,
                         "description": self._wf.description}
        self.fields = [p.to_dict() for p in self._wf.params]
        self.values = {p.name: p.to_dict()["default"] for p in self._wf.params} | {
            k: v for k, v in (values or {}).items()}
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

    def decide(self, decision: str, step: str | None = None, comment: str | None = None,
               inputs: dict | None = None) -> None:
        try:
            if decision == "approve":
                self._ws.approve(self._run.id, step=step, comment=comment or None,
                                 **(inputs or {}))
            else:
                self._ws.reject(self._run.id, step=step, comment=comment or None)
            self.message = ""
        except ParamError as exc:
            self.message = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
        except WfnbError as exc:
            self.message = str(exc)
        self.refresh()

    def _state(self) -> dict[str, Any]:
        run = self._run
        if run is not None:
            run.refresh()
        rows = step_rows(self._ws, self._wf, run)
        info = {} if run is None else {
            "id": run.id, "status": run.status, "progress": round(run.progress, 4),
            "error": run.error or "", "duration": run.duration}
        return {"run": info, "steps": rows}

    def _message(self, _widget, content: dict, _buffers) -> None:
        action = content.get("action")
        if action == "start":
            self.start(content.get("values") or {})
        elif action in ("approve", "reject"):
            self.decide(action, content.get("step"), content.get("comment"),
                        content.get("inputs"))
        elif self._on_intent is not None:
            self._on_intent(content)
