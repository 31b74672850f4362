"""The runs table: newest first, filtered by status, workflow and text, paged in the kernel
(only one page ever crosses to the browser), running rows live, View Details per row."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..engine.states import RUN_TERMINAL, RunStatus
from .assets import css, esm
from .live import Live

HERE = Path(__file__).parent


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


COUNT_LIMIT = 10_000  # a text filter's matches are counted up to this many ("10,000+")


class RunsTable(Live, anywidget.AnyWidget):
    _esm = esm("runs_table")
    _css = css("runs_table")
    rows = traitlets.List([]).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    page = traitlets.Int(0).tag(sync=True)
    page_size = traitlets.Int(25).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    workflow = traitlets.Unicode("").tag(sync=True)
    text = traitlets.Unicode("").tag(sync=True)
    trigger = traitlets.Unicode("").tag(sync=True)
    statuses = traitlets.List([s.value for s in RunStatus]).tag(sync=True)
    workflows = traitlets.List([]).tag(sync=True)
    scoped = traitlets.Bool(False).tag(sync=True)  # fixed to one workflow
    error = traitlets.Unicode("").tag(sync=True)
    more = traitlets.Bool(False).tag(sync=True)   # a text filter matched over COUNT_LIMIT

    def __init__(self, ws, workflow: str | None = None, on_intent=None, **kw):
        super().__init__(**kw)
        self._on_intent = on_intent
        self.workflow, self.scoped = workflow or "", workflow is not None
        self.workflows = sorted(w.name for w in ws.workflows()) if ws.can(
            "LIST_WORKFLOWS") else []
        self.on_msg(self._message)
        self.observe(lambda _change: self.refresh(),
                     names=["page", "page_size", "status", "workflow", "text", "trigger"])
        self._start_live(ws)

    def _relevant(self, events: list[dict]) -> bool:
        # a new run, or a change of a run on this page (page 0 shows new runs)
        shown = {r["id"] for r in self.rows}
        return any(e.get("kind") in ("run", "task") and (e.get("run_id") in shown or (
            self.page == 0 and e.get("kind") == "run" and e.get("status") == "Pending"))
            for e in events)

    def _state(self) -> dict[str, Any]:
        try:
            runs, total = self._ws.search_runs(
                workflow=self.workflow or None, status=self.status or None,
                trigger=self.trigger or None, text=self.text or None, limit=self.page_size,
                offset=self.page * self.page_size, count_limit=COUNT_LIMIT)
        except Exception as exc:
            return {"error": str(exc), "rows": [], "total": 0, "more": False}
        rows = [{"id": r.id, "workflow": r.workflow, "status": r.status,
                 "progress": round(r.progress, 4), "created_by": r.created_by,
                 "started": _iso(r.started_at or r.created_at),
                 "duration": round(r.duration, 3) if r.duration is not None else None,
                 "trigger": r.trigger, "active": RunStatus(r.status) not in RUN_TERMINAL}
                for r in runs]
        more = bool(self.text) and total > COUNT_LIMIT
        return {"rows": rows, "total": min(total, COUNT_LIMIT), "more": more, "error": ""}

    def _message(self, _widget, content: dict, _buffers) -> None:
        if self._on_intent is not None:
            self._on_intent(content)
