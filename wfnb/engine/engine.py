"""The engine behind a workspace: workflows, runs, history. Plain Python, no views."""
from __future__ import annotations

import functools
import getpass
import json
import os
import threading
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from . import capture, config
from .errors import NotFound, SqlError, WfnbError
from .executors import Executor, make_executor
from .liveness import Liveness, end_run
from .loader import Loader
from .model import Workflow
from .params import to_jsonable, validate
from .records import RunRecord, TaskRecord, new_run_id, utcnow
from .run import Run
from .runner import RunDriver
from .states import RUN_TERMINAL, RunStatus
from .store import Store, rows_of

_executors: dict[tuple, Executor] = {}
_executors_lock = threading.Lock()


_parser_lock = threading.Lock()


@functools.cache
def _parser() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB used only to parse users' SQL (creating one costs ~12 ms)."""
    return duckdb.connect(":memory:")


def current_user() -> str:
    """``WFNB_USER``, else ``JUPYTERHUB_USER``, else the OS user."""
    return os.environ.get("WFNB_USER") or os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


def _shared_executor(settings: dict) -> Executor:
    key = tuple(sorted((k, repr(v)) for k, v in settings.items()))
    with _executors_lock:
        if key not in _executors:
            _executors[key] = make_executor(settings)
        return _executors[key]


class Engine:
    """Runs and history of one workspace folder (``wfnb.toml`` + ``.wfnb/``)."""

    def __init__(self, root: str | os.PathLike = ".", *, user: str | None = None,
                 create: bool = True):
        self.root = Path(root).resolve()
        self.config = config.load(self.root, create=create)
        self.user = user or current_user()
        self.store = Store.for_path(self.config.history)
        self.liveness = Liveness.for_store(self.store)
        self.artifacts = self.root / ".wfnb" / "artifacts"
        self._loader = Loader(self.config.paths)
        self.executor: Executor = _shared_executor(self.config.executor)  # checks [executor]
        self.liveness.reap(force=True)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.root} user={self.user!r}>"

    # ---- workflows ------------------------------------------------------------------------
    def workflows(self) -> list[Workflow]:
        """The workflows defined under the paths of ``wfnb.toml`` (reloaded when files change)."""
        return list(self._loader.workflows().values())

    def workflow(self, name: str | Workflow) -> Workflow:
        if isinstance(name, Workflow):
            return name.validate()
        found = self._loader.workflows()
        if name not in found:
            raise NotFound(f"no workflow named {name!r} in {self.root} "
                           f"(known: {', '.join(sorted(found)) or 'none'})")
        return found[name]

    # ---- starting runs --------------------------------------------------------------------
    def start(self, workflow: str | Workflow, /, **params: Any) -> Run:
        """Validate the arguments and start a run in the background; returns at once."""
        return self.submit(workflow, params)

    def run(self, workflow: str | Workflow, /, **params: Any) -> Run:
        """Start a run and wait until it has ended (and that is in the history)."""
        return self.submit(workflow, params).wait()

    def rerun(self, run_id: str, /, **overrides: Any) -> Run:
        """Start the workflow of ``run_id`` again with its arguments, updated by ``overrides``;
        the new run records ``run_id`` as its parent. Returns at once, like :meth:`start`."""
        parent = self.get_run(run_id)
        return self.submit(parent.workflow, {**parent.params, **overrides}, trigger="rerun",
                           parent_id=parent.id)

    def validate(self, workflow: str | Workflow, /, **params: Any) -> dict[str, Any]:
        """The typed arguments a run would get, or ParamError listing every problem."""
        wf = self.workflow(workflow)
        return validate(wf.name, wf.params, params)

    @staticmethod
    def new_run_id() -> str:
        """A fresh run id (sortable by time), e.g. to hand to :meth:`submit`."""
        return new_run_id()

    def submit(self, workflow: str | Workflow, params: dict[str, Any] | None = None, *,
               trigger: str = "manual", parent_id: str | None = None,
               run_id: str | None = None) -> Run:
        """:meth:`start` with every option: how the run was triggered (manual, rerun, api ...),
        its parent run, and its id (for a caller that must know it before the run exists)."""
        wf = self.workflow(workflow)
        args = validate(wf.name, wf.params, params or {})
        record = RunRecord(id=run_id or new_run_id(), workflow=wf.name, version=wf.version,
                           params={k: to_jsonable(v) for k, v in args.items()},
                           tasks_total=len(wf.steps) + 1, created_by=self.user,
                           trigger=trigger, parent_id=parent_id,
                           owner_id=self.liveness.owner_id)
        capture.install()
        driver = RunDriver(self, wf, record, args)
        with self.store.records_lock:
            self.store.put(run=record, event={
                "run_id": record.id, "kind": "run", "status": record.status.value,
                "actor": self.user,
                "data": json.dumps({"trigger": trigger, "parent_id": parent_id})})
        self.liveness.add(driver)
        driver.start()
        return Run(self, record, driver)

    def _release(self, driver: RunDriver) -> None:
        self.liveness.remove(driver)

    # ---- history --------------------------------------------------------------------------
    def runs(self, workflow: str | None = None, status: str | None = None,
             trigger: str | None = None, limit: int = 50, offset: int = 0) -> list[Run]:
        """Runs newest first, filtered, one page at a time."""
        where, args = [], []
        if workflow:
            where.append("workflow = ?")
            args.append(workflow)
        if status:
            where.append("status = ?")
            args.append(self._status(status))
        if trigger:
            where.append("trigger = ?")
            args.append(trigger)
        if (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
                or isinstance(offset, bool) or not isinstance(offset, int) or offset < 0):
            raise WfnbError(f"limit must be >= 1 and offset >= 0 (got {limit!r}, {offset!r})")
        self.liveness.reap()
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.store.query(f"SELECT * FROM runs {clause} ORDER BY created_at DESC, id DESC "
                                f"LIMIT {limit} OFFSET {offset}", args)
        return [self._handle(RunRecord.from_row(row)) for row in rows]

    @staticmethod
    def _status(status: str) -> str:
        for s in RunStatus:
            if status.lower() == s.value.lower():
                return s.value
        raise WfnbError(f"status {status!r} is not a run status "
                        f"(one of: {', '.join(s.value for s in RunStatus)})")

    def get_run(self, run_id: str) -> Run:
        """One run with its tasks; NotFound if there is none with this id."""
        driver = self.liveness.live.get(run_id)
        if driver is not None:
            return Run(self, driver.run, driver)
        self.liveness.reap()
        with self.store.connect(read_only=True) as con:
            rows = rows_of(con.execute("SELECT * FROM runs WHERE id = ?", [run_id]))
            tasks = rows_of(con.execute("SELECT * FROM tasks WHERE run_id = ? ORDER BY seq",
                                        [run_id]))
        if not rows:
            raise NotFound(f"no run with id {run_id!r} in {self.root}")
        return Run(self, RunRecord.from_row(rows[0]), tasks=[TaskRecord.from_row(t)
                                                             for t in tasks])

    def _handle(self, record: RunRecord) -> Run:
        driver = self.liveness.live.get(record.id)
        return Run(self, driver.run, driver) if driver else Run(self, record)

    def _load_tasks(self, run_id: str) -> list[TaskRecord]:
        rows = self.store.query("SELECT * FROM tasks WHERE run_id = ? ORDER BY seq", [run_id])
        return [TaskRecord.from_row(r) for r in rows]

    def cancel(self, run_id: str, wait: float = 10.0) -> Run:
        """Cancel a run, wherever it runs; returns it once it has ended (or after ``wait``)."""
        driver = self.liveness.live.get(run_id)
        if driver is not None:
            self.store.put(event={"run_id": run_id, "kind": "cancel_requested",
                                  "actor": self.user})
            driver.request_cancel(self.user)
            driver.done.wait(wait)
            return Run(self, driver.run, driver)

        def request(con: duckdb.DuckDBPyConnection) -> None:
            row = con.execute("SELECT status, owner_id FROM runs WHERE id = ?",
                              [run_id]).fetchone()
            if row is None:
                raise NotFound(f"no run with id {run_id!r} in {self.root}")
            status, owner = RunStatus(row[0]), row[1]
            if status in RUN_TERMINAL:
                raise WfnbError(f"run {run_id} has already ended ({status.value}); "
                                "nothing to cancel")
            if status == RunStatus.WAITING or not self.liveness.owner_alive(con, owner):
                end_run(con, run_id, status.value, RunStatus.CANCELLED,
                        f"cancelled by {self.user}", self.user)
                return
            now = utcnow()
            con.execute("UPDATE runs SET cancel_requested_at = ?, cancel_requested_by = ? "
                        "WHERE id = ?", [now, self.user, run_id])
            con.execute("INSERT INTO events (ts, run_id, kind, actor) VALUES "
                        "(?, ?, 'cancel_requested', ?)", [now, run_id, self.user])
        self.store.transact(request)
        run = self.get_run(run_id)
        try:
            return run.wait(wait)
        except TimeoutError:
            return run

    def sql(self, query: str, params: list | tuple = ()) -> pd.DataFrame:
        """Run one query over the history, read-only, and return a pandas DataFrame.

        Only reading statements run (SELECT, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, PRAGMA):
        nothing can change the history or write files through here."""
        try:
            with _parser_lock:
                statements = _parser().extract_statements(query)
        except duckdb.Error as exc:
            raise SqlError(f"query failed: {exc}") from None
        if len(statements) != 1:
            raise SqlError(f"give one statement at a time (got {len(statements)})")
        kind = statements[0].type.name
        if kind not in ("SELECT", "EXPLAIN", "PRAGMA"):
            raise SqlError(f"the history is read-only through sql(): {kind} statements are "
                           "refused, and nothing was changed")
        try:
            return self.store.query_df(query, params)
        except duckdb.Error as exc:
            text = str(exc)
            if "read-only" in text or "read only" in text:
                raise SqlError("the history is read-only through sql(): this query tries to "
                               f"change it, and nothing was changed ({text})") from None
            raise SqlError(f"query failed: {text}") from None
