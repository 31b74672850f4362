"""Discover workflows: every module-level ``Workflow`` in the ``.py`` files under the paths
that ``wfnb.toml`` lists, every ``*.wfnb.toml`` and every notebook. Modules are re-imported
when a file changes, appears or goes.

A broken file never stops the others: it is left out and its problem kept as a
``WorkflowProblem`` (file, line, message, the workflows it defines when known). A workflow is
refused, never run, when its file is broken, when it fails validation, or when another file
defines the same name (which of the two would run is ambiguous, so neither does).
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Collection

from . import declarative
from ..core import pysource
from .declarative import SUFFIX, is_declared
from ..core.errors import DeclarationError, LoadError, WorkflowError
from .notebook_workflows import notebook_workflow
from .workflow import Workflow, check_kinds

__all__ = ["LoadError", "Loader", "WorkflowProblem", "module_name"]


@dataclass(frozen=True)
class WorkflowProblem:
    """Why a workflow file is left out, or a workflow in it refused. ``file`` is relative to
    the workspace (absolute when outside it); ``line`` is None when unknown; ``workflows``
    names what the file defines, or would: empty when that is unknown (a syntax error)."""

    file: str
    line: int | None
    message: str
    workflows: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else \
            f"{self.file}: {self.message}"

    def to_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "message": self.message,
                "workflows": list(self.workflows)}


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


def _defined_in_source(file: Path) -> dict[str, int]:
    """The ``Workflow("name", ...)`` calls of a module's source, name -> line: what a module
    that cannot be imported would define (a guess; nothing when it does not parse)."""
    try:
        tree = pysource.parse(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return {}
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and "Workflow" in (getattr(node.func, "id", None),
                                                         getattr(node.func, "attr", None)):
            arg = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg == "name"), None)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found[arg.value] = min(found.get(arg.value, node.lineno), node.lineno)
    return found


def _definition_line(file: Path, name: str) -> int | None:
    """The line that names workflow ``name`` in ``file``, when it can be found."""
    if file.suffix == ".py":
        return _defined_in_source(file).get(name)
    if is_declared(file):
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        pattern = re.compile(rf"^\s*name\s*=\s*[\"']{re.escape(name)}[\"']")
        return next((n for n, text in enumerate(lines, 1) if pattern.match(text)), 1)
    return None


class _File:
    """Loads one file: its valid workflows, and a problem for whatever is not."""

    def __init__(self, file: Path, where: str, kinds: Collection[str] | None = None):
        self.file, self.where, self.kinds = file, where, kinds
        self.workflows: list[Workflow] = []
        self.problems: list[WorkflowProblem] = []
        self.notebooks: set[str] = set()  # notebook steps' files: a missing one is a problem

    def problem(self, line: int | None, message: str, names=()) -> None:
        if len(message) > 2000:  # a notebook's schema errors quote the whole cell, say
            message = message[:2000] + " …"
        self.problems.append(WorkflowProblem(self.where, line, message,
                                             tuple(dict.fromkeys(n for n in names if n))))

    def load(self, root: Path) -> "_File":
        if is_declared(self.file):
            self._declared()
        elif self.file.suffix == ".ipynb":
            self._notebook()
        else:
            self._module(root)
        return self

    def _declared(self) -> None:
        try:
            wf = declarative.load(self.file)
        except DeclarationError as exc:
            self.notebooks.update(declarative.declared_notebooks(self.file))
            name = declarative.declared_name(self.file)
            for field, line, message in exc.problems:
                self.problem(line, f"{field}: {message}", [name])
        except Exception as exc:  # noqa: BLE001 - a bug of ours must not hide the others
            self.problem(None, f"{type(exc).__name__}: {exc}",
                         [declarative.declared_name(self.file)])
        else:
            self._validated(wf)  # already valid: this notes its notebooks

    def _notebook(self) -> None:
        try:
            wf = notebook_workflow(self.file)
        except WorkflowError as exc:  # unreadable, or its tags make no valid workflow
            self.problem(None, str(exc), [exc.workflow])
            return
        except Exception as exc:  # noqa: BLE001 - papermill's inspection, say
            self.problem(None, f"{type(exc).__name__}: {exc}", [])
            return
        self._validated(wf)

    def _module(self, root: Path) -> None:
        file = self.file
        folder = str(file.parent.resolve())
        if folder not in sys.path:  # its neighbours are importable, as in an Airflow DAGs folder
            sys.path.insert(0, folder)
        name = module_name(file, root)
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module  # dataclasses and pickling look modules up here
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except KeyboardInterrupt:
            sys.modules.pop(name, None)
            raise
        except BaseException as exc:  # noqa: BLE001 - SyntaxError, ImportError, SystemExit ...
            sys.modules.pop(name, None)
            self._not_imported(exc)
            return
        found: list[Workflow] = []
        for value in vars(module).values():
            if isinstance(value, Workflow) and value not in found:
                found.append(value)
        for wf in found:
            wf.source = str(file)
            self._validated(wf)

    def _not_imported(self, exc: BaseException) -> None:
        file = self.file
        if isinstance(exc, SyntaxError) and exc.filename == str(file):
            line, text = exc.lineno, f"SyntaxError: {exc.msg}"
        else:
            frames = [f for f in traceback.extract_tb(exc.__traceback__)
                      if f.filename == str(file)]
            line = frames[-1].lineno if frames else None
            text = str(exc) if isinstance(exc, WorkflowError) else \
                f"{type(exc).__name__}: {exc}"
        names = list(_defined_in_source(file))
        if isinstance(exc, WorkflowError):
            names.insert(0, exc.workflow)
        self.problem(line, f"cannot be imported: {text}", names)

    def _validated(self, wf: Workflow) -> None:
        self.notebooks.update(s.options["path"] for s in wf.steps.values()
                              if s.kind == "notebook" and s.options.get("path"))
        try:
            if self.kinds is not None:  # a step no executor can run: refused now
                check_kinds(wf, self.kinds)
            wf.validate()
        except WorkflowError as exc:
            self.problem(self._line(wf, exc.step), str(exc), [wf.name])
            return
        self.workflows.append(wf)

    def _line(self, wf: Workflow, step: str | None) -> int | None:
        """Where the failing step is defined (its function), else where the workflow is."""
        code = getattr(getattr(wf.steps.get(step or ""), "fn", None), "__code__", None)
        if code is not None and code.co_filename == str(self.file):
            return code.co_firstlineno
        return _definition_line(self.file, wf.name)


class Loader:
    """Keeps the workspace's workflows and the problems of its broken files, reloading when the
    files under its paths change. Given ``kinds`` (the step kinds that can be executed), a
    workflow with a step of another kind is refused."""

    def __init__(self, paths: list[Path], root: Path, *,
                 kinds: Collection[str] | None = None):
        self.paths, self.root, self.kinds = paths, root, kinds
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._notebooks: list[str] = []  # the notebook steps' files, watched like the others
        self._workflows: dict[str, Workflow] = {}
        self._problems: list[WorkflowProblem] = []

    def _current_stamp(self) -> tuple:
        files = []
        for f in _files(self.paths):
            try:
                st = f.stat()
            except OSError:  # removed since it was listed
                continue
            files.append((str(f), st.st_mtime_ns, st.st_size))
        return tuple(files), self._notebooks_stamp(self._notebooks)

    @staticmethod
    def _notebooks_stamp(notebooks: list[str]) -> tuple:
        """A notebook step's file appearing, changing or going reloads too: a missing notebook
        is a broken workflow until it is there (and a changed one a new version)."""
        stamp = []
        for path in notebooks:
            try:
                st = Path(path).stat()
                stamp.append((path, st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append((path, None, None))
        return tuple(stamp)

    def _where(self, file: Path) -> str:
        try:
            return file.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(file)

    def load(self) -> tuple[dict[str, Workflow], list[WorkflowProblem]]:
        """Name -> valid Workflow, and the problems of what was left out or refused."""
        with self._lock:
            stamp = self._current_stamp()
            if stamp != self._stamp:
                files = [_File(Path(f), self._where(Path(f)), self.kinds).load(self.root)
                         for f, _, _ in stamp[0]]
                self._workflows, self._problems = self._refuse_duplicates(files)
                self._notebooks = sorted({n for f in files for n in f.notebooks})
                self._stamp = (stamp[0], self._notebooks_stamp(self._notebooks))
            return dict(self._workflows), list(self._problems)

    def workflows(self) -> dict[str, Workflow]:
        """Name -> Workflow, for the valid workflows only (see :meth:`problems`)."""
        return self.load()[0]

    def problems(self) -> list[WorkflowProblem]:
        return self.load()[1]

    @staticmethod
    def _refuse_duplicates(files: list[_File]) -> tuple[dict[str, Workflow],
                                                        list[WorkflowProblem]]:
        """A name defined in more than one file (or twice in one) is refused in each: which
        definition would run is ambiguous. Broken definitions count, as they would clash once
        fixed."""
        claims: dict[str, list[tuple[_File, Workflow | None]]] = {}
        for f in files:
            for wf in f.workflows:
                claims.setdefault(wf.name, []).append((f, wf))
            for name in dict.fromkeys(n for p in f.problems for n in p.workflows):
                claims.setdefault(name, []).append((f, None))
        workflows: dict[str, Workflow] = {}
        for name, defs in claims.items():
            if len(defs) == 1:
                if defs[0][1] is not None:
                    workflows[name] = defs[0][1]
                continue
            clashing = list(dict.fromkeys(f for f, _ in defs))
            for f in clashing:
                others = [o.where for o in clashing if o is not f]
                where = "in " + ", ".join(others) if others else "twice in this file"
                f.problem(_definition_line(f.file, name),
                          f"workflow {name!r} is also defined {where}; neither definition "
                          "runs until one is renamed or removed", [name])
        return workflows, [p for f in files for p in f.problems]
