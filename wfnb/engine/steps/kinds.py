"""Step kinds: how one kind of step is executed, one class each, found by ``Step.kind`` in
the registry of :mod:`.registry`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .children import ended_on
from ..core.context import RunContext
from ..model.workflow import Step

if TYPE_CHECKING:  # pragma: no cover
    from .results import Inputs


class StepKind:
    """Executes steps of one kind inside an executor's worker."""

    kind = "abstract"

    def execute(self, step: Step, ctx: RunContext, inputs: "Inputs") -> Any:
        raise NotImplementedError


class PythonStep(StepKind):
    """A Python callable: receives ``ctx``, params and upstream results by argument name.
    The processes it starts are ended when it is cancelled or times out (:mod:`.children`)."""

    kind = "python"

    def execute(self, step: Step, ctx: RunContext, inputs: "Inputs") -> Any:
        names, var_kw = step.arguments()
        kwargs = inputs.everything() if var_kw else inputs.pick(names)
        if "ctx" in names or var_kw:
            kwargs["ctx"] = ctx
        with ended_on(ctx.cancel_event):
            return step.fn(**kwargs)


class ApprovalStep(StepKind):
    """A human decision: never executed by a worker; the runner parks it until decided."""

    kind = "approval"

    def execute(self, step: Step, ctx: RunContext, inputs: "Inputs") -> Any:
        raise RuntimeError("approval steps are decided, not executed")

