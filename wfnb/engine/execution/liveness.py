"""Who owns which live run, heartbeats, cancel requests between processes, lost runners, and
what a process does with its runs when it exits.

Each process that runs workflows has an owner row it heartbeats (inside the writer's flushes)
while it has live runs. Any process that opens or polls the workspace marks a run whose owner
is gone (its process is dead on this host, or its heartbeat is stale) as Error, so no run stays
stuck in Running; a view showing a live run polls for that every ``VIEW_CHECK_EVERY`` s
(:meth:`Liveness.reap` with ``every``). The same flush reads cancel requests other processes
wrote for our runs.

Exit (the durability rule: a process that takes a run on finishes it or hands it off durably):

* runs this process *took on* (resumed here after a decision or a deadline: ``taken_on``) are
  waited for as the interpreter begins to shut down (``threading``'s exit hooks, which run
  before its threads are joined and before ``atexit``, so executors and kernels still work),
  until each ends or waits for approval again (then it is given back to the store, ownerless
  and durable), at most ``finish_wait`` s; a decision from a short-lived script therefore
  ends its run as decided instead of leaving it ``Error``. Ctrl-C stops the wait;
* from then on (``exiting``) sweeps claim no run, and a claimed run not yet started here is
  handed off instead (:meth:`Liveness.hand_off`: given back, and a ``wfnb _resume`` child
  process started to carry it on);
* then, in ``atexit`` (before ``Store.close``, registered earlier), the runs still live here
  (those this process started, or taken on and past the wait) end as ``Error``.
"""
from __future__ import annotations

import atexit
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import duckdb

from ..core.records import owner_identity, utcnow
from ..core.states import RUN_TERMINAL, TASK_ACTIVE, RunStatus, TaskStatus, check_run, check_task
from ..services.approvals import decisions_for
from ..store.store import PerStore, Store, rows_of

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Engine
    from .runner import RunDriver

STALE_AFTER = 8.0     # seconds without a heartbeat before a remote owner counts as gone
HUNG_AFTER = 60.0     # ... before a live process on this host counts as hung (the default
                      # of ``[workspace] hung_after``)
REAP_EVERY = 2.0      # at most this often per process
VIEW_CHECK_EVERY = 1.0  # a view showing a live run checks its owner this often (the docs
                        # promise a dead owner is seen within 10 s: 1 s here, or 8 s + 1 s
                        # for an owner on another host)
FINISH_WAIT = 300.0   # at exit, wait at most this long for the runs this process took on
BEAT_EVERY = 1.0      # heartbeat at most this often (flushes come more often while busy)
# runs an owner process may hold; a run Waiting for Approval holds one only while other
# steps of it still run (a released waiting run has no owner and is not lost)
OWNED = (RunStatus.PENDING.value, RunStatus.RUNNING.value, RunStatus.WAITING.value)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead for us
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def spawn_resume(root: Path, run_id: str, user: str) -> None:
    """Carry a run on in a background ``wfnb _resume`` process (for a process that will not:
    a short-lived command, or one that is exiting)."""
    logs = root / ".wfnb" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{run_id}.log", "ab") as log:
        subprocess.Popen([sys.executable, "-m", "wfnb", "_resume", run_id, "--workspace",
                          str(root)], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True,
                         env={**os.environ, "WFNB_USER": user})


def end_run(con: duckdb.DuckDBPyConnection, run_id: str, old: str, new: RunStatus,
            error: str, actor: str | None) -> bool:
    """End a run this process does not drive (lost owner, cancel of an orphan): the run and
    its unfinished tasks, with events, in the caller's transaction. False if it moved on."""
    check_run(RunStatus(old), new)
    now = utcnow()
    changed = con.execute(
        "UPDATE runs SET status = ?, error = ?, ended_at = ?, updated_at = ? "
        "WHERE id = ? AND status = ? RETURNING id",
        [new.value, error, now, now, run_id, old]).fetchall()
    if not changed:
        return False
    task_status = TaskStatus.CANCELLED if new == RunStatus.CANCELLED else TaskStatus.ERROR
    active = [s.value for s in TASK_ACTIVE]
    rows = con.execute(
        f"SELECT id, status FROM tasks WHERE run_id = ? AND status IN "
        f"({', '.join('?' * len(active))})", [run_id, *active]).fetchall()
    events = [(now, run_id, None, "run", new.value, actor, json.dumps({"error": error}))]
    for task_id, status in rows:
        check_task(TaskStatus(status), task_status)
        con.execute("UPDATE tasks SET status = ?, error = ?, ended_at = ? WHERE id = ?",
                    [task_status.value, error, now, task_id])
        events.append((now, run_id, task_id, "task", task_status.value, actor, None))
    con.executemany("INSERT INTO events (ts, run_id, task_id, kind, status, actor, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", events)
    return True


class Liveness(PerStore):
    """This process's side of run ownership for one store (one instance per store)."""

    def __init__(self, store: Store):
        self.store = store
        self.owner_id, self.host, self.pid = owner_identity()
        self.live: dict[str, "RunDriver"] = {}
        self._lock = threading.Lock()
        self._last_reap = 0.0
        self._last_beat = -BEAT_EVERY
        self.hung_after = HUNG_AFTER
        self.started_at = utcnow()
        self.engine: "Engine | None" = None   # carries on runs this process claims
        self.claims: set[str] = set()   # runs claimed here and not (yet) driven here
        self.exiting = False            # the interpreter is shutting down: claim nothing
        self.finish_wait = FINISH_WAIT
        store.add_pre_flush(self._drain)
        store.add_hook(self._hook)
        store.on_taken(self._taken)
        atexit.register(self.shutdown)
        try:  # before the interpreter joins its threads (and before any atexit hook)
            threading._register_atexit(self.finish_taken_on)  # type: ignore[attr-defined]
        except RuntimeError:  # opened while the interpreter is already shutting down
            pass

    def _taken(self, row: dict) -> None:
        """The history ended one of our runs while this process could not see it (frozen
        past ``HUNG_AFTER``, then woken): its driver adopts that ending."""
        driver = self.live.get(row["id"])
        if driver is not None:
            driver.taken(row)

    def finish_taken_on(self) -> None:
        """As the interpreter begins to shut down: wait for the runs this process took on to
        end or to wait for approval again, at most ``finish_wait`` s (Ctrl-C stops waiting).
        Sweeps claim nothing from now on."""
        if self.exiting:
            return
        self.exiting = True
        began = time.monotonic()
        deadline, told = began + self.finish_wait, False
        try:
            while True:
                taken = [d for d in list(self.live.values())
                         if d.taken_on and not d.done.is_set()]
                left = deadline - time.monotonic()
                if not taken or left <= 0:
                    return
                if not told and time.monotonic() - began > 1.0:  # a script that seems to
                    told = True                                   # hang at its end says why
                    print(f"wfnb: waiting up to {self.finish_wait:g} s for "
                          f"{', '.join(d.run.id for d in taken)}, taken on by this process, "
                          "to end or wait for approval again (Ctrl-C ends it as Error)",
                          file=sys.stderr, flush=True)
                taken[0].done.wait(min(left, 0.2))
        except KeyboardInterrupt:  # the rest of the shutdown must still run
            return

    def shutdown(self, wait: float = 3.0) -> None:
        """At interpreter exit: end this process's live runs as Error, hand off the waiting
        runs it claimed but never started, and write what is queued, so the history does not
        wait for another process to notice."""
        self.finish_taken_on()  # already done, unless threading's exit hooks did not run
        drivers = list(self.live.values())
        for driver in drivers:
            driver.request_stop(RunStatus.ERROR, "the process running this run exited "
                                f"(pid {self.pid} on {self.host}) before it ended")
        deadline = time.monotonic() + wait
        for driver in drivers:
            driver.done.wait(max(0.0, deadline - time.monotonic()))
        try:
            if self.claims and self.engine is not None:
                self.hand_off(list(self.claims), self.engine.root, self.engine.user)
            self.store.flush(timeout=max(0.5, deadline - time.monotonic()))
        except Exception:  # the reaper of another process will still fix the runs
            pass

    def hand_off(self, run_ids: list[str], root: Path, user: str) -> None:
        """Give claimed waiting runs back (ownerless, their decisions recorded: any process's
        sweep would carry them on) and start a ``wfnb _resume`` process to do it now."""
        mine = [r for r in run_ids if r not in self.live]
        if not mine:
            return
        marks = ", ".join("?" * len(mine))
        given = self.store.transact(lambda con: [r[0] for r in con.execute(
            f"UPDATE runs SET owner_id = NULL WHERE owner_id = ? AND status = ? "
            f"AND id IN ({marks}) RETURNING id",
            [self.owner_id, RunStatus.WAITING.value, *mine]).fetchall()])
        self.claims.difference_update(mine)
        for run_id in given:
            spawn_resume(root, run_id, user)

    def beat(self, con: duckdb.DuckDBPyConnection) -> None:
        """Write this process's heartbeat (its owner row), in the caller's transaction: any
        transaction that makes this process a run's owner must write it too, or another
        process would take the run for lost."""
        con.execute("INSERT INTO owners VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO "
                    "UPDATE SET heartbeat_at = excluded.heartbeat_at",
                    [self.owner_id, self.host, self.pid, self.started_at, utcnow()])
        self._last_beat = time.monotonic()

    def attach(self, engine: "Engine") -> None:
        """The engine that resumes runs claimed while sweeping (the first one opened)."""
        if self.engine is None:
            self.engine = engine

    def add(self, driver: "RunDriver") -> None:
        with self._lock:
            self.live[driver.run.id] = driver
            self.claims.discard(driver.run.id)
            self.store.keepalive = len(self.live)

    def remove(self, driver: "RunDriver") -> None:
        with self._lock:
            self.live.pop(driver.run.id, None)
            self.store.keepalive = len(self.live)

    def _drain(self) -> None:
        for driver in list(self.live.values()):
            driver.drain_output()

    def _hook(self, con: duckdb.DuckDBPyConnection) -> Callable[[], None] | None:
        """Inside each flush: heartbeat, collect cancel requests and decisions for our runs,
        and now and then mark lost runs and apply approval deadlines."""
        live = list(self.live)
        requests: list[tuple[str, str]] = []
        taken: list[dict] = []
        decisions: list[dict] = []
        claimed: list[str] = []
        if live:
            if time.monotonic() - self._last_beat > BEAT_EVERY:
                self.beat(con)
            marks = ", ".join("?" * len(live))
            ended = {s.value for s in RUN_TERMINAL}
            rows = rows_of(con.execute(
                f"SELECT id, status, error, ended_at, cancel_requested_by FROM runs "
                f"WHERE id IN ({marks}) AND (cancel_requested_at IS NOT NULL "
                f"OR status IN ({', '.join(repr(s) for s in sorted(ended))}))", live))
            # a run the history ended while we could not see it (frozen past hung_after,
            # then woken): its driver adopts that ending now, not at its next write
            taken = [r for r in rows if r["status"] in ended]
            requests = [(r["id"], r["cancel_requested_by"]) for r in rows
                        if r["status"] not in ended]
            for run_id, driver in list(self.live.items()):
                if driver.parked:
                    decisions += decisions_for(con, run_id, driver.parked)
        if time.monotonic() - self._last_reap > REAP_EVERY:
            self._last_reap = time.monotonic()
            claimed = self._sweep(con)
        if not (requests or decisions or claimed or taken):
            return None

        def after_commit() -> None:
            for row in taken:
                driver = self.live.get(row["id"])
                if driver is not None and driver.run.status not in RUN_TERMINAL:
                    driver.taken(row)
            for run_id, by in requests:
                if run_id in self.live:
                    self.live[run_id].request_cancel(by or "unknown")
            for decision in decisions:
                if decision["run_id"] in self.live:
                    self.live[decision["run_id"]].deliver(decision)
            self._carry_on(claimed)
        return after_commit

    def _sweep(self, con, ended: list[str] | None = None) -> list[str]:
        """Mark lost runs Error (their ids added to ``ended``), apply passed approval
        deadlines, and claim unowned runs holding a decision; returns the runs this process
        must now carry on. An exiting process claims nothing."""
        for run_id, status, reason in self._lost(con):
            if end_run(con, run_id, status, RunStatus.ERROR, reason, None) \
                    and ended is not None:
                ended.append(run_id)
        if self.engine is None or self.exiting:
            return []
        return self.engine.approvals.sweep(con)

    def _carry_on(self, claimed: list[str]) -> None:
        for run_id in claimed:
            if self.engine is not None and run_id not in self.live:
                if self.exiting:  # claimed just before the exit began: shutdown hands it off
                    continue
                self.engine._carry_on(run_id)

    def _lost(self, con) -> list[tuple[str, str, str]]:
        """Runs held by an owner that is gone: (run id, status, reason)."""
        # one equality per status: DuckDB pushes `status = ?` into the scan, but only uses
        # `status IN (...)` as an optional zone-map filter (a full scan at 1M runs)
        query = " UNION ALL ".join(
            "SELECT r.id, r.status, r.owner_id, o.host, o.pid, o.heartbeat_at FROM runs r "
            "LEFT JOIN owners o ON o.id = r.owner_id WHERE r.status = ?" for _ in OWNED)
        rows = con.execute(query, list(OWNED)).fetchall()
        stale = utcnow() - dt.timedelta(seconds=STALE_AFTER)
        lost = []
        for run_id, status, owner, host, pid, beat in rows:
            if owner == self.owner_id or (owner is None and status == RunStatus.WAITING.value):
                continue
            reason = self.owner_gone(owner, host, pid, beat, stale)
            if reason:
                lost.append((run_id, status, reason))
        return lost

    def owner_gone(self, owner, host, pid, beat, stale: dt.datetime) -> str | None:
        """Why an owner counts as gone, or None while it is alive."""
        if owner is None or host is None:
            return "runner lost: no process owns this run"
        limit = STALE_AFTER
        if host == self.host:  # the process table is the truth here; heartbeats only if hung
            if not pid_alive(pid):
                return f"runner lost: process {pid} on {host} stopped while the run was active"
            limit = self.hung_after
        if beat is not None and beat < stale - dt.timedelta(seconds=limit - STALE_AFTER):
            return (f"runner lost: process {pid} on {host} sent no heartbeat for more than "
                    f"{limit:g} s")
        return None

    def reap(self, force: bool = False, every: float = REAP_EVERY) -> list[str]:
        """From a reading process (at most every ``every`` s): the same sweep as the
        writer's, opening the file for writing only when there is something to do. Returns
        the runs it ended (as lost)."""
        if not force and time.monotonic() - self._last_reap < every:
            return []
        self._last_reap = time.monotonic()
        with self.store.connect(read_only=True) as con:
            if not self._lost(con) and not (self.engine and self.engine.approvals.due(con)):
                return []
        ended: list[str] = []
        self._carry_on(self.store.transact(lambda con: self._sweep(con, ended)))
        return ended

    def owner_alive(self, con, owner_id: str | None) -> bool:
        if owner_id == self.owner_id:
            return True
        row = con.execute("SELECT host, pid, heartbeat_at FROM owners WHERE id = ?",
                          [owner_id]).fetchone()
        host, pid, beat = row if row else (None, None, None)
        return self.owner_gone(owner_id, host, pid, beat,
                               utcnow() - dt.timedelta(seconds=STALE_AFTER)) is None

