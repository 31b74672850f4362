"""Step results: what a step may receive (``Inputs``) and how a result is stored: JSON-able
values in the history, anything else pickled to an artifact file."""
from __future__ import annotations

import json
import pickle
import threading
from pathlib import Path
from typing import Any, Callable

from ..model.workflow import Workflow


class ResultMap(dict):
    """Step -> result, where a result may be given as a way to load it (:meth:`defer`): a
    resumed run's reused results are unpickled only if a step, or someone asking the run,
    reads them (a chain of DataFrames resumed at its end unpickles the last one only)."""

    def __init__(self) -> None:
        super().__init__()
        self._deferred: dict[str, Callable[[], Any]] = {}
        self._lock = threading.Lock()  # two steps may ask for the same result at once

    def defer(self, name: str, load: Callable[[], Any]) -> None:
        self._deferred[name] = load

    def __contains__(self, name: object) -> bool:
        # the loader first: a load stores the value, then drops the loader
        return name in self._deferred or dict.__contains__(self, name)

    def __setitem__(self, name: str, value: Any) -> None:
        with self._lock:
            self._deferred.pop(name, None)
            dict.__setitem__(self, name, value)

    def __getitem__(self, name: str) -> Any:
        if name in self._deferred:
            with self._lock:
                load = self._deferred.get(name)
                if load is not None:  # not loaded by another thread meanwhile
                    dict.__setitem__(self, name, load())
                    del self._deferred[name]
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default


class Inputs:
    """What a step may receive by name: the run's params and the results of its upstream steps
    (looked up on demand, so a long chain does not copy every result into every step)."""

    def __init__(self, params: dict, results: dict, workflow: Workflow, step: str):
        self.params, self.results, self.workflow, self.step = params, results, workflow, step
        self.used: set[str] = set()  # the params handed to the step (a resume compares them)

    def pick(self, names: list[str]) -> dict[str, Any]:
        """Values for ``names``: params, and results of steps upstream of this one only."""
        out = {}
        for name in names:
            if name in self.params:
                out[name] = self.params[name]
                self.used.add(name)
            elif name in self.results and name in self.workflow.upstream(self.step):
                out[name] = self.results[name]
        return out

    def everything(self) -> dict[str, Any]:
        out = dict(self.params)
        self.used.update(self.params)
        for up in self.workflow.upstream(self.step):
            out[up] = self.results.get(up)
        return out


def encode_result(value: Any, root: Path, folder: Path, name: str) -> tuple[Any, str | None]:
    """A JSON-able result is stored as is; anything else is pickled to an artifact file (its
    path kept relative to the workspace ``root``) and the task keeps a small description."""
    if value is None:
        return None, None
    try:
        json.dumps(value, allow_nan=False)
        return value, None
    except (TypeError, ValueError):
        pass
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.pkl"
    ref = str(path.relative_to(root))
    summary = {"$artifact": ref, "type": type(value).__qualname__,
               "repr": repr(value)[:300]}
    try:
        with open(path, "wb") as fh:
            pickle.dump(value, fh)
    except Exception as exc:  # unpicklable: keep what can be shown
        summary.update({"$artifact": None, "note": f"not stored: {exc}"})
        return summary, None
    return summary, ref


def decode_result(stored: Any, ref: str | None, root: Path,
                  load_modules: Callable[[], Any] | None = None) -> Any:
    """The value a task returned: its stored JSON, or its artifact unpickled. A class defined
    in a workflow module needs that module: ``load_modules`` imports them on demand."""
    if not ref:
        return stored
    data = (root / ref).read_bytes()
    try:
        return pickle.loads(data)
    except ModuleNotFoundError:
        if load_modules is None:
            raise
        load_modules()
        return pickle.loads(data)
