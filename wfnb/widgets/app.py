"""Views composed: the gallery with a panel under it where Run, View Runs, View Details, the
approvals inbox and the schedules open. A view opened from the view in the panel keeps that one
to come back to: Close (‹ Back) returns to it as it was, filters, page and all."""
from __future__ import annotations

import html

import ipywidgets

from ..engine.core.errors import PermissionDenied, WfnbError
from .editor import Editor
from .gallery import GalleryCards
from .inbox import Inbox
from .run_details import RunDetails
from .run_dialog import RunDialog
from .runs_table import RunsTable

# what "‹ Back" returns to, by the kind of view
BACK_TO = {"RunsTable": "Runs", "RunDetails": "Run details", "RunDialog": "Run",
           "Inbox": "Approvals", "Editor": "Editor", "SchedulesView": "Schedules",
           "CompareView": "Compare"}


def denied_line(ws, exc: PermissionDenied) -> str:
    """One line naming what is missing, e.g. "You may not list runs: VIEW_RUNS is missing for
    user 'x' (roles: none)."""
    what = exc.detail or exc.capability
    if ws.permissions.can(exc.user, exc.capability):  # has it, but is not among the people
        return f"Permission denied: {what}."
    roles = ", ".join(sorted(ws.permissions.roles_of(exc.user))) or "none"
    return f"You may not {what}: {exc.capability} is missing for user {exc.user!r} (roles: {roles})."


def notice(line: str, kind: str = "denied") -> ipywidgets.HTML:
    """One line in place of a view (a view the user may not open, a run that is gone)."""
    view = ipywidgets.HTML(f'<div class="wfnb-{kind}" role="alert">{html.escape(line)}</div>')
    view.add_class(f"wfnb-{kind}-view")
    view.line = line
    return view


def denied(ws, exc: PermissionDenied) -> ipywidgets.HTML:
    """What a view the user may not open shows instead: one line, no traceback."""
    return notice(denied_line(ws, exc))


# what opening a view needs: (capability, what the user may not do without it)
NEEDS = {"gallery": ("LIST_WORKFLOWS", "open the gallery"),
         "run": ("RUN_WORKFLOW", "run workflow {workflow!r}"),
         "rerun": ("RUN_WORKFLOW", "rerun workflow {workflow!r}"),
         "runs": ("VIEW_RUNS", "list runs"), "details": ("VIEW_DETAILS", "see run {run_id}"),
         "editor": ("LIST_WORKFLOWS", "open the editor"),
         "inbox": ("APPROVE", "see the approvals waiting for a decision"),
         "compare": ("VIEW_DETAILS", "compare run {run_id}")}


class Navigator:
    """Turns the views' intents (run, rerun, runs, details, editor, inbox, schedules, close)
    into the view shown in the panel. Intents from the root view (the gallery's cards, a
    standalone view) start afresh; those from the view in the panel stack it."""

    def __init__(self, ws, panel: ipywidgets.Box):
        self.ws, self.panel = ws, panel
        self.stack: list = []  # the views under the current one, kept as they were

    @property
    def current(self):
        return self.panel.children[0] if self.panel.children else None

    def _put(self, view) -> None:
        self.panel.children = [view] if view is not None else []

    def show(self, view, push: bool = False) -> None:
        """Show ``view``; keep the current one under it (``push``), else close them all."""
        old = self.current
        if push and old is not None:
            self.stack.append(old)
            if hasattr(view, "back"):
                view.back = BACK_TO.get(type(old).__name__, "previous view")
        else:
            for kept in [*self.stack, old]:
                if kept is not None and kept is not view:
                    kept.close()
            self.stack = []
        self._put(view)

    def back(self) -> None:
        """Close the current view and show the one it was opened from (if any)."""
        old = self.current
        self._put(self.stack.pop() if self.stack else None)
        if old is not None:
            old.close()

    def intent(self, content: dict) -> None:
        """An intent of the root view."""
        self._open(content, push=False)

    def nested(self, content: dict) -> None:
        """An intent of the view in the panel."""
        if content.get("action") == "close":
            self.back()
        else:
            self._open(content, push=True)

    def _open(self, content: dict, push: bool) -> None:
        ws = self.ws
        try:
            need = needed(content)
            if need and not ws.can(need[0], content.get("workflow")
                                   if need[0] == "RUN_WORKFLOW" else None):
                # the engine refuses anyway; this says so in one line
                raise PermissionDenied(ws.user, *need)
            view = build_view(ws, content, self.nested)
        except PermissionDenied as exc:
            view = denied(ws, exc)
        except WfnbError as exc:  # the run or workflow is gone, the history is busy ...
            view = notice(str(exc), "error")
        if view is not None or not push:
            self.show(view, push=push)


def needed(content: dict) -> tuple[str, str] | None:
    """What opening the view of an intent needs: (capability, what the user may not do
    without it), or None."""
    if content.get("action") not in NEEDS:
        return None
    capability, what = NEEDS[content["action"]]
    return capability, what.format_map({"workflow": content.get("workflow"),
                                        "run_id": content.get("run_id")})


def build_view(ws, content: dict, on_intent):
    """The view an intent asks for (``{"action": "runs", "workflow": ...}``), sending its own
    intents to ``on_intent``; None for "close" or an intent no view answers. The cell views
    (the Navigator) and the server's views socket (wfnb.server.views) both open views here."""
    action, on = content.get("action"), on_intent
    if action == "gallery":
        return GalleryCards(ws, on_intent=on)
    if action == "run":
        return RunDialog(ws, content["workflow"], values=content.get("params"), on_intent=on)
    if action == "rerun":  # the form prefilled with the run's arguments; starts ws.rerun
        return RunDialog(ws, content["workflow"], values=content.get("params"),
                         rerun_of=content["run_id"], on_intent=on,
                         from_failure=bool(content.get("from_failure")),
                         from_step=content.get("from_step") or None)
    if action == "runs":
        return RunsTable(ws, content.get("workflow"), on_intent=on)
    if action == "compare":  # with the run given as "other", else with its parent
        from .compare_view import CompareView
        return CompareView(ws, content["run_id"], content.get("other"), on_intent=on)
    if action == "details":
        return RunDetails(ws, content["run_id"], on_intent=on)
    if action == "editor":
        return Editor(ws, content["workflow"], on_intent=on)
    if action == "inbox":
        return Inbox(ws, on_intent=on)
    if action == "schedules":
        from .schedules_view import SchedulesView  # another view; loaded when first asked
        return SchedulesView(ws, on_intent=on)
    return None  # "close" from the root view, or an intent no view answers


class Gallery(ipywidgets.VBox):
    """``ws.gallery()``: the cards, and the panel where the other views open."""

    def __init__(self, ws):
        self.panel = ipywidgets.VBox()
        self.navigator = Navigator(ws, self.panel)
        self.cards = GalleryCards(ws, on_intent=self.navigator.intent)
        super().__init__([self.cards, self.panel])
        self.add_class("wfnb-app")


def standalone(view_cls, ws, *args):
    """A view on its own (``ws.runs_table()``, ``ws.run_details()``) that can still open
    the others below it."""
    panel = ipywidgets.VBox()
    navigator = Navigator(ws, panel)
    view = view_cls(ws, *args, on_intent=navigator.intent)
    box = ipywidgets.VBox([view, panel])
    box.view, box.navigator = view, navigator
    return box
