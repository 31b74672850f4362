"""Views composed: the gallery with a panel under it where Run, View Runs and View Details
open (one panel at a time; Close returns to the gallery)."""
from __future__ import annotations

import ipywidgets

from .editor import Editor
from .gallery import GalleryCards
from .run_details import RunDetails
from .run_dialog import RunDialog
from .runs_table import RunsTable


class Navigator:
    """Turns the views' intents (run, runs, details, rerun, editor, close) into the view
    shown."""

    def __init__(self, ws, panel: ipywidgets.Box):
        self.ws, self.panel = ws, panel

    @property
    def current(self):
        return self.panel.children[0] if self.panel.children else None

    def show(self, view) -> None:
        old = self.current
        self.panel.children = [view] if view is not None else []
        if old is not None and old is not view:
            old.close()

    def intent(self, content: dict) -> None:
        action = content.get("action")
        if action == "run":
            self.show(RunDialog(self.ws, content["workflow"], on_intent=self.intent))
        elif action == "rerun":
            self.show(RunDialog(self.ws, content["workflow"], values=content.get("params"),
                                on_intent=self.intent))
        elif action == "runs":
            self.show(RunsTable(self.ws, content.get("workflow"), on_intent=self.intent))
        elif action == "details":
            self.show(RunDetails(self.ws, content["run_id"], on_intent=self.intent))
        elif action == "editor":
            self.show(Editor(self.ws, content["workflow"], on_intent=self.intent))
        elif action == "close":
            self.show(None)


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
