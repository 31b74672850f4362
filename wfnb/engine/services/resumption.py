"""Resuming a run: which steps of a new run take their parent's results instead of running.

``ws.rerun(run_id, from_failure=True)`` reuses every step that completed in the parent;
``from_step="transform"`` reuses the completed steps upstream of ``transform`` only. A step is
reused only if every step upstream of it is reused too, so a rerun step never feeds on a
result older than its own inputs. The plan is refused, naming what is wrong, before anything
starts when:

* an override changes a parameter that a reused step read (``force=True`` runs those steps,
  and what follows them, again);
* a reused step's definition differs from the one the parent ran (its fingerprint, see
  ``Workflow.step_versions``);
* a reused result was pickled to an artifact that is missing, or was never stored;
* the parent is still going, or (``from_failure``) did not fail;
* the workflow keeps its state in one kernel (notebook cells): a cell's variables cannot be
  reused without running it.

Approval steps are asked again unless the workflow says ``reuse_approvals=True``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import NotFound, WfnbError
from ..core.params import to_jsonable, validate
from ..core.records import RunRecord, TaskRecord
from ..core.states import RUN_TERMINAL, RunStatus, TaskStatus
from ..model.workflow import Workflow
from ..store import versions
from ..store.runs import read_run
from ..store.store import Store

MODES = ("all", "from_failure", "from_step")


@dataclass
class ResumePlan:
    """What a rerun reuses: step -> the parent's completed task."""

    mode: str
    step: str | None = None
    reuse: dict[str, TaskRecord] = field(default_factory=dict)


def plan_resume(parent: RunRecord, tasks: list[TaskRecord], wf: Workflow, *,
                from_failure: bool, from_step: str | None, changed: set[str], force: bool,
                parent_steps: dict[str, str] | None, root: Path) -> ResumePlan:
    """The steps a rerun of ``parent`` (whose ``tasks`` are stored) reuses, or WfnbError.
    ``changed``: the params whose value the rerun changes; ``parent_steps``: the fingerprints
    of the version the parent ran (None: not recorded)."""
    if from_failure and from_step is not None:
        raise WfnbError("choose one of from_failure and from_step, not both")
    if not from_failure and from_step is None:
        return ResumePlan("all")
    mode = "from_failure" if from_failure else "from_step"
    if parent.status not in RUN_TERMINAL:
        raise WfnbError(f"run {parent.id} is still {parent.status.value}: wait for it to end, "
                        "or cancel it, before resuming it")
    if from_failure and parent.status == RunStatus.COMPLETED:
        raise WfnbError(f"run {parent.id} completed: nothing failed to resume from (rerun "
                        "it whole, or from a step with from_step)")
    cells = [s.name for s in wf.steps.values() if s.kind == "cell"]
    if cells:
        raise WfnbError(f"workflow {wf.name!r} runs its cells in one kernel ({', '.join(cells)}"
                        "): a cell's variables cannot be reused without running it; rerun "
                        "it whole")
    if from_step is not None and from_step not in wf.steps:
        raise NotFound(f"workflow {wf.name!r} has no step {from_step!r} (its steps: "
                       f"{', '.join(wf.steps)})")
    latest: dict[str, TaskRecord] = {}
    for task in tasks:
        latest[task.step] = task
    done = {name: t for name, t in latest.items()
            if t.status == TaskStatus.COMPLETED and name in wf.steps}
    wanted = set(done) if from_failure else set(done) & wf.upstream(from_step)
    if not wf.reuse_approvals:
        wanted = {n for n in wanted if wf.steps[n].kind != "approval"}
    reuse = _closed(wf, wanted)
    conflicts = {n: sorted(changed & set(_read(done[n], parent))) for n in reuse}
    conflicts = {n: names for n, names in conflicts.items() if names}
    if conflicts and not force:
        said = "; ".join(f"{n} read {', '.join(names)}" for n, names in conflicts.items())
        raise WfnbError(f"the rerun changes parameters that reused steps of run {parent.id} "
                        f"read ({said}): their results would not match; pass force=True "
                        "(--force) to run those steps again")
    if conflicts:
        reuse = _closed(wf, set(reuse) - set(conflicts))
    if reuse and parent.version != wf.version:
        now = wf.step_versions
        if parent_steps is None:
            raise WfnbError(f"workflow {wf.name!r} changed since run {parent.id} (version "
                            f"{parent.version} -> {wf.version}) and that run did not record "
                            "its steps' versions: rerun it whole")
        changed_steps = [n for n in wf.order() if n in reuse and parent_steps.get(n) != now[n]]
        if changed_steps:
            raise WfnbError(f"steps changed since run {parent.id} ran them: "
                            f"{', '.join(changed_steps)}; their results cannot be reused "
                            f"(rerun from_step={changed_steps[0]!r}, or whole)")
    for name in wf.order():
        if name in reuse:
            _check_result(parent, done[name], root)
    return ResumePlan(mode, from_step, {n: done[n] for n in wf.order() if n in reuse})


def plan_rerun(root: Path, parent: RunRecord, tasks: list[TaskRecord],
               parent_steps: dict[str, str] | None, wf: Workflow, values: dict[str, Any], *,
               from_failure: bool, from_step: str | None, force: bool) -> ResumePlan:
    """:func:`plan_resume` for ``parent`` rerun with ``values``; ``parent_steps``: see
    :func:`read_parent`."""
    given = {k: to_jsonable(v) for k, v in validate(wf.name, wf.params, values).items()}
    changed = {k for k in set(given) | set(parent.params)
               if given.get(k) != parent.params.get(k)}
    return plan_resume(parent, tasks, wf, from_failure=from_failure, from_step=from_step,
                       changed=changed, force=force, parent_steps=parent_steps, root=root)


def read_parent(store: Store, run_id: str, root: Path
                ) -> tuple[RunRecord, list[TaskRecord], dict[str, str] | None]:
    """The run to resume, its tasks and the fingerprints of its version's steps, read in one
    turn on the history (each turn costs a few ms: a resume should cost about a run)."""
    with store.connect(read_only=True) as con:
        parent, tasks = read_run(con, run_id, root)
        return parent, tasks, versions.step_fingerprints(con, parent.workflow, parent.version)


def _closed(wf: Workflow, wanted: set[str]) -> set[str]:
    """The steps of ``wanted`` whose every upstream step is in it too."""
    return {n for n in wanted if wf.upstream(n) <= wanted}


def _read(task: TaskRecord, parent: RunRecord) -> list[str]:
    """The params a task read; every param of the run when that was not recorded."""
    return list(task.params_used) if task.params_used is not None else list(parent.params)


def _check_result(parent: RunRecord, task: TaskRecord, root: Path) -> None:
    result: Any = task.result
    if isinstance(result, dict) and "$artifact" in result and not task.result_ref:
        raise WfnbError(f"the result of step {task.step!r} in run {parent.id} was never stored "
                        f"({result.get('note') or 'it could not be pickled'}): it cannot be "
                        f"reused; rerun from_step={task.step!r}")
    if task.result_ref and not (root / task.result_ref).is_file():
        raise WfnbError(f"the result of step {task.step!r} in run {parent.id} was pickled to "
                        f"{task.result_ref}, which is missing: it cannot be reused; rerun "
                        f"from_step={task.step!r}")


__all__ = ["MODES", "ResumePlan", "plan_rerun", "plan_resume", "read_parent"]
