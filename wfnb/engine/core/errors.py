"""Every exception wfnb defines, in one module; each is exported from ``wfnb``.

One tree under ``WfnbError``, what a user catches. The ``StepFailed`` family carries a step's own
failure (its message and traceback) between threads and processes."""
from __future__ import annotations


class WfnbError(Exception):
    """Base of every error wfnb raises on purpose."""


class ConfigError(WfnbError):
    """``wfnb.toml`` is missing a piece, malformed, or names something that does not exist."""


class WorkflowError(WfnbError):
    """A workflow definition is invalid (cycle, unknown dependency, bad step signature ...)."""

    def __init__(self, workflow: str, problem: str, step: str | None = None):
        self.workflow, self.step, self.problem = workflow, step, problem
        where = f"workflow {workflow!r}" + (f", step {step!r}" if step else "")
        super().__init__(f"{where}: {problem}")


class LoadError(WfnbError):
    """A workflow file cannot be loaded; names the file and the line."""


class DeclarationError(LoadError):
    """A declared workflow (``*.wfnb.toml``) is invalid; ``problems`` lists each one as
    ``(field, line, message)``, field like ``steps.extract.timeout``."""

    def __init__(self, path: str, problems: list[tuple[str, int | None, str]]):
        self.path, self.problems = str(path), list(problems)
        super().__init__("\n".join(
            f"{path}" + (f", line {line}" if line else "") + f": {field}: {message}"
            for field, line, message in self.problems))


class ParamError(WfnbError):
    """Arguments do not fit a workflow's parameters; ``errors`` maps each field to its problem."""

    def __init__(self, workflow: str, errors: dict[str, str]):
        self.workflow, self.errors = workflow, dict(errors)
        lines = "; ".join(f"{field}: {msg}" for field, msg in self.errors.items())
        super().__init__(f"invalid arguments for workflow {workflow!r}: {lines}")


class NotFound(WfnbError):
    """A workflow or run that does not exist."""


class StoreError(WfnbError):
    """The history store cannot be opened, is locked for too long, or has an unknown schema."""


class SqlError(WfnbError):
    """A query given to ``Workspace.sql`` failed or tried to change history."""


class StateError(WfnbError):
    """A status change the state machine does not allow."""


class InfrastructureError(WfnbError):
    """What runs a step failed (a kernel died, a worker was lost): the task and run end in
    Error, not Failed."""


class BrokenWorkflowError(WorkflowError, LoadError):
    """A workflow refused because its file is broken, or because another file defines the
    same name; ``problems`` holds each as a ``WorkflowProblem`` (file, line, message)."""

    def __init__(self, workflow: str, problems: list):
        self.problems = list(problems)
        super().__init__(workflow, "cannot be run: " + "; ".join(map(str, self.problems)))


class CellError(WfnbError):
    """The code raised inside the kernel; carries the kernel's traceback."""

    def __init__(self, ename: str, evalue: str, traceback: list[str]):
        self.ename, self.evalue, self.traceback = ename, evalue, traceback
        super().__init__(f"{ename}: {evalue}")


class Interrupted(WfnbError):
    """The code was interrupted because the run was cancelled or the step timed out."""


class KernelUnavailable(InfrastructureError):
    """The kernel could not be started (no such kernel installed, it failed to start)."""


class KernelDied(InfrastructureError):
    """The kernel process died while running a step (infrastructure: the task ends in Error)."""


class PermissionDenied(WfnbError):
    """The current user lacks a capability (or is not among a workflow's or step's people)."""

    def __init__(self, user: str, capability: str, detail: str = ""):
        self.user, self.capability, self.detail = user, capability, detail
        super().__init__(f"permission denied: user {user!r} may not {capability}"
                         + (f" ({detail})" if detail else ""))


class EditConflict(WfnbError):
    """The file changed since the editor read it: reopen, then edit again."""


class TestSessionError(WfnbError):
    """A test step lacks an upstream value, or names a step the workflow does not have."""

    __test__ = False  # not a pytest test class


class DecisionError(WfnbError):
    """A decision that cannot be taken: not waiting, already decided, several steps wait ..."""


class ScheduleError(WfnbError):
    """A schedule that cannot be made: bad cron, unknown time zone, unknown catch-up policy."""


class ClusterUnavailable(InfrastructureError):
    """The LocalCluster could not start its workers (trying again would not help)."""

    retryable = False


class WorkerLost(InfrastructureError):
    """The Dask worker running a step died, or the cluster could not be reached."""

    retryable = True


class UsageError(WfnbError):
    """Bad command-line usage (exit 2)."""


class StepFailed(WfnbError):
    """A step's failure as its task shows it: the ``message``, the step's own ``traceback``
    (a kernel's, a worker's), and whether what failed was the ``infrastructure`` running the
    step (the task then ends in Error, not Failed)."""

    def __init__(self, message: str, traceback: str = "", *, infrastructure: bool = False):
        super().__init__(message)
        self.message, self.traceback, self.infrastructure = message, traceback, infrastructure


class NotebookFailed(StepFailed):
    """A notebook cell raised: names the cell and carries the kernel's traceback."""


class RemoteStepError(StepFailed):
    """A step that raised on a Dask worker: its message and the worker's traceback."""
