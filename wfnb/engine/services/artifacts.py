"""A run's artifacts: the files its tasks left in the workspace, the executed notebook of a
notebook (or cell, or code) task and the pickle of a result that was not JSON, listed with
their size (``ws.artifacts(run_id)``) and opened as what they are (``ws.artifact(run_id,
step)``: the object, or the notebook as an ``nbformat`` node)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.errors import NotFound, WfnbError
from ..core.records import TaskRecord
from ..core.states import TaskStatus
from ..steps.results import decode_result


@dataclass
class Artifact:
    """One file of a run: ``kind`` is ``notebook`` or ``pickle``; ``path`` relative to the
    workspace; ``size`` in bytes (None when the file is gone); ``reused``: it is the parent
    run's file (a resumed run's reused task)."""

    step: str
    attempt: int
    kind: str
    path: str
    size: int | None
    reused: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def size_text(size: int | None) -> str:
    """``1,234 B``, ``5.4 KB``, ``12.0 MB``; ``missing`` for a file that has gone."""
    if size is None:
        return "missing"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return ""


def list_artifacts(tasks: list[TaskRecord], root: Path) -> list[Artifact]:
    """The artifacts of ``tasks``, in their order; a notebook shared by a run's cell tasks
    once."""
    out: list[Artifact] = []
    seen: set[tuple[str, str]] = set()
    for task in tasks:
        for kind, path in (("notebook", task.notebook), ("pickle", task.result_ref)):
            if not path or (kind, path) in seen:
                continue
            seen.add((kind, path))
            file = root / path
            size = file.stat().st_size if file.is_file() else None
            out.append(Artifact(task.step, task.attempt, kind, path, size,
                                task.reused_from is not None))
    return out


def open_artifact(run_id: str, tasks: list[TaskRecord], step: str, root: Path,
                  load_modules: Callable[[], Any]) -> Any:
    """What ``step``'s latest task left: its executed notebook (an ``nbformat`` node) for a
    notebook, cell or code task, else its result unpickled (or its JSON result)."""
    latest = [t for t in tasks if t.step == step]
    if not latest:
        raise NotFound(f"run {run_id} has no task for step {step!r} (its steps: "
                       f"{', '.join(dict.fromkeys(t.step for t in tasks if t.step != 'Start'))})")
    task = latest[-1]
    if task.notebook:
        file = root / task.notebook
        if not file.is_file():
            raise WfnbError(f"the executed notebook of step {step!r} in run {run_id} "
                            f"({task.notebook}) is missing")
        import nbformat
        return nbformat.read(str(file), as_version=4)
    if task.status != TaskStatus.COMPLETED:
        raise WfnbError(f"step {step!r} of run {run_id} did not complete "
                        f"({task.status.value}): it has no result")
    if task.result_ref and not (root / task.result_ref).is_file():
        raise WfnbError(f"the result of step {step!r} in run {run_id} was pickled to "
                        f"{task.result_ref}, which is missing")
    return decode_result(task.result, task.result_ref, root, load_modules)


__all__ = ["Artifact", "list_artifacts", "open_artifact", "size_text"]
