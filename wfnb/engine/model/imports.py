"""Callables named by import path (``"package.module:function"``), for declared workflows.

Modules next to the declaring file come first on the path, like an Airflow DAGs folder; a
module whose file changed since it was imported is imported again, so editing a helper module
is picked up when the workflow reloads.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import os
import re
import sys
from pathlib import Path
from typing import Any


def resolve(target: Any, folder: Path):
    """The callable ``"package.module:function"`` (or ``"module.function"``) names, imported
    now with ``folder`` first on the path; ValueError says what is wrong with it."""
    if not isinstance(target, str) or not re.fullmatch(r"[\w.]+(:[\w.]+)?", target):
        raise ValueError(f"{target!r} is not an import path like 'package.module:function'")
    module_name, _, attr = target.partition(":") if ":" in target else target.rpartition(".")
    if not module_name:
        raise ValueError(f"{target!r} names no module ('module:function')")
    try:
        value: Any = _import_fresh(module_name, str(folder.resolve()))
        for part in attr.split("."):
            value = getattr(value, part)
    except Exception as exc:  # noqa: BLE001 - ImportError, AttributeError, the module's own
        raise ValueError(f"cannot import {target!r}: {type(exc).__name__}: {exc}") from None
    if not callable(value):
        raise ValueError(f"{target!r} is not callable")
    return value


_stamps: dict[str, int | None] = {}   # module name -> its file's mtime when imported here


def _mtime(module) -> int | None:
    try:
        return os.stat(module.__file__).st_mtime_ns
    except (OSError, TypeError, AttributeError):
        return None


def _under(module, folder: str) -> bool:
    """A module imported from ``folder`` by name (not one the loader keeps as a workflow
    module, ``wfnb_workflows_*``: those are the loader's to reload)."""
    if getattr(module, "__name__", "").startswith("wfnb_workflows_"):
        return False
    file = getattr(module, "__file__", None)
    return bool(file) and os.path.abspath(file).startswith(folder.rstrip(os.sep) + os.sep)


def _import_fresh(name: str, folder: str):
    """The module ``name`` as found next to the declaring file first. When any module of that
    folder changed since it was imported here (the named one, or a helper it imports), all of
    them are imported again; so is a same-named module cached from elsewhere."""
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)  # like a DAGs folder: the declaring file's neighbours first
    top = name.split(".")[0]
    local = importlib.machinery.PathFinder.find_spec(top, [folder])
    stale: set[str] = set()
    cached = sys.modules.get(name)
    other = getattr(sys.modules.get(top), "__file__", None)
    if cached is not None and local is not None and other and other != local.origin:
        # a same-named module of another folder (another workspace): it and its neighbours
        other_folder = os.path.dirname(os.path.abspath(other))
        stale |= {k for k, m in list(sys.modules.items())
                  if k == top or k.startswith(top + ".") or _under(m, other_folder)}
    ours = {k: m for k, m in list(sys.modules.items()) if _under(m, folder)}
    if any(_stamps.get(k, _mtime(m)) != _mtime(m) for k, m in ours.items()):
        stale |= set(ours)  # a helper changed: its importers hold the old one, so all go
    if stale:
        for key in stale:
            sys.modules.pop(key, None)
        importlib.invalidate_caches()
    module = importlib.import_module(name)
    for key, mod in list(sys.modules.items()):
        if _under(mod, folder) and key not in _stamps or key in stale or key == name:
            _stamps[key] = _mtime(mod)
    return module
