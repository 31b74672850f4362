"""``wfnb lab``: JupyterLab on the gallery notebook, with the workspace for its kernels."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import wfnb

GALLERY_TEMPLATE = """{
 "cells": [
  {"cell_type": "markdown", "metadata": {}, "source": ["# Workflows\\n", "\\n", "Run this cell: **Run** on a card opens the form, **View Runs** the history."]},
  {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [],
   "source": ["import os\\n", "import wfnb\\n", "\\n", "ws = wfnb.open(os.environ.get(\\"WFNB_WORKSPACE\\", \\".\\"))\\n", "ws.gallery()"]}
 ],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
 "nbformat": 4, "nbformat_minor": 5
}
"""


def cmd_lab(ws: wfnb.Workspace, args) -> int:
    """JupyterLab on the gallery notebook, with this workspace (WFNB_WORKSPACE for kernels)."""
    notebook = Path(args.notebook) if args.notebook else Path("notebooks/Gallery.ipynb")
    if not notebook.exists():
        notebook = ws.root / "Gallery.ipynb"
        if not notebook.exists():
            notebook.write_text(GALLERY_TEMPLATE)
    notebook = notebook.resolve()
    root = Path.cwd() if notebook.is_relative_to(Path.cwd()) else notebook.parent
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
               f"--port={args.port}", str(notebook.relative_to(root))]
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI machines run as root
        command.append("--allow-root")
    print(f"JupyterLab on {notebook} with the workspace {ws.root}", flush=True)
    # become JupyterLab (exec): stopping `wfnb lab` then stops the server, not just a parent
    os.execve(sys.executable, command, {**os.environ, "WFNB_WORKSPACE": str(ws.root)})
