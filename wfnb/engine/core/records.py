"""Run and task records: the rows of ``runs`` and ``tasks``, in memory and in the store."""
from __future__ import annotations

import codecs
import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass, field, fields
from typing import Any

from .states import RunStatus, TaskStatus


def utcnow() -> dt.datetime:
    """Timestamps are stored as naive UTC (DuckDB TIMESTAMP)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable, readable and unique across processes: ``20261125-113012-345-7f3a9c``."""
    now = now or utcnow()
    return f"{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}-{secrets.token_hex(3)}"


def _escape_surrogates(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a lone surrogate becomes visible text, ``\\xe9`` for a byte that
    ``surrogateescape`` smuggled in (a non-UTF-8 file name, say), else ``\\ud800``."""
    text = err.object[err.start:err.end]  # type: ignore[attr-defined]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF
                   else f"\\u{ord(c):04x}" for c in text), err.end


codecs.register_error("wfnb-escape", _escape_surrogates)


def clean_text(text: str) -> str:
    """``text`` as DuckDB can store it: valid UTF-8, lone surrogates escaped (DuckDB refuses
    them, and a refused row once blocked every later write of the process)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "wfnb-escape").decode("utf-8")


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_clean_value(k): _clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value


def dumps(value: Any) -> str | None:
    """JSON text DuckDB's JSON type accepts: no NaN tokens, no lone surrogates."""
    if value is None:
        return None
    text = json.dumps(value, default=str)
    if "\\ud" in text:  # a surrogate escape: check they all pair up (rare: emoji, bad bytes)
        text = json.dumps(_clean_value(json.loads(text)))
    return text


def clean_row(row: dict) -> dict:
    """A row's text as the store can take it (see :func:`clean_text`); JSON columns are made
    by :func:`dumps`, event data by callers' ``json.dumps``, so both are checked too."""
    for key, value in row.items():
        if isinstance(value, str):
            if not value.isascii():
                row[key] = clean_text(value)
            elif key == "data" and "\\ud" in value:
                row[key] = dumps(json.loads(value))
    return row


def loads(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) else text


@dataclass
class RunRecord:
    id: str
    workflow: str
    version: str = ""
    params: dict = field(default_factory=dict)
    status: RunStatus = RunStatus.PENDING
    tasks_total: int = 1
    tasks_done: int = 0
    created_by: str = ""
    trigger: str = "manual"
    parent_id: str | None = None
    created_at: dt.datetime = field(default_factory=utcnow)
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    error: str | None = None
    owner_id: str | None = None
    cancel_requested_at: dt.datetime | None = None
    cancel_requested_by: str | None = None
    rerun_mode: str | None = None    # a rerun's: "all", "from_failure" or "from_step"
    rerun_from: str | None = None    # ... and the step it restarted from ("from_step")

    # columns the owning process writes; the cancel_* columns are written by whoever cancels
    OWNER_COLUMNS = ("version", "status", "progress", "tasks_total", "tasks_done", "started_at",
                     "ended_at", "error", "owner_id", "updated_at")

    @property
    def progress(self) -> float:
        return self.tasks_done / self.tasks_total if self.tasks_total else 0.0

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.ended_at or utcnow()) - self.started_at).total_seconds()

    def to_row(self) -> dict:
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["status"] = str(self.status)
        row["params"] = dumps(self.params)
        row["progress"] = round(self.progress, 6)
        row["updated_at"] = utcnow()
        # what the runs table's text filter matches (schema 7); never changes after creation
        row["search"] = " ".join(x for x in (self.id, self.workflow, self.created_by,
                                             row["params"]) if x).lower()
        return row

    @classmethod
    def from_row(cls, row: dict) -> "RunRecord":
        kw = {f.name: row.get(f.name) for f in fields(cls)}
        kw["status"] = RunStatus(kw["status"])
        kw["params"] = loads(kw["params"]) or {}
        record = cls(**kw)
        record._stored = True  # type: ignore[attr-defined] - the store has it: upsert it
        return record


@dataclass
class TaskRecord:
    id: str
    run_id: str
    step: str
    kind: str = "python"
    attempt: int = 1
    seq: int = 0
    status: TaskStatus = TaskStatus.PENDING
    inputs: Any = None
    result: Any = None
    result_ref: str | None = None
    error: str | None = None
    traceback: str | None = None
    log: str = ""
    notebook: str | None = None      # the executed notebook, relative to the workspace
    reused_from: str | None = None   # the parent run's task whose result this one reuses
    params_used: list | None = None  # the run's params the step read (None: not known)
    created_at: dt.datetime = field(default_factory=utcnow)
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.ended_at or utcnow()) - self.started_at).total_seconds()

    def to_row(self) -> dict:
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["status"] = str(self.status)
        row["inputs"] = dumps(self.inputs)
        row["result"] = dumps(self.result)
        row["params_used"] = dumps(self.params_used)
        return row

    @classmethod
    def from_row(cls, row: dict) -> "TaskRecord":
        kw = {f.name: row.get(f.name) for f in fields(cls)}
        kw["status"] = TaskStatus(kw["status"])
        kw["inputs"] = loads(kw["inputs"])
        kw["result"] = loads(kw["result"])
        kw["params_used"] = loads(kw["params_used"])
        kw["log"] = kw["log"] or ""
        record = cls(**kw)
        record._stored = True  # type: ignore[attr-defined]
        return record


def owner_identity() -> tuple[str, str, int]:
    """(owner id, host, pid) of this process, used for heartbeats and lost-runner detection."""
    host = os.uname().nodename
    pid = os.getpid()
    return f"{host}:{pid}:{secrets.token_hex(3)}", host, pid
