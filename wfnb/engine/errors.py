"""The exceptions wfnb raises: one small tree under ``WfnbError``."""
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
