"""Editing declared workflows (``*.wfnb.toml``) from the engine: check a change, save it as
a new version, and look back at every version a workspace has seen.

A change is applied to the file's text (comments and layout kept) and the new text is checked
by the same code that loads workflows; only text that loads is written, atomically, and only
when the file is still the version the editor started from. Every version saved here, and
every version a run ran, is kept in the history (``workflow_versions``) with its full text.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..model import declarative
from ..model.declarative import EDITABLE
from ..core.errors import DeclarationError, EditConflict, NotFound, WfnbError
from ..model.workflow import Workflow
from ..core.params import Param, coerce
from ..core.records import utcnow

from ..store import versions
from ..store.store import Store
from .catalog import Catalog
from .guard import Guard

_save_lock = threading.Lock()
_remembered: set[tuple[str, str, str]] = set()   # (history, workflow, version) stored


@contextmanager
def _file_lock(path: Path):
    """An exclusive lock on ``.<file>.lock`` next to the declared file, across processes."""
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class WorkflowEdits:
    """Versions, checks and saves of declared workflows."""

    def __init__(self, guard: Guard, catalog: Catalog, store: Store):
        self.guard, self.catalog, self.store = guard, catalog, store

    def editable(self, workflow: str | Workflow) -> bool:
        """Whether this user may edit ``workflow`` here (declared in a file, UPDATE_WORKFLOW)."""
        wf = self.catalog.workflow(workflow)
        return wf.declaration is not None and self.guard.can("UPDATE_WORKFLOW")

    def check_workflow(self, workflow: str | Workflow,
                       changes: dict[str, Any]) -> Workflow:
        """The workflow as ``changes`` would make it, or DeclarationError listing every problem
        (each with its field and line). Nothing is written."""
        self.guard.require("LIST_WORKFLOWS", f"see workflow {workflow!r}")
        wf = self._declared(workflow)
        path = Path(wf.declaration["path"])
        _, new = self._changed(wf, path, changes)
        return new

    def save_workflow(self, workflow: str | Workflow, changes: dict[str, Any], *,
                      base_version: str | None = None) -> Workflow:
        """Apply ``changes`` (see :func:`apply_changes`) and save the file as a new
        version. Needs UPDATE_WORKFLOW. ``base_version`` (the version the editor showed) guards
        against overwriting someone else's save: EditConflict when the file moved on."""
        wf = self._declared(workflow)
        self.guard.require("UPDATE_WORKFLOW", f"edit workflow {wf.name!r}")
        path = Path(wf.declaration["path"])
        with _save_lock, _file_lock(path):  # this process's threads, and other processes
            wf = self.catalog.workflow(wf.name)  # the file as it is now
            if base_version is not None and base_version != wf.version:
                raise EditConflict(f"{path}: workflow {wf.name!r} changed since it was opened "
                                   f"(version {base_version} is now {wf.version}); reopen it "
                                   "and edit again")
            text, new = self._changed(wf, path, changes)
            if text == wf.declaration["text"]:
                return wf
            self.remember_version(wf)  # the version being replaced, if never run
            if path.read_text(encoding="utf-8") != wf.declaration["text"]:  # edited by hand
                raise EditConflict(f"{path}: the file changed while the edit was checked; "
                                   "reopen it and edit again")
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)  # readers see the old file or the new one, never half
            new.declaration["text"] = text
            self.remember_version(new, origin="editor")
            self.store.put(event={"run_id": None, "kind": "workflow", "status": "saved",
                                  "actor": self.guard.user,
                                  "data": json.dumps({"workflow": wf.name,
                                                      "version": new.version})})
        return self.catalog.workflow(wf.name)

    def workflow_versions(self, workflow: str) -> list[dict[str, Any]]:
        """The versions of a declared workflow this workspace has kept, newest first: version,
        saved_at, saved_by, origin ("editor", or "file": a version found on disk, by a run or
        before an edit)."""
        self.guard.require("LIST_WORKFLOWS", f"see workflow {workflow!r}")
        with self.store.connect(read_only=True) as con:
            return versions.listing(con, workflow)

    def workflow_source(self, workflow: str, version: str) -> str:
        """The text of one kept version (what a run of that version ran)."""
        self.guard.require("LIST_WORKFLOWS", f"see workflow {workflow!r}")
        with self.store.connect(read_only=True) as con:
            text = versions.text(con, workflow, version)
        if text is None:
            raise NotFound(f"workflow {workflow!r} has no kept version {version!r}")
        return text

    # ---- internals ------------------------------------------------------------------------
    def _declared(self, workflow: str | Workflow) -> Workflow:
        wf = self.catalog.workflow(workflow)
        if wf.declaration is None:
            where = f" ({wf.source})" if wf.source else ""
            raise WfnbError(f"workflow {wf.name!r} is defined in Python{where}: edit its code; "
                            f"only workflows declared in *{declarative.SUFFIX} files are "
                            "edited here")
        return wf

    @staticmethod
    def _changed(wf: Workflow, path: Path, changes: dict) -> tuple[str, Workflow]:
        try:
            text = apply_changes(wf.declaration["text"], changes, wf.params)
        except (ValueError, TypeError) as exc:
            field, _, message = str(exc).partition(": ")
            raise DeclarationError(str(path), [(field if message else "changes", None,
                                                message or str(exc))]) from None
        new = declarative.build(declarative.parse(text, path), path, text)
        if new.name != wf.name:
            raise DeclarationError(str(path), [("workflow.name", None,
                                                "the name cannot be changed here")])
        return text, new

    def remember_version(self, wf: Workflow, origin: str = "file") -> None:
        """Keep the text of a declared workflow's version (once per workspace)."""
        if wf.declaration is None:
            return
        key = (str(self.store.path), wf.name, wf.version)
        if key in _remembered:
            return
        self.store.transact(lambda con: versions.keep(
            con, wf.name, wf.version, wf.declaration["path"], wf.declaration["text"],
            self.guard.user if origin == "editor" else None, utcnow(), origin))
        _remembered.add(key)


# ---- applying a change to the file's text ----------------------------------------------------
def apply_changes(text: str, changes: dict, params: list[Param]) -> str:
    """The file's text with ``changes`` applied in place (comments and order kept).

    ``changes`` is ``{"workflow": {...}, "params": {name: {...}}, "steps": {name: {...}}}``
    holding only keys of ``EDITABLE``; a value of None (or "") removes the key. Renaming,
    adding or removing steps and params is done in the file itself."""
    import tomlkit
    doc = tomlkit.parse(text)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))} (only "
                         f"{', '.join(EDITABLE)})")
    if changes.get("workflow"):
        if "workflow" not in doc:
            doc["workflow"] = tomlkit.table()
        _set(doc["workflow"], changes["workflow"], "workflow", EDITABLE["workflow"])
    by_type = {p.name: p for p in params}
    for section in ("params", "steps"):
        tables = {t.get("name"): t for t in doc.get(section, [])}
        for name, values in (changes.get(section) or {}).items():
            if name not in tables:
                raise ValueError(f"{section}.{name}: there is no such {section[:-1]} in the file "
                                 "(add or rename it in the file itself)")
            if section == "params" and name in by_type:
                values = _typed_param(by_type[name], values)
            if section == "steps":
                values = {k: _number(v) if k == "retries" else v for k, v in values.items()}
            _set(tables[name], values, f"{section}.{name}", EDITABLE[section])
    return tomlkit.dumps(doc)


def _set(table, values: dict, field: str, allowed: tuple) -> None:
    for key, value in values.items():
        if key not in allowed:
            raise ValueError(f"{field}.{key}: cannot be changed here (editable: "
                             f"{', '.join(allowed)})")
        if value is None or value == "" or value == []:
            if key in table:
                del table[key]
        elif isinstance(value, str) and "\n" in value:  # code keeps its lines (and line numbers)
            import tomlkit
            table[key] = tomlkit.string(value, multiline=True)
        else:
            table[key] = value


def _number(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return value


def _typed_param(param: Param, values: dict) -> dict:
    """Form values are strings: store numbers, dates and booleans as TOML's own types when
    they parse (what does not is kept as given, and the check names it)."""
    out = dict(values)
    for key in ("default", "min", "max"):
        value = out.get(key)
        if isinstance(value, str) and value.strip() and param.type != "str":
            try:
                typed = coerce(param, value, check_bounds=False)
            except ValueError:
                continue
            if isinstance(typed, (bool, int, float, str, dt.date, dt.datetime, list)):
                out[key] = typed
    return out
