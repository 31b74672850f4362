"""The REST API's JSON: runs, tasks, workflows, approvals, schedules and events as the API
sends them, built from the engine's objects in one place. Times are ISO-8601 UTC with a ``Z``
(the engine keeps naive UTC)."""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

# what a run's dict hides from a user who may not see who started it or with what
RUN_FIELDS = ("params", "created_by")


def iso(value: Any) -> str | None:
    """A stored time (naive UTC, or aware) as ``2026-11-25T12:11:41.705Z``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    return value.isoformat()  # a date


def jsonable(value: Any) -> Any:
    """``value`` with every datetime as :func:`iso` text, non-finite floats as text, and
    anything JSON cannot hold (a result unpickled from an artifact, say) as its repr."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return iso(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def dumps(body: Any) -> str:
    return json.dumps(jsonable(body))


def run(handle, full: bool = True) -> dict:
    """A run (``Run.to_dict()``); without ``full``, who started it and its arguments are
    left out (null)."""
    row = handle.to_dict()
    row.pop("search", None)  # the runs filter's lowercased text: not part of the run
    if not full:
        row.update({k: None for k in RUN_FIELDS})
    return jsonable(row)


def task(record) -> dict:
    """One attempt of a step, everything Run Details shows."""
    return jsonable({
        "id": record.id, "step": record.step, "kind": record.kind, "attempt": record.attempt,
        "seq": record.seq, "status": record.status.value, "inputs": record.inputs,
        "result": record.result, "result_ref": record.result_ref, "error": record.error,
        "traceback": record.traceback, "log": record.log or "", "notebook": record.notebook,
        "reused_from": record.reused_from, "params_used": record.params_used,
        "created_at": record.created_at, "started_at": record.started_at,
        "ended_at": record.ended_at,
        "duration": record.duration if record.ended_at is not None else None})


def relative(path: str | None, root: Path) -> str | None:
    """A file path relative to the workspace (``/`` separated), or as is when outside it."""
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def workflow(wf, root: Path, can_run: bool, last: dict | None,
             next_run: dt.datetime | None) -> dict:
    """A workflow for the gallery and the run form: its schema, last run and next schedule."""
    described = wf.describe()
    return jsonable({
        "name": wf.name, "title": wf.title, "description": wf.description,
        "tags": list(wf.tags), "kinds": sorted({s.kind for s in wf.steps.values()}),
        "steps": described["steps"], "params": described["params"], "can_run": can_run,
        "declared": wf.declaration is not None, "path": relative(wf.source, root),
        "version": wf.version,
        "last_run": {k: last[k] for k in ("id", "status", "created_at")} if last else None,
        "next_run": next_run})


def approval(pending) -> dict:
    """A step waiting for a decision (``PendingApproval``)."""
    return jsonable(pending.to_dict())


def schedule(item) -> dict:
    return jsonable(item.to_dict())


def event(row: dict) -> dict:
    """A history event; ``seq`` is null for one this server's writer handed over directly."""
    data = row.get("data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            pass
    return jsonable({"seq": row.get("seq"), "ts": row.get("ts"), "run_id": row.get("run_id"),
                     "task_id": row.get("task_id"), "kind": row.get("kind"),
                     "status": row.get("status"), "actor": row.get("actor"), "data": data})
