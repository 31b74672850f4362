"""Notebooks in workflows: whole notebooks run by papermill, and notebooks whose tagged cells
are the steps. Both run on kernels from :mod:`.kernels` (a warm pool when configured).

* Parameters come from the notebook's ``parameters`` cell (papermill's inspection): names,
  types inferred from the defaults, trailing comments as descriptions.
* ``wfnb.output(name, value)`` inside the notebook makes ``value`` part of the step's result.
* Papermill runs a whole notebook through the ``wfnb`` papermill engine registered here, which
  executes the cells on our kernel session (so a pooled kernel, cancel and death detection
  work), while papermill parameterises the notebook and writes the executed copy.
* Reading notebook files (to find workflows, steps and parameters) is in
  :mod:`wfnb.engine.model.notebook_files`, which imports none of nbformat, papermill or
  jupyter_client; the workflow a notebook is, in :mod:`wfnb.engine.model.notebook_workflows`.
* The step kinds defined here are listed, with the others, in :mod:`.registry`.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import CellError, NotebookFailed
from .kernels import KernelSession, strip_ansi
from ..model.notebook_files import parameters_of, read, scan
from ..model.workflow import Step, Workflow
from ..core.params import to_jsonable
from .kinds import StepKind

if TYPE_CHECKING:  # pragma: no cover
    from ..core.context import RunContext
    from .results import Inputs

MIME = "application/vnd.wfnb.output+json"


def outputs_of(cells) -> dict[str, Any]:
    """The values the cells handed back with ``wfnb.output``."""
    found: dict[str, Any] = {}
    for cell in cells:
        for out in cell.get("outputs", ()):
            data = out.get("data", {}).get(MIME)
            if data is not None:
                found[data["name"]] = data["value"]
    return found


def text_of(outputs: list) -> str:
    """Outputs as the text a task keeps in its debug output."""
    parts = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(out.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            text = out.get("data", {}).get("text/plain")
            if text and MIME not in out.get("data", {}):
                parts.append(text + "\n")
        elif kind == "error":
            parts.append(strip_ansi(out.get("traceback", [])) + "\n")
    return "".join(parts)


def _failure(cell_index: int, count, source: str, error: CellError) -> NotebookFailed:
    tb = strip_ansi(error.traceback)
    lines = [int(n) for n in re.findall(r"^-*> ?(\d+)", tb, re.M)]
    where = f"cell {cell_index}" + (f" [{count}]" if count else "")
    if lines and 0 < lines[0] <= len(source.splitlines()):
        where += f", line {lines[0]}: {source.splitlines()[lines[0] - 1].strip()}"
    return NotebookFailed(f"{error} ({where})", tb)


# ---- papermill engine: cells run on our kernel session --------------------------------------
_engine_lock = threading.Lock()
_engine_registered = False


def _register_papermill_engine() -> None:
    """Register papermill engine ``wfnb`` (once; papermill is imported only when needed)."""
    global _engine_registered
    with _engine_lock:
        if _engine_registered:
            return
        from papermill.engines import Engine, papermill_engines

        class WfnbPapermillEngine(Engine):
            """Executes the cells on a given :class:`KernelSession`."""

            @classmethod
            def execute_managed_notebook(cls, nb_man, kernel_name,
                                         session: KernelSession = None,
                                         cancel: threading.Event | None = None, **kwargs):
                for index, cell in enumerate(nb_man.nb.cells):
                    if cell.cell_type != "code":
                        continue
                    nb_man.cell_start(cell, index)
                    try:
                        cell.outputs, cell.execution_count = session.run(cell.source, cancel)
                    except CellError as exc:
                        cell.outputs = getattr(exc, "outputs", [])
                        cell.execution_count = getattr(exc, "execution_count", None)
                        nb_man.cell_exception(cell, cell_index=index, exception=exc)
                        break
                    finally:
                        nb_man.cell_complete(cell, cell_index=index)

        papermill_engines.register("wfnb", WfnbPapermillEngine)
        _engine_registered = True


# ---- step kinds ------------------------------------------------------------------------------
def _kernel_for(resources: dict | None, kernel_name: str | None) -> KernelSession:
    pool = (resources or {}).get("kernel_pool")
    name = kernel_name or "python3"
    return pool.take(name) if pool is not None else KernelSession(name)


def _kernel(ctx: "RunContext", kernel_name: str) -> KernelSession:
    return _kernel_for(ctx.resources, kernel_name)


class NotebookStep(StepKind):
    """A whole notebook run by papermill, parameters injected, the executed copy kept."""

    kind = "notebook"

    def execute(self, step: Step, ctx: "RunContext", inputs: "Inputs") -> Any:
        import papermill
        from papermill.exceptions import PapermillExecutionError
        _register_papermill_engine()
        path = Path(step.options["path"])
        declared = [p.name for p in parameters_of(scan(path, ctx.workflow, step.name))]
        # None stands for "not given": the notebook keeps its own default
        values = {k: v for k, v in inputs.pick(declared).items() if v is not None}
        values.update(step.options.get("parameters") or {})
        # papermill writes floats itself (nan and inf too); to_jsonable would make them text
        values = {k: v if isinstance(v, float) else to_jsonable(v) for k, v in values.items()}
        out = ctx.artifacts / f"{step.name}-{ctx.attempt}.ipynb"
        session = _kernel(ctx, step.options.get("kernel") or "python3")
        try:
            # papermill's cwd= would os.chdir() this whole process: move the kernel instead
            session.chdir(step.options.get("cwd") or str(path.parent))
            nb = papermill.execute_notebook(
                str(path), str(out), parameters=values, engine_name="wfnb",
                kernel_name=session.kernel_name, session=session, cancel=ctx.cancel_event,
                progress_bar=False, request_save_on_cell_execute=False,
                autosave_cell_every=3600)
        except PapermillExecutionError as exc:
            session.shutdown()
            source = exc.source or ""
            raise _failure(exc.cell_index, exc.exec_count, source,
                           CellError(exc.ename, exc.evalue, exc.traceback)) from None
        except BaseException:
            session.shutdown()
            raise
        finally:
            if out.exists():  # link the executed copy only when there is one
                ctx.notebook = str(out.relative_to(ctx.workspace))
        session.shutdown_soon()
        return outputs_of(nb.cells) or None


class CellSession:
    """The one kernel of a notebook-cell workflow's run, and the notebook it is filling in."""

    def __init__(self, ctx: "RunContext", workflow: Workflow):
        opts = workflow.notebook_options
        self.nb = read(Path(opts["path"]), workflow.name)
        self.lock = threading.Lock()
        self.path = ctx.artifacts / "notebook.ipynb"
        ctx.notebook = str(self.path.relative_to(ctx.workspace))
        import nbformat
        from papermill.translators import translate_parameters
        given = {k: v if isinstance(v, float) else to_jsonable(v)
                 for k, v in ctx.params.items() if v is not None}
        code = translate_parameters(opts.get("kernel") or "python3", "python", given,
                                    "Parameters injected by wfnb")
        cell = nbformat.v4.new_code_cell(code, metadata={"tags": ["injected-parameters"]})
        at = opts.get("parameters_index", -1) + 1   # right after the parameters cell
        self.nb.cells.insert(at, cell)
        self.new_index = lambda i: i + 1 if i >= at else i  # noqa: E731 - old -> new index
        first_step = min((self.new_index(c) for s in workflow.steps.values()
                          for c in s.options.get("cells", [])), default=len(self.nb.cells))
        # setup: every code cell above the first step, the parameters and injected ones
        # included, in notebook order
        self.setup = [i for i, c in enumerate(self.nb.cells[:first_step])
                      if c.cell_type == "code"]
        self.kernel: KernelSession | None = None
        self.opts, self.workflow_dir = opts, str(Path(opts["path"]).parent)

    def open(self, cancel) -> None:
        """Start the kernel and run the setup cells (the caller registered ``close``)."""
        self.kernel = _kernel_for(self.opts.get("resources"), self.opts.get("kernel"))
        self.kernel.chdir(self.workflow_dir)
        self.run_cells(self.setup, cancel)

    def run_cells(self, indexes: list[int], cancel) -> tuple[str, dict]:
        text, cells = [], []
        for index in indexes:
            cell = self.nb.cells[index]
            cells.append(cell)
            try:
                cell.outputs, cell.execution_count = self.kernel.run(cell.source, cancel)
            except CellError as exc:
                cell.outputs = getattr(exc, "outputs", [])
                cell.execution_count = getattr(exc, "execution_count", None)
                self.save()
                raise _failure(index, cell.execution_count, cell.source, exc) from None
            text.append(text_of(cell.outputs))
        self.save()
        return "".join(text), outputs_of(cells)

    def save(self) -> None:
        import nbformat
        self.path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(self.nb, str(self.path))

    def close(self) -> None:
        self.save()
        if self.kernel is not None:
            self.kernel.shutdown()


class CellStep(StepKind):
    """Tagged cells of a notebook, run in order in the run's one kernel."""

    kind = "cell"

    def execute(self, step: Step, ctx: "RunContext", inputs: "Inputs") -> Any:
        with ctx.resources["lock"]:
            session = ctx.resources.get("cells")
            if session is None:
                session = ctx.resources["cells"] = CellSession(ctx, ctx.workflow_def)
                session.opts = {**session.opts, "resources": ctx.resources}
                # registered before the kernel starts: whatever happens next, it is shut down
                ctx.resources.setdefault("cleanups", []).append(session.close)
        with session.lock:
            if session.kernel is None:
                session.open(ctx.cancel_event)
            ctx.notebook = str(session.path.relative_to(ctx.workspace))
            text, outs = session.run_cells([session.new_index(i) for i in
                                            step.options["cells"]], ctx.cancel_event)
        if text:
            print(text, end="")
        return outs or None


class CodeStep(NotebookStep):
    """A cell declared in a workflow file (``code = "..."``): run in a kernel like a notebook
    of one cell, the run's params and its ``after`` steps' results set as variables first;
    ``wfnb.output(name, value)`` gives its result. The executed cell is kept as a notebook."""

    kind = "code"

    def execute(self, step: Step, ctx: "RunContext", inputs: "Inputs") -> Any:
        import nbformat
        names = [p.name for p in ctx.workflow_def.params] + list(step.after)
        declared = "\n".join(f"{n} = None" for n in names) or "# no inputs"
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": step.options.get("kernel") or "python3",
                                     "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(declared, metadata={"tags": ["parameters"]}),
                    nbformat.v4.new_code_cell(step.options["code"])]
        source = ctx.artifacts / f"{step.name}-{ctx.attempt}.source.ipynb"
        source.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(source))
        cell = Step(step.name, None, step.after, kind="notebook",
                    options={"path": str(source), "parameters": {},
                             "kernel": step.options.get("kernel"),
                             "cwd": step.options.get("cwd")})
        try:
            return super().execute(cell, ctx, inputs)
        finally:  # what the cell printed is the step's debug output, as for a Python step
            if ctx.notebook and (ctx.workspace / ctx.notebook).is_file():
                ran = nbformat.read(str(ctx.workspace / ctx.notebook), as_version=4)
                if len(ran.cells) > 1 and ran.cells[-1].get("outputs"):
                    print(text_of(ran.cells[-1].outputs), end="")

