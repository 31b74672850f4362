"""A past run's arguments, as stored, made into values that validate back to exactly them.

A run stores its typed arguments as JSON (``to_jsonable``: dates as ISO text). A rerun must not
take that JSON for user input: a json parameter holding the text ``"5"`` would be parsed into
the number 5, and ``"hello"`` refused. So the stored values are turned back into typed values
first, and overrides (typed from Python, text from the command line) are coerced as ever.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..core.params import Param
from ..core.records import RunRecord
from ..model.workflow import Workflow

_DECODE = {"date": dt.date.fromisoformat, "datetime": dt.datetime.fromisoformat}


def from_stored(params: list[Param], stored: dict[str, Any]) -> dict[str, Any]:
    """Arguments as a run stored them → values ``validate`` turns into those same arguments.

    Dates and datetimes become objects again. A json parameter's value is handed over as its
    JSON text: ``validate`` parses any string given for a json parameter as JSON, and the text
    of a value parses back to exactly that value (``"5"`` stays a string). Names the workflow
    no longer declares, and values that no longer fit, are left for ``validate`` to report."""
    types = {p.name: p.type for p in params}
    out: dict[str, Any] = {}
    for name, value in stored.items():
        kind = types.get(name)
        if kind == "json" and isinstance(value, str):
            value = json.dumps(value)
        elif kind in _DECODE and isinstance(value, str):
            try:
                value = _DECODE[kind](value)
            except ValueError:
                pass
        out[name] = value
    return out


def rerun_arguments(parent: RunRecord, wf: Workflow,
                    overrides: dict[str, Any]) -> dict[str, Any]:
    """The values to start ``parent``'s workflow ``wf`` again with: its stored arguments,
    typed again, updated by ``overrides``. No permission check (starting the run checks
    RUN_WORKFLOW)."""
    return {**from_stored(wf.params, parent.params), **overrides}


__all__ = ["from_stored", "rerun_arguments"]
