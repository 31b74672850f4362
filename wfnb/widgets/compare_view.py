"""Compare two runs (from Run Details: "Compare with parent"): the parameters that differ, each
step side by side (status, duration, attempts, reused) and the results that differ, path by
path (``ws.compare``; large values summarised)."""
from __future__ import annotations

import json

import anywidget
import traitlets

from ..engine.core.errors import WfnbError
from .assets import css, esm


class CompareView(anywidget.AnyWidget):
    _esm, _css = esm("compare_view"), css("compare_view")
    comparison = traitlets.Dict({}).tag(sync=True)
    back = traitlets.Unicode("").tag(sync=True)  # the view Close returns to, if any

    def __init__(self, ws, run_id: str, other: str | None = None, on_intent=None, **kw):
        super().__init__(**kw)
        self._on_intent = on_intent
        if not other:
            other = ws.get_run(run_id).parent_id
            if not other:
                raise WfnbError(f"run {run_id} has no parent run: say which run to compare "
                                "it with")
        # a is the earlier (the parent), b the one asked about
        self.comparison = json.loads(json.dumps(ws.compare(other, run_id).to_dict(),
                                                default=str))
        self.on_msg(self._message)

    def _message(self, _widget, content: dict, _buffers) -> None:
        if self._on_intent is not None:
            self._on_intent(content)
