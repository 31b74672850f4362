"""IPython magics: ``%%wfsql`` (a read-only SQL statement over the history, as a DataFrame) and
``%wfnb run | runs | show`` (the views), registered by ``import wfnb`` in IPython or by
``%load_ext wfnb``.

They go through the same API as everything else (``ws.sql``, ``ws.validate``, the views), so
the same permissions apply, and an error is one line (IPython's ``UsageError``: no
traceback), as the ``wfnb`` command prints it.

Python values reach the SQL as parameters, never as text: ``$name`` and ``:name`` (outside
quotes and comments; ``::`` casts are left alone) become ``?`` bound to the notebook's
variable ``name``.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from .engine.core.errors import WfnbError
from .engine.core.params import parse_assignments

# a quoted string or identifier, a comment, or a $name / :name placeholder
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|::|"""
                     r"""(?P<mark>[$:])(?P<name>[A-Za-z_]\w*)""", re.S)


def bind(sql: str, namespace: dict[str, Any]) -> tuple[str, list[Any]]:
    """``sql`` with each ``$name`` / ``:name`` replaced by ``?``, and the values of those
    names in ``namespace``, in order. UsageError names a placeholder with no variable."""
    values: list[Any] = []

    def replace(m: re.Match) -> str:
        name = m.group("name")
        if name is None:
            return m.group(0)
        if name not in namespace:
            raise UsageError(f"%%wfsql: {m.group('mark')}{name} is not a variable of this "
                             "notebook (define it, or quote the text)")
        values.append(namespace[name])
        return "?"
    return _TOKENS.sub(replace, sql), values


def one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting the kernel."""

    def error(self, message: str) -> None:
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> None:
        raise UsageError(message or self.format_usage())


def _parsers() -> tuple[_Parser, _Parser]:
    sql = _Parser(prog="%%wfsql", add_help=False)
    sql.add_argument("-o", "--output", metavar="NAME", help="store the DataFrame as NAME")
    sql.add_argument("--workspace", metavar="DIR")
    top = _Parser(prog="%wfnb", add_help=False)
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", add_help=False)
    run.add_argument("workflow")
    run.add_argument("-p", "--param", action="append", metavar="KEY=VALUE")
    runs = sub.add_parser("runs", add_help=False)
    runs.add_argument("--workflow")
    show = sub.add_parser("show", add_help=False)
    show.add_argument("run_id")
    for p in (run, runs, show):
        p.add_argument("--workspace", metavar="DIR")
    return sql, top


@magics_class
class WfnbMagics(Magics):
    """``%%wfsql`` and ``%wfnb``; one workspace per folder, opened on first use."""

    def __init__(self, shell):
        super().__init__(shell)
        self._workspaces: dict[str, Any] = {}
        self._sql_parser, self._wfnb_parser = _parsers()

    def workspace(self, path: str | None):
        from .workspace import open as open_workspace
        key = os.path.abspath(path or os.environ.get("WFNB_WORKSPACE") or ".")
        if key not in self._workspaces:
            try:
                self._workspaces[key] = open_workspace(key)
            except WfnbError as exc:
                raise UsageError(one_line(exc)) from None
        return self._workspaces[key]

    @cell_magic
    def wfsql(self, line: str, cell: str):
        """%%wfsql [-o NAME] [--workspace DIR]: one read-only SQL statement over the
        history (``ws.sql``), its result a DataFrame; $name / :name bind variables."""
        args = self._sql_parser.parse_args(shlex.split(line))
        sql, params = bind(cell, self.shell.user_ns)
        ws = self.workspace(args.workspace)
        try:
            frame = ws.sql(sql, params)
        except WfnbError as exc:
            raise UsageError(one_line(exc)) from None
        if args.output:
            self.shell.user_ns[args.output] = frame
        return frame

    @line_magic
    def wfnb(self, line: str):
        """%wfnb run NAME [-p KEY=VALUE ...] | runs [--workflow W] | show RUN_ID, each with
        [--workspace DIR]: start a run and show its dialog, live; the runs table; a run's
        details."""
        args = self._wfnb_parser.parse_args(shlex.split(line))
        ws = self.workspace(args.workspace)
        try:
            if args.command == "run":
                values = parse_assignments(args.param)
                ws.validate(args.workflow, **values)  # ParamError / NotFound / 403, one line
                box = ws.run_dialog(args.workflow, **values)
                box.view.start(values)
                return box
            if args.command == "runs":
                if args.workflow:
                    ws.workflow(args.workflow)  # an unknown one: NotFound, one line
                ws.guard.require("VIEW_RUNS", "open the runs table")
                return ws.runs_table(args.workflow)
            ws.get_run(args.run_id).tasks  # NotFound; VIEW_DETAILS, one line
            return ws.run_details(args.run_id)
        except WfnbError as exc:
            raise UsageError(one_line(exc)) from None


def load_ipython_extension(ipython) -> None:
    """``%load_ext wfnb`` (and ``import wfnb`` in IPython)."""
    ipython.register_magics(WfnbMagics)


__all__ = ["WfnbMagics", "bind", "load_ipython_extension"]
