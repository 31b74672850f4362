"""Reading notebook files: what a notebook is (plain JSON for a well-formed nbformat 4 file,
else nbformat), and the parameters its ``parameters`` cell declares (papermill's inspection).

Finding the workflows of a workspace reads its notebooks here, as plain JSON (:func:`scan`):
nbformat, papermill and jupyter_client cost seconds to import (nbformat's validation imports
jsonschema, whose URI checks build a grammar at import), so they are imported when a notebook
step runs (:mod:`wfnb.engine.steps.notebooks`), or for a file that is not plain nbformat 4,
not to list the workflows.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import pysource
from ..core.errors import WorkflowError
from ..core.params import Param

if TYPE_CHECKING:  # pragma: no cover
    from nbformat import NotebookNode

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
                           r"(Z|[+-]\d{2}:?\d{2})?$")
log = logging.getLogger(__name__)


# ---- reading notebooks -------------------------------------------------------------------
def read(path: Path, workflow: str = "?", step: str | None = None) -> "NotebookNode":
    """The notebook at ``path`` through nbformat (to run or write it), or a WorkflowError
    naming the file and what is wrong."""
    if not path.is_file():
        raise WorkflowError(workflow, f"notebook {path} does not exist", step=step)
    import nbformat
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # JSON errors, schema errors ...
        raise WorkflowError(workflow, f"{path} is not a valid notebook: {exc}",
                            step=step) from None
    for cell in nb.cells:  # papermill's helpers expect every cell to have tags
        cell.metadata.setdefault("tags", [])
    return nb


class Node(dict):
    """A notebook's JSON with attribute access (``nb.cells``, ``cell.metadata``), as
    nbformat's NotebookNode has, for the code that only looks at a notebook."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def _plain(path: Path) -> Node | None:
    """The notebook as nbformat 4 reads it, for what discovery looks at (metadata, cell
    types, sources joined, tags), without nbformat; None unless it is a well-formed v4
    notebook: anything else goes to nbformat, which reads older versions and words errors."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(raw, dict) and raw.get("nbformat") == 4
            and isinstance(raw.get("metadata"), dict) and isinstance(raw.get("cells"), list)):
        return None
    cells = []
    for cell in raw["cells"]:
        if not (isinstance(cell, dict) and isinstance(cell.get("cell_type"), str)
                and isinstance(cell.get("metadata"), dict)):
            return None
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)  # as nbformat's rejoin_lines does
        elif not isinstance(source, str):
            return None
        tags = cell["metadata"].get("tags", [])
        if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            return None
        cells.append(Node(cell, source=source, metadata=Node(cell["metadata"], tags=tags)))
    return Node(raw, metadata=Node(raw["metadata"]), cells=cells)


def scan(path: Path, workflow: str = "?", step: str | None = None) -> "Node | NotebookNode":
    """The notebook at ``path`` to look at (find its workflow, steps and parameters, check it
    is one): plain JSON for a well-formed v4 notebook, else what :func:`read` gives or
    raises, so both say the same of any file."""
    if not path.is_file():
        raise WorkflowError(workflow, f"notebook {path} does not exist", step=step)
    return _plain(path) or read(path, workflow, step)


def _infer(name: str, default_src: str, help_: str) -> Param:
    try:
        value = pysource.literal_eval(default_src)
    except (ValueError, SyntaxError):
        return Param(name, type="str", description=help_)  # an expression: give it as text
    kind = {bool: "bool", int: "int", float: "float", list: "list", tuple: "list",
            dict: "json"}.get(type(value))
    if isinstance(value, str):  # only the plain ISO shapes count as dates ("20240131" is text)
        kind = "str"
        if _ISO_DATE.match(value):
            kind = "date"
        elif _ISO_DATETIME.match(value):
            kind = "datetime"
    if value is None or kind is None:
        return Param(name, type="str", description=help_)
    return Param(name, type=kind, default=value, description=help_)


def parameters_of(nb) -> list[Param]:
    """Params from the notebook's ``parameters`` cell (papermill's inspection)."""
    return [_infer(name, default, help_) for name, default, help_ in _declared(nb)]


# the translators papermill registers, and those of them that are Python's
_TRANSLATED = {"python", "R", "scala", "julia", "matlab", ".net-csharp", ".net-fsharp",
               ".net-powershell", "pysparkkernel", "sparkkernel", "sparkrkernel", "bash"}
_PYTHON = {"python", "pysparkkernel"}


def _declared(nb) -> list[tuple[str, str, str]]:
    """(name, default source, help) of each parameter, as papermill's ``_infer_parameters``
    finds them. A Python notebook is inspected here (importing papermill costs ~0.5 s); any
    other language, or a papermill already loaded (its translators may have been changed),
    goes to papermill itself."""
    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.tags), -1)
    if index < 0:
        return []
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if not kernel:
        raise ValueError("No kernel name found in notebook and no override provided.")
    language = nb.metadata.get("language_info", {}).get("name") \
        or nb.metadata.get("kernelspec", {}).get("language")
    if not language:
        raise ValueError("No language found in notebook and no override provided.")
    python = kernel in _PYTHON or (kernel not in _TRANSLATED and language in _PYTHON)
    if "papermill" in sys.modules or not python:
        from papermill.inspection import _infer_parameters
        return [(p.name, p.default, p.help) for p in _infer_parameters(nb)]
    return _python_parameters(nb.cells[index].source)


# papermill's PythonTranslator.PARAMETER_PATTERN (papermill 2.x, BSD-3-Clause)
_PARAMETER = re.compile(
    r"^(?P<target>\w[\w_]*)\s*(:\s*[\"']?(?P<annotation>\w[\w_\[\],\s]*)[\"']?\s*)?=\s*"
    r"(?P<value>.*?)(\s*#\s*(type:\s*(?P<type_comment>[^\s]*)\s*)?(?P<help>.*))?$")


def _python_parameters(source: str) -> list[tuple[str, str, str]]:
    """papermill's ``PythonTranslator.inspect``, line for line: assignments grouped with
    the lines that continue them (a list over several lines), comments dropped except on
    the last line, which is the help. ``tests/engine/test_notebook_scan.py`` checks it gives
    what papermill gives."""
    def flatten(lines: list[str]) -> str:
        flat = ""
        for line in lines[:-1]:
            flat += line[:line.index("#")].strip() if "#" in line else line.strip()
        if lines:
            flat += lines[-1].strip()
        return flat

    groups, lines = [], []
    for number, line in enumerate(source.splitlines()):
        if len(line.strip()) == 0 or line.strip().startswith("#"):
            continue
        equals = line.count("=")
        if equals > 0:
            groups.append(flatten(lines))
            lines = []
            if equals > 1:
                log.warning(f"Unable to parse line {number + 1} '{line}'.")
                continue
        lines.append(line)
    groups.append(flatten(lines))
    found = []
    for definition in groups:
        match = _PARAMETER.match(definition) if definition else None
        if match is not None and match["target"] is not None:
            found.append((match["target"].strip(), str(match["value"]).strip(),
                          str(match["help"] or "").strip()))
    return found
