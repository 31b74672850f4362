"""``wfnb lab``: JupyterLab with the Workflows sidebar on the workspace (the server extension
serves it; kernels find it through ``WFNB_WORKSPACE``)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import wfnb
from wfnb.engine.core.errors import UsageError


def cmd_lab(ws: wfnb.Workspace, args) -> int:
    """JupyterLab on its start page, the Workflows sidebar open, serving this workspace; with
    ``--notebook``, that notebook open too."""
    notebook = Path(args.notebook).resolve() if args.notebook else None
    if notebook is not None and not notebook.is_file():
        raise UsageError(f"--notebook: {args.notebook} is not a file")
    here = Path.cwd()
    near = notebook.parent if notebook is not None else ws.root
    root = here if near.is_relative_to(here) else near  # the file browser shows it
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
               f"--port={args.port}"]
    if notebook is not None:
        command.append(str(notebook.relative_to(root)))
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI machines run as root
        command.append("--allow-root")
    print(f"JupyterLab with the workspace {ws.root} (the Workflows sidebar is on the left)",
          flush=True)
    # become JupyterLab (exec): stopping `wfnb lab` then stops the server, not just a parent
    os.execve(sys.executable, command, {**os.environ, "WFNB_WORKSPACE": str(ws.root)})
