"""Typed messages between the engine's threads and processes.

* what one attempt of a step ended with (:class:`Succeeded` or :class:`Failed`), sent from an
  executor's worker (a thread here, or a Dask worker) to the run's driver;
* what a driver's inbox receives (:data:`InboxMessage`);
* an approval :class:`Decision`, as recorded in the history and applied by the driver.
"""
from __future__ import annotations

import datetime as dt
import traceback as tb_module
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from .errors import InfrastructureError, RemoteStepError, StepFailed
from .records import TaskRecord

DecisionKind = Literal["approve", "reject", "fail"]  # "fail": a deadline with on_timeout=fail
DECIDED = {"approve": "approved", "reject": "rejected", "fail": "failed"}  # as a sentence says


# ---- step outcomes --------------------------------------------------------------------------
@dataclass(frozen=True)
class Succeeded:
    """The step returned ``value``; ``stored`` is what the history keeps of it, and ``ref``
    the artifact file it was pickled to (None when it is stored as JSON)."""

    value: Any
    stored: Any = None
    ref: str | None = None


@dataclass(frozen=True)
class Failed:
    """The step raised (the task ends Failed), or what runs it failed (``infrastructure``:
    the task ends in Error, and is tried again when ``retryable`` and retries are left)."""

    message: str
    traceback: str = ""
    infrastructure: bool = False
    retryable: bool = False

    def raise_again(self) -> None:
        """Raise this failure as the exception a caller of a remote step sees."""
        raise RemoteStepError(self.message, self.traceback, infrastructure=self.infrastructure)


Outcome = Union[Succeeded, Failed]


def failure(exc: BaseException, traceback: str | None = None) -> Failed:
    """What a step's exception means for its task: a ``StepFailed`` says so itself, an
    ``InfrastructureError`` is infrastructure, anything else the step's own failure, shown
    as ``Type: message``. ``traceback`` defaults to the one being handled."""
    text = traceback if traceback is not None else tb_module.format_exc()
    if isinstance(exc, StepFailed):
        return Failed(exc.message, exc.traceback or text, exc.infrastructure)
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, InfrastructureError):
        return Failed(message, text, infrastructure=True,
                      retryable=bool(getattr(exc, "retryable", False)))
    return Failed(message, text)


# ---- approval decisions ---------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """One recorded decision on an approval step."""

    run_id: str
    step: str
    decision: DecisionKind
    user: str
    comment: str | None = None
    inputs: dict = field(default_factory=dict)
    decided_at: dt.datetime | None = None

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "step": self.step, "decision": self.decision,
                "user": self.user, "comment": self.comment, "inputs": dict(self.inputs),
                "decided_at": self.decided_at}

    def sentence(self) -> str:
        """``step 'x' of run r was approved by ann at 2026-...`` (for refusals)."""
        when = f" at {self.decided_at:%Y-%m-%d %H:%M:%S} UTC" if self.decided_at else ""
        return (f"step {self.step!r} of run {self.run_id} was already "
                f"{DECIDED.get(self.decision, self.decision)} by {self.user}{when}")


# ---- a run driver's inbox -------------------------------------------------------------------
@dataclass(frozen=True)
class StopRequested:
    """End the run (a cancel, the process exiting, the history ended it otherwise)."""


@dataclass(frozen=True)
class StepStarted:
    """A step with a timeout started: the driver's next wait must mind its deadline."""


@dataclass(frozen=True)
class Decided:
    """A recorded decision for one of the run's parked approval steps."""

    decision: Decision


@dataclass(frozen=True)
class StepEnded:
    """One attempt of a step ended, as ``outcome`` says."""

    task: TaskRecord
    outcome: Outcome


InboxMessage = Union[StopRequested, StepStarted, Decided, StepEnded]
