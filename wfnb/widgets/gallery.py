"""The gallery: one card per workflow the user may list, with Run and View Runs; its header
opens the runs table, the schedules and the approvals waiting for this user."""
from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from .assets import css, esm
from .live import Live


class GalleryCards(Live, anywidget.AnyWidget):
    """Cards (title, description, tags, step kinds, last run); asks its host to open views."""

    _esm = esm("gallery")
    _css = css("gallery")
    cards = traitlets.List([]).tag(sync=True)
    query = traitlets.Unicode("").tag(sync=True)
    user = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    # broken workflow files: [{file, line, message, workflows}], shown above the cards
    problems = traitlets.List([]).tag(sync=True)
    # steps waiting for this user's decision (-1: the user may not approve: no Approvals button)
    approvals = traitlets.Int(-1).tag(sync=True)

    def __init__(self, ws, on_intent=None, **kw):
        super().__init__(**kw)
        self._on_intent = on_intent
        self.on_msg(self._message)
        self.user = ws.user
        self._start_live(ws)

    def _relevant(self, events: list[dict]) -> bool:
        # last-run status and time; the number of approvals waiting
        return any(e.get("kind") in ("run", "approval", "schedule") for e in events)

    def _state(self) -> dict[str, Any]:
        ws = self._ws
        try:
            workflows = ws.workflows()
            problems = [p.to_dict() for p in ws.workflow_problems()]
        except Exception as exc:  # the history is locked, say: an error, not an empty gallery
            return {"cards": [], "error": str(exc), "problems": []}
        last = ws.last_runs() if ws.can("VIEW_RUNS") else {}
        upcoming = ws.scheduling.next_runs()
        cards = []
        for wf in sorted(workflows, key=lambda w: w.title.lower()):
            info = last.get(wf.name) or {}
            kinds = sorted({s.kind for s in wf.steps.values()})
            cards.append({
                "name": wf.name, "title": wf.title, "description": wf.description,
                "tags": list(wf.tags), "kinds": kinds, "steps": len(wf.steps),
                "can_run": ws.can("RUN_WORKFLOW", wf.name),
                "declared": wf.declaration is not None,
                "last_status": info.get("status"), "last_run": info.get("id"),
                "last_time": info["created_at"].isoformat(timespec="seconds") + "Z"
                if info.get("created_at") else None,
                "next_run": upcoming[wf.name].isoformat(timespec="minutes") + "Z"
                if wf.name in upcoming else None})
        waiting = len(ws.pending_approvals()) if ws.can("APPROVE") else -1
        return {"cards": cards, "error": "", "problems": problems, "approvals": waiting}

    def _message(self, _widget, content: dict, _buffers) -> None:
        if content.get("action") == "reload":  # "Check again" after fixing a file
            self._dirty.set()  # the repaint thread rebuilds the state, which reloads files
            return
        if self._on_intent is not None:
            self._on_intent(content)
