"""``wfnb.output(name, value)``: hand a value from a notebook back to its workflow.

Inside a notebook step (papermill) or a notebook-cell step, each call becomes part of the
step's result (a dict of name -> value) for downstream steps and for SQL. Values must be JSON
(numbers, text, lists, dicts ...). Kept free of heavy imports: it runs inside the kernel.
"""
from __future__ import annotations

import json
from typing import Any

MIME = "application/vnd.wfnb.output+json"


def output(name: str, value: Any) -> None:
    """Record ``value`` as the output ``name`` of the step this notebook is running as."""
    if not isinstance(name, str) or not name:
        raise ValueError("wfnb.output: the name must be a non-empty string")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise TypeError(f"wfnb.output({name!r}, ...): {type(value).__name__} is not JSON "
                        "(or holds NaN/infinity); give numbers, text, lists or dicts (save "
                        "bigger data to a file and output its path)") from None
    from IPython.display import display
    display({MIME: {"name": name, "value": value},
             "text/plain": f"wfnb.output: {name} = {value!r}"[:200]}, raw=True)
