"""wfnb: define, run, approve, watch and query workflows without leaving JupyterLab."""
from .engine.errors import (ConfigError, NotFound, ParamError, SqlError, StateError, StoreError,
                            WfnbError, WorkflowError)
from .engine.loader import LoadError
from .engine.model import Step, Workflow
from .engine.params import Param
from .engine.records import TaskRecord
from .engine.run import Run
from .engine.states import RunStatus, TaskStatus
from .workspace import Workspace, open

__version__ = "0.1.0"

__all__ = ["open", "Workspace", "Workflow", "Step", "Param", "Run", "TaskRecord", "RunStatus",
           "TaskStatus", "WfnbError", "WorkflowError", "ParamError", "ConfigError", "LoadError",
           "NotFound", "StoreError", "SqlError", "StateError", "__version__"]
