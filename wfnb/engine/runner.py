"""The runner: drives one run through its DAG on an executor.

One driver thread per live run decides every status change of the run and its tasks (through
the state machine); executor workers only run step bodies and report back on a queue. Each
change is queued to the store's writer; the terminal status is made durable before ``done``
is set, so ``Run.wait()`` returns only once the history says how the run ended.
"""
from __future__ import annotations

import json
import pickle
import queue
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .capture import Sink, capture
from .context import RunContext
from .model import Workflow
from .records import RunRecord, TaskRecord, utcnow
from .states import RunStatus as R, TaskStatus as T, check_run, check_task, TASK_TERMINAL
from .steps import STEP_KINDS

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine


class Inputs:
    """What a step may receive by name: the run's params and the results of its upstream steps
    (looked up on demand, so a long chain does not copy every result into every step)."""

    def __init__(self, params: dict, results: dict, workflow: Workflow, step: str):
        self.params, self.results, self.workflow, self.step = params, results, workflow, step

    def pick(self, names: list[str]) -> dict[str, Any]:
        out = {}
        for name in names:
            if name in self.params:
                out[name] = self.params[name]
            elif name in self.results:
                out[name] = self.results[name]
        return out

    def everything(self) -> dict[str, Any]:
        out = dict(self.params)
        for up in self.workflow.upstream(self.step):
            out[up] = self.results.get(up)
        return out


def encode_result(value: Any, root: Path, folder: Path, name: str) -> tuple[Any, str | None]:
    """A JSON-able result is stored as is; anything else is pickled to an artifact file (its
    path kept relative to the workspace ``root``) and the task keeps a small description."""
    if value is None:
        return None, None
    try:
        json.dumps(value, allow_nan=False)
        return value, None
    except (TypeError, ValueError):
        pass
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.pkl"
    ref = str(path.relative_to(root))
    summary = {"$artifact": ref, "type": type(value).__qualname__,
               "repr": repr(value)[:300]}
    try:
        with open(path, "wb") as fh:
            pickle.dump(value, fh)
    except Exception as exc:  # unpicklable: keep what can be shown
        summary.update({"$artifact": None, "note": f"not stored: {exc}"})
        return summary, None
    return summary, ref


class RunDriver:
    """Owns one live run in this process, from Pending to its terminal status."""

    def __init__(self, engine: "Engine", workflow: Workflow, record: RunRecord,
                 args: dict[str, Any]):
        self.engine, self.store = engine, engine.store
        self.wf, self.run, self.args = workflow, record, args
        self.tasks: list[TaskRecord] = []
        self.results: dict[str, Any] = {}
        self.done = threading.Event()
        self.flush_error: Exception | None = None
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._stop: tuple[R, str, str | None] | None = None   # (status, reason, actor)
        self._sinks: dict[str, Sink] = {}
        self._running: dict[str, tuple[TaskRecord, threading.Event]] = {}
        self._deadlines: dict[str, float] = {}   # step -> when its running attempt times out
        self._delayed: list[tuple[float, str, int]] = []   # (when, step, attempt) of retries
        self._failed_steps: list[str] = []
        self._finished_steps: set[str] = set()
        self._thread = threading.Thread(target=self._drive, daemon=True,
                                        name=f"wfnb-run-{record.id}")

    # ---- requests from other threads -----------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def request_cancel(self, user: str) -> None:
        self.request_stop(R.CANCELLED, f"cancelled by {user}", user)

    def request_stop(self, status: R, reason: str, actor: str | None = None) -> None:
        """Ask the driver to end the run with ``status`` (Cancelled, or Error when this process
        is going away); running steps see ``ctx.cancelled``."""
        if self._stop is None:
            self._stop = (status, reason, actor)
            self._inbox.put(("stop",))

    # ---- status changes (the only places that set a status) ------------------------------
    def _set_run(self, status: R, actor: str | None = None, **changes: Any) -> None:
        with self.store.records_lock:
            self.run.status = check_run(self.run.status, status)
            for key, value in changes.items():
                setattr(self.run, key, value)
            self.store.put(run=self.run, event={"run_id": self.run.id, "kind": "run",
                                                "status": str(status), "actor": actor})

    def _set_task(self, task: TaskRecord, status: T, **changes: Any) -> None:
        with self.store.records_lock:
            task.status = check_task(task.status, status)
            for key, value in changes.items():
                setattr(task, key, value)
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
        if task.status != T.FAILED or task.step == "Start":
            return True
        return task.attempt > self.wf.steps[task.step].retries

    def _new_task(self, step: str, kind: str, attempt: int = 1, **fields: Any) -> TaskRecord:
        task = TaskRecord(id=f"{self.run.id}:{step}:{attempt}", run_id=self.run.id, step=step,
                          kind=kind, attempt=attempt, seq=len(self.tasks), **fields)
        with self.store.records_lock:
            self.tasks.append(task)
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
            self._abort(R.ERROR, f"engine error: {type(exc).__name__}: {exc}",
                        tb=traceback.format_exc())
        finally:
            try:
                self.drain_output()
                self.store.flush()
            except Exception as exc:  # wait() says so rather than claim a durable ending
                self.flush_error = exc
            finally:
                self.engine._release(self)
                self.done.set()

    def _loop(self) -> None:
        wf, now = self.wf, utcnow()
        start = self._new_task("Start", "start", inputs=self.run.params, started_at=now)
        self._set_run(R.RUNNING, started_at=now)
        self._set_task(start, T.RUNNING)
        self._set_task(start, T.COMPLETED, ended_at=utcnow(), result=self.run.params)
        children = wf.children()
        waiting = {name: set(step.after) for name, step in wf.steps.items()}
        for name in wf.order():
            if not waiting[name]:
                self._submit(name, 1)
        while self._running or self._delayed:
            if self._stop is not None:
                break
            msg = self._next_message()
            if msg is None or msg[0] != "done":
                continue
            _, task, outcome = msg
            if self._running.get(task.step, (None,))[0] is not task:
                continue  # a late answer from an attempt already timed out or cancelled
            del self._running[task.step]
            self._deadlines.pop(task.step, None)
            if outcome[0] != "ok":
                self._fail(task, outcome[1], outcome[2])
                continue
            self.results[task.step] = outcome[1]
            self._set_task(task, T.COMPLETED, ended_at=utcnow(), result=outcome[2],
                           result_ref=outcome[3])
            for child in children[task.step]:
                waiting[child].discard(task.step)
                if not waiting[child] and not self._blocked(child):
                    self._submit(child, 1)
        if self._stop is not None:
            self._abort(*self._stop)
        elif self._failed_steps:
            first = self._failed_steps[0]
            error = next(t.error for t in reversed(self.tasks) if t.step == first)
            self._finish(R.FAILED, f"step {first!r} failed: {error}")
        else:
            self._finish(R.COMPLETED, None)

    def _next_message(self):
        """Wait for a worker's report or a cancel; on a timeout or a due retry, act on it."""
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
        if not self._failed_steps:
            return False
        upstream = self.wf.upstream(step)
        return any(f in upstream for f in self._failed_steps)

    def _fail(self, task: TaskRecord, error: str, tb: str) -> None:
        step = self.wf.steps[task.step]
        self._set_task(task, T.FAILED, ended_at=utcnow(), error=error, traceback=tb or None)
        if task.attempt <= step.retries:
            self._delayed.append((time.monotonic() + step.retry_delay, task.step,
                                  task.attempt + 1))
            return
        self._failed_steps.append(task.step)
        downstream = self.wf.downstream(task.step)
        scheduled = {t.step for t in self.tasks}
        for name in self.wf.order():
            if name in downstream and name not in scheduled:
                skipped = self._new_task(name, self.wf.steps[name].kind)
                self._set_task(skipped, T.SKIPPED, ended_at=utcnow(),
                               error=f"upstream step {task.step!r} did not complete")

    def _submit(self, name: str, attempt: int) -> None:
        step = self.wf.steps[name]
        task = self._new_task(name, step.kind, attempt)
        cancel = threading.Event()
        if self._stop is not None:
            cancel.set()
        sink = self._sinks[task.id] = Sink()
        self._running[name] = (task, cancel)
        ctx = RunContext(self.run.id, self.wf.name, name, attempt, self.args,
                         self.engine.root, cancel, self.run.created_by)
        inputs = Inputs(self.args, self.results, self.wf, name)
        self.engine.executor.submit(self._execute, step, task, ctx, inputs, sink)

    def _execute(self, step, task: TaskRecord, ctx: RunContext, inputs: "Inputs", sink: Sink):
        """Runs in an executor worker: the step body, its output captured, its outcome reported."""
        with self.store.records_lock:
            if task.status != T.PENDING:
                return  # cancelled or timed out before a worker got to it
            self._set_task(task, T.RUNNING, started_at=utcnow())
        if step.timeout:  # the clock starts when the step does, not while it waits for a worker
            self._deadlines[step.name] = time.monotonic() + step.timeout
            self._inbox.put(("started",))
        try:
            with capture(sink):
                value = STEP_KINDS[step.kind].execute(step, ctx, inputs)
            stored, ref = encode_result(value, self.engine.root,
                                        self.engine.artifacts / self.run.id,
                                        f"{step.name}-{task.attempt}")
            outcome = ("ok", value, stored, ref)
        except BaseException as exc:  # noqa: BLE001 - a step may raise anything, SystemExit too
            outcome = ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        self._inbox.put(("done", task, outcome))

    # ---- endings -------------------------------------------------------------------------
    def _abort(self, status: R, error: str, actor: str | None = None,
               tb: str | None = None) -> None:
        """End every unfinished task and the run with ``status`` (Cancelled or Error)."""
        task_status = T.CANCELLED if status == R.CANCELLED else T.ERROR
        for task, cancel in self._running.values():
            cancel.set()
        self._running.clear()
        self._deadlines.clear()
        for task in self.tasks:
            if task.status not in TASK_TERMINAL:
                self._set_task(task, task_status, ended_at=utcnow(), error=error,
                               traceback=tb)
        self._finish(status, error, actor)

    def _finish(self, status: R, error: str | None, actor: str | None = None) -> None:
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
