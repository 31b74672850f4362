"""Schedules: run a workflow on a cron expression in a time zone, with a catch-up policy.

A scheduler tick (``wfnb scheduler``, or ``Workspace.run_due_schedules()`` from a kernel's loop)
claims the due occurrences in one transaction: it records each fired occurrence in
``schedule_fires`` (primary key: schedule and occurrence) and moves the schedule's
``next_fire`` on, so two schedulers on one workspace never start the same occurrence twice.
Cron parsing, DST included, is croniter's; times are stored as naive UTC.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from ..core.errors import NotFound, ScheduleError, WfnbError
from ..core.params import to_jsonable, validate
from ..core.records import dumps, loads, new_run_id, utcnow
from ..core.states import RunStatus
from ..store import schedules as stored
from ..store.store import Store
from .catalog import Catalog
from .guard import Guard

if TYPE_CHECKING:  # pragma: no cover
    from .runs import Run

CATCHUP = ("none", "latest", "all")
ON_TIME = dt.timedelta(seconds=60)  # catchup="none": an occurrence this late still fires
MAX_CATCHUP = 100                   # catchup="all": at most this many missed occurrences


@dataclass
class Schedule:
    id: str
    workflow: str
    cron: str
    timezone: str
    params: dict | None  # as given when it was made; None: hidden from this user
    catchup: str
    paused: bool
    created_by: str
    created_at: dt.datetime
    last_fire: dt.datetime | None
    next_fire: dt.datetime | None

    @classmethod
    def from_row(cls, row: dict) -> "Schedule":
        return cls(**{**row, "params": loads(row["params"]) or {}})

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def without_params(self) -> "Schedule":
        """This schedule with its arguments hidden (they may hold secrets)."""
        return replace(self, params=None)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"timezone {name!r} is not a known time zone "
                            "(like 'UTC' or 'Europe/Berlin')") from None


def occurrences(cron: str, timezone: str, after: dt.datetime, until: dt.datetime,
                limit: int = MAX_CATCHUP + 1) -> list[dt.datetime]:
    """Occurrences (naive UTC) in (after, until], computed in ``timezone`` (DST-aware)."""
    tz = _zone(timezone)
    start = after.replace(tzinfo=dt.timezone.utc).astimezone(tz)
    it = croniter(cron, start)
    found: list[dt.datetime] = []
    while len(found) < limit:
        nxt = it.get_next(dt.datetime).astimezone(dt.timezone.utc).replace(tzinfo=None)
        if nxt > until:
            break
        found.append(nxt)
    return found


def next_after(cron: str, timezone: str, after: dt.datetime) -> dt.datetime:
    tz = _zone(timezone)
    start = after.replace(tzinfo=dt.timezone.utc).astimezone(tz)
    return croniter(cron, start).get_next(dt.datetime).astimezone(dt.timezone.utc).replace(
        tzinfo=None)


def to_fire(catchup: str, missed: list[dt.datetime], now: dt.datetime) -> list[dt.datetime]:
    """Which of the due occurrences start runs, by the catch-up policy."""
    if not missed:
        return []
    if catchup == "all":
        return missed[-MAX_CATCHUP:]
    if catchup == "latest":
        return missed[-1:]
    return [o for o in missed[-1:] if now - o <= ON_TIME]  # none: only one that is on time


class Schedules:
    """Adding, listing, pausing, resuming and deleting schedules, and the scheduler's tick."""

    def __init__(self, guard: Guard, catalog: Catalog, store: Store, owner_id: str,
                 submit: Callable[..., "Run"]):
        self.guard, self.catalog, self.store = guard, catalog, store
        self.owner_id, self.submit = owner_id, submit

    def add(self, workflow: str, cron: str, timezone: str = "UTC",
            params: dict | None = None, catchup: str = "none",
            now: dt.datetime | None = None) -> Schedule:
        wf = self.catalog.runnable(workflow)
        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise ScheduleError(f"cron {cron!r} is not a cron expression (like '0 6 * * 1-5':"
                                " minute hour day-of-month month day-of-week)")
        _zone(timezone)
        if catchup not in CATCHUP:
            raise ScheduleError(f"catchup {catchup!r} must be one of: {', '.join(CATCHUP)}")
        args = validate(wf.name, wf.params, params or {})  # ParamError now, not at 6 a.m.
        now = now or utcnow()
        user = self.guard.user
        schedule = Schedule(id=f"sch-{secrets.token_hex(4)}", workflow=wf.name, cron=cron,
                            timezone=timezone,
                            params={k: to_jsonable(v) for k, v in (params or {}).items()
                                    if k in args},
                            catchup=catchup, paused=False, created_by=user, created_at=now,
                            last_fire=None, next_fire=next_after(cron, timezone, now))

        def insert(con) -> None:
            stored.insert(con, schedule.to_dict())
            stored.event(con, now, user, {"schedule": schedule.id, "action": "created",
                                          "workflow": wf.name, "cron": cron})
        self.store.transact(insert)
        return schedule

    def all(self) -> list[Schedule]:
        """Every schedule, soonest first (no permission check)."""
        with self.store.connect(read_only=True) as con:
            return [Schedule.from_row(r) for r in stored.all_rows(con)]

    def next_runs(self) -> dict[str, dt.datetime]:
        """Each scheduled workflow's next run (naive UTC) among its schedules not paused."""
        soonest: dict[str, dt.datetime] = {}
        for schedule in self.all():
            if not schedule.paused and schedule.next_fire is not None:
                best = soonest.get(schedule.workflow)
                soonest[schedule.workflow] = min(best, schedule.next_fire) if best \
                    else schedule.next_fire
        return soonest

    def get(self, schedule_id: str) -> Schedule:
        with self.store.connect(read_only=True) as con:
            row = stored.row(con, schedule_id)
        if row is None:
            raise NotFound(f"no schedule with id {schedule_id!r}")
        return Schedule.from_row(row)

    def set_paused(self, schedule_id: str, paused: bool, now: dt.datetime | None = None) -> None:
        schedule = self.get(schedule_id)
        self.catalog.runnable(schedule.workflow)
        now = now or utcnow()
        # resuming starts from now: what was missed while paused is not caught up
        nxt = None if paused else next_after(schedule.cron, schedule.timezone, now)

        def update(con) -> None:
            stored.set_paused(con, schedule_id, paused, nxt, None if paused else now)
            self._event(con, now, schedule, "paused" if paused else "resumed")
        self.store.transact(update)

    def _event(self, con, now: dt.datetime, schedule: Schedule, action: str) -> None:
        """Every change is an event: the audit trail, and how other processes' views learn
        of it (the gallery's next run, the schedules view)."""
        stored.event(con, now, self.guard.user, {"schedule": schedule.id, "action": action,
                                                 "workflow": schedule.workflow,
                                                 "cron": schedule.cron})

    def delete(self, schedule_id: str) -> None:
        schedule = self.get(schedule_id)
        self.catalog.runnable(schedule.workflow)

        def remove(con) -> None:
            stored.delete(con, schedule_id)
            self._event(con, utcnow(), schedule, "deleted")
        self.store.transact(remove)

    def claim(self, now: dt.datetime | None = None) -> list[tuple[Schedule, dt.datetime, str]]:
        """In one transaction: the occurrences this scheduler starts, each recorded once."""
        now = now or utcnow()

        def take(con) -> list[tuple[Schedule, dt.datetime, str]]:
            claimed = []
            for row in stored.due(con, now):
                schedule = Schedule.from_row(row)
                since = schedule.last_fire or schedule.created_at
                missed = occurrences(schedule.cron, schedule.timezone, since, now)
                for occurrence in to_fire(schedule.catchup, missed, now):
                    run_id = new_run_id()
                    if stored.fire(con, schedule.id, occurrence, run_id, now, self.owner_id):
                        claimed.append((schedule, occurrence, run_id))
                stored.moved_on(con, schedule.id,
                                missed[-1] if missed else schedule.last_fire,
                                next_after(schedule.cron, schedule.timezone, now))
            return claimed
        return self.store.transact(take)

    def run_due(self, now: dt.datetime | None = None) -> list["Run"]:
        """Start the runs of every due occurrence (trigger ``schedule``); returns them."""
        runs = []
        for schedule, occurrence, run_id in self.claim(now):
            try:
                runs.append(self.submit(schedule.workflow, dict(schedule.params),
                                        trigger="schedule", run_id=run_id))
            except WfnbError as exc:  # the workflow changed since: say so in the history
                self.store.put(event={"kind": "schedule", "actor": schedule.created_by,
                                      "status": RunStatus.ERROR.value, "data": dumps({
                                          "schedule": schedule.id, "error": str(exc),
                                          "occurrence": occurrence.isoformat()})})
        return runs


__all__ = ["Schedule", "Schedules", "ScheduleError", "occurrences", "to_fire"]
