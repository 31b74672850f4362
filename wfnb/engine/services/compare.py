"""Two runs side by side (``ws.compare(a, b)``, ``wfnb diff A B``): the parameters that differ,
per step status, duration, attempts and whether it was reused, and the results that differ as
a structured diff of their JSON. Large values are summarised, never dumped whole: a value
whose JSON is longer than ``MAX_VALUE`` characters is shown as its type and size, and a step
lists at most ``MAX_CHANGES`` changes (then how many more)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..core.records import RunRecord, TaskRecord

MAX_VALUE = 120     # characters of JSON shown for one value, else a summary
MAX_CHANGES = 20    # changes listed per step's result


def summary(value: Any) -> Any:
    """``value`` itself when its JSON is short, else a one-line description of it."""
    text = json.dumps(value, default=str, sort_keys=True)
    if len(text) <= MAX_VALUE:
        return value
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    if isinstance(value, list):
        return f"<list of {len(value)} items, {len(text):,} chars of JSON, sha {digest}>"
    if isinstance(value, dict):
        return f"<object of {len(value)} keys, {len(text):,} chars of JSON, sha {digest}>"
    if isinstance(value, str):
        return f"<text of {len(value):,} chars: {value[:40]!r}..., sha {digest}>"
    return f"<{type(value).__name__}, {len(text):,} chars of JSON, sha {digest}>"


def json_diff(a: Any, b: Any, path: str = "$") -> list[dict]:
    """Where ``a`` and ``b`` (JSON values) differ: ``{"path", "change", "a", "b"}`` per
    difference (``change``: changed, added, removed), objects by key and lists by index."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[dict] = []
        for key in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{key}"
            if key not in b:
                out.append({"path": sub, "change": "removed", "a": a[key], "b": None})
            elif key not in a:
                out.append({"path": sub, "change": "added", "a": None, "b": b[key]})
            else:
                out += json_diff(a[key], b[key], sub)
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = []
        for i in range(max(len(a), len(b))):
            sub = f"{path}[{i}]"
            if i >= len(b):
                out.append({"path": sub, "change": "removed", "a": a[i], "b": None})
            elif i >= len(a):
                out.append({"path": sub, "change": "added", "a": None, "b": b[i]})
            else:
                out += json_diff(a[i], b[i], sub)
        return out
    if a == b and type(a) is type(b):
        return []
    return [{"path": path, "change": "changed", "a": a, "b": b}]


@dataclass
class StepSide:
    status: str | None          # None: the run has no task for the step
    duration: float | None
    attempts: int
    reused: bool

    @classmethod
    def of(cls, tasks: list[TaskRecord]) -> "StepSide":
        if not tasks:
            return cls(None, None, 0, False)
        last = tasks[-1]
        return cls(last.status.value, last.duration, len(tasks), last.reused_from is not None)


@dataclass
class Comparison:
    """What differs between run ``a`` and run ``b`` (``to_dict()`` for JSON)."""

    a: dict
    b: dict
    params: list[dict] = field(default_factory=list)   # {name, a, b} of differing params
    steps: list[dict] = field(default_factory=list)    # {step, a, b, result} per step
    results: dict[str, dict] = field(default_factory=dict)  # step -> {changes, more}

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "params": self.params, "steps": self.steps,
                "results": self.results}

    def text(self) -> str:
        """The comparison as a terminal shows it."""
        lines = [f"a: {self.a['id']}  {self.a['workflow']}  {self.a['status']}  "
                 f"version {self.a['version']}",
                 f"b: {self.b['id']}  {self.b['workflow']}  {self.b['status']}  "
                 f"version {self.b['version']}", ""]
        if self.params:
            lines.append("parameters that differ:")
            lines += [f"  {p['name']}: {_show(p['a'])} -> {_show(p['b'])}" for p in self.params]
        else:
            lines.append("parameters: the same")
        lines += ["", "steps:"]
        width = max([len(s["step"]) for s in self.steps] + [4])
        for s in self.steps:
            lines.append(f"  {s['step']:<{width}}  {_side(s['a'])}  |  {_side(s['b'])}  "
                         f"result: {s['result']}")
        for step, diff in self.results.items():
            lines += ["", f"result of {step}:"]
            for c in diff["changes"]:
                lines.append(f"  {c['change']:<8} {c['path']}: {_show(c['a'])} -> "
                             f"{_show(c['b'])}")
            if diff["more"]:
                lines.append(f"  ... and {diff['more']} more changes")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()


def _show(value: Any) -> str:
    value = summary(value)
    return value if isinstance(value, str) and value.startswith("<") else json.dumps(
        value, default=str)


def _side(side: dict) -> str:
    if side["status"] is None:
        return "-".ljust(30)
    took = f"{side['duration']:.2f}s" if side["duration"] is not None else ""
    extra = (f" x{side['attempts']}" if side["attempts"] > 1 else "") + \
        (" reused" if side["reused"] else "")
    return f"{side['status']} {took}{extra}".ljust(30)


def compare(a: RunRecord, a_tasks: list[TaskRecord], b: RunRecord,
            b_tasks: list[TaskRecord]) -> Comparison:
    """Compare two runs (of one workflow or two) from their records and tasks."""
    def head(run: RunRecord) -> dict:
        return {"id": run.id, "workflow": run.workflow, "version": run.version,
                "status": run.status.value, "created_by": run.created_by,
                "duration": run.duration, "parent_id": run.parent_id,
                "rerun_mode": run.rerun_mode}
    out = Comparison(head(a), head(b))
    for name in list(a.params) + [k for k in b.params if k not in a.params]:
        va, vb = a.params.get(name), b.params.get(name)
        if va != vb or (name in a.params) != (name in b.params):
            out.params.append({"name": name, "a": summary(va), "b": summary(vb)})
    by_a, by_b = _by_step(a_tasks), _by_step(b_tasks)
    for step in list(by_a) + [s for s in by_b if s not in by_a]:
        if step == "Start":
            continue
        ta, tb = by_a.get(step, []), by_b.get(step, [])
        sa, sb = StepSide.of(ta), StepSide.of(tb)
        verdict = "-"
        if sa.status == "Completed" and sb.status == "Completed":
            changes = json_diff(ta[-1].result, tb[-1].result)
            verdict = "same" if not changes else f"{len(changes)} change" + \
                ("s" if len(changes) > 1 else "")
            if changes:
                out.results[step] = {
                    "changes": [{**c, "a": summary(c["a"]), "b": summary(c["b"])}
                                for c in changes[:MAX_CHANGES]],
                    "more": max(0, len(changes) - MAX_CHANGES)}
        out.steps.append({"step": step, "a": sa.__dict__, "b": sb.__dict__, "result": verdict})
    return out


def _by_step(tasks: list[TaskRecord]) -> dict[str, list[TaskRecord]]:
    out: dict[str, list[TaskRecord]] = {}
    for task in tasks:
        out.setdefault(task.step, []).append(task)
    return out


__all__ = ["Comparison", "compare", "json_diff", "summary"]
