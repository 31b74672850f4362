"""The workflow editor: the graph drawn, a node's settings, Run Test and Test Run of one node in
the user's test session (Active / Show / Clear), approval steps of a test run decided in place
(Approve / Reject, for those who may), and, for workflows declared in a
``*.wfnb.toml`` file and users with UPDATE_WORKFLOW, edits that are checked and saved as a new
version (an invalid edit is shown and never saved). Python-defined workflows are read-only."""
from __future__ import annotations

import json
from typing import Any

import anywidget
import traitlets

from ..engine.core.errors import DeclarationError, EditConflict, ParamError, WfnbError
from ..engine.model.workflow import Workflow
from ..engine.core.params import to_jsonable
from ..engine.services.testbench import PARAMS, TestSession, start_test, start_test_step
from .live import Live
from .run_dialog import decide, summary, waiting_approvals, with_approval_form

X_GAP, Y_GAP, NODE_W, NODE_H = 190, 74, 150, 46


def layout(wf: Workflow) -> dict:
    """Nodes in columns by depth (a step sits right of everything it waits for), rows in
    definition order; ``Start`` (the run's arguments) first, with an edge to each root."""
    column: dict[str, int] = {"Start": 0}
    for name in wf.order():
        column[name] = 1 + max((column[d] for d in wf.steps[name].after), default=0)
    rows: dict[int, int] = {}
    nodes = []
    for name in ["Start", *wf.order()]:
        col = column[name]
        row = rows.get(col, 0)
        rows[col] = row + 1
        step = wf.steps.get(name)
        nodes.append({"name": name, "kind": step.kind if step else "start",
                      "x": 10 + col * X_GAP, "y": 10 + row * Y_GAP,
                      "description": step.description if step else "the run's arguments"})
    edges = [["Start", n] for n, s in wf.steps.items() if not s.after]
    edges += [[d, n] for n, s in wf.steps.items() for d in s.after]
    return {"nodes": nodes, "edges": edges, "width": 20 + max(column.values()) * X_GAP + NODE_W,
            "height": 40 + max(rows.values()) * Y_GAP, "node_w": NODE_W, "node_h": NODE_H,
            "x_gap": X_GAP}


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict) or (isinstance(value, list)
                                   and not all(isinstance(v, str) for v in value)):
        return json.dumps(to_jsonable(value))
    return to_jsonable(value)


def settings(wf: Workflow) -> dict:
    """What the settings panel shows (and, when editable, edits): the declared keys of each
    step and param, as form values."""
    doc = wf.declaration["doc"] if wf.declaration else None
    if doc is not None:
        steps = {s["name"]: {k: [v] if k in ("after", "approvers") and isinstance(v, str)
                             else _text(v) for k, v in s.items() if k != "name"}
                 for s in doc.get("steps", [])}  # a lone "after" string is a list of one
    else:
        steps = {}
        for s in wf.steps.values():
            where = getattr(s.fn, "__module__", "") + ":" + getattr(s.fn, "__qualname__", "") \
                if s.fn is not None else None
            steps[s.name] = {k: v for k, v in {
                "kind": s.kind, "call": where, "after": list(s.after), "retries": s.retries,
                "retry_delay": s.retry_delay or "", "timeout": s.timeout or "",
                "description": s.description,
                **{k: _text(v) for k, v in s.options.items()
                   if k in ("path", "approvers", "on_timeout", "parameters")}}.items()
                if v not in (None, "")}
    params = [{**p.to_dict(), "default": _text(p.to_dict()["default"]),
               "min": _text(p.to_dict()["min"]), "max": _text(p.to_dict()["max"])}
              for p in wf.params]
    return {"steps": steps, "params": params}


def _normalise(changes: dict) -> dict:
    """Form values to file values: JSON text of a ``parameters`` table parsed (a bad one is
    a problem of that field)."""
    for name, values in (changes.get("steps") or {}).items():
        text = values.get("parameters")
        if isinstance(text, str) and text.strip():
            try:
                values["parameters"] = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DeclarationError("form", [(f"steps.{name}.parameters", None,
                                                 f"not a JSON object: {exc}")]) from None
    return changes


class Editor(Live, anywidget.AnyWidget):
    """``ws.editor(workflow)``."""

    _esm, _css = with_approval_form("editor")
    workflow = traitlets.Dict({}).tag(sync=True)
    graph = traitlets.Dict({}).tag(sync=True)
    settings = traitlets.Dict({}).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    problems = traitlets.List([]).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    test = traitlets.Dict({}).tag(sync=True)
    test_values = traitlets.Dict({}).tag(sync=True)
    session = traitlets.Dict({}).tag(sync=True)
    show_session = traitlets.Bool(False).tag(sync=True)
    # a test run's decision that was refused: {"fields": {name: problem}, "message": text}
    decision_problem = traitlets.Dict({}).tag(sync=True)

    def __init__(self, ws, workflow: str, on_intent=None, **kw):
        super().__init__(**kw)
        self._name = ws.workflow(workflow).name
        self._on_intent = on_intent
        self._test_run = None
        self._test_step: str | None = None
        self._relevant_runs = set()
        self.on_msg(self._message)
        self._start_live(ws)

    def _relevant(self, events: list[dict]) -> bool:  # a save elsewhere, or our test runs
        return any(e.get("kind") == "workflow" or e.get("run_id") in self._relevant_runs
                   for e in events)

    # ---- state ----------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        ws = self._ws
        wf = ws.catalog.workflow(self._name)
        can_test = ws.can("RUN_WORKFLOW", wf) and ws.permissions.among(ws.user, wf.runners)
        info = {"name": wf.name, "title": wf.title, "description": wf.description,
                "version": wf.version, "source": wf.source or "",
                "declared": wf.declaration is not None, "editable": ws.editable(wf),
                "can_test": can_test}
        state = {"workflow": info, "graph": layout(wf), "settings": settings(wf),
                 "test": self._test_state()}
        if can_test:
            session = TestSession(ws, wf.name)
            stored = session.show()
            state["session"] = {"active": session.active,
                                "values": {k: summary(v, 200) for k, v in stored.items()}}
            if not self.test_values:
                given = stored.get(PARAMS) or {}
                state["test_values"] = {p.name: _text(given.get(p.name, p.default))
                                        for p in wf.params}
        return state

    def _test_state(self) -> dict:
        run = self._test_run
        if run is None:
            return {}
        run.refresh()
        tasks = {}
        for t in run.tasks:
            if t.step == "Start" or (self._test_step and t.step != self._test_step):
                continue  # a step test's upstream values are the session's, not results
            tasks[t.step] = {"status": t.status.value, "summary": summary(t.result, 200),
                             "error": t.error or ""}
        # approval steps waiting for a decision, as the shared approval form draws them
        decisions = waiting_approvals(self._ws, run.id, run.tasks)
        return {"run_id": run.id, "status": run.status, "step": self._test_step or "",
                "error": run.error or "", "tasks": tasks, "decisions": decisions}

    # ---- actions --------------------------------------------------------------------------
    def check(self, changes: dict) -> bool:
        """Validate ``changes`` without saving; the problems (or the version it would be)
        are shown."""
        try:
            new = self._ws.check_workflow(self._name, _normalise(changes))
        except DeclarationError as exc:
            self._problems(exc, "Not valid")
            return False
        except WfnbError as exc:
            self.problems, self.message = [], str(exc)
            return False
        self.problems = []
        self.message = f"Valid: saving makes version {new.version}."
        return True

    def save(self, changes: dict, base_version: str | None = None) -> bool:
        """Save ``changes`` as a new version (UPDATE_WORKFLOW); an invalid change is shown
        and nothing is written. ``base_version``: the version the draft was made on (default:
        the one shown); a newer file is an EditConflict, never overwritten."""
        try:
            saved = self._ws.save_workflow(
                self._name, _normalise(changes),
                base_version=base_version or self.workflow.get("version"))
        except DeclarationError as exc:
            self._problems(exc, "Not saved")
            return False
        except (EditConflict, WfnbError) as exc:
            self.problems, self.message = [], str(exc)
            return False
        self.problems = []
        self.message = f"Saved version {saved.version}."
        self.refresh()
        return True

    def _problems(self, exc: DeclarationError, verdict: str) -> None:
        self.problems = [{"field": f, "line": line, "message": m} for f, line, m in exc.problems]
        self.message = f"{verdict}: fix the fields marked in red."

    def run_test(self, values: dict | None = None) -> bool:
        """Run Test: the whole workflow as a test run, in the background."""
        values = dict(self.test_values if values is None else values)
        self.test_values = values
        return self._start(None, lambda given: start_test(self._ws, self._name, given))

    def test_selected(self, step: str | None = None) -> bool:
        """Test Run of the selected node, its upstream values from the session."""
        step = step or self.selected
        if not step or step == "Start":
            self.message = "Select a step to test."
            return False
        return self._start(step, lambda given: start_test_step(self._ws, self._name, step,
                                                                 given))

    def _start(self, step: str | None, start) -> bool:
        """Start a test with the test arguments (blank ones left out); why not, if it fails."""
        given = {k: v for k, v in self.test_values.items() if v not in ("", None)}
        try:
            run = start(given)
        except ParamError as exc:
            self.message = "Test not started: " + "; ".join(
                f"{k}: {v}" for k, v in exc.errors.items())
            return False
        except WfnbError as exc:
            self.message = str(exc)
            return False
        return self._watch(run, step)

    def _watch(self, run, step: str | None) -> bool:
        self._test_run, self._test_step = run, step
        self._relevant_runs = {run.id}
        self.message, self.decision_problem = "", {}

        def saved() -> None:  # the session holds the results: show them
            run.session_saved.wait()
            self._dirty.set()
        import threading
        threading.Thread(target=saved, daemon=True).start()
        self.refresh()
        return True

    def decide(self, decision: str, step: str | None = None, comment: str | None = None,
               inputs: dict | None = None) -> bool:
        """Approve or reject a waiting approval step of the test run shown (APPROVE and one
        of the step's approvers); a refused input is shown at its field."""
        run = self._test_run
        if run is None:
            self.decision_problem = {"fields": {}, "message": "There is no test run to decide."}
            return False
        given = {k: v for k, v in (inputs or {}).items() if v not in ("", None)}
        self.decision_problem = decide(self._ws, run.id, decision, step, comment, given)
        self.refresh()
        return not self.decision_problem

    def set_active(self, active: bool) -> None:
        TestSession(self._ws, self._name).active = bool(active)
        self.refresh()

    def clear_session(self) -> None:
        TestSession(self._ws, self._name).clear()
        self.message = "Session cleared."
        self.refresh()

    def _message(self, _widget, content: dict, _buffers) -> None:
        action = content.get("action")
        try:
            if action == "check":
                self.check(content.get("changes") or {})
            elif action == "save":
                self.save(content.get("changes") or {}, content.get("base_version"))
            elif action == "test":
                self.run_test(content.get("values"))
            elif action == "test_step":
                self.test_selected(content.get("step"))
            elif action in ("approve", "reject"):
                self.decide(action, content.get("step"), content.get("comment"),
                            content.get("inputs"))
            elif action == "active":
                self.set_active(content.get("value", True))
            elif action == "clear_session":
                self.clear_session()
            elif action == "details" and self._on_intent and self._test_run is not None:
                self._on_intent({"action": "details", "run_id": self._test_run.id})
            elif self._on_intent is not None:
                self._on_intent(content)
        except WfnbError as exc:  # e.g. permission denied: shown, never raised into the comm
            self.message = str(exc)
