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
    "Workflow": "wfnb.engine.model.workflow", "Step": "wfnb.engine.model.workflow",
    "Param": "wfnb.engine.core.params", "Run": "wfnb.engine.services.runs",
    "TaskRecord": "wfnb.engine.core.records", "RunStatus": "wfnb.engine.core.states",
    "TaskStatus": "wfnb.engine.core.states",
    "WorkflowProblem": "wfnb.engine.model.loader",
    # every exception, from the one module that defines them all
    **{name: "wfnb.engine.core.errors" for name in (
        "WfnbError", "WorkflowError", "ParamError", "ConfigError", "NotFound", "StoreError",
        "SqlError", "StateError", "BrokenWorkflowError", "LoadError", "DeclarationError",
        "InfrastructureError", "PermissionDenied", "DecisionError", "EditConflict",
        "ScheduleError", "TestSessionError", "CellError", "Interrupted", "KernelDied",
        "KernelUnavailable", "WorkerLost", "ClusterUnavailable", "UsageError",
        "StepFailed", "NotebookFailed", "RemoteStepError")},
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


def _jupyter_server_extension_points() -> list[dict]:
    """Jupyter Server finds the extension here (enabled by the ``jupyter-config`` file the
    wheel installs): the REST API and WebSockets under ``/wfnb/api/``."""
    from .server.app import WfnbExtension
    return [{"module": "wfnb.server.app", "app": WfnbExtension}]


def _jupyter_labextension_paths() -> list[dict]:
    """The prebuilt JupyterLab extension (``jupyter labextension develop .`` links it)."""
    return [{"src": "labextension", "dest": "wfnb"}]


def load_ipython_extension(ipython) -> None:
    """``%load_ext wfnb``: the ``%%wfsql`` and ``%wfnb`` magics (see :mod:`wfnb.magics`)."""
    from .magics import load_ipython_extension as load
    load(ipython)


def _register_magics() -> None:
    """In IPython (a kernel), ``import wfnb`` registers the magics too; elsewhere it never
    imports IPython."""
    import sys
    if "IPython" not in sys.modules:
        return
    try:
        ipython = sys.modules["IPython"].get_ipython()
        if ipython is not None and hasattr(ipython, "register_magics"):
            load_ipython_extension(ipython)
    except Exception:  # a half-initialised shell: %load_ext wfnb still works
        pass


def __dir__() -> list[str]:
    return sorted(__all__)


_register_magics()


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .engine.core.errors import (BrokenWorkflowError, CellError, ClusterUnavailable,
                                     ConfigError, DecisionError, DeclarationError, EditConflict,
                                     InfrastructureError, Interrupted, KernelDied,
                                     KernelUnavailable, LoadError, NotebookFailed, NotFound,
                                     ParamError, PermissionDenied, RemoteStepError,
                                     ScheduleError, SqlError, StateError, StepFailed,
                                     StoreError, TestSessionError, UsageError, WfnbError,
                                     WorkerLost, WorkflowError)
    from .engine.model.loader import WorkflowProblem
    from .engine.model.workflow import Step, Workflow
    from .engine.core.params import Param
    from .engine.core.records import TaskRecord
    from .engine.services.runs import Run
    from .engine.core.states import RunStatus, TaskStatus
    from .workspace import Workspace, open
