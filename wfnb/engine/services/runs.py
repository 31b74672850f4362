"""``Run``: the handle a user holds on one execution, live or from the history."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from ..core.errors import StoreError, WfnbError
from ..core.records import RunRecord, TaskRecord
from ..core.states import RUN_TERMINAL, TaskStatus
from ..execution.liveness import Liveness
from ..execution.runner import RunDriver
from ..steps.results import decode_result
from ..store.runs import load_run
from ..store.store import Store
from .artifacts import Artifact, list_artifacts
from .catalog import Catalog
from .guard import Guard


class RunSource(Protocol):
    """Where a handle reads its run from, and whom it asks to cancel it (an Engine)."""

    guard: Guard
    store: Store
    liveness: Liveness
    root: Path
    catalog: Catalog

    def cancel(self, run_id: str, wait: float = 10.0) -> "Run": ...


class Run:
    """One execution of a workflow. A run started in this process reads its live state; any
    other is a snapshot of the history, brought up to date by :meth:`refresh` / :meth:`wait`."""

    def __init__(self, source: RunSource, record: RunRecord, driver: RunDriver | None = None,
                 tasks: list[TaskRecord] | None = None):
        self._source, self._record, self._driver, self._tasks = source, record, driver, tasks

    # ---- fields ---------------------------------------------------------------------------
    @property
    def record(self) -> RunRecord:
        return self._driver.run if self._driver is not None else self._record

    id = property(lambda self: self.record.id)
    workflow = property(lambda self: self.record.workflow)
    version = property(lambda self: self.record.version)
    params = property(lambda self: dict(self.record.params))
    status = property(lambda self: self.record.status.value)
    progress = property(lambda self: self.record.progress)
    created_by = property(lambda self: self.record.created_by)
    trigger = property(lambda self: self.record.trigger)
    parent_id = property(lambda self: self.record.parent_id)
    created_at = property(lambda self: self.record.created_at)
    started_at = property(lambda self: self.record.started_at)
    ended_at = property(lambda self: self.record.ended_at)
    duration = property(lambda self: self.record.duration)
    error = property(lambda self: self.record.error)

    @property
    def done(self) -> bool:
        return self.record.status in RUN_TERMINAL

    # Tasks and results need VIEW_DETAILS, wherever the run lives (driven here or read from
    # the history), checked for the user of the workspace this handle came from: a handle
    # from bob's workspace refuses bob, even if alice's in this process drives the run.
    @property
    def tasks(self) -> list[TaskRecord]:
        """Tasks in the order they were scheduled, ``Start`` first (one per attempt)."""
        self._source.guard.require("VIEW_DETAILS", f"see the tasks of run {self.id}")
        return self.task_records()

    def task_records(self) -> list[TaskRecord]:
        """The tasks, without a permission check (for the engine's own use: a test run's
        session is its user's even without VIEW_DETAILS)."""
        if self._driver is not None:
            with self._source.store.records_lock:
                return list(self._driver.tasks)
        if self._tasks is None:
            self._tasks = load_run(self._source.store, self.id, self._source.root)[1]
        return list(self._tasks)

    def artifacts(self) -> list[Artifact]:
        """The files this run's tasks left, from the tasks this handle holds (see
        ``Engine.artifacts``). Needs VIEW_DETAILS."""
        return list_artifacts(self.tasks, self._source.root)

    def task(self, step: str) -> TaskRecord:
        """The latest attempt of ``step``."""
        for task in reversed(self.tasks):
            if task.step == step:
                return task
        raise WfnbError(f"run {self.id} has no task for step {step!r} (yet)")

    @property
    def results(self) -> dict[str, Any]:
        """Stored results of the completed steps (artifacts shown by their description)."""
        return {t.step: t.result for t in self.tasks
                if t.status == TaskStatus.COMPLETED and t.step != "Start"}

    def result(self, step: str) -> Any:
        """The value ``step`` returned (loaded from its artifact file when it was not JSON)."""
        self._source.guard.require("VIEW_DETAILS", f"see the results of run {self.id}")
        if self._driver is not None and step in self._driver.results:
            return self._driver.results[step]
        task = self.task(step)
        if task.status != TaskStatus.COMPLETED:
            raise WfnbError(f"step {step!r} of run {self.id} did not complete ({task.status})")
        return decode_result(task.result, task.result_ref, self._source.root,
                             self._source.catalog.load_modules)

    # ---- actions --------------------------------------------------------------------------
    def refresh(self) -> "Run":
        """Bring a snapshot up to date (a run driven in this process is always current)."""
        live = self._source.liveness.live
        driver = live.get(self.id)
        if driver is not None:  # e.g. resumed here after an approval
            self._driver = driver
        elif self._driver is None or self._driver.done.is_set():
            self._source.liveness.reap()  # a passed deadline is applied while we wait
            self._record, self._tasks = load_run(self._source.store, self.id,
                                                 self._source.root)
            self._driver = live.get(self.id)
        return self

    def wait(self, timeout: float | None = None) -> "Run":
        """Block until the run has ended and that is in the history; TimeoutError if it has
        not ended within ``timeout`` seconds. A run waiting for approval is waited for too."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            driver = self._driver
            # a run driven here has ended when its driver is done, not when its status in
            # memory is terminal: that ending may not be written yet, or may be refused
            if driver is not None and not driver.done.is_set():
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                driver.done.wait(left)
            if driver is not None and driver.done.is_set():
                if driver.taken_over:  # the history ended it otherwise: show the history
                    self._driver = None
                elif driver.flush_error is not None:
                    raise StoreError(f"run {self.id} ended {self.status}, but that could not "
                                     f"be written to the history: {driver.flush_error}")
                elif driver.run.status in RUN_TERMINAL:
                    return self
            if driver is None or driver.done.is_set():
                self.refresh()  # from the history, or a driver that took the run on here
                if (self._driver is None or self._driver.done.is_set()) and self.done:
                    return self
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"run {self.id} still {self.status} after {timeout} s")
            if self._driver is None or self._driver.done.is_set():
                time.sleep(0.1)  # polling the history: another process (or nobody) has it

    def cancel(self) -> "Run":
        return self._source.cancel(self.id)

    def to_dict(self) -> dict:
        row = self.record.to_row()
        row["params"] = self.params
        row["duration"] = self.duration
        for key in ("owner_id", "updated_at", "cancel_requested_at", "cancel_requested_by"):
            row.pop(key, None)
        return row

    def __repr__(self) -> str:
        return (f"<Run {self.id} {self.workflow} {self.status} "
                f"{self.progress:.0%} by {self.created_by}>")
