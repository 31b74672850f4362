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


_stamps: dict[str, int | None] = {}


def _mtime(module) -> int | None:
    try:
        return os.stat(module.__file__).st_mtime_ns
    except (OSError, TypeError, AttributeError):
        return None


def _import_fresh(name: str, folder: str):
    """The module ``name`` as found next to the declaring file first: imported again when its
    file changed since (the loader reloads a declared workflow when a file in its folder
    changes, and so its callables), or when a same-named module from elsewhere is cached."""
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)  # like a DAGs folder: the declaring file's neighbours first
    top = name.split(".")[0]
    local = importlib.machinery.PathFinder.find_spec(top, [folder])
    cached = sys.modules.get(name)
    if cached is not None:
        elsewhere = local is not None and getattr(sys.modules.get(top), "__file__", None) \
            != local.origin
        changed = name in _stamps and _stamps[name] != _mtime(cached)
        if elsewhere or changed:
            for key in [k for k in sys.modules if k == top or k.startswith(top + ".")]:
                del sys.modules[key]
            importlib.invalidate_caches()
    module = importlib.import_module(name)
    _stamps[name] = _mtime(module)
    return module
