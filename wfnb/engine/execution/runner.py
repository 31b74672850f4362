"""The runner: drives one run through its DAG on an executor.

One driver thread per live run decides every status change of the run and its tasks (through
the state machine); executor workers only run step bodies and report back on a queue. Each
change is queued to the store's writer; the terminal status is made durable before ``done``
is set, so ``Run.wait()`` returns only once the history says how the run ended.

An approval step parks the run: when nothing else is running, the driver gives the run up
(no owner, state and results in the store) and its thread ends. Whoever records the decision
later claims the run and starts a driver that resumes it from the store (:meth:`resume`).
"""
from __future__ import annotations

import json
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.context import RunContext
from ..core.errors import StoreError
from ..core.messages import (Decided, Decision, Failed, InboxMessage, StepEnded, StepStarted,
                             StopRequested, Succeeded, failure)
from ..core.params import validate
from ..core.records import RunRecord, TaskRecord, utcnow
from ..core.states import TASK_TERMINAL, RunStatus, TaskStatus, check_run, check_task
from ..model.workflow import Workflow
from ..steps.capture import Sink, capture
from ..steps.results import Inputs, ResultMap, encode_result
from ..store import approvals
from ..store.store import Store
from .executors import Executor
from .parking import ApprovalParking
from .reuse import ReusedSteps


@dataclass
class RunHost:
    """What a driver needs from the workspace it runs in: the store, the executor, the
    workspace folder (artifacts under it), the warm kernel pool (on demand), how to import
    the workflow modules a pickled result needs, and whom to tell when a driver is done."""

    store: Store
    executor: Executor
    root: Path
    artifacts: Path
    kernel_pool: Callable[[], Any]
    load_modules: Callable[[], Any]
    on_end: Callable[["RunDriver"], None]


class RunDriver(ApprovalParking, ReusedSteps):
    """Owns one live run in this process: from Pending (or from a stored, decided approval) to
    its terminal status, or until it waits for a human with nothing else to do."""

    def __init__(self, host: RunHost, workflow: Workflow, record: RunRecord,
                 args: dict[str, Any], tasks: list[TaskRecord] | None = None,
                 reuse: dict[str, TaskRecord] | None = None):
        self.host, self.store = host, host.store
        self.reuse = reuse or {}  # step -> the parent run's task whose result it takes
        self.wf, self.run, self.args = workflow, record, args
        self.tasks: list[TaskRecord] = list(tasks or [])
        self.results = ResultMap()  # a reused result is loaded when first read
        self.done = threading.Event()
        self.released = False        # gave the run up while it waits for a decision
        self.flush_error: Exception | None = None
        self.taken_over = False      # the history ended the run otherwise (see taken())
        self._inbox: queue.SimpleQueue[InboxMessage] = queue.SimpleQueue()
        self._stop: tuple[RunStatus, str, str | None] | None = None  # (status, why, actor)
        self._sinks: dict[str, Sink] = {}
        self._running: dict[str, tuple[TaskRecord, threading.Event]] = {}
        self._deadlines: dict[str, float] = {}   # step -> when its running attempt times out
        self._delayed: list[tuple[float, str, int]] = []   # (when, step, attempt) of retries
        self._parked: dict[str, TaskRecord] = {}  # approval steps waiting for a decision
        self._failed_steps: list[str] = []
        self._rejected_steps: list[str] = []
        self._finished_steps: set[str] = set()
        self._scheduled: set[str] = {t.step for t in self.tasks}
        self._completed: set[str] = {t.step for t in self.tasks
                                     if t.status == TaskStatus.COMPLETED}
        # shared by the run's steps (a notebook-cell workflow's kernel lives here)
        self.resources: dict[str, Any] = {"lock": threading.Lock(),
                                          "kernel_pool": host.kernel_pool()}
        self._thread = threading.Thread(target=self._drive, daemon=True,
                                        name=f"wfnb-run-{record.id}")

    @classmethod
    def resume(cls, host: RunHost, workflow: Workflow, record: RunRecord,
               tasks: list[TaskRecord]) -> "RunDriver":
        """A driver for a stored run that waits for approval, rebuilt from the history."""
        driver = cls(host, workflow, record, validate(workflow.name, workflow.params,
                                                        record.params), tasks)
        driver.taken_on = True
        latest: dict[str, TaskRecord] = {}
        for task in driver.tasks:
            latest[task.step] = task
        for step, task in latest.items():
            if step != "Start" and step not in workflow.steps:
                raise RuntimeError(f"step {step!r} of this run is no longer in the workflow")
            if task.status == TaskStatus.COMPLETED and step != "Start":
                driver.results.defer(step, driver._loader(task))
            if task.status == TaskStatus.WAITING:
                driver._parked[step] = task
            elif task.status in TASK_TERMINAL:
                driver._finished_steps.add(step)
                if task.status in (TaskStatus.FAILED, TaskStatus.ERROR):
                    driver._failed_steps.append(step)
                elif task.status == TaskStatus.REJECTED:
                    driver._rejected_steps.append(step)
        return driver

    # ---- requests from other threads -----------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def request_cancel(self, user: str) -> None:
        self.request_stop(RunStatus.CANCELLED, f"cancelled by {user}", user)

    def request_stop(self, status: RunStatus, reason: str, actor: str | None = None) -> None:
        """Ask the driver to end the run with ``status`` (Cancelled, or Error when this process
        is going away); running steps see ``ctx.cancelled``."""
        if self._stop is None:
            self._stop = (status, reason, actor)
            self._inbox.put(StopRequested())

    def taken(self, row: dict) -> None:
        """The history holds another ending for this run (another process marked it Error
        while this one was frozen): adopt it, stop the steps, and report nothing else.
        Called by the writer before the flush that found it returns."""
        with self.store.records_lock:
            self.taken_over = True
            # the store's truth, not a transition of ours
            self.run.status = RunStatus(row["status"])
            self.run.error, self.run.ended_at = row["error"], row["ended_at"]
        if self._stop is None:
            self._stop = (self.run.status, row["error"] or "", None)
        self._inbox.put(StopRequested())

    def deliver(self, decision: Decision) -> None:
        """A recorded approval decision for one of this run's parked steps."""
        self._inbox.put(Decided(decision))

    @property
    def parked(self) -> list[str]:
        return list(self._parked)

    # ---- status changes (the only places that set a status) ------------------------------
    def _set_run(self, status: RunStatus, actor: str | None = None, **changes: Any) -> None:
        with self.store.records_lock:
            self.run.status = check_run(self.run.status, status)
            for key, value in changes.items():
                setattr(self.run, key, value)
            self.store.put(run=self.run, event={"run_id": self.run.id, "kind": "run",
                                                "status": str(status), "actor": actor})

    def _set_task(self, task: TaskRecord, status: TaskStatus, **changes: Any) -> None:
        with self.store.records_lock:
            task.status = check_task(task.status, status)
            for key, value in changes.items():
                setattr(task, key, value)
            if status == TaskStatus.COMPLETED:
                self._completed.add(task.step)
            if status in TASK_TERMINAL and self._step_final(task):
                self._finished_steps.add(task.step)
                self.run.tasks_done = len(self._finished_steps)
                self.store.put(run=self.run)
            self.store.put(task=task, event={"run_id": self.run.id, "task_id": task.id,
                                             "kind": "task", "status": str(status),
                                             "data": json.dumps({"step": task.step,
                                                                 "attempt": task.attempt})})

    def _step_final(self, task: TaskRecord) -> bool:
        """A failed attempt that will be retried does not finish its step."""
        if task.status != TaskStatus.FAILED or task.step == "Start":
            return True
        return task.attempt > self.wf.steps[task.step].retries

    def _new_task(self, step: str, kind: str, attempt: int = 1, **fields: Any) -> TaskRecord:
        task = TaskRecord(id=f"{self.run.id}:{step}:{attempt}", run_id=self.run.id, step=step,
                          kind=kind, attempt=attempt, seq=len(self.tasks), **fields)
        with self.store.records_lock:
            self.tasks.append(task)
            self._scheduled.add(step)
            self.store.put(task=task, event={"run_id": self.run.id, "task_id": task.id,
                                             "kind": "task", "status": str(task.status),
                                             "data": json.dumps({"step": step,
                                                                 "attempt": attempt})})
        return task

    # ---- the drive loop ------------------------------------------------------------------
    def _drive(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug or a broken store: the run ends in Error, not Running
            self._abort(RunStatus.ERROR, f"engine error: {type(exc).__name__}: {exc}",
                        tb=traceback.format_exc())
        finally:
            self._close_resources()
            try:
                self.drain_output()
                self.store.flush()
                failed = [getattr(r, "_write_failed", None) for r in (self.run, *self.tasks)]
                if any(failed):
                    raise StoreError("; ".join(f for f in failed if f))
            except Exception as exc:  # wait() says so rather than claim a durable ending
                self.flush_error = exc
            finally:
                self.host.on_end(self)
                self.done.set()

    def _loop(self) -> None:
        if not self.tasks:
            now = utcnow()
            start = self._new_task("Start", "start", inputs=self.run.params, started_at=now)
            self._set_run(RunStatus.RUNNING, started_at=now)
            self._set_task(start, TaskStatus.RUNNING)
            self._set_task(start, TaskStatus.COMPLETED, ended_at=utcnow(),
                           result=self.run.params)
            for name in self.wf.order():
                if name in self.reuse:
                    self._reuse(name, self.reuse[name])
        else:  # resumed: the decision that woke the run is in the store
            with self.store.connect(read_only=True) as con:
                decisions = approvals.decisions_for(con, self.run.id, self.parked)
            for decision in decisions:
                self._decide(decision)
        self._schedule_ready()
        if self.reuse:  # the reused tasks are written at once: seen at once, while steps work
            self.store.hurry()
        while True:
            if self._stop is not None:
                break
            if not self._running and not self._delayed:
                if not self._parked:
                    break
                if not self._give_up_run():
                    continue  # a decision (applied: steps may have started) or a cancel came
                if self.released:
                    return
            msg = self._next_message()
            if isinstance(msg, Decided):
                self._decide(msg.decision)
            elif isinstance(msg, StepEnded):
                self._done(msg.task, msg.outcome)
        if self.taken_over:  # the history has its ending: stop the steps, write nothing
            for task, cancel in self._running.values():
                cancel.set()
            self._running.clear()
        elif self._stop is not None:
            self._abort(*self._stop)
        elif self._failed_steps:
            first = self._failed_steps[0]
            error = next(t.error for t in reversed(self.tasks) if t.step == first)
            self._finish(RunStatus.FAILED, f"step {first!r} failed: {error}")
        elif self._rejected_steps:
            first = self._rejected_steps[0]
            error = next(t.error for t in reversed(self.tasks) if t.step == first)
            self._finish(RunStatus.REJECTED, f"step {first!r} {error}")
        else:
            self._finish(RunStatus.COMPLETED, None)

    def _close_resources(self) -> None:
        """Shut down what the run's steps opened (a kernel), whatever the ending."""
        for close in self.resources.pop("cleanups", []):
            try:
                close()
            except Exception:  # a kernel already gone must not hide the run's ending
                pass

    def _schedule_ready(self, steps: list[str] | None = None) -> None:
        """Submit every step (of ``steps``, default all) whose dependencies are complete and
        that has no task yet."""
        # kept per step, not rebuilt from self.tasks: rebuilding made a chain quadratic
        scheduled, done = self._scheduled, self._completed
        for name in steps if steps is not None else self.wf.order():
            step = self.wf.steps[name]
            if name not in scheduled and all(d in done for d in step.after) \
                    and not self._blocked(name):
                self._submit(name, 1)

    def _done(self, task: TaskRecord, outcome: Succeeded | Failed) -> None:
        if self._running.get(task.step, (None,))[0] is not task:
            return  # a late answer from an attempt already timed out or cancelled
        del self._running[task.step]
        self._deadlines.pop(task.step, None)
        if isinstance(outcome, Failed) and outcome.infrastructure:
            self._set_task(task, TaskStatus.ERROR, ended_at=utcnow(), error=outcome.message,
                           traceback=outcome.traceback)
            step = self.wf.steps[task.step]
            if outcome.retryable and task.attempt <= step.retries:  # a lost worker: again
                self._delayed.append((time.monotonic() + step.retry_delay, task.step,
                                      task.attempt + 1))
            else:
                self.request_stop(RunStatus.ERROR, f"step {task.step!r}: {outcome.message}")
            return
        if isinstance(outcome, Failed):
            self._fail(task, outcome.message, outcome.traceback)
            return
        self.results[task.step] = outcome.value
        self._set_task(task, TaskStatus.COMPLETED, ended_at=utcnow(), result=outcome.stored,
                       result_ref=outcome.ref)
        self._schedule_ready(self.wf.children()[task.step])

    def _next_message(self) -> InboxMessage | None:
        """Wait for a worker's report, a decision or a cancel; on a timeout or a due retry,
        act on it (and return None)."""
        if not self._deadlines and not self._delayed:
            return self._inbox.get()  # the common case: nothing can time out
        now = time.monotonic()
        deadlines = [*self._deadlines.values(), *(when for when, _, _ in self._delayed)]
        try:
            return self._inbox.get(timeout=max(0.0, min(deadlines) - now))
        except queue.Empty:
            pass
        now = time.monotonic()
        for step, deadline in list(self._deadlines.items()):
            if now >= deadline:
                task, cancel = self._running.pop(step)
                del self._deadlines[step]
                cancel.set()  # tells the step through ctx.cancelled; its thread cannot be killed
                self._fail(task, f"timed out after {self.wf.steps[step].timeout:g} s", "")
        for item in [d for d in self._delayed if d[0] <= now]:
            self._delayed.remove(item)
            self._submit(item[1], item[2])
        return None

    def _blocked(self, step: str) -> bool:
        stopped = self._failed_steps + self._rejected_steps
        if not stopped:
            return False
        upstream = self.wf.upstream(step)
        return any(f in upstream for f in stopped)

    def _fail(self, task: TaskRecord, error: str, tb: str) -> None:
        step = self.wf.steps[task.step]
        self._set_task(task, TaskStatus.FAILED, ended_at=utcnow(), error=error,
                       traceback=tb or None)
        if task.attempt <= step.retries:
            self._delayed.append((time.monotonic() + step.retry_delay, task.step,
                                  task.attempt + 1))
            return
        self._failed_steps.append(task.step)
        self._skip_downstream(task.step)

    def _skip_downstream(self, step: str) -> None:
        downstream = self.wf.downstream(step)
        for name in self.wf.order():
            if name in downstream and name not in self._scheduled:
                skipped = self._new_task(name, self.wf.steps[name].kind)
                self._set_task(skipped, TaskStatus.SKIPPED, ended_at=utcnow(),
                               error=f"upstream step {step!r} did not complete")

    def _submit(self, name: str, attempt: int) -> None:
        step = self.wf.steps[name]
        if step.kind == "approval":
            return self._park(step)
        task = self._new_task(name, step.kind, attempt)
        cancel = threading.Event()
        if self._stop is not None:
            cancel.set()
        sink = self._sinks[task.id] = Sink()
        self._running[name] = (task, cancel)
        ctx = RunContext(self.run.id, self.wf.name, name, attempt, self.args,
                         self.host.root, cancel, self.run.created_by, self.resources,
                         self.wf)
        inputs = Inputs(self.args, self.results, self.wf, name)
        self.host.executor.submit(self._execute, step, task, ctx, inputs, sink)

    def _execute(self, step, task: TaskRecord, ctx: RunContext, inputs: Inputs, sink: Sink):
        """Runs in an executor worker: the step body, its output captured, its outcome reported."""
        with self.store.records_lock:
            if task.status != TaskStatus.PENDING:
                return  # cancelled or timed out before a worker got to it
            self._set_task(task, TaskStatus.RUNNING, started_at=utcnow())
        if step.timeout:  # the clock starts when the step does, not while it waits for a worker
            self._deadlines[step.name] = time.monotonic() + step.timeout
            self._inbox.put(StepStarted())
        outcome: Succeeded | Failed
        try:
            with capture(sink):
                value = self.host.executor.run_step(step, ctx, inputs)
            stored, ref = encode_result(value, self.host.root,
                                        self.host.artifacts / self.run.id,
                                        f"{step.name}-{task.attempt}")
            outcome = Succeeded(value, stored, ref)
        except BaseException as exc:  # noqa: BLE001 - a step may raise anything, SystemExit too
            outcome = failure(exc, traceback.format_exc())  # a dead kernel: Error, not Failed
        with self.store.records_lock:
            task.params_used = sorted(inputs.used)
            if ctx.notebook:
                task.notebook = ctx.notebook
        self._inbox.put(StepEnded(task, outcome))

    # ---- endings -------------------------------------------------------------------------
    def _abort(self, status: RunStatus, error: str, actor: str | None = None,
               tb: str | None = None) -> None:
        """End every unfinished task and the run with ``status`` (Cancelled or Error)."""
        task_status = TaskStatus.CANCELLED if status == RunStatus.CANCELLED else TaskStatus.ERROR
        for task, cancel in self._running.values():
            cancel.set()
        self._running.clear()
        self._deadlines.clear()
        self._parked.clear()
        for task in self.tasks:
            if task.status not in TASK_TERMINAL:
                self._set_task(task, task_status, ended_at=utcnow(), error=error,
                               traceback=tb)
        self._finish(status, error, actor)

    def _finish(self, status: RunStatus, error: str | None, actor: str | None = None) -> None:
        if self.run.status != status:
            self._set_run(status, actor, ended_at=utcnow(), error=error)

    def drain_output(self) -> None:
        """Move captured output into task logs (called by the writer before each flush)."""
        by_id = None
        for task_id, sink in list(self._sinks.items()):
            if not sink.parts:
                continue
            by_id = by_id or {t.id: t for t in self.tasks}
            task = by_id[task_id]
            text = sink.drain()
            with self.store.records_lock:
                task.log += text
                self.store.put(task=task, event={"run_id": self.run.id, "task_id": task.id,
                                                 "kind": "log", "data": json.dumps(
                                                     {"step": task.step, "text": text})})
