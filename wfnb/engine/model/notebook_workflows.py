"""Notebooks as workflows: the workflow a notebook in a workflows folder is, read from the
notebook itself (its ``step:<name>`` / ``after:<name>`` cell tags, its ``parameters`` cell and
its ``wfnb`` metadata). Running them is :mod:`wfnb.engine.steps.notebooks`'s; this module only
reads the file (through :mod:`.notebook_files`, so neither nbformat nor papermill is imported).
"""
from __future__ import annotations

import re
from pathlib import Path

from ..core.errors import WorkflowError
from .notebook_files import parameters_of, scan
from .workflow import Step, Workflow

__all__ = ["notebook_workflow", "workflow_name"]

_STEP_TAG = re.compile(r"^step:([A-Za-z_]\w*)$")
_AFTER_TAG = re.compile(r"^after:([A-Za-z_]\w*)$")


def workflow_name(path: Path, meta: dict | None = None) -> str:
    """The name of the workflow a notebook is: its ``wfnb`` metadata's, else its file name."""
    name = (meta or {}).get("name") or re.sub(r"\W", "_", path.stem)
    if not isinstance(name, str):
        raise WorkflowError(path.stem, f"{path}: metadata 'wfnb' name must be a string")
    return name if re.match(r"[A-Za-z_]", name) else f"nb_{name}"  # 2024-report: nb_2024_report


def notebook_workflow(path: Path) -> Workflow:
    """A notebook in a workflows folder: its ``step:<name>`` cells are steps (run in one
    kernel, in notebook order; once any cell has ``after:<name>`` tags, those tags alone order
    the steps); a notebook without such cells is one papermill step. Parameters come from its
    ``parameters`` cell in both cases."""
    nb = scan(path, workflow_name(path))
    meta = nb.metadata.get("wfnb", {})
    if not isinstance(meta, dict):
        raise WorkflowError(workflow_name(path), f"{path}: metadata 'wfnb' must be a mapping "
                            "(name, title, description, tags)")
    name = workflow_name(path, meta)
    title = meta.get("title")
    description = meta.get("description", "")
    if title is None:
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                heading = re.search(r"^#+\s*(.+)$", cell.source, re.M)
                if heading:
                    title = heading.group(1).strip()
                    break
    wf = Workflow(name, title=title, description=description, tags=meta.get("tags", []),
                  params=parameters_of(nb))
    wf.source = str(path)
    params_index = next((i for i, c in enumerate(nb.cells)
                         if "parameters" in c.metadata.get("tags", [])), -1)
    steps: list[tuple[str, list[int], list[str]]] = []
    setup: list[int] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or index == params_index:
            continue
        tags = cell.metadata.get("tags", [])
        names = [m.group(1) for t in tags if (m := _STEP_TAG.match(t))]
        after = [m.group(1) for t in tags if (m := _AFTER_TAG.match(t))]
        if names:
            steps.append((names[0], [index], after))
        elif steps:
            steps[-1][1].append(index)  # untagged cells after a step belong to it
        else:
            setup.append(index)
    wf.notebook_options = {"path": str(path), "setup": setup, "parameters_index": params_index,
                           "kernel": nb.metadata.get("kernelspec", {}).get("name")}
    if not steps:
        wf.add_step(Step("notebook", None, kind="notebook",
                         description=description or f"runs {path.name} with papermill",
                         options={"path": str(path), "parameters": {},
                                  "kernel": wf.notebook_options["kernel"]}))
        return wf
    # notebook order unless the notebook orders its steps itself with after: tags
    explicit = any(after for _, _, after in steps)
    previous = None
    for step_name, cells, after in steps:
        deps = tuple(after) if explicit else ((previous,) if previous else ())
        wf.add_step(Step(step_name, None, deps, kind="cell", options={"cells": cells}))
        previous = step_name
    return wf
