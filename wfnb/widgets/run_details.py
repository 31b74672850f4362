"""Run details: a run's arguments, tasks (Start first, as scheduled), results, debug output,
executed notebooks, a timeline, its approval steps (Approve / Reject for whoever may decide),
Cancel while active and Rerun."""
from __future__ import annotations

import json
from typing import Any

import anywidget
import traitlets

from ..engine.core.errors import WfnbError
from ..engine.services.artifacts import list_artifacts, size_text
from .live import Live
from .run_dialog import DecidesApprovals, iso, since, waiting_approvals, with_approval_form

LOG_LIMIT = 20_000  # characters of a task's debug output sent to the browser


class RunDetails(DecidesApprovals, Live, anywidget.AnyWidget):
    _esm, _css = with_approval_form("run_details")
    run = traitlets.Dict({}).tag(sync=True)
    tasks = traitlets.List([]).tag(sync=True)
    # steps waiting for a decision: who may decide, inputs, deadline, can_decide (this user)
    approvals = traitlets.List([]).tag(sync=True)
    # a refused decision, by "run_id:step": {"fields": {name: problem}, "message": text}
    decision_errors = traitlets.Dict({}).tag(sync=True)
    can_cancel = traitlets.Bool(False).tag(sync=True)
    can_rerun = traitlets.Bool(False).tag(sync=True)
    # executed notebooks and pickled results: step, kind, path, size (ws.artifacts)
    artifacts = traitlets.List([]).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    back = traitlets.Unicode("").tag(sync=True)  # the view Close returns to, if any

    def __init__(self, ws, run_id: str, on_intent=None, **kw):
        super().__init__(**kw)
        self._on_intent = on_intent
        self._run = ws.get_run(run_id)
        self._relevant_runs = {run_id}
        self.on_msg(self._message)
        self._start_live(ws)

    def _state(self) -> dict[str, Any]:
        ws, run = self._ws, self._run.refresh()
        start = run.started_at or run.created_at
        # the run before its tasks: a live run moves on meanwhile, and a status read first
        # is never ahead of the tasks (Completed always comes with its last task)
        info = {"id": run.id, "workflow": run.workflow, "status": run.status,
                "progress": round(run.progress, 4), "params": run.params,
                "created_by": run.created_by, "trigger": run.trigger,
                "parent_id": run.parent_id or "", "started": iso(run.started_at),
                "ended": iso(run.ended_at), "error": run.error or "",
                "since": None if run.done else iso(run.started_at),
                "duration": round(run.duration, 3) if run.done and run.duration is not None
                else None, "done": run.done, "rerun_mode": run.record.rerun_mode or "",
                "rerun_from": run.record.rerun_from or ""}
        records, tasks = run.tasks, []
        for t in records:
            offset = lambda at: round((at - start).total_seconds(), 3) if at else None  # noqa: E731
            log = t.log or ""
            tasks.append({
                "id": t.id, "step": t.step, "kind": t.kind, "attempt": t.attempt,
                "status": t.status.value, "started": iso(t.started_at),
                "ended": iso(t.ended_at), "since": since(t),
                "duration": round(t.duration, 3) if t.duration is not None
                and t.ended_at is not None else None,
                "from": offset(t.started_at), "to": offset(t.ended_at),
                "result": json.dumps(t.result, indent=1, default=str)[:LOG_LIMIT]
                if t.result is not None else "",
                "log": log[-LOG_LIMIT:], "traceback": t.traceback or "", "error": t.error or "",
                "notebook": t.notebook or "", "reused_from": t.reused_from or "",
                "reused_run": (t.reused_from or "").split(":")[0]})
        mine = run.created_by == ws.user and ws.can("RUN_WORKFLOW")
        files = [{**a.to_dict(), "size_text": size_text(a.size)}
                 for a in list_artifacts(records, ws.root)]
        return {"run": info, "tasks": tasks, "artifacts": files,
                "approvals": [] if run.done else waiting_approvals(ws, run.id, records),
                "can_cancel": not run.done and (ws.can("CANCEL_RUN") or mine),
                "can_rerun": ws.can("RUN_WORKFLOW", run.workflow)}

    def cancel(self) -> None:
        try:
            self._ws.cancel(self._run.id, wait=0.1)
            self.message = ""
        except WfnbError as exc:
            self.message = str(exc)
        self.refresh()

    def _message(self, _widget, content: dict, _buffers) -> None:
        action = content.get("action")
        if action == "cancel":
            self.cancel()
        elif action in ("approve", "reject"):
            self.decide(action, content.get("step"), content.get("comment"),
                        content.get("inputs"))
        elif self._on_intent is not None:
            self._on_intent({**content, "run_id": content.get("run_id") or self._run.id,
                             "workflow": self._run.workflow, "params": self._run.params})
