"""The registry of step kinds: ``Step.kind`` -> the :class:`~.kinds.StepKind` that executes
it, every built-in kind listed here, in one place.

An executor looks a step's kind up in :data:`STEP_KINDS`; the engine hands the kinds' names to
the loader, which refuses a workflow with a step of any other kind
(:func:`wfnb.engine.model.workflow.check_kinds`).
"""
from __future__ import annotations

from .kinds import ApprovalStep, PythonStep, StepKind
from .notebooks import CellStep, CodeStep, NotebookStep

__all__ = ["STEP_KINDS", "builtin_kinds"]


def builtin_kinds() -> dict[str, StepKind]:
    """Kind name -> its StepKind, for every kind wfnb defines (in the order error messages
    list them)."""
    kinds: list[StepKind] = [PythonStep(), ApprovalStep(),
                             NotebookStep(), CellStep(), CodeStep()]
    return {k.kind: k for k in kinds}


STEP_KINDS: dict[str, StepKind] = builtin_kinds()
