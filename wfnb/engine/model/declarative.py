"""Workflows declared in files: ``<anything>.wfnb.toml`` in a workflows folder.

::

    [workflow]
    name = "weekly_report"            # default: the file name
    title = "Weekly report"

    [[params]]
    name = "week"
    type = "date"
    required = true

    [[steps]]
    name = "extract"
    call = "sales_lib:extract"         # a Python callable, "module:attribute"
    retries = 2
    timeout = "5m"

    [[steps]]
    name = "summary"
    code = '''wfnb.output("rows", len(extract))'''   # a cell, run in a kernel
    after = ["extract"]

Every problem is reported at once, each naming the file, the line and the field
(``steps.extract.timeout``); nothing is half loaded. ``services/edits.apply_changes`` edits
the file's text in place (comments and layout kept) and the result is checked by the very code that loads it.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from ..core.errors import DeclarationError, WorkflowError
from .imports import resolve
from .workflow import Step, Workflow, parse_duration
from ..core.params import Param

SUFFIX = ".wfnb.toml"
TOP_KEYS = {"workflow", "params", "steps"}
WORKFLOW_KEYS = {"name", "title", "description", "tags", "runners", "approvers",
                 "reuse_approvals"}
PARAM_KEYS = {"name", "type", "required", "default", "description", "choices", "min", "max",
              "label", "allow_nan"}
STEP_KEYS = {"name", "after", "retries", "retry_delay", "timeout", "description"}
KIND_KEYS = {  # the key that makes a step of a kind, then the keys that kind also takes
    "python": ("call", set()),
    "notebook": ("notebook", {"parameters", "kernel"}),
    "code": ("code", {"kernel"}),
    "approval": ("approval", {"approvers", "on_timeout", "inputs"}),
}
# what the editor may change: per workflow, per param, per step (no renames, adds or removes)
EDITABLE = {
    "workflow": ("title", "description", "tags"),
    "params": ("default", "description", "required", "label", "choices", "min", "max"),
    "steps": ("after", "retries", "retry_delay", "timeout", "description", "call", "notebook",
              "parameters", "kernel", "code", "approvers", "on_timeout"),
}


def is_declared(path: Path) -> bool:
    return path.name.endswith(SUFFIX)


class _Lines:
    """Where things are in the file: ``tomllib`` gives values, not positions, so the blocks
    (``[workflow]``, each ``[[params]]`` and ``[[steps]]``) are found by their headers."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.blocks: dict[tuple, int] = {(): 1}
        counts: dict[str, int] = {}
        current_step = -1
        for n, line in enumerate(self.lines, 1):
            m = self._HEADER.match(line)
            if not m:
                continue
            name = m.group(2).replace('"', "").replace("'", "").replace(" ", "")
            if m.group(1) == "[[":
                if name.startswith("steps."):  # [[steps.inputs]] belongs to the last step
                    key = f"{current_step}.{name}"
                    counts[key] = counts.get(key, -1) + 1
                    self.blocks[("steps", current_step, name[6:], counts[key])] = n
                    continue
                counts[name] = counts.get(name, -1) + 1
                if name == "steps":
                    current_step = counts[name]
                self.blocks[(name, counts[name])] = n
            elif name.startswith("steps."):
                self.blocks[("steps", current_step, name[6:])] = n
            else:
                self.blocks[(name,)] = n

    def line(self, block: tuple, key: str | None = None) -> int | None:
        start = self.blocks.get(block)
        while start is None and block:  # an inline table: the nearest enclosing block
            block = block[:-1]
            start = self.blocks.get(block)
        if start is None or key is None:
            return start
        later = sorted(n for n in self.blocks.values() if n > start)
        end = later[0] - 1 if later else len(self.lines)
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for n in range(start, end + 1):
            if pattern.match(self.lines[n - 1]):
                return n
        return start


class _Problems:
    def __init__(self, lines: _Lines):
        self.lines, self.items = lines, []

    def add(self, field: str, block: tuple, key: str | None, message: str,
            line: int | None = None) -> None:
        self.items.append((field, line or self.lines.line(block, key), message))


def _flag(meta: dict, key: str, problems: _Problems) -> bool:
    """A true/false key of [workflow] (false when absent)."""
    value = meta.get(key, False)
    if not isinstance(value, bool):
        problems.add(f"workflow.{key}", ("workflow",), key,
                     f"must be true or false, not {value!r}")
        return False
    return value


def declared_name(path: Path) -> str:
    """The name of the workflow ``path`` declares, even when the file is otherwise broken:
    ``[workflow] name``, else the file name."""
    default = path.name[: -len(SUFFIX)] if is_declared(path) else path.stem
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return default
    try:
        name = tomllib.loads(text).get("workflow", {}).get("name")
    except (tomllib.TOMLDecodeError, AttributeError):  # not TOML: look for the line itself
        block = re.search(r"^\s*\[workflow\][^\[]*?^\s*name\s*=\s*[\"']([^\"'\n]+)[\"']",
                          text, re.M | re.S)
        name = block.group(1) if block else None
    return name if isinstance(name, str) and name else default


def declared_notebooks(path: Path) -> list[str]:
    """The files of the notebook steps ``path`` declares (as far as it can be read), so a
    loader can notice one appearing."""
    try:
        steps = tomllib.loads(path.read_text(encoding="utf-8")).get("steps", [])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    if not isinstance(steps, list):
        return []
    return [str((path.parent / s["notebook"]).resolve()) for s in steps if isinstance(s, dict)
            and isinstance(s.get("notebook"), str) and s["notebook"].endswith(".ipynb")]


def parse(text: str, path: Path) -> dict:
    """The file's TOML as a dict; a syntax error names the file and the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise DeclarationError(str(path), [("syntax", int(m.group(1)) if m else None,
                                            f"not valid TOML: {message}")]) from None


def load(path: Path) -> Workflow:
    """The workflow declared in ``path``; DeclarationError lists every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DeclarationError(str(path), [("file", None, f"cannot be read: {exc}")]) from None
    return build(parse(text, path), path, text)


def build(doc: dict, path: Path, text: str) -> Workflow:
    lines = _Lines(text)
    problems = _Problems(lines)
    for key in doc:
        if key not in TOP_KEYS:
            problems.add(key, (), key, f"unknown key or table (known: {', '.join(sorted(TOP_KEYS))})")
    meta = _table(doc.get("workflow", {}), "workflow", ("workflow",), problems)
    _unknown(meta, WORKFLOW_KEYS, "workflow", ("workflow",), problems)
    name = meta.get("name", path.name[: -len(SUFFIX)] if is_declared(path) else path.stem)
    params = _params(doc.get("params", []), problems)
    steps = doc.get("steps", [])
    if not isinstance(steps, list) or not steps:
        problems.add("steps", (), "steps", "a workflow needs at least one [[steps]] table")
        steps = []
    wf = None
    try:
        wf = Workflow(name, title=meta.get("title"), description=meta.get("description", ""),
                      tags=_strings(meta, "tags", "workflow", ("workflow",), problems) or (),
                      params=params, runners=_strings(meta, "runners", "workflow", ("workflow",),
                                                      problems),
                      approvers=_strings(meta, "approvers", "workflow", ("workflow",), problems),
                      reuse_approvals=_flag(meta, "reuse_approvals", problems))
    except WorkflowError as exc:
        problems.add("workflow.name", ("workflow",), "name", exc.problem)
    names: dict[str, int] = {}
    for i, raw in enumerate(steps):
        step = _step(raw, i, path, wf, names, problems)
        if step is not None and wf is not None:
            try:
                wf.add_step(step)
            except WorkflowError as exc:
                problems.add(f"steps.{step.name}", ("steps", i), "name", exc.problem)
    for step_name, i in names.items():
        for dep in _strings(steps[i], "after", "", (), _Problems(lines)) or []:
            if dep not in names:
                problems.add(f"steps.{step_name}.after", ("steps", i), "after",
                             f"{dep!r} is not a step of this workflow (steps: "
                             f"{', '.join(names)})")
    if wf is not None and problems.items and all(d in wf.steps for s in wf.steps.values()
                                                 for d in s.after):
        try:
            wf.order()  # a cycle is worth reporting alongside the other problems
        except WorkflowError as exc:
            problems.add(f"steps.{exc.step}.after", ("steps", names[exc.step]), "after",
                         exc.problem)
    if wf is not None and not problems.items:
        try:
            wf.validate()
        except WorkflowError as exc:
            at = names.get(exc.step or "", None)
            key = "after" if "after" in exc.problem or "cycle" in exc.problem else None
            field = f"steps.{exc.step}" + (f".{key}" if key else "") if exc.step else "workflow"
            problems.add(field, ("steps", at) if at is not None else ("workflow",), key,
                         exc.problem)
    if problems.items:
        raise DeclarationError(str(path), problems.items)
    assert wf is not None
    wf.source = str(path)
    wf.declaration = {"path": str(path), "text": text, "doc": doc}
    return wf


def _table(value: Any, field: str, block: tuple, problems: _Problems) -> dict:
    if isinstance(value, dict):
        return value
    problems.add(field, block, None, f"must be a table, got {type(value).__name__}")
    return {}


def _unknown(table: dict, known: set, field: str, block: tuple, problems: _Problems) -> None:
    for key in table:
        if key not in known:
            problems.add(f"{field}.{key}", block, key,
                         f"unknown key (known: {', '.join(sorted(known))})")


def _strings(table: dict, key: str, field: str, block: tuple, problems: _Problems):
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    problems.add(f"{field}.{key}", block, key, "must be a string or a list of strings")
    return None


def _param(raw: Any, field: str, block: tuple, problems: _Problems) -> Param | None:
    raw = _table(raw, field, block, problems)
    _unknown(raw, PARAM_KEYS, field, block, problems)
    if "name" not in raw:
        problems.add(field, block, None, "a parameter needs a name")
        return None
    try:
        param = Param(**{k: v for k, v in raw.items() if k in PARAM_KEYS})
    except TypeError as exc:
        problems.add(field, block, None, str(exc))
        return None
    for problem in param.problems:
        first = re.match(r"\w+", problem)
        key = first.group(0) if first and first.group(0) in PARAM_KEYS else (
            "choices" if "choices" in problem else "default" if "default" in problem else None)
        problems.add(f"{field.rsplit('.', 1)[0]}.{param.name}", block, key, problem)
    return None if param.problems else param


def _params(raw: Any, problems: _Problems) -> list[Param]:
    if not isinstance(raw, list):
        problems.add("params", (), "params", "must be an array of tables ([[params]])")
        return []
    out: list[Param] = []
    for i, item in enumerate(raw):
        param = _param(item, f"params.{i}", ("params", i), problems)
        if param is None:
            continue
        if any(p.name == param.name for p in out):
            problems.add(f"params.{param.name}", ("params", i), "name", "declared twice")
            continue
        out.append(param)
    return out


def _step(raw: Any, i: int, path: Path, wf: Workflow | None, names: dict[str, int],
          problems: _Problems) -> Step | None:
    block = ("steps", i)
    raw = _table(raw, f"steps.{i}", block, problems)
    name = raw.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        problems.add(f"steps.{i}", block, "name",
                     "a step needs a name that is a valid Python identifier")
        return None
    if name in names:
        problems.add(f"steps.{name}", block, "name", "a step with this name already exists")
        return None
    names[name] = i
    field = f"steps.{name}"
    kinds = [k for k, (key, _) in KIND_KEYS.items() if key in raw]
    if len(kinds) != 1:
        keys = ", ".join(key for key, _ in KIND_KEYS.values())
        problems.add(field, block, None, f"give exactly one of {keys} (found "
                     f"{', '.join(KIND_KEYS[k][0] for k in kinds) or 'none'})")
        return None
    kind = kinds[0]
    _unknown(raw, STEP_KEYS | {KIND_KEYS[kind][0]} | KIND_KEYS[kind][1], field, block, problems)
    after = _strings(raw, "after", field, block, problems) or []
    retries = raw.get("retries", 0)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        problems.add(f"{field}.retries", block, "retries", "must be an integer >= 0")
        retries = 0
    durations = {}
    for key in ("retry_delay", "timeout"):
        try:
            durations[key] = parse_duration(raw.get(key), key)
        except ValueError as exc:
            problems.add(f"{field}.{key}", block, key, str(exc))
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.add(f"{field}.description", block, "description", "must be a string")
        description = ""
    common = dict(after=tuple(after), retries=retries,
                  retry_delay=durations.get("retry_delay") or 0.0,
                  timeout=durations.get("timeout"), description=description)
    if kind == "python":
        try:
            fn = resolve(raw["call"], path.parent)
        except ValueError as exc:
            problems.add(f"{field}.call", block, "call", str(exc))
            return None
        import inspect
        common["description"] = description or inspect.getdoc(fn) or ""
        return Step(name, fn, kind="python", **common)
    if kind == "notebook":
        notebook = raw["notebook"]
        if not isinstance(notebook, str) or not notebook.endswith(".ipynb"):
            problems.add(f"{field}.notebook", block, "notebook", "must be the path of an "
                         ".ipynb file, relative to this file")
            return None
        full = (path.parent / notebook).resolve()
        if not full.is_file():
            problems.add(f"{field}.notebook", block, "notebook", f"no notebook at {full}")
            return None
        parameters = raw.get("parameters", {})
        if not isinstance(parameters, dict):
            problems.add(f"{field}.parameters", block, "parameters", "must be a table")
            parameters = {}
        return Step(name, None, kind="notebook",
                    **{**common, "description": description or f"runs {Path(notebook).name}"},
                    options={"path": str(full), "parameters": parameters,
                             "kernel": raw.get("kernel")})
    if kind == "code":
        code = raw["code"]
        if not isinstance(code, str) or not code.strip():
            problems.add(f"{field}.code", block, "code", "must be Python source (a string)")
            return None
        try:
            compile(code, f"{path}:{name}", "exec")
        except SyntaxError as exc:
            at = problems.lines.line(block, "code") or 0
            opener = problems.lines.lines[at - 1].rstrip() if at else ""
            first = at + 1 if opener.endswith(('"""', "'''")) else at
            problems.add(f"{field}.code", block, "code", f"SyntaxError: {exc.msg}",
                         line=first + (exc.lineno or 1) - 1 if at else None)
            return None
        return Step(name, None, kind="code", **common,
                    options={"code": code, "kernel": raw.get("kernel"),
                             "cwd": str(path.parent.resolve())})
    # approval
    if raw["approval"] is not True:
        problems.add(f"{field}.approval", block, "approval", "must be true")
        return None
    inputs = []
    for j, item in enumerate(raw.get("inputs", []) if isinstance(raw.get("inputs"), list)
                             else []):
        param = _param(item, f"{field}.inputs.{j}", ("steps", i, "inputs", j), problems)
        if param is not None:
            inputs.append(param)
    if wf is None:
        return None
    scratch = Workflow(wf.name)  # approval() checks on_timeout and the inputs
    try:
        return scratch.approval(name, after=after, approvers=_strings(
            raw, "approvers", field, block, problems) or (), timeout=common["timeout"],
            on_timeout=raw.get("on_timeout", "reject"), description=description,
            inputs=inputs)
    except WorkflowError as exc:
        key = "on_timeout" if "on_timeout" in exc.problem else "inputs"
        problems.add(f"{field}.{key}", block, key, exc.problem)
        return None
