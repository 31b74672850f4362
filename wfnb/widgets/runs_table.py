"""The runs table: newest first, filtered by status, workflow, trigger, text and "waiting for
me", paged by key in the kernel (only one page ever crosses to the browser), open rows live
(their durations count up in the browser); a run's short id opens its details."""
from __future__ import annotations

import json
from typing import Any

import anywidget
import traitlets

from ..engine.core.states import RUN_TERMINAL, RunStatus
from .assets import css, esm
from .live import Live


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


PENDING, WAITING = RunStatus.PENDING.value, RunStatus.WAITING.value
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
    mine = traitlets.Bool(False).tag(sync=True)   # only runs waiting for this user's decision
    can_approve = traitlets.Bool(False).tag(sync=True)

    def __init__(self, ws, workflow: str | None = None, on_intent=None, **kw):
        super().__init__(**kw)
        self._on_intent = on_intent
        self.workflow, self.scoped = workflow or "", workflow is not None
        self.workflows = sorted(w.name for w in ws.workflows()) if ws.can(
            "LIST_WORKFLOWS") else []
        self.can_approve = ws.can("APPROVE")
        # keyset paging: the page shown starts after (older) or before (newer) a run of the
        # page next to it, so a deep page costs what the first does and stays put while new
        # runs arrive; None: the first page, or one reached by a jump (an offset)
        self._cursor: tuple[str, tuple] | None = None
        self._keys: list[tuple] = []  # (created_at, id) of the rows shown, newest first
        self.on_msg(self._message)
        self.observe(self._on_filter,
                     names=["page_size", "status", "workflow", "text", "trigger", "mine"])
        self.observe(self._on_page, names=["page"])
        self._start_live(ws)

    def _on_filter(self, _change: dict) -> None:
        self._cursor = None
        self.refresh()

    def _on_page(self, change: dict) -> None:
        old, new = change["old"], change["new"]
        if new == old + 1 and self._keys:
            self._cursor = ("after", self._keys[-1])
        elif new == old - 1 and new > 0 and self._keys:
            self._cursor = ("before", self._keys[0])
        else:
            self._cursor = None
        self.refresh()

    def _relevant(self, events: list[dict]) -> bool:
        # a new run, or a change of a run on this page (page 0 shows new runs)
        # (with "waiting for me": a run that starts waiting)
        shown = {r["id"] for r in self.rows}
        return any(e.get("kind") in ("run", "task") and (e.get("run_id") in shown or (
            self.page == 0 and e.get("kind") == "run" and e.get("status") == PENDING
            and self._may_show(e)) or (self.mine and e.get("status") == WAITING))
            for e in events)

    def _may_show(self, event: dict) -> bool:
        """May a new run's Pending event be a run of this table (its workflow)? A table of
        one workflow does not repaint for every new run of the others."""
        if not self.workflow:
            return True
        try:
            workflow = json.loads(event.get("data") or "{}").get("workflow")
        except (TypeError, ValueError):
            return True
        return workflow is None or workflow == self.workflow  # None: an older wfnb wrote it

    def _state(self) -> dict[str, Any]:
        ws = self._ws
        try:
            run_ids = None
            if self.mine:  # a handful of runs: those waiting for this user's decision
                run_ids = sorted({p.run_id for p in ws.pending_approvals()})
                if not run_ids:
                    return {"rows": [], "total": 0, "more": False, "error": ""}
            # where the page starts: after / before a run of the page next to it, or an offset
            start = {self._cursor[0]: self._cursor[1]} if self._cursor is not None else {
                "offset": self.page * self.page_size}
            runs, total = ws.search_runs(
                workflow=self.workflow or None, status=self.status or None,
                trigger=self.trigger or None, text=self.text or None, run_ids=run_ids,
                limit=self.page_size, count_limit=COUNT_LIMIT, **start)
        except Exception as exc:
            return {"error": str(exc), "rows": [], "total": 0, "more": False}
        self._keys = [(r.created_at, r.id) for r in runs]
        rows = []
        for r in runs:
            active = RunStatus(r.status) not in RUN_TERMINAL
            rows.append({
                "id": r.id, "workflow": r.workflow, "status": r.status,
                "progress": round(r.progress, 4), "created_by": r.created_by,
                "started": _iso(r.started_at or r.created_at),
                # an open run's duration counts up in the browser from "since"
                "since": _iso(r.started_at) if active else None,
                "duration": round(r.duration, 3) if r.duration is not None and not active
                else None,
                "trigger": r.trigger, "active": active})
        more = bool(self.text) and total > COUNT_LIMIT
        return {"rows": rows, "total": min(total, COUNT_LIMIT), "more": more, "error": ""}

    def _message(self, _widget, content: dict, _buffers) -> None:
        if self._on_intent is not None:
            self._on_intent(content)
