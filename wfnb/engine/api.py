"""The engine behind a workspace: it builds the services of one workspace folder and puts
them behind one object. Plain Python, no views.

``Engine`` is the composition root: it wires the store, liveness, the executor and the
permissions into the services (catalog, approvals, schedules, edits, history, test runs) and
drives runs (``submit``, ``cancel``, decisions). Nothing below it imports it.
"""
from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path
from collections.abc import Iterable
from typing import Any

import pandas as pd

from .core import config
from .core.auth import Permissions, current_user
from .core.errors import ConfigError, WfnbError
from .core.params import validate
from .core.records import clean_text, new_run_id
from .execution.executors import Executor, make_executor
from .execution.liveness import Liveness
from .execution.runner import RunHost
from .model.loader import Loader, WorkflowProblem
from .model.workflow import Workflow
from .services.approvals import Approvals, PendingApproval
from .services.arguments import rerun_arguments
from .services.catalog import Catalog
from .services.driving import Driving
from .services.edits import WorkflowEdits
from .services.guard import Guard
from .services.history import History
from .services.artifacts import Artifact, open_artifact
from .services.compare import Comparison, compare
from .services.resumption import ResumePlan, plan_rerun, read_parent
from .services.runs import Run
from .services.schedules import Schedule, Schedules
from .services.testbench import TestSession, test_run, test_step
from .steps.registry import STEP_KINDS
from .store.runs import load_run
from .store.store import Store

_executors: dict[tuple, Executor] = {}
_executors_lock = threading.Lock()


def _shared_executor(settings: dict) -> Executor:
    key = tuple(sorted((k, repr(v)) for k, v in settings.items()))
    with _executors_lock:
        if key not in _executors:
            _executors[key] = make_executor(settings)
        return _executors[key]


class Engine:
    """Runs and history of one workspace folder (``wfnb.toml`` + ``.wfnb/``)."""

    def __init__(self, root: str | os.PathLike = ".", *, user: str | None = None,
                 create: bool = True, carry_on: str = "thread",
                 executor: str | dict | None = None):
        self.root = Path(root).resolve()
        self.config = config.load(self.root, create=create)
        self.user = user or current_user()
        try:  # refused at the door: every row this user writes carries the name
            self.user.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"the user name {clean_text(self.user)!r} is not valid UTF-8 text "
                              "(a non-UTF-8 byte in WFNB_USER?); set WFNB_USER to a plain "
                              "name") from None
        self.store = Store.for_path(self.config.history)
        self.liveness = Liveness.for_store(self.store)
        self.liveness.hung_after = self.config.hung_after
        self.artifacts_dir = self.root / ".wfnb" / "artifacts"
        try:
            settings = dict(self.config.executor)
            if executor is not None:  # wfnb.open(..., executor="dask" or {...}) wins
                given = {"kind": executor} if isinstance(executor, str) else dict(executor)
                settings = given if given.get("kind", settings["kind"]) != settings["kind"] \
                    else {**settings, **given}
                settings.setdefault("kind", "local")
            self.executor: Executor = _shared_executor(settings)
        except ConfigError as exc:
            raise ConfigError(f"{self.root / config.FILENAME}: {exc}") from None
        self.permissions = Permissions.from_config(self.config.raw,
                                                   self.root / config.FILENAME)
        # the services, each given what it uses
        self.guard = Guard(self.user, self.permissions, self.store)
        self.catalog = Catalog(Loader(self.config.paths, self.root, kinds=STEP_KINDS),
                               self.root, self.guard, STEP_KINDS)
        self.host = RunHost(self.store, self.executor, self.root, self.artifacts_dir,
                            kernel_pool=lambda: self.kernel_pool,
                            load_modules=self.catalog.load_modules,
                            on_end=self.liveness.remove)
        self.approvals = Approvals(self.guard, self.store, self.liveness, self.catalog,
                                   self.root, lambda run_id: self.driving.carry_on(run_id))
        self.scheduling = Schedules(self.guard, self.catalog, self.store,
                                    self.liveness.owner_id, self.submit)
        self.edits = WorkflowEdits(self.guard, self.catalog, self.store)
        self.history = History(self.guard, self.store, self.liveness, self.root,
                               self.config.sql_dirs, self)
        self.driving = Driving(self.guard, self.catalog, self.store, self.liveness, self.host,
                               self.edits, self.approvals, self.history, self, self.root,
                               carry_on)
        self._kernel_pool = None
        self.liveness.attach(self.driving.carry_on, self.root, self.user)
        self.liveness.reap(force=True)

    @property
    def kernel_pool(self):
        """The process's warm kernel pool for notebook steps (None when pool_size = 0)."""
        if self._kernel_pool is None and self.config.kernel_pool > 0:
            from .steps.kernels import pool  # jupyter_client only when notebooks run
            self._kernel_pool = pool(self.config.kernel_pool)
        return self._kernel_pool

    def warm_kernels(self, kernel_name: str = "python3") -> None:
        """Start filling the kernel pool now, so the first notebook step need not wait."""
        if self.kernel_pool is not None:
            self.kernel_pool.warm(kernel_name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.root} user={self.user!r}>"

    # ---- workflows ------------------------------------------------------------------------
    def workflows(self) -> list[Workflow]:
        """The valid workflows defined under the paths of ``wfnb.toml`` (reloaded when files
        change); what a broken file defines is left out, see :meth:`workflow_problems`."""
        self.guard.require("LIST_WORKFLOWS", "list workflows")
        return self.catalog.all()

    def workflow_problems(self) -> list[WorkflowProblem]:
        """The broken workflow files (file, line, message, the workflows they define when
        known): left out of :meth:`workflows`, and their workflows refused. Empty when none."""
        self.guard.require("LIST_WORKFLOWS", "list workflows")
        return self.catalog.problems()

    def workflow(self, name: str | Workflow) -> Workflow:
        """One workflow by name; NotFound lists the known ones (and the broken files),
        BrokenWorkflowError says why a workflow of a broken file is refused."""
        self.guard.require("LIST_WORKFLOWS", f"see workflow {name!r}")
        return self.catalog.workflow(name)

    # ---- editing declared workflows (services/edits.py) -----------------------------------
    def editable(self, workflow: str | Workflow) -> bool:
        """Whether this user may edit ``workflow`` here (declared in a file, UPDATE_WORKFLOW)."""
        return self.edits.editable(workflow)

    def check_workflow(self, workflow: str | Workflow, changes: dict[str, Any]) -> Workflow:
        """The workflow as ``changes`` would make it, or DeclarationError listing every problem
        (each with its field and line). Nothing is written."""
        return self.edits.check_workflow(workflow, changes)

    def save_workflow(self, workflow: str | Workflow, changes: dict[str, Any], *,
                      base_version: str | None = None) -> Workflow:
        """Apply ``changes`` and save the file as a new version (UPDATE_WORKFLOW);
        EditConflict when the file moved on from ``base_version``."""
        return self.edits.save_workflow(workflow, changes, base_version=base_version)

    def workflow_versions(self, workflow: str) -> list[dict[str, Any]]:
        """The kept versions of a declared workflow, newest first."""
        return self.edits.workflow_versions(workflow)

    def workflow_source(self, workflow: str, version: str) -> str:
        """The text of one kept version (what a run of that version ran)."""
        return self.edits.workflow_source(workflow, version)

    # ---- starting runs --------------------------------------------------------------------
    def start(self, workflow: str | Workflow, /, **params: Any) -> Run:
        """Validate the arguments and start a run in the background; returns at once."""
        return self.submit(workflow, params)

    def run(self, workflow: str | Workflow, /, **params: Any) -> Run:
        """Start a run and wait until it has ended (and that is in the history)."""
        return self.submit(workflow, params).wait()

    def rerun(self, run_id: str, /, *, from_failure: bool = False,
              from_step: str | None = None, force: bool = False, **overrides: Any) -> Run:
        """Start the workflow of ``run_id`` again with its arguments, updated by ``overrides``;
        the new run records ``run_id`` as its parent and its mode. Returns at once, like
        :meth:`start`. The stored arguments are validated as the typed values they were.

        ``from_failure=True`` reuses the result of every step that completed in the parent;
        ``from_step="name"`` those of the completed steps upstream of ``name``. A reused
        task is Completed with ``reused_from`` naming the parent's task. Refused (WfnbError,
        nothing started) when an override changes a param a reused step read (unless
        ``force``: those steps run again), when a reused step changed since, or when a
        reused result's artifact is missing. See :mod:`wfnb.engine.services.resumption`."""
        workflow, values, plan = self.rerun_plan(run_id, overrides, from_failure=from_failure,
                                                 from_step=from_step, force=force)
        return self.submit(workflow, values, trigger="rerun", parent_id=run_id, plan=plan)

    def rerun_plan(self, run_id: str, overrides: dict[str, Any], *, from_failure: bool = False,
                   from_step: str | None = None,
                   force: bool = False) -> tuple[str, dict, ResumePlan]:
        """What :meth:`rerun` would start: the workflow, the values and the plan (its mode
        and the parent's tasks it reuses); raises its refusals, starts nothing."""
        resume = from_failure or from_step is not None
        parent, tasks, steps = self._rerun_parent(run_id, steps=resume)
        wf = self.catalog.workflow(parent.workflow)
        values = rerun_arguments(parent, wf, overrides)
        plan = ResumePlan("all")
        if resume:
            wf = self.catalog.runnable(wf.name)  # RUN_WORKFLOW first: refusals say more
            plan = plan_rerun(self.root, parent, tasks, steps, wf, values,
                              from_failure=from_failure, from_step=from_step, force=force)
        return wf.name, values, plan

    def rerun_arguments(self, run_id: str, overrides: dict[str, Any]) -> tuple[str, dict]:
        """The workflow of ``run_id`` and the values a rerun starts it with (its stored
        arguments, typed again, updated by ``overrides``). NotFound for an unknown run;
        PermissionDenied (VIEW_DETAILS) when the run is another user's and this one may not
        see runs' arguments: a rerun would show them."""
        parent, _, _ = self._rerun_parent(run_id)
        wf = self.catalog.workflow(parent.workflow)
        return wf.name, rerun_arguments(parent, wf, overrides)

    def _rerun_parent(self, run_id: str, steps: bool = False):
        """The run to rerun, its tasks and (``steps``: for a resume) its steps' fingerprints,
        if this user may copy its arguments."""
        if steps:
            parent, tasks, fingerprints = read_parent(self.store, run_id, self.root)
        else:
            (parent, tasks), fingerprints = load_run(self.store, run_id, self.root), None
        if parent.created_by != self.user and not self.guard.sees_run_fields():
            self.guard.deny("VIEW_DETAILS", f"rerun run {run_id} (its arguments are "
                                            "another user's)")
        return parent, tasks, fingerprints

    def validate(self, workflow: str | Workflow, /, **params: Any) -> dict[str, Any]:
        """The typed arguments a run would get, or ParamError listing every problem."""
        wf = self.catalog.runnable(workflow)
        return validate(wf.name, wf.params, params)

    @staticmethod
    def new_run_id() -> str:
        """A fresh run id (sortable by time), e.g. to hand to :meth:`submit`."""
        return new_run_id()

    def submit(self, workflow: str | Workflow, params: dict[str, Any] | None = None, *,
               trigger: str = "manual", parent_id: str | None = None,
               run_id: str | None = None, plan: ResumePlan | None = None) -> Run:
        """:meth:`start` with every option: how the run was triggered (manual, rerun, api ...),
        its parent run, its id (for a caller that must know it before the run exists), and a
        rerun's plan (:meth:`rerun_plan`)."""
        return self.driving.submit(workflow, params, trigger=trigger, parent_id=parent_id,
                                   run_id=run_id, plan=plan)

    def cancel(self, run_id: str, wait: float = 10.0) -> Run:
        """Cancel a run, wherever it runs; returns it once it has ended (or after ``wait``).
        Needs CANCEL_RUN, or RUN_WORKFLOW for a run the user started."""
        return self.driving.cancel(run_id, wait)

    # ---- approvals ------------------------------------------------------------------------
    def approve(self, run_id: str, /, step: str | None = None, comment: str | None = None,
                **inputs: Any) -> Run:
        """Approve the waiting approval step of a run (``step`` when several wait); ``inputs``
        are the step's approver fields. The run carries on in exactly one process."""
        return self.driving.decide(run_id, step, "approve", comment, inputs)

    def reject(self, run_id: str, /, step: str | None = None,
               comment: str | None = None) -> Run:
        """Reject the waiting approval step: it and the run become Rejected."""
        return self.driving.decide(run_id, step, "reject", comment, {})

    def pending_approvals(self, workflow: str | None = None) -> list[PendingApproval]:
        """Approval steps waiting for a decision that the current user may take."""
        return self.approvals.pending(workflow)

    def run_approvals(self, run_id: str) -> list[PendingApproval]:
        """Every step of ``run_id`` waiting for a decision, with ``can_decide`` for this user
        and the ``decision`` already recorded for it, if any (what Run Details shows)."""
        return self.approvals.of_run(run_id)

    def approvals_for(self, run_id: str, steps: list[str]) -> list[dict]:
        """The decisions recorded for some steps of a run (run_id, step, decision, user,
        comment, inputs, decided_at)."""
        return [d.to_dict() for d in self.approvals.decisions(run_id, steps)]

    def resume(self, run_id: str) -> Run:
        """Carry on a run this process has claimed (its decision is recorded)."""
        return self.driving.resume(run_id)

    def take_on(self, run_id: str) -> Run | None:
        """Claim a waiting run nobody owns and carry it on here (``wfnb _resume``); None
        when another process has it, or it has ended."""
        return self.driving.take_on(run_id)

    # ---- testing --------------------------------------------------------------------------
    def test(self, workflow: str | Workflow, /, **params: Any) -> Run:
        """Run the whole workflow as a test (trigger ``test``, left out of the usual history
        views) and keep every step's result in your test session; waits for the end."""
        return test_run(self, workflow, params)

    def test_step(self, workflow: str | Workflow, step: str, /, **inputs: Any) -> Run:
        """Run one step as a test; its params and upstream values come from ``inputs``, else
        from your test session (TestSessionError names a missing one)."""
        return test_step(self, workflow, step, inputs)

    def test_session(self, workflow: str | Workflow) -> TestSession:
        """Your test session of ``workflow``: ``active``, ``show()``, ``clear()``."""
        wf = self.catalog.runnable(workflow)
        return TestSession(self, wf.name)

    # ---- schedules ------------------------------------------------------------------------
    def schedule(self, workflow: str, /, cron: str, timezone: str = "UTC",
                 params: dict | None = None, catchup: str = "none") -> Schedule:
        """Run ``workflow`` with ``params`` on ``cron`` in ``timezone``; missed occurrences
        follow ``catchup``: "none" (skip them), "latest" (run the last), "all" (run each)."""
        return self.scheduling.add(workflow, cron, timezone, params, catchup)

    def schedules(self) -> list[Schedule]:
        """Every schedule, soonest first, with its next time (naive UTC). Its ``params`` are
        None (hidden) for a user who may not see run arguments (VIEW_RUNS or VIEW_DETAILS)."""
        self.guard.require("LIST_WORKFLOWS", "list schedules")
        found = self.scheduling.all()
        if self.guard.sees_run_fields():
            return found
        return [schedule.without_params() for schedule in found]

    def pause_schedule(self, schedule_id: str) -> None:
        self.scheduling.set_paused(schedule_id, True)

    def resume_schedule(self, schedule_id: str) -> None:
        self.scheduling.set_paused(schedule_id, False)

    def delete_schedule(self, schedule_id: str) -> None:
        self.scheduling.delete(schedule_id)

    def run_due_schedules(self, now=None) -> list[Run]:
        """One scheduler tick: start the runs that are due (safe with other schedulers)."""
        return self.scheduling.run_due(now)

    def start_scheduler(self, interval: float = 1.0) -> threading.Event:
        """Run the scheduler loop in the background of this process (a kernel, say), until
        the returned event is set; safe beside `wfnb scheduler` processes."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.run_due_schedules()
                except WfnbError:  # the history is busy or a schedule is broken: next tick
                    pass
        thread = threading.Thread(target=loop, daemon=True, name="wfnb-scheduler")
        thread.start()
        # stopped before the interpreter tears down (a thread killed inside DuckDB aborts it)
        atexit.register(lambda: (stop.set(), thread.join(timeout=10)))
        return stop

    # ---- permissions ----------------------------------------------------------------------
    def can(self, capability: str, workflow: str | Workflow | None = None) -> bool:
        """May the current user do this (for views that hide what is not allowed)?"""
        if not self.guard.can(capability):
            return False
        if workflow is not None and capability == "RUN_WORKFLOW":
            return self.guard.among(self.catalog.workflow(workflow).runners)
        return True

    # ---- cancelling --------------------------------------------------------------------
    # ---- reading the history (services/history.py) ---------------------------------
    def runs(self, workflow: str | None = None, status: str | None = None,
             trigger: str | None = None, limit: int = 50, offset: int = 0,
             after: Any = None, before: Any = None) -> list[Run]:
        """Runs newest first, filtered, one page at a time: the next page is
        ``after=`` the last run shown, the previous one ``before=`` the first (a Run, or
        its ``(created_at, id)``); ``offset`` skips runs instead, slower on deep pages."""
        return self.history.runs(workflow, status, trigger, limit, offset, after, before)

    def search_runs(self, workflow: str | None = None, status: str | None = None,
                    trigger: str | None = None, text: str | None = None, limit: int = 50,
                    offset: int = 0, count_limit: int | None = None, after: Any = None,
                    before: Any = None, run_ids: Iterable[str] | None = None
                    ) -> tuple[list[Run], int]:
        """One page of runs (newest first) and how many match in all; ``text`` matches the
        id, workflow, user or arguments; ``run_ids`` keeps only these runs (say the ids of
        ``pending_approvals()``, for "Waiting for me"). ``after`` / ``before`` as in
        :meth:`runs`, or ``offset``. ``count_limit``: count text matches only up to this
        many; a total of ``count_limit + 1`` then means "more than ``count_limit``"."""
        return self.history.search_runs(workflow, status, trigger, text, limit, offset,
                                        count_limit, after, before, run_ids)

    def last_runs(self) -> dict[str, dict]:
        """Each workflow's latest run: {workflow: {id, status, created_at}} (for galleries)."""
        return self.history.last_runs()

    def get_run(self, run_id: str) -> Run:
        """One run with its tasks; NotFound if there is none with this id."""
        return self.history.get_run(run_id)

    def artifacts(self, run_id: str) -> list[Artifact]:
        """The files a run's tasks left: executed notebooks and pickled results, each with
        its step, path (relative to the workspace) and size. Needs VIEW_DETAILS."""
        return self.get_run(run_id).artifacts()

    def artifact(self, run_id: str, step: str) -> Any:
        """What ``step`` left in run ``run_id``: its executed notebook (an ``nbformat``
        notebook) for a notebook step, else its result (unpickled when it was not JSON).
        Needs VIEW_DETAILS; WfnbError names a missing file."""
        return open_artifact(run_id, self.get_run(run_id).tasks, step, self.root,
                             self.catalog.load_modules)

    def compare(self, run_a: str, run_b: str) -> Comparison:
        """Two runs side by side: the params that differ; per step status, duration,
        attempts and reuse; the results that differ, as a structured diff of their JSON
        (large values summarised). Needs VIEW_DETAILS; NotFound for an unknown run."""
        a, b = self.get_run(run_a), self.get_run(run_b)
        return compare(a.record, a.tasks, b.record, b.tasks)

    def exists(self, run_id: str) -> bool:
        """Is there a run with this id (in the history or live here)? Reveals nothing else."""
        return self.history.exists(run_id)

    def sql(self, query: str, params: list | tuple = ()) -> pd.DataFrame:
        """Run one query over the history, read-only, and return a pandas DataFrame.

        Only a plain query runs (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE), on a
        connection that can write nothing and read files only inside ``[sql] allowed_dirs``
        (see ``store/sqlguard.py``). A refusal is written to the audit trail, then raised."""
        return self.history.sql(query, params)
