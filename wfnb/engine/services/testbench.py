"""Testing workflows: a whole test run, or one step at a time, inside a test session.

A test session belongs to a user and a workflow and lives in the history (it survives a
kernel restart): the last test value of each step (JSON, or a pickled artifact's path) and
whether it is active. ``ws.test`` runs the whole workflow as a run with trigger ``test`` (kept
out of the normal history views) and stores every step's result in the session;
``ws.test_step`` runs one step, its upstream values taken from the session or given.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..core.errors import TestSessionError
from ..core.records import utcnow
from ..core.states import RunStatus, TaskStatus
from ..model.workflow import Step, Workflow
from ..steps.results import decode_result
from ..store import sessions
from ..store.store import Store
from .catalog import Catalog

if TYPE_CHECKING:  # pragma: no cover
    from .runs import Run

PARAMS = "Start"  # the session row holding the arguments of the last test


class BenchHost(Protocol):
    """What test runs need of a workspace (an Engine is one)."""

    user: str
    root: Path
    store: Store
    catalog: Catalog

    def submit(self, workflow: str | Workflow, params: dict[str, Any] | None = None, *,
               trigger: str = "manual", parent_id: str | None = None,
               run_id: str | None = None) -> "Run": ...


class TestSession:
    """``ws.test_session(workflow)``: the stored test values of one user's workflow."""

    __test__ = False  # not a pytest test class

    def __init__(self, host: BenchHost, workflow: str):
        self.host, self.workflow = host, workflow

    @property
    def active(self) -> bool:
        """Whether step tests take their upstream values from this session (default: yes)."""
        with self.host.store.connect(read_only=True) as con:
            return sessions.is_active(con, self.host.user, self.workflow)

    @active.setter
    def active(self, value: bool) -> None:
        self.host.store.transact(
            lambda con: sessions.set_active(con, self.host.user, self.workflow, value))

    def show(self) -> dict[str, Any]:
        """Step -> its stored test value (``Start`` holds the arguments of the last test)."""
        with self.host.store.connect(read_only=True) as con:
            rows = sessions.values(con, self.host.user, self.workflow)
        return {step: decode_result(value, ref, self.host.root, self.host.catalog.load_modules)
                for step, value, ref in rows}

    def clear(self) -> None:
        self.host.store.transact(
            lambda con: sessions.clear(con, self.host.user, self.workflow))

    def save(self, run: "Run", only: str | None = None) -> None:
        """Keep each completed task's result of a test run (and its arguments), or only
        ``only``'s (a step test: the upstream values it was given stay as they were).
        Unchecked: a test run's session belongs to its user, who may lack VIEW_DETAILS."""
        rows = [(PARAMS, run.params, None)] + [
            (t.step, t.result, t.result_ref) for t in run.task_records()
            if t.status == TaskStatus.COMPLETED and t.step != "Start"
            and (only is None or t.step == only)]
        now = utcnow()
        self.host.store.transact(lambda con: sessions.keep(
            con, self.host.user, self.workflow, run.id, now, rows))


def _keep_when_done(engine: BenchHost, run: "Run", workflow: str,
                    only: str | None = None) -> "Run":
    """Save the run's results in the session once it ends (in the background);
    ``run.session_saved`` is set when that is done."""
    run.session_saved = threading.Event()  # type: ignore[attr-defined]

    def keep() -> None:
        try:
            run.wait()
            if only is None or run.status == RunStatus.COMPLETED.value:
                TestSession(engine, workflow).save(run, only=only)
        finally:
            run.session_saved.set()  # type: ignore[attr-defined]
    threading.Thread(target=keep, daemon=True, name=f"wfnb-test-{run.id}").start()
    return run


def start_test(engine: BenchHost, workflow: str | Workflow, params: dict) -> "Run":
    """The whole workflow as a test, started: trigger ``test``; every result is kept in the
    session when it ends."""
    wf = engine.catalog.runnable(workflow)
    return _keep_when_done(engine, engine.submit(wf, params, trigger="test"), wf.name)


def test_run(engine: BenchHost, workflow: str | Workflow, params: dict) -> "Run":
    """:func:`start_test`, waiting for the end and for the session to hold the results."""
    run = start_test(engine, workflow, params)
    run.session_saved.wait()
    return run


def test_step(engine: BenchHost, workflow: str | Workflow, step: str,
              inputs: dict[str, Any]) -> "Run":
    """:func:`start_test_step`, waiting for the end and for the session."""
    run = start_test_step(engine, workflow, step, inputs)
    run.session_saved.wait()
    return run


def start_test_step(engine: BenchHost, workflow: str | Workflow, step: str,
                    inputs: dict[str, Any]) -> "Run":
    """One step as a test run: its upstream values from ``inputs``, else from the session."""
    wf = engine.catalog.runnable(workflow)
    if step not in wf.steps:
        raise TestSessionError(f"workflow {wf.name!r} has no step {step!r} "
                               f"(steps: {', '.join(wf.steps)})")
    session = TestSession(engine, wf.name)
    stored = session.show() if session.active else {}
    target = wf.steps[step]
    params = {p.name: inputs[p.name] for p in wf.params if p.name in inputs}
    for name, value in (stored.get(PARAMS) or {}).items():
        params.setdefault(name, value)
    needed = _needed(wf, target)
    probe = Workflow(f"{wf.name}.{step}", title=f"{wf.title}: test of {step}",
                     params=wf.params)
    for name in needed:
        if name in inputs:
            value = inputs[name]
        elif name in stored:
            value = stored[name]
        else:
            raise TestSessionError(
                f"step {step!r} needs the result of upstream step {name!r}: give it "
                f"({name}=...) or test {name!r} first so the session holds it")
        probe.add_step(Step(name, _constant(value), kind="python",
                            description="value from the test session"))
    if target.kind == "approval":  # the tester decides: the given fields are the result
        fields = {p.name: inputs.get(p.name, p.default) for p in target.inputs}
        result = {**fields, "approved_by": engine.user, "comment": "decided in a test"}
        probe.add_step(Step(step, _constant(result), tuple(needed), kind="python",
                            description="approval decided by the tester"))
    else:
        probe.add_step(Step(step, target.fn, tuple(needed), retries=target.retries,
                            retry_delay=target.retry_delay, timeout=target.timeout,
                            kind=target.kind, options=target.options))
    return _keep_when_done(engine, engine.submit(probe, params, trigger="test"), wf.name,
                           only=step)


def _constant(value: Any):
    def value_from_session():
        return value
    return value_from_session


def _needed(wf: Workflow, step: Step) -> list[str]:
    """Upstream steps whose values the step takes (by argument name, or all for notebooks)."""
    upstream = wf.upstream(step.name)
    if step.fn is None:
        return [n for n in wf.order() if n in upstream and n in step.after]
    names, var_kw = step.arguments()
    return [n for n in wf.order() if n in upstream and (var_kw or n in names)]
