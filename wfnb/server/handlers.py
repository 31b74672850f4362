"""The REST API under ``<base_url>/wfnb/api/``: each handler turns a request into engine calls
made as Jupyter's authenticated user, on the extension's thread pool, and the answer into JSON
(``models``); errors are answered by ``errors``. See docs/server-api.md.

Requests that run a workflow (start, rerun, tests, the test session, pausing a schedule)
check RUN_WORKFLOW before the engine looks anything up (``may_run``), so a refusal never says
whether the workflow, run or schedule exists; the engine then checks again, with the
workflow's runners. A rerun also needs VIEW_DETAILS, as ``wfnb rerun`` does: it copies the
parent run's arguments, which the new run then shows its starter."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.ioloop import IOLoop

from ..engine.core.auth import CAPABILITIES
from ..engine.core.errors import ConfigError, NotFound, WfnbError
from ..engine.core.states import RunStatus
from ..engine.services.testbench import start_test, start_test_step
from . import models
from .errors import answer, bad_request, from_engine
from .events import EventsSocket
from .users import user_name

KINDS = {dict: "an object", str: "a string", bool: "true or false"}
MAX_LIMIT = 500        # runs per page, at most
COUNT_LIMIT = 10_000   # a text search counts its matches up to this many (then "more")


def may_run(ws, what: str) -> None:
    """PermissionDenied (recorded as a ``denied`` event) unless the user has RUN_WORKFLOW."""
    ws.guard.require("RUN_WORKFLOW", what)


class WfnbHandler(APIHandler):
    """What every endpoint shares: the engine of the request's user, run off the IOLoop,
    request parsing, and JSON answers (errors included)."""

    async def engine(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(ws, *args)`` on the pool, ``ws`` the engine acting as the Jupyter user; an
        engine error becomes the HTTP error that answers it (``errors``)."""
        app, user = self.settings["wfnb"], user_name(self)

        def call() -> Any:
            try:
                ws = app.workspace_for(user)
            except WfnbError as exc:  # a broken wfnb.toml, an unreadable history
                raise answer(500 if isinstance(exc, ConfigError) else 503, str(exc)) from None
            try:
                return fn(ws, *args)
            except WfnbError as exc:
                raise from_engine(ws, exc) from None
        return await IOLoop.current().run_in_executor(app.pool, call)

    def reply(self, body: dict, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(models.dumps(body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None))[1]
        if isinstance(exc, web.HTTPError) and hasattr(exc, "body"):
            self.set_header("Content-Type", "application/json")
            self.finish(models.dumps(exc.body))
        else:
            super().write_error(status_code, **kwargs)

    # ---- reading the request ------------------------------------------------------------
    def body(self) -> dict:
        """The JSON object sent (an empty body is ``{}``)."""
        if not self.request.body:
            return {}
        try:
            value = json.loads(self.request.body)
        except ValueError as exc:
            raise bad_request("body", f"not JSON ({exc})") from None
        if not isinstance(value, dict):
            raise bad_request("body", "must be a JSON object")
        return value

    @staticmethod
    def field(body: dict, name: str, kind: type, default: Any = None,
              required: bool = False) -> Any:
        """``body[name]``, checked to be a ``kind`` (null or absent: ``default``)."""
        value = body.get(name)
        if value is None:
            if required:
                raise bad_request(name, "is required")
            return default
        if not isinstance(value, kind):
            raise bad_request(name, f"must be {KINDS[kind]}, not {json.dumps(value)}")
        return value

    def number(self, name: str, default: int, low: int, high: int | None = None) -> int:
        """A whole-number query argument within [low, high]."""
        text = self.get_argument(name, "")
        if text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            raise bad_request(name, f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise bad_request(name, f"{value} is out of range ({low} to "
                                    f"{high if high is not None else 'any'})")
        return value


# ---- who am I -----------------------------------------------------------------------------
def me(ws) -> dict:
    caps = ws.permissions.capabilities(ws.user)
    return {"user": ws.user, "roles": sorted(ws.permissions.roles_of(ws.user)),
            "capabilities": {c: c in caps for c in CAPABILITIES}, "workspace": str(ws.root)}


def contents_path(path: Path, root: Path) -> str | None:
    """``path`` as JupyterLab's contents API names it: relative to the server's root folder
    ("" for the root itself), None when outside it (the file browser cannot show it)."""
    try:
        inside = path.resolve().relative_to(root.expanduser().resolve()).as_posix()
    except ValueError:
        return None
    return "" if inside == "." else inside


class MeHandler(WfnbHandler):
    @web.authenticated
    async def get(self):
        answer = await self.engine(me)
        # where JupyterLab's file browser and documents find the workspace's files
        answer["contents_path"] = contents_path(Path(answer["workspace"]),
                                                Path(self.settings["server_root_dir"]))
        self.reply(answer)


# ---- workflows ----------------------------------------------------------------------------
def workflow_list(ws, only: str | None = None) -> dict:
    """The workflows (or the one named ``only``) with their last run and next schedule."""
    found = [ws.workflow(only)] if only else ws.workflows()
    problems = [] if only else [p.to_dict() for p in ws.workflow_problems()]
    last = ws.last_runs() if ws.can("VIEW_RUNS") else {}  # can() records no refusal
    runner = ws.can("RUN_WORKFLOW")
    upcoming = ws.scheduling.next_runs()
    shown = [models.workflow(wf, ws.root, runner and ws.guard.among(wf.runners),
                             last.get(wf.name), upcoming.get(wf.name))
             for wf in sorted(found, key=lambda w: w.title.lower())]
    return {"workflows": shown, "problems": problems}


class WorkflowsHandler(WfnbHandler):
    @web.authenticated
    async def get(self):
        self.reply(await self.engine(workflow_list))


class WorkflowHandler(WfnbHandler):
    @web.authenticated
    async def get(self, name: str):
        found = await self.engine(workflow_list, name)
        self.reply(found["workflows"][0])


# ---- runs ---------------------------------------------------------------------------------
def shown_run(ws, run) -> dict:
    """A run as this user may see it: its arguments and starter only to those who may see
    run fields (VIEW_RUNS or VIEW_DETAILS) and to whoever started it."""
    return models.run(run, ws.guard.sees_run_fields() or run.created_by == ws.user)


class RunsHandler(WfnbHandler):
    @web.authenticated
    async def get(self):
        status = self.get_argument("status", "") or None
        if status is not None and status.lower() not in {s.value.lower() for s in RunStatus}:
            raise bad_request("status", f"{status!r} is not a run status (one of: "
                                        f"{', '.join(s.value for s in RunStatus)})")
        limit = self.number("limit", 50, 1, MAX_LIMIT)
        offset = self.number("offset", 0, 0)
        which = {"workflow": self.get_argument("workflow", "") or None, "status": status,
                 "trigger": self.get_argument("trigger", "") or None,
                 "text": self.get_argument("q", "") or None}

        def page(ws) -> dict:
            runs, total = ws.search_runs(**which, limit=limit, offset=offset,
                                         count_limit=COUNT_LIMIT)
            return {"runs": [models.run(r) for r in runs], "total": min(total, COUNT_LIMIT),
                    "more": total > COUNT_LIMIT, "limit": limit, "offset": offset}
        self.reply(await self.engine(page))

    @web.authenticated
    async def post(self):
        body = self.body()
        name = self.field(body, "workflow", str, required=True)
        params = self.field(body, "params", dict, {})

        def start(ws) -> dict:
            may_run(ws, f"run workflow {name!r}")
            run = ws.submit(name, params)
            ws.store.flush()  # 201 means stored: its Pending event is on the sockets already
            return {"run": models.run(run)}
        self.reply(await self.engine(start), 201)


class RunHandler(WfnbHandler):
    @web.authenticated
    async def get(self, run_id: str):
        def details(ws) -> dict:
            run = ws.get_run(run_id)
            # the run first: a live run moves on meanwhile, and a status read before the
            # tasks is never ahead of them (Completed always comes with its last task)
            shown, done = models.run(run), run.done
            tasks = run.tasks
            approvals = [] if done else ws.run_approvals(run_id)
            return {"run": shown, "tasks": [models.task(t) for t in tasks],
                    "approvals": [models.approval(p) for p in approvals],
                    "artifacts": [a.to_dict() for a in run.artifacts()]}
        self.reply(await self.engine(details))


def executed_notebook(ws, run_id: str, name: str) -> dict:
    """The executed notebook called ``name`` of one of the run's tasks (VIEW_DETAILS), read
    from the workspace's artifacts: JupyterLab's contents API does not serve them (they live
    in the hidden ``.wfnb/`` folder), so the lab extension opens them through this."""
    run = ws.get_run(run_id)
    tasks = [t for t in run.tasks if t.notebook and Path(t.notebook).name == name]
    if not tasks:
        raise NotFound(f"run {run_id} has no executed notebook {name!r}")
    task = tasks[-1]
    path = ws.root / task.notebook
    try:
        text, stat = path.read_text(encoding="utf-8"), path.stat()
    except FileNotFoundError:
        raise NotFound(f"the executed notebook {task.notebook} of run {run_id} "
                       f"is gone") from None
    try:
        content = json.loads(text)
    except ValueError:  # the step is writing it right now
        raise answer(409, f"the executed notebook {task.notebook} of run {run_id} is "
                            f"being written; try again when the step has ended") from None
    return {"name": name, "path": task.notebook, "step": task.step, "attempt": task.attempt,
            "content": content, "last_modified": dt.datetime.fromtimestamp(
                stat.st_mtime, dt.UTC)}


class NotebookHandler(WfnbHandler):
    @web.authenticated
    async def get(self, run_id: str, name: str):
        self.reply(await self.engine(executed_notebook, run_id, name))


class CancelHandler(WfnbHandler):
    WAIT = 5.0  # seconds the request waits for the run to end (at once when driven here)

    @web.authenticated
    async def post(self, run_id: str):
        self.reply({"run": await self.engine(
            lambda ws: shown_run(ws, ws.cancel(run_id, wait=self.WAIT)))})


class RerunHandler(WfnbHandler):
    @web.authenticated
    async def post(self, run_id: str):
        body = self.body()
        params = self.field(body, "params", dict, {})
        from_failure = self.field(body, "from_failure", bool, False)
        from_step = self.field(body, "from_step", str) or None
        force = self.field(body, "force", bool, False)

        def rerun(ws) -> dict:
            may_run(ws, f"rerun run {run_id}")
            ws.get_run(run_id)  # VIEW_DETAILS: a rerun copies the parent's arguments
            run = ws.rerun(run_id, from_failure=from_failure, from_step=from_step,
                           force=force, **params)
            ws.store.flush()
            return {"run": models.run(run)}
        self.reply(await self.engine(rerun), 201)


class DecisionHandler(WfnbHandler):
    @web.authenticated
    async def post(self, run_id: str):
        body = self.body()
        decision = self.field(body, "decision", str, required=True)
        if decision not in ("approve", "reject"):
            raise bad_request("decision", f"must be 'approve' or 'reject', not {decision!r}")
        step = self.field(body, "step", str)
        comment = self.field(body, "comment", str) or None
        inputs = self.field(body, "inputs", dict, {})
        if inputs and decision == "reject":
            raise bad_request("inputs", "go with an approval, not with a rejection")

        def decide(ws) -> dict:
            run = ws.approve(run_id, step=step, comment=comment, **inputs) \
                if decision == "approve" else ws.reject(run_id, step=step, comment=comment)
            return {"run": shown_run(ws, run)}
        self.reply(await self.engine(decide))


class ApprovalsHandler(WfnbHandler):
    @web.authenticated
    async def get(self):
        workflow = self.get_argument("workflow", "") or None
        self.reply(await self.engine(lambda ws: {"approvals": [
            models.approval(p) for p in ws.pending_approvals(workflow)]}))


# ---- tests and the test session -----------------------------------------------------------
class TestRunHandler(WfnbHandler):
    @web.authenticated
    async def post(self, name: str):
        params = self.field(self.body(), "params", dict, {})

        def test(ws) -> dict:
            may_run(ws, f"test workflow {name!r}")
            return {"run": models.run(start_test(ws, name, params))}
        self.reply(await self.engine(test), 201)


class StepTestHandler(WfnbHandler):
    @web.authenticated
    async def post(self, name: str, step: str):
        inputs = self.field(self.body(), "inputs", dict, {})

        def test(ws) -> dict:
            may_run(ws, f"test workflow {name!r}")
            wf = ws.catalog.runnable(name)
            if step not in wf.steps:
                raise NotFound(f"workflow {wf.name!r} has no step {step!r} "
                               f"(steps: {', '.join(wf.steps)})")
            return {"run": models.run(start_test_step(ws, wf.name, step, inputs))}
        self.reply(await self.engine(test), 201)


def session_of(ws, name: str, clear: bool = False) -> dict:
    """The user's test session of a workflow (emptied first with ``clear``)."""
    may_run(ws, f"see the test session of workflow {name!r}")
    session = ws.test_session(name)
    if clear:
        session.clear()
    return {"workflow": session.workflow, "active": session.active, "values": session.show()}


class SessionHandler(WfnbHandler):
    @web.authenticated
    async def get(self, name: str):
        self.reply(await self.engine(session_of, name))

    @web.authenticated
    async def delete(self, name: str):
        self.reply(await self.engine(session_of, name, True))


# ---- schedules ----------------------------------------------------------------------------
class SchedulesHandler(WfnbHandler):
    @web.authenticated
    async def get(self):
        self.reply(await self.engine(
            lambda ws: {"schedules": [models.schedule(s) for s in ws.schedules()]}))


class PauseHandler(WfnbHandler):
    @web.authenticated
    async def post(self, schedule_id: str, action: str):
        def change(ws) -> dict:
            may_run(ws, f"{action} schedule {schedule_id}")
            (ws.pause_schedule if action == "pause" else ws.resume_schedule)(schedule_id)
            found = [s for s in ws.schedules() if s.id == schedule_id]
            return {"schedule": models.schedule(found[0]) if found else None}
        self.reply(await self.engine(change))


PART = r"([^/]+)"
HANDLERS: list[tuple[str, type]] = [
    (r"/wfnb/api/me", MeHandler),
    (r"/wfnb/api/workflows", WorkflowsHandler),
    (rf"/wfnb/api/workflows/{PART}", WorkflowHandler),
    (rf"/wfnb/api/workflows/{PART}/test", TestRunHandler),
    (rf"/wfnb/api/workflows/{PART}/steps/{PART}/test", StepTestHandler),
    (rf"/wfnb/api/workflows/{PART}/session", SessionHandler),
    (r"/wfnb/api/runs", RunsHandler),
    (rf"/wfnb/api/runs/{PART}", RunHandler),
    (rf"/wfnb/api/runs/{PART}/notebooks/{PART}", NotebookHandler),
    (rf"/wfnb/api/runs/{PART}/cancel", CancelHandler),
    (rf"/wfnb/api/runs/{PART}/rerun", RerunHandler),
    (rf"/wfnb/api/runs/{PART}/decision", DecisionHandler),
    (r"/wfnb/api/approvals", ApprovalsHandler),
    (r"/wfnb/api/schedules", SchedulesHandler),
    (rf"/wfnb/api/schedules/{PART}/(pause|resume)", PauseHandler),
    (r"/wfnb/api/events", EventsSocket),
]
