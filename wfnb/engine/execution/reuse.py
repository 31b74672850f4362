"""How a run driver takes a parent run's results instead of running its steps (a resumed
run: ``ws.rerun(run_id, from_failure=True)``), and loads stored results when they are read.

Mixed into :class:`~wfnb.engine.execution.runner.RunDriver` (it uses the driver's tasks and
state); which steps are reused is decided before the run starts
(:mod:`wfnb.engine.services.resumption`).
"""
from __future__ import annotations

from typing import Any, Callable

from ..core.errors import InfrastructureError
from ..core.records import TaskRecord, utcnow
from ..core.states import TaskStatus
from ..steps.results import decode_result


class ReusedSteps:
    """A resumed run's reused steps: born Completed, their results loaded when read."""

    def _reuse(self, name: str, done: TaskRecord) -> None:
        """A step of a resumed run that takes its parent's result instead of running: a
        Completed task linked to the parent's (``reused_from``), its result, artifact and
        executed notebook those of the parent's task, checked before the run started; the
        result is loaded (unpickled) when a step, or someone asking the run, reads it."""
        self.results.defer(name, self._loader(done))
        now = utcnow()
        # born Completed (one row, one event): it never runs, so it never was Pending
        self._new_task(name, done.kind, status=TaskStatus.COMPLETED, started_at=now,
                       ended_at=now, result=done.result, result_ref=done.result_ref,
                       notebook=done.notebook, reused_from=done.id,
                       params_used=done.params_used,
                       log=f"reused the result of {done.id}\n")
        with self.store.records_lock:
            self._completed.add(name)
            self._finished_steps.add(name)
            self.run.tasks_done = len(self._finished_steps)
            self.store.put(run=self.run)

    def _loader(self, task: TaskRecord) -> Callable[[], Any]:
        """Loads the stored result of ``task`` (unpickles its artifact) when first read; a
        result that cannot be loaded is the infrastructure's failure (the step that reads it
        ends in Error, not Failed: its code never ran), naming the task."""
        def load() -> Any:
            try:
                return decode_result(task.result, task.result_ref, self.host.root,
                                     self.host.load_modules)
            except Exception as exc:
                raise InfrastructureError(
                    f"the result of step {task.step!r} (task {task.id}"
                    + (f", {task.result_ref}" if task.result_ref else "")
                    + f") could not be loaded: {type(exc).__name__}: {exc}") from exc
        return load
