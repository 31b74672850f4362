"""The approvals inbox (``ws.inbox()``): every step waiting for this user's decision, with
Approve / Reject, a comment and the step's inputs inline, and View Details; live."""
from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from .live import Live
from .run_dialog import decide, iso, with_approval_form


class Inbox(Live, anywidget.AnyWidget):
    """Runs waiting for the current user's decision (``ws.pending_approvals()``)."""

    _esm, _css = with_approval_form("inbox")
    items = traitlets.List([]).tag(sync=True)
    # a refused decision, by "run_id:step": {"fields": {name: problem}, "message": text}
    decision_errors = traitlets.Dict({}).tag(sync=True)
    user = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    back = traitlets.Unicode("").tag(sync=True)  # the view Close returns to, if any

    def __init__(self, ws, on_intent=None, **kw):
        super().__init__(**kw)
        self._on_intent = on_intent
        self.user = ws.user
        self._decided: set[str] = set()  # decided here: gone even before the run moves on
        self.on_msg(self._message)
        self._start_live(ws)

    def _relevant(self, events: list[dict]) -> bool:
        # a run starting to wait or leaving the wait, a decision taken anywhere
        return any(e.get("kind") in ("run", "approval") for e in events)

    def _state(self) -> dict[str, Any]:
        try:
            pending = self._ws.pending_approvals()
        except Exception as exc:  # noqa: BLE001  (the history is busy: say so, not an empty inbox)
            return {"items": [], "error": str(exc)}
        items = [{"run_id": p.run_id, "workflow": p.workflow, "step": p.step,
                  "description": p.description, "approvers": p.approvers, "fields": p.fields,
                  "since": iso(p.waiting_since), "deadline": iso(p.deadline),
                  "on_timeout": p.on_timeout, "started_by": p.started_by, "can_decide": True}
                 for p in pending if f"{p.run_id}:{p.step}" not in self._decided]
        return {"items": items, "error": ""}

    def decide(self, decision: str, run_id: str, step: str | None = None,
               comment: str | None = None, inputs: dict | None = None) -> None:
        """Approve or reject one waiting step; bad inputs come back at their fields."""
        problem = decide(self._ws, run_id, decision, step, comment, inputs)
        key = f"{run_id}:{step}"
        if not problem:
            self._decided.add(key)
        self.decision_errors = {k: v for k, v in self.decision_errors.items() if k != key} | (
            {key: problem} if problem else {})
        self.refresh()

    def _message(self, _widget, content: dict, _buffers) -> None:
        action = content.get("action")
        if action in ("approve", "reject"):
            self.decide(action, content["run_id"], content.get("step"), content.get("comment"),
                        content.get("inputs"))
        elif self._on_intent is not None:
            self._on_intent(content)
