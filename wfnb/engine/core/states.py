"""Every run and task status and every legal transition, declared once.

Statuses are stored and shown as exactly these words, so SQL over the history reads naturally.
Nothing else in wfnb sets a status by hand: callers go through :func:`check_run` /
:func:`check_task`, which raise :class:`StateError` on an illegal change.
"""
from __future__ import annotations

from enum import Enum

from .errors import StateError


class RunStatus(str, Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    WAITING = "Waiting for Approval"
    COMPLETED = "Completed"
    FAILED = "Failed"          # a step raised or timed out
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"      # an approval said no
    ERROR = "Error"            # the engine or its infrastructure failed

    def __str__(self) -> str:
        return self.value


class TaskStatus(str, Enum):
    PENDING = "Pending"        # scheduled, waiting for a worker (or for its retry delay)
    RUNNING = "Running"
    WAITING = "Waiting for Approval"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    SKIPPED = "Skipped"        # an upstream step did not complete
    ERROR = "Error"

    def __str__(self) -> str:
        return self.value


RUN_TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED,
                          RunStatus.REJECTED, RunStatus.ERROR})
RUN_ACTIVE = frozenset(set(RunStatus) - RUN_TERMINAL)
TASK_TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED,
                           TaskStatus.REJECTED, TaskStatus.SKIPPED, TaskStatus.ERROR})
TASK_ACTIVE = frozenset(set(TaskStatus) - TASK_TERMINAL)

RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.ERROR}),
    RunStatus.RUNNING: frozenset({RunStatus.WAITING, RunStatus.COMPLETED, RunStatus.FAILED,
                                  RunStatus.CANCELLED, RunStatus.REJECTED, RunStatus.ERROR}),
    RunStatus.WAITING: frozenset({RunStatus.RUNNING, RunStatus.REJECTED, RunStatus.CANCELLED,
                                  RunStatus.FAILED, RunStatus.ERROR}),
    **{s: frozenset() for s in RUN_TERMINAL},
}

TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.SKIPPED,
                                   TaskStatus.ERROR}),
    TaskStatus.RUNNING: frozenset({TaskStatus.WAITING, TaskStatus.COMPLETED, TaskStatus.FAILED,
                                   TaskStatus.CANCELLED, TaskStatus.ERROR}),
    TaskStatus.WAITING: frozenset({TaskStatus.COMPLETED, TaskStatus.REJECTED,
                                   TaskStatus.CANCELLED, TaskStatus.FAILED, TaskStatus.ERROR}),
    **{s: frozenset() for s in TASK_TERMINAL},
}


def _check(kind: str, table: dict, old, new) -> None:
    if new not in table[old]:
        raise StateError(f"{kind} cannot go from {old.value!r} to {new.value!r}")


def check_run(old: RunStatus, new: RunStatus) -> RunStatus:
    """Return ``new`` if a run may move from ``old`` to it, else raise StateError."""
    _check("a run", RUN_TRANSITIONS, RunStatus(old), RunStatus(new))
    return RunStatus(new)


def check_task(old: TaskStatus, new: TaskStatus) -> TaskStatus:
    """Return ``new`` if a task may move from ``old`` to it, else raise StateError."""
    _check("a task", TASK_TRANSITIONS, TaskStatus(old), TaskStatus(new))
    return TaskStatus(new)
