"""wfnb: define, run, approve, watch and query workflows without leaving JupyterLab.

The public API is loaded on first use, so ``import wfnb`` stays cheap inside a notebook step's
kernel (where only ``wfnb.output`` is needed).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .output import output

__version__ = "0.1.0"

_EXPORTS = {
    "open": "wfnb.workspace", "Workspace": "wfnb.workspace",
    "Workflow": "wfnb.engine.model", "Step": "wfnb.engine.model",
    "Param": "wfnb.engine.params", "Run": "wfnb.engine.run",
    "TaskRecord": "wfnb.engine.records", "RunStatus": "wfnb.engine.states",
    "TaskStatus": "wfnb.engine.states", "LoadError": "wfnb.engine.loader",
    "WorkflowProblem": "wfnb.engine.loader",
    "PermissionDenied": "wfnb.engine.auth", "DecisionError": "wfnb.engine.approvals",
    **{name: "wfnb.engine.errors" for name in (
        "WfnbError", "WorkflowError", "ParamError", "ConfigError", "NotFound", "StoreError",
        "SqlError", "StateError", "BrokenWorkflowError")},
}

__all__ = ["output", "__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in ("engine", "cli", "workspace", "widgets"):
        return importlib.import_module(f"wfnb.{name}")
    raise AttributeError(f"module 'wfnb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .engine.approvals import DecisionError
    from .engine.auth import PermissionDenied
    from .engine.errors import (BrokenWorkflowError, ConfigError, NotFound, ParamError,
                                SqlError, StateError, StoreError, WfnbError, WorkflowError)
    from .engine.loader import LoadError, WorkflowProblem
    from .engine.model import Step, Workflow
    from .engine.params import Param
    from .engine.records import TaskRecord
    from .engine.run import Run
    from .engine.states import RunStatus, TaskStatus
    from .workspace import Workspace, open
