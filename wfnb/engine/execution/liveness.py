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
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import duckdb

from ..core.messages import Decision
from ..core.records import owner_identity, utcnow
from ..core.states import RUN_TERMINAL, RunStatus
from ..steps import children
from ..store import approvals, ownership
from ..store.store import PerStore, Store
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


end_run = ownership.end_run  # ending a run no process drives is SQL: in the store


class Liveness(PerStore):
    """This process's side of run ownership for one store (one instance per store)."""

    def __init__(self, store: Store):
        self.store = store
        self.owner_id, self.host, self.pid = owner_identity()
        self.live: dict[str, RunDriver] = {}
        self._lock = threading.Lock()
        self._last_reap = 0.0
        self._last_beat = -BEAT_EVERY
        self.hung_after = HUNG_AFTER
        self.started_at = utcnow()
        # carries on a run this process claimed (given by the first engine opened on the
        # store: it resumes the run here, or in a child process), with its root and user
        self.carry_on: Callable[[str], None] | None = None
        self.root: Path | None = None
        self.user: str | None = None
        self.claims: set[str] = set()   # runs claimed here and not (yet) driven here
        self.exiting = False            # the interpreter is shutting down: claim nothing
        self.finish_wait = FINISH_WAIT
        store.add_pre_flush(self._drain)
        store.add_hook(self._hook)
        store.on_taken(self._taken)
        # at exit, hooks run last-registered first: the runs end (as Error) before the
        # processes their steps started are ended
        children.install()
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
            if self.claims and self.root is not None:
                self.hand_off(list(self.claims), self.root, self.user)
            self.store.flush(timeout=max(0.5, deadline - time.monotonic()))
        except Exception:  # the reaper of another process will still fix the runs
            pass

    def hand_off(self, run_ids: list[str], root: Path, user: str) -> None:
        """Give claimed waiting runs back (ownerless, their decisions recorded: any process's
        sweep would carry them on) and start a ``wfnb _resume`` process to do it now."""
        mine = [r for r in run_ids if r not in self.live]
        if not mine:
            return
        given = self.store.transact(
            lambda con: ownership.give_back_waiting(con, self.owner_id, mine))
        self.claims.difference_update(mine)
        for run_id in given:
            spawn_resume(root, run_id, user)

    def beat(self, con: duckdb.DuckDBPyConnection) -> None:
        """Write this process's heartbeat (its owner row), in the caller's transaction: any
        transaction that makes this process a run's owner must write it too, or another
        process would take the run for lost."""
        ownership.beat(con, self.owner_id, self.host, self.pid, self.started_at)
        self._last_beat = time.monotonic()

    def attach(self, carry_on: Callable[[str], None], root: Path, user: str) -> None:
        """Who carries on the runs this process claims while sweeping (the first engine
        opened on the store), and the workspace and user a handed-off run resumes with."""
        if self.carry_on is None:
            self.carry_on, self.root, self.user = carry_on, root, user

    def add(self, driver: RunDriver) -> None:
        with self._lock:
            self.live[driver.run.id] = driver
            self.claims.discard(driver.run.id)
            self.store.keepalive = len(self.live)

    def remove(self, driver: RunDriver) -> None:
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
        decisions: list[Decision] = []
        claimed: list[str] = []
        if live:
            if time.monotonic() - self._last_beat > BEAT_EVERY:
                self.beat(con)
            ended = {s.value for s in RUN_TERMINAL}
            rows = ownership.news_for(con, live)
            # a run the history ended while we could not see it (frozen past hung_after,
            # then woken): its driver adopts that ending now, not at its next write
            taken = [r for r in rows if r["status"] in ended]
            requests = [(r["id"], r["cancel_requested_by"]) for r in rows
                        if r["status"] not in ended]
            for run_id, driver in list(self.live.items()):
                if driver.parked:
                    decisions += approvals.decisions_for(con, run_id, driver.parked)
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
                if decision.run_id in self.live:
                    self.live[decision.run_id].deliver(decision)
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
        if self.carry_on is None or self.exiting:
            return []
        claimed: list[str] = []
        for run_id, step, info, owner, decided in approvals.waiting(con):
            if decided is None and approvals.expired(info):
                approvals.record_timeout(con, run_id, step, info)
                decided = "timeout"
            if decided is not None and run_id not in claimed:
                if self.route(con, run_id, owner) == "claimed":
                    claimed.append(run_id)
        return claimed

    def due(self, con) -> bool:
        """Is there a passed approval deadline, or a decision nobody carries on? (read-only)"""
        return any((decided is None and approvals.expired(info))
                   or (decided is not None and owner is None)
                   for _, _, info, owner, decided in approvals.waiting(con))

    def route(self, con, run_id: str, owner: str | None) -> str:
        """Who carries on a run with a new decision: its live owner ("here" or "owner"), or,
        for a run nobody (alive) owns, this process, which claims it now ("claimed")."""
        if owner == self.owner_id:
            return "here"
        if owner is not None and self.owner_alive(con, owner):
            return "owner"
        ownership.take(con, run_id, self.owner_id)
        self.beat(con)
        self.claims.add(run_id)  # until it is driven here (or handed off at exit)
        return "claimed"

    def take_unowned(self, run_id: str) -> bool:
        """Claim a waiting run nobody owns (for a ``wfnb _resume`` process); False when
        another process has it."""
        def claim(con) -> bool:
            taken = ownership.take_unowned(con, run_id, self.owner_id)
            if taken:
                self.beat(con)
            return taken
        return self.store.transact(claim)

    def _carry_on(self, claimed: list[str]) -> None:
        for run_id in claimed:
            if self.carry_on is not None and run_id not in self.live:
                if self.exiting:  # claimed just before the exit began: shutdown hands it off
                    continue
                self.carry_on(run_id)

    def _lost(self, con) -> list[tuple[str, str, str]]:
        """Runs held by an owner that is gone: (run id, status, reason)."""
        rows = ownership.owned_runs(con)
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
            if not self._lost(con) and not (self.carry_on and self.due(con)):
                return []
        ended: list[str] = []
        self._carry_on(self.store.transact(lambda con: self._sweep(con, ended)))
        return ended

    def owner_alive(self, con, owner_id: str | None) -> bool:
        if owner_id == self.owner_id:
            return True
        host, pid, beat = ownership.owner(con, owner_id)
        return self.owner_gone(owner_id, host, pid, beat,
                               utcnow() - dt.timedelta(seconds=STALE_AFTER)) is None

