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
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from ..core.errors import NotFound, ScheduleError, WfnbError
from ..core.params import to_jsonable, validate
from ..core.records import dumps, loads, new_run_id, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Engine
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
    """The engine's schedule operations."""

    def __init__(self, engine: "Engine"):
        self.engine = engine

    def add(self, workflow: str, cron: str, timezone: str = "UTC",
            params: dict | None = None, catchup: str = "none",
            now: dt.datetime | None = None) -> Schedule:
        eng = self.engine
        wf = eng._runnable(workflow)
        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise ScheduleError(f"cron {cron!r} is not a cron expression (like '0 6 * * 1-5':"
                                " minute hour day-of-month month day-of-week)")
        _zone(timezone)
        if catchup not in CATCHUP:
            raise ScheduleError(f"catchup {catchup!r} must be one of: {', '.join(CATCHUP)}")
        args = validate(wf.name, wf.params, params or {})  # ParamError now, not at 6 a.m.
        now = now or utcnow()
        schedule = Schedule(id=f"sch-{secrets.token_hex(4)}", workflow=wf.name, cron=cron,
                            timezone=timezone,
                            params={k: to_jsonable(v) for k, v in (params or {}).items()
                                    if k in args},
                            catchup=catchup, paused=False, created_by=eng.user, created_at=now,
                            last_fire=None, next_fire=next_after(cron, timezone, now))

        def insert(con) -> None:
            con.execute("INSERT INTO schedules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [schedule.id, schedule.workflow, cron, timezone, dumps(schedule.params),
                         catchup, False, eng.user, now, None, schedule.next_fire])
            con.execute("INSERT INTO events (ts, kind, actor, data) VALUES (?, 'schedule', ?, ?)",
                        [now, eng.user, dumps({"schedule": schedule.id, "action": "created",
                                               "workflow": wf.name, "cron": cron})])
        eng.store.transact(insert)
        return schedule

    def list(self) -> list[Schedule]:
        return [Schedule.from_row(r) for r in self.engine.store.query(
            "SELECT * FROM schedules ORDER BY next_fire NULLS LAST, id")]

    def get(self, schedule_id: str) -> Schedule:
        rows = self.engine.store.query("SELECT * FROM schedules WHERE id = ?", [schedule_id])
        if not rows:
            raise NotFound(f"no schedule with id {schedule_id!r}")
        return Schedule.from_row(rows[0])

    def set_paused(self, schedule_id: str, paused: bool, now: dt.datetime | None = None) -> None:
        schedule = self.get(schedule_id)
        self.engine._runnable(schedule.workflow)
        now = now or utcnow()
        # resuming starts from now: what was missed while paused is not caught up
        nxt = None if paused else next_after(schedule.cron, schedule.timezone, now)

        def update(con) -> None:
            con.execute("UPDATE schedules SET paused = ?, next_fire = ?, "
                        "last_fire = coalesce(?, last_fire) WHERE id = ?",
                        [paused, nxt, None if paused else now, schedule_id])
            self._event(con, now, schedule, "paused" if paused else "resumed")
        self.engine.store.transact(update)

    def _event(self, con, now: dt.datetime, schedule: Schedule, action: str) -> None:
        """Every change is an event: the audit trail, and how other processes' views learn
        of it (the gallery's next run, the schedules view)."""
        con.execute("INSERT INTO events (ts, kind, actor, data) VALUES (?, 'schedule', ?, ?)",
                    [now, self.engine.user, dumps({"schedule": schedule.id, "action": action,
                                                   "workflow": schedule.workflow,
                                                   "cron": schedule.cron})])

    def delete(self, schedule_id: str) -> None:
        schedule = self.get(schedule_id)
        self.engine._runnable(schedule.workflow)

        def remove(con) -> None:
            con.execute("DELETE FROM schedules WHERE id = ?", [schedule_id])
            self._event(con, utcnow(), schedule, "deleted")
        self.engine.store.transact(remove)

    def claim(self, now: dt.datetime | None = None) -> list[tuple[Schedule, dt.datetime, str]]:
        """In one transaction: the occurrences this scheduler starts, each recorded once."""
        now = now or utcnow()
        me = self.engine.liveness.owner_id

        def take(con) -> list[tuple[Schedule, dt.datetime, str]]:
            from ..store.store import rows_of
            claimed = []
            for row in rows_of(con.execute(
                    "SELECT * FROM schedules WHERE NOT paused AND next_fire <= ?", [now])):
                schedule = Schedule.from_row(row)
                since = schedule.last_fire or schedule.created_at
                missed = occurrences(schedule.cron, schedule.timezone, since, now)
                for occurrence in to_fire(schedule.catchup, missed, now):
                    run_id = new_run_id()
                    fired = con.execute(
                        "INSERT OR IGNORE INTO schedule_fires VALUES (?, ?, ?, ?, ?) "
                        "RETURNING run_id", [schedule.id, occurrence, run_id, now, me]).fetchall()
                    if fired:
                        claimed.append((schedule, occurrence, run_id))
                con.execute("UPDATE schedules SET last_fire = ?, next_fire = ? WHERE id = ?",
                            [missed[-1] if missed else schedule.last_fire,
                             next_after(schedule.cron, schedule.timezone, now), schedule.id])
            return claimed
        return self.engine.store.transact(take)

    def run_due(self, now: dt.datetime | None = None) -> list["Run"]:
        """Start the runs of every due occurrence (trigger ``schedule``); returns them."""
        runs = []
        for schedule, occurrence, run_id in self.claim(now):
            try:
                runs.append(self.engine.submit(
                    schedule.workflow, dict(schedule.params), trigger="schedule",
                    run_id=run_id))
            except WfnbError as exc:  # the workflow changed since: say so in the history
                self.engine.store.put(event={"kind": "schedule", "actor": schedule.created_by,
                                             "status": "Error", "data": dumps({
                                                 "schedule": schedule.id, "error": str(exc),
                                                 "occurrence": occurrence.isoformat()})})
        return runs


__all__ = ["Schedule", "Schedules", "ScheduleError", "occurrences", "to_fire"]
