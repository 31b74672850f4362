"""The ``ctx`` a step receives: who and where it runs, a logger, and cancellation."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

STEP_LOGGER = "wfnb.step"   # the logger a step's ctx.logger is a child of (captured per task)


class RunContext:
    """Passed to a step as ``ctx``: ``ctx.run_id``, ``ctx.logger``, ``ctx.cancelled`` ..."""

    def __init__(self, run_id: str, workflow: str, step: str, attempt: int, params: dict,
                 workspace: Path, cancel: threading.Event, user: str,
                 resources: dict | None = None, workflow_def: Any = None):
        self.run_id, self.workflow, self.step, self.attempt = run_id, workflow, step, attempt
        self.params, self.workspace, self.user = params, workspace, user
        self._cancel = cancel
        self.resources = resources if resources is not None else {}  # shared by the run
        self.workflow_def = workflow_def
        self.notebook: str | None = None   # set by notebook steps: the executed copy
        self.logger = logging.getLogger(f"{STEP_LOGGER}.{workflow}.{step}")
        if self.logger.level == logging.NOTSET:
            self.logger.setLevel(logging.INFO)

    @property
    def cancel_event(self) -> threading.Event:
        """Set when the run is cancelled or this step timed out (for code that waits on it:
        a kernel, a child process)."""
        return self._cancel

    @property
    def cancelled(self) -> bool:
        """True once the run is cancelled or this step timed out: a long step should return."""
        return self._cancel.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep, waking early when cancelled; returns ``ctx.cancelled``."""
        return self._cancel.wait(seconds)

    @property
    def artifacts(self) -> Path:
        """A folder for this run's files (``.wfnb/artifacts/<run id>/``), created on demand."""
        path = self.workspace / ".wfnb" / "artifacts" / self.run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def __repr__(self) -> str:
        return f"<RunContext run={self.run_id} step={self.step} attempt={self.attempt}>"
