"""Discover workflows: every module-level ``Workflow`` in the ``.py`` files under the paths
that ``wfnb.toml`` lists. Modules are re-imported when a file changes, appears or goes."""
from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import threading
import traceback
from pathlib import Path

from . import declarative
from .declarative import SUFFIX, is_declared
from .errors import LoadError, WorkflowError
from .model import Workflow

__all__ = ["LoadError", "Loader", "module_name"]


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_file() and (path.suffix in (".py", ".ipynb") or is_declared(path)):
            found.append(path)
        elif path.is_dir():
            for file in sorted([*path.rglob("*.py"), *path.rglob("*.ipynb"),
                                *path.rglob(f"*{SUFFIX}")]):
                rel = file.relative_to(path).parts
                if any(p.startswith((".", "_")) for p in rel[:-1]) or rel[-1].startswith("_"):
                    continue  # private modules, caches, hidden folders
                found.append(file)
    return found


def module_name(file: Path, root: Path) -> str:
    """A module name that depends on the file's place in the workspace, not on where the
    workspace is, so results pickled from its classes load after the folder moves."""
    try:
        rel = file.resolve().relative_to(root.resolve()).with_suffix("")
    except ValueError:  # a path outside the workspace
        return "wfnb_workflows_" + hashlib.sha1(str(file).encode()).hexdigest()[:10]
    return "wfnb_workflows_" + re.sub(r"\W", "_", "__".join(rel.parts))


def _import(file: Path, root: Path) -> list[Workflow]:
    if is_declared(file):
        return [declarative.load(file)]
    if file.suffix == ".ipynb":
        from .notebooks import notebook_workflow
        try:
            return [notebook_workflow(file)]
        except WorkflowError as exc:
            if str(file) not in str(exc):
                exc.args = (f"{exc} (in {file})",)
            raise
    folder = str(file.parent.resolve())
    if folder not in sys.path:  # its neighbours are importable, as in an Airflow DAGs folder
        sys.path.insert(0, folder)
    name = module_name(file, root)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except WorkflowError as exc:
        sys.modules.pop(name, None)
        exc.args = (f"{exc} (in {file})",)
        exc.source = str(file)  # type: ignore[attr-defined]
        raise
    except BaseException as exc:  # noqa: BLE001 - SyntaxError, ImportError, SystemExit ...
        sys.modules.pop(name, None)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(file)]
        line = getattr(exc, "lineno", None) or (frames[-1].lineno if frames else None)
        where = f"{file}, line {line}" if line else str(file)
        raise LoadError(f"{where}: cannot be imported: {type(exc).__name__}: {exc}") from exc
    found = []
    for value in vars(module).values():
        if isinstance(value, Workflow) and value not in found:
            value.source = str(file)
            found.append(value)
    return found


class Loader:
    """Keeps the workspace's workflows, reloading when the files under its paths change."""

    def __init__(self, paths: list[Path], root: Path):
        self.paths, self.root = paths, root
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._workflows: dict[str, Workflow] = {}

    def _current_stamp(self) -> tuple:
        return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in _files(self.paths))

    def workflows(self) -> dict[str, Workflow]:
        """Name -> Workflow; raises WorkflowError / LoadError for a broken definition."""
        with self._lock:
            stamp = self._current_stamp()
            if stamp != self._stamp:
                loaded: dict[str, Workflow] = {}
                for file, _, _ in stamp:
                    for wf in _import(Path(file), self.root):
                        if wf.name in loaded:
                            raise LoadError(f"{file}: workflow {wf.name!r} is already defined "
                                            f"in {loaded[wf.name].source}")
                        try:
                            wf.validate()
                        except WorkflowError as exc:
                            exc.args = (f"{exc} (in {file})",)
                            raise
                        loaded[wf.name] = wf
                self._workflows, self._stamp = loaded, stamp
            return dict(self._workflows)
