"""The schedules view: every schedule (workflow, cron, time zone, arguments, next runs,
paused), Pause / Resume / Delete, and a form to add one that previews its next runs in its
time zone as the cron is typed. Changing a schedule needs what the API needs (RUN_WORKFLOW,
and being one of the workflow's runners); the view hides what the user may not do."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import anywidget
import traitlets
from croniter import croniter

from ..engine.core.errors import ParamError, ScheduleError, WfnbError
from ..engine.core.records import utcnow
from ..engine.core.states import RunStatus
from ..engine.services.schedules import CATCHUP, next_after
from .assets import css, esm
from .live import Live

PREVIEW = 5      # next run times shown while a schedule is being made
LISTED_NEXT = 3  # next run times shown per schedule in the list
FIELDS = ("workflow", "cron", "timezone", "catchup")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def local(when: dt.datetime, timezone: str) -> str:
    """A naive UTC time as read in ``timezone``: ``Mon 2026-11-30 06:00 CET``."""
    return when.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).strftime(
        "%a %Y-%m-%d %H:%M %Z")


def upcoming(cron: str, timezone: str, first: dt.datetime, count: int) -> list[dt.datetime]:
    """``first`` and the occurrences after it, ``count`` in all (naive UTC)."""
    times = [first]
    while len(times) < count:
        times.append(next_after(cron, timezone, times[-1]))
    return times


def field_of(exc: ScheduleError) -> str:
    """Which form field a ScheduleError is about (its message starts with the field's name)."""
    head = str(exc).split(" ", 1)[0]
    return head if head in FIELDS else ""


def preview(cron: str, timezone: str, now: dt.datetime | None = None,
            count: int = PREVIEW) -> tuple[list[str], dict[str, str]]:
    """The next ``count`` run times of ``cron`` in ``timezone`` (as read there), or the
    problem of each field, as the engine would say it."""
    errors: dict[str, str] = {}
    cron, timezone = (cron or "").strip(), (timezone or "").strip()
    if not cron:
        errors["cron"] = "give a cron expression (minute hour day-of-month month day-of-week)"
    elif not croniter.is_valid(cron):
        errors["cron"] = (f"cron {cron!r} is not a cron expression (like '0 6 * * 1-5': "
                          "minute hour day-of-month month day-of-week)")
    if not timezone:
        errors["timezone"] = "give a time zone (like 'UTC' or 'Europe/Berlin')"
    else:
        try:  # the zone alone, checked by the engine (its own message)
            next_after("* * * * *", timezone, utcnow())
        except ScheduleError as exc:
            errors["timezone"] = str(exc)
    if errors:
        return [], errors
    now = now or utcnow()
    first = next_after(cron, timezone, now)
    return [local(t, timezone) for t in upcoming(cron, timezone, first, count)], {}


def _arguments(params: dict | None) -> str:
    if params is None:
        return "(hidden)"
    return ", ".join(f"{k}={v}" for k, v in params.items())


class SchedulesView(Live, anywidget.AnyWidget):
    """``ws.schedules_view()`` (and the gallery's Schedules button)."""

    _esm = esm("schedules_view")
    _css = css("schedules_view")
    schedules = traitlets.List([]).tag(sync=True)
    workflows = traitlets.List([]).tag(sync=True)    # those the user may schedule, with params
    timezones = traitlets.List([]).tag(sync=True)
    catchups = traitlets.List(list(CATCHUP)).tag(sync=True)
    can_add = traitlets.Bool(False).tag(sync=True)
    # the add form: {workflow, cron, timezone, catchup, params: {name: text}}, as typed
    draft = traitlets.Dict({}).tag(sync=True)
    preview = traitlets.List([]).tag(sync=True)      # its next run times, read in its zone
    errors = traitlets.Dict({}).tag(sync=True)       # {field or "params.NAME": problem}
    message = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)     # the list itself could not be read

    def __init__(self, ws, on_intent=None, **kw):
        super().__init__(**kw)
        self._on_intent = on_intent
        self.timezones = sorted(available_timezones())
        self.on_msg(self._message)
        self.observe(self._on_draft, names=["draft"])
        self._start_live(ws)
        if self.workflows and not self.draft:
            self.draft = {"workflow": self.workflows[0]["name"], "cron": "0 6 * * *",
                          "timezone": "UTC", "catchup": "none", "params": {}}

    def _relevant(self, events: list[dict]) -> bool:
        # a schedule made, or a run started (a scheduler's fire moves a next time on)
        return any(e.get("kind") == "schedule" or (e.get("kind") == "run" and e.get(
            "status") == RunStatus.PENDING.value) for e in events)

    # ---- state ----------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        ws = self._ws
        try:
            found = ws.schedules()
            runnable = [wf for wf in ws.workflows() if ws.can("RUN_WORKFLOW", wf)]
        except WfnbError as exc:  # no LIST_WORKFLOWS, say: one line naming it
            return {"schedules": [], "workflows": [], "can_add": False, "error": str(exc)}
        may = {wf.name for wf in runnable}
        rows = []
        for s in found:
            nxt = [] if s.paused or s.next_fire is None else [
                local(t, s.timezone) for t in upcoming(s.cron, s.timezone, s.next_fire,
                                                       LISTED_NEXT)]
            rows.append({"id": s.id, "workflow": s.workflow, "cron": s.cron,
                         "timezone": s.timezone, "catchup": s.catchup, "paused": s.paused,
                         "arguments": _arguments(s.params), "created_by": s.created_by,
                         "next_fire": _iso(s.next_fire), "next_runs": nxt,
                         "can_change": s.workflow in may})
        workflows = [{"name": wf.name, "title": wf.title,
                      "params": [p.to_dict() for p in wf.params]}
                     for wf in sorted(runnable, key=lambda w: w.name)]
        return {"schedules": rows, "workflows": workflows, "can_add": bool(workflows),
                "error": ""}

    def _on_draft(self, change: dict) -> None:
        """Preview the draft's next runs; drop the errors of the fields just changed."""
        old, new = change["old"] or {}, change["new"] or {}
        times, problems = preview(new.get("cron", ""), new.get("timezone", ""))
        kept = {k: v for k, v in self.errors.items() if k not in ("cron", "timezone") and (
            old.get(k) == new.get(k) if not k.startswith("params.") else
            (old.get("params") or {}).get(k[7:]) == (new.get("params") or {}).get(k[7:]))}
        with self.hold_sync():
            self.preview = times
            self.errors = {**kept, **problems}

    # ---- actions --------------------------------------------------------------------------
    def add(self, draft: dict | None = None) -> bool:
        """Make the schedule of the form (or of ``draft``); False, with each problem at its
        field, if the engine refuses it."""
        if draft is not None:
            self.draft = dict(draft)
        d = self.draft
        params = {k: v for k, v in (d.get("params") or {}).items() if v not in ("", None)}
        try:
            made = self._ws.schedule(d.get("workflow") or "", cron=(d.get("cron") or "").strip(),
                                     timezone=(d.get("timezone") or "").strip() or "UTC",
                                     params=params, catchup=d.get("catchup") or "none")
        except ParamError as exc:
            self.errors = {f"params.{k}": v for k, v in exc.errors.items()}
            self.message = "Not added: fix the fields marked in red."
            return False
        except ScheduleError as exc:
            field = field_of(exc)
            self.errors = {field: str(exc)} if field else {}
            self.message = "Not added: fix the fields marked in red." if field else str(exc)
            return False
        except WfnbError as exc:
            self.errors, self.message = {}, str(exc)
            return False
        self.errors = {}
        self.message = (f"Added schedule {made.id}: {made.workflow} at '{made.cron}' "
                        f"({made.timezone}), next {local(made.next_fire, made.timezone)}.")
        self.refresh()
        return True

    def pause(self, schedule_id: str) -> bool:
        return self._change(lambda: self._ws.pause_schedule(schedule_id),
                            f"Paused schedule {schedule_id}.")

    def resume(self, schedule_id: str) -> bool:
        return self._change(lambda: self._ws.resume_schedule(schedule_id),
                            f"Resumed schedule {schedule_id}.")

    def delete(self, schedule_id: str) -> bool:
        return self._change(lambda: self._ws.delete_schedule(schedule_id),
                            f"Deleted schedule {schedule_id}.")

    def _change(self, act, done: str) -> bool:
        try:
            act()
        except WfnbError as exc:  # permission denied, gone meanwhile: said, never raised
            self.message = str(exc)
            self.refresh()
            return False
        self.message = done
        self.refresh()
        return True

    def _message(self, _widget, content: dict, _buffers) -> None:
        action = content.get("action")
        if action == "add":
            self.add(content.get("draft"))
        elif action in ("pause", "resume", "delete"):
            getattr(self, action)(content.get("id") or "")
        elif self._on_intent is not None:
            self._on_intent(content)
