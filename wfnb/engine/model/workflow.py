"""The workflow model: a named DAG of steps with a parameter schema.

``Workflow`` is what users write; it checks its own shape (cycles, unknown dependencies,
duplicate names, step arguments that nothing provides) and raises ``WorkflowError`` naming the
workflow, the step and the problem.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

from ..core.errors import WorkflowError
from ..core.params import Param

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any, what: str = "duration") -> float | None:
    """Seconds from ``30``, ``2.5``, ``"90s"``, ``"5m"``, ``"2h"`` or ``"2d"``; None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return float(m.group(1)) * _UNITS[m.group(2)]
    raise ValueError(f"{what} {value!r} is not a duration (seconds, or like '90s', '5m', '2h', '2d')")


@dataclass
class Step:
    """One node of a workflow: what to run, what it waits for, how to retry and time it out."""

    name: str
    fn: Callable[..., Any] | None
    after: tuple[str, ...] = ()
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    description: str = ""
    kind: str = "python"
    options: dict = field(default_factory=dict)
    _signature: tuple | None = field(default=None, repr=False, compare=False)

    def arguments(self) -> tuple[list[str], bool]:
        """The names the step's callable asks for, and whether it takes ``**kwargs``."""
        if self._signature is None:
            self._signature = self._inspect()
        return self._signature

    def _inspect(self) -> tuple[list[str], bool]:
        if self.fn is None:
            return [], False
        names, var_kw = [], False
        for p in inspect.signature(self.fn).parameters.values():
            if p.kind is p.VAR_KEYWORD:
                var_kw = True
            elif p.kind is not p.VAR_POSITIONAL:
                names.append(p.name)
        return names, var_kw

    @property
    def approvers(self) -> list[str]:
        return list(self.options.get("approvers", ()))

    @property
    def inputs(self) -> list:
        """The Params an approver fills in (approval steps)."""
        return list(self.options.get("inputs", ()))

    def fingerprint(self) -> dict:
        try:
            source = inspect.getsource(self.fn) if self.fn else ""
        except (OSError, TypeError):
            source = getattr(getattr(self.fn, "__code__", None), "co_code", b"").hex()
        if self.kind == "notebook":  # the notebook's content is the step's code
            try:
                source = hashlib.sha256(Path(self.options["path"]).read_bytes()).hexdigest()
            except OSError:
                source = "missing"
        return {"name": self.name, "kind": self.kind, "after": list(self.after),
                "retries": self.retries, "retry_delay": self.retry_delay,
                "timeout": self.timeout, "source": source,
                "options": {k: [p.to_dict() for p in v] if k == "inputs" else v
                            for k, v in self.options.items()}}


class Workflow:
    """A named DAG of steps with a parameter schema.

    >>> wf = Workflow("daily_sales", params=[Param("date", type="date", required=True)])
    >>> @wf.step()
    ... def extract(ctx, date): ...
    """

    def __init__(self, name: str, title: str | None = None, description: str = "",
                 tags: Iterable[str] = (), params: Iterable[Param] = (),
                 runners: Iterable[str] | None = None, approvers: Iterable[str] | None = None,
                 reuse_approvals: bool = False):
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
            raise WorkflowError(str(name), "the name must start with a letter or '_' and hold "
                                "only letters, digits, '_', '-' or '.'")
        self.name = name
        self.title = title or name.replace("_", " ").capitalize()
        self.description = description
        self.tags = list(tags)
        self.params = list(params)
        # who may run it / decide its approvals (role names, or user:NAME); None: anyone allowed
        self.runners = list(runners) if runners is not None else None
        self.approvers = list(approvers) if approvers is not None else None
        # a run resumed from this one's failure (or a step) takes its approvals as decided
        # (True), or asks again (False: a decision is about its moment, not only its inputs)
        self.reuse_approvals = bool(reuse_approvals)
        self.steps: dict[str, Step] = {}
        self.source: str | None = None  # the file it was loaded from
        self.notebook_options: dict | None = None  # set for a workflow that is a notebook
        self.declaration: dict | None = None  # path, text, doc: declared in a .wfnb.toml
        self._graph: dict = {}           # memoised children/upstream/downstream; reset on change
        seen: set[str] = set()
        for p in self.params:
            if not isinstance(p, Param):
                raise WorkflowError(name, f"params must be Param(...) objects, got {p!r}")
            if p.name in seen:
                raise WorkflowError(name, f"parameter {p.name!r} is declared twice")
            seen.add(p.name)
            for problem in p.problems:
                raise WorkflowError(name, f"parameter {p.name!r}: {problem}")
            if p.name == "ctx":
                raise WorkflowError(name, "a parameter cannot be named 'ctx' (the run context)")

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r}: {len(self.steps)} steps, params {self.param_names}>"

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    # ---- building -------------------------------------------------------------------------
    def step(self, fn: Callable | None = None, *, name: str | None = None,
             after: Iterable[str | Callable] = (), retries: int = 0,
             retry_delay: float | str = 0.0, timeout: float | str | None = None,
             description: str | None = None):
        """Decorator adding a Python step: ``@wf.step(after=["extract"], retries=2, timeout=60)``."""
        def add(func: Callable) -> Callable:
            if not callable(func):
                raise WorkflowError(self.name, f"a step must be callable, got {func!r}")
            step_name = name or func.__name__
            self.add_step(Step(step_name, func, self._deps(step_name, after), retries=retries,
                               retry_delay=self._duration(step_name, "retry_delay", retry_delay),
                               timeout=self._duration(step_name, "timeout", timeout),
                               description=description or inspect.getdoc(func) or ""))
            return func
        return add(fn) if fn is not None else add

    def notebook(self, name: str, path: str | Path, *, after: Iterable[str | Callable] = (),
                 parameters: dict | None = None, retries: int = 0,
                 retry_delay: float | str = 0.0, timeout: float | str | None = None,
                 kernel: str | None = None, description: str = "") -> Step:
        """Add a whole notebook as a step, run by papermill. It receives the run's params and
        upstream results whose names its ``parameters`` cell declares; ``parameters`` adds or
        overrides values. ``path`` is relative to the file defining the workflow."""
        defined_in = sys._getframe(1).f_globals.get("__file__")
        # in a module: next to it; in a notebook cell (no __file__): the kernel's folder
        base = Path(defined_in).resolve().parent if defined_in else Path.cwd()
        full = (base / path).resolve()
        return self.add_step(Step(name, None, self._deps(name, after), retries=retries,
                                  retry_delay=self._duration(name, "retry_delay", retry_delay),
                                  timeout=self._duration(name, "timeout", timeout),
                                  description=description or f"runs {Path(path).name}",
                                  kind="notebook",
                                  options={"path": str(full), "parameters": dict(parameters or {}),
                                           "kernel": kernel}))

    def approval(self, name: str, *, after: Iterable[str | Callable] = (),
                 approvers: Iterable[str] = (), timeout: float | str | None = None,
                 on_timeout: str = "reject", description: str = "",
                 inputs: Iterable[Param] = ()) -> Step:
        """Add a human decision: the run waits (holding no thread or process) until one of
        ``approvers`` (role names, or user:NAME; empty: anyone who may APPROVE) approves or
        rejects. Approver ``inputs`` (Params) reach downstream steps as this step's result, with
        ``approved_by`` and ``comment``. After ``timeout`` the step is decided by
        ``on_timeout``: "reject", "approve" or "fail"."""
        if on_timeout not in ("reject", "approve", "fail"):
            raise WorkflowError(self.name, f"on_timeout={on_timeout!r} must be 'reject', "
                                "'approve' or 'fail'", step=name)
        fields = list(inputs)
        for p in fields:
            if not isinstance(p, Param):
                raise WorkflowError(self.name, f"inputs must be Param(...) objects, got {p!r}",
                                    step=name)
            for problem in p.problems:
                raise WorkflowError(self.name, f"input {p.name!r}: {problem}", step=name)
            if p.name in ("approved_by", "comment"):
                raise WorkflowError(self.name, f"input {p.name!r} is reserved (the result "
                                    "carries approved_by and comment)", step=name)
        if isinstance(approvers, str):
            approvers = [approvers]
        return self.add_step(Step(name, None, self._deps(name, after), kind="approval",
                                  timeout=self._duration(name, "timeout", timeout),
                                  description=description,
                                  options={"approvers": list(approvers),
                                           "on_timeout": on_timeout, "inputs": fields}))

    def add_step(self, step: Step) -> Step:
        """Add a step of any kind; names must be unique and distinct from parameter names."""
        if not isinstance(step.name, str) or not step.name.isidentifier():
            raise WorkflowError(self.name, "a step name must be a valid Python identifier",
                                step=str(step.name))
        if step.name == "Start" or step.name in self.steps:
            raise WorkflowError(self.name, "a step with this name already exists", step=step.name)
        if step.name in self.param_names:
            raise WorkflowError(self.name, "a step cannot have the same name as a parameter",
                                step=step.name)
        if not isinstance(step.retries, int) or step.retries < 0:
            raise WorkflowError(self.name, f"retries={step.retries!r} must be an integer >= 0",
                                step=step.name)
        self.steps[step.name] = step
        self._graph.clear()
        return step

    def _deps(self, step: str, after: Iterable[str | Callable]) -> tuple[str, ...]:
        if isinstance(after, (str, bytes)) or callable(after):
            after = [after]
        deps = []
        for dep in after:
            if isinstance(dep, str):
                dep_name = dep
            else:  # a function added as a step, maybe under another name
                dep_name = next((s.name for s in self.steps.values() if s.fn is dep),
                                getattr(dep, "__name__", None))
            if not isinstance(dep_name, str):
                raise WorkflowError(self.name, f"after= holds {dep!r}, not a step name", step=step)
            deps.append(dep_name)
        return tuple(deps)

    def _duration(self, step: str, what: str, value: Any) -> float | None:
        try:
            return parse_duration(value, what)
        except ValueError as exc:
            raise WorkflowError(self.name, str(exc), step=step) from None

    # ---- shape ----------------------------------------------------------------------------
    def validate(self) -> "Workflow":
        """Check the DAG and every step's arguments; raise WorkflowError on the first problem."""
        if "valid" not in self._graph:
            self._validate()
            self._graph["valid"] = True
        return self

    def _validate(self) -> None:
        if not self.steps:
            raise WorkflowError(self.name, "the workflow has no steps")
        for step in self.steps.values():
            for dep in step.after:
                if dep not in self.steps:
                    raise WorkflowError(self.name, f"after= names {dep!r}, which is not a step "
                                        f"of this workflow (steps: {', '.join(self.steps)})",
                                        step=step.name)
            if step.kind == "notebook":  # a missing or broken file is a load-time error
                from .notebook_files import scan
                scan(Path(step.options["path"]), self.name, step.name)
        self.order()  # raises on a cycle
        params = set(self.param_names)
        for step in self.steps.values():
            names, _ = step.arguments()
            defaults = self._defaulted(step)
            for arg in names:
                if arg == "ctx" or arg in params or arg in defaults:
                    continue
                upstream = self.upstream(step.name)  # only when needed: O(steps) each
                if arg in upstream:
                    continue
                if arg in self.steps:
                    problem = (f"argument {arg!r} is a step that is not upstream of this one; "
                               f"add after=[{arg!r}]")
                else:
                    problem = (f"argument {arg!r} is neither a parameter "
                               f"({', '.join(sorted(params)) or 'none'}) nor an upstream step "
                               f"({', '.join(sorted(upstream)) or 'none'})")
                raise WorkflowError(self.name, problem, step=step.name)

    @staticmethod
    def _defaulted(step: Step) -> set[str]:
        if step.fn is None:
            return set()
        return {p.name for p in inspect.signature(step.fn).parameters.values()
                if p.default is not p.empty}

    def order(self) -> list[str]:
        """Steps in a topological order (definition order among independent steps)."""
        indeg = {n: len(s.after) for n, s in self.steps.items()}
        children = self.children()
        ready = [n for n in self.steps if indeg[n] == 0]
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for c in children[n]:
                indeg[c] -= 1
                if indeg[c] == 0:
                    ready.append(c)
        if len(order) != len(self.steps):
            left = [n for n in self.steps if n not in order]
            path, node = [], left[0]  # walk back along after= until a step repeats
            while node not in path:
                path.append(node)
                node = next(d for d in self.steps[node].after if d in left)
            cycle = path[path.index(node):][::-1]  # in run order
            first = path[0] if path[0] in cycle else cycle[0]  # the earliest defined, if in it
            at = cycle.index(first)
            cycle = cycle[at:] + cycle[:at]
            raise WorkflowError(self.name, "the steps form a cycle: " +
                                " -> ".join([*cycle, cycle[0]]), step=cycle[0])
        return order

    def children(self) -> dict[str, list[str]]:
        """Each step's direct dependants."""
        if "children" not in self._graph:
            out: dict[str, list[str]] = {n: [] for n in self.steps}
            for n, s in self.steps.items():
                for dep in s.after:
                    out.setdefault(dep, []).append(n)
            self._graph["children"] = out
        return self._graph["children"]

    def upstream(self, step: str) -> set[str]:
        """Every step with a path to ``step`` (its direct and indirect dependencies)."""
        return self._closure("up", step, lambda n: self.steps[n].after if n in self.steps else ())

    def downstream(self, step: str) -> set[str]:
        """Every step ``step`` has a path to."""
        return self._closure("down", step, lambda n: self.children().get(n, ()))

    def _closure(self, kind: str, step: str, edges) -> set[str]:
        key = (kind, step)
        if key not in self._graph:
            seen: set[str] = set()
            stack = list(edges(step))
            while stack:
                n = stack.pop()
                if n not in seen:
                    seen.add(n)
                    stack.extend(edges(n))
            self._graph[key] = seen
        return self._graph[key]

    @property
    def version(self) -> str:
        """A short hash of the definition: runs record the version they ran."""
        if "version" not in self._graph:
            doc = {"name": self.name, "params": [p.to_dict() for p in self.params],
                   "steps": [s.fingerprint() for s in self.steps.values()]}
            if self.declaration is not None:  # every edit of the file is a version
                doc["declared"] = hashlib.sha256(self.declaration["text"].encode()).hexdigest()
            self._graph["version"] = hashlib.sha256(
                json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return self._graph["version"]

    @property
    def step_versions(self) -> dict[str, str]:
        """Step name -> a short hash of its definition (code, kind, options, dependencies):
        a resumed run reuses a step's result only if its hash is the one its parent ran."""
        if "step_versions" not in self._graph:
            self._graph["step_versions"] = {
                s.name: hashlib.sha256(json.dumps(s.fingerprint(), sort_keys=True,
                                                  default=str).encode()).hexdigest()[:12]
                for s in self.steps.values()}
        return self._graph["step_versions"]

    def describe(self) -> dict:
        """A JSON-able summary: title, description, tags, params, steps and their kinds."""
        return {"name": self.name, "title": self.title, "description": self.description,
                "tags": self.tags, "params": [p.to_dict() for p in self.params],
                "steps": [{"name": s.name, "kind": s.kind, "after": list(s.after),
                           "description": s.description} for s in self.steps.values()],
                "runners": self.runners, "approvers": self.approvers,
                "version": self.version, "source": self.source,
                "declared": self.declaration is not None}


def check_kinds(wf: Workflow, kinds: Collection[str]) -> None:
    """Raise WorkflowError naming the first step of ``wf`` whose kind is not one of ``kinds``
    (the step kinds the engine can execute: this layer does not know them)."""
    for step in wf.steps.values():
        if step.kind not in kinds:
            raise WorkflowError(wf.name, f"kind {step.kind!r} is unknown (known: "
                                f"{', '.join(kinds)})", step=step.name)
