"""The Workspace a user holds: the engine's runs, history and workflows, and (as they land)
the views built on them."""
from __future__ import annotations

import os

from .engine.api import Engine


class Workspace(Engine):
    """A workspace folder: ``wfnb.toml``, its workflows and its ``.wfnb/`` history.

    Open one with :func:`wfnb.open`; start runs with :meth:`start` / :meth:`run`, look back with
    :meth:`runs`, :meth:`get_run` and :meth:`sql`; see it all in a notebook with
    :meth:`gallery`, :meth:`runs_table`, :meth:`run_details` and :meth:`inbox`.
    """

    def _view(self, capability: str, what: str, build):
        """A view, or, for a user without ``capability``, one line saying so (no traceback):
        the refusal is still written to the audit trail."""
        from .engine.core.errors import PermissionDenied
        from .widgets.app import denied
        try:
            self.guard.require(capability, what)
            return build()
        except PermissionDenied as exc:
            return denied(self, exc)

    def gallery(self):
        """The gallery of workflows: Run opens the form, View Runs the runs table, Approvals
        the inbox, Schedules the schedules."""
        from .widgets.app import Gallery
        return self._view("LIST_WORKFLOWS", "open the gallery", lambda: Gallery(self))

    def runs_table(self, workflow: str | None = None):
        """Runs newest first (of one workflow, or all), live, with View Details."""
        from .widgets.app import standalone
        from .widgets.runs_table import RunsTable
        return self._view("VIEW_RUNS", "open the runs table",
                          lambda: standalone(RunsTable, self, workflow))

    def run_details(self, run_id: str):
        """One run: tasks, arguments, results, debug output, timeline, its approvals (Approve /
        Reject for those who may decide), Cancel and Rerun."""
        from .widgets.app import standalone
        from .widgets.run_details import RunDetails
        return self._view("VIEW_DETAILS", f"see run {run_id}",
                          lambda: standalone(RunDetails, self, run_id))

    def run_dialog(self, workflow: str, **values):
        """The run form of one workflow (prefilled with ``values``), live once started."""
        from .widgets.app import standalone
        from .widgets.run_dialog import RunDialog
        return self._view("RUN_WORKFLOW", f"run workflow {workflow!r}",
                          lambda: standalone(RunDialog, self, workflow, values))

    def inbox(self):
        """The approvals waiting for your decision (:meth:`pending_approvals`), live, each
        with Approve / Reject, a comment, the step's inputs and View Details."""
        from .widgets.app import standalone
        from .widgets.inbox import Inbox
        return self._view("APPROVE", "approve or reject runs", lambda: standalone(Inbox, self))

    def schedules_view(self):
        """The schedules: next runs in their time zone, Pause / Resume / Delete, and Add with
        a preview of the next runs as the cron is typed."""
        from .widgets.app import standalone
        from .widgets.schedules_view import SchedulesView
        return self._view("LIST_WORKFLOWS", "see the schedules",
                          lambda: standalone(SchedulesView, self))

    def editor(self, workflow: str):
        """The workflow's graph and settings, Run Test / Test Run in your test session, and
        (declared workflows, UPDATE_WORKFLOW) edits saved as new versions."""
        from .widgets.app import standalone
        from .widgets.editor import Editor
        return self._view("LIST_WORKFLOWS", "open the editor",
                          lambda: standalone(Editor, self, workflow))


def open(path: str | os.PathLike | None = None, *, user: str | None = None,  # noqa: A001
         carry_on: str = "thread", executor: str | dict | None = None) -> Workspace:
    """Open (creating when absent) the workspace at ``path``: ``$WFNB_WORKSPACE``, else ``.``.

    ``user`` overrides the current user (``WFNB_USER``, ``JUPYTERHUB_USER``, the OS user);
    ``carry_on="detach"`` makes runs this process wakes (an approval deadline passed) go on in
    a background process instead of a thread here, for short-lived scripts. ``executor``
    overrides ``[executor]`` of ``wfnb.toml``: ``"local"``, ``"dask"``, or a dict such as
    ``{"kind": "dask", "address": "tcp://host:8786"}``."""
    return Workspace(path or os.environ.get("WFNB_WORKSPACE") or ".", user=user,
                     carry_on=carry_on, executor=executor)
