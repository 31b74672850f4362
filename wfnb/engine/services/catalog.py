"""The workflows of a workspace: those its files define (reloaded when they change), and those
handed over as objects (defined in a notebook cell, say), with the checks on who may run one."""
from __future__ import annotations

from pathlib import Path
from typing import Collection

from ..core.errors import BrokenWorkflowError, NotFound
from ..model.loader import Loader, WorkflowProblem
from ..model.workflow import Workflow, check_kinds
from .guard import Guard

# workflows passed as objects, by name (this process): a run of one can be resumed after an
# approval, by any workspace of the process
_given: dict[str, Workflow] = {}


class Catalog:
    """Finds workflows by name; no permission check but in :meth:`runnable`."""

    def __init__(self, loader: Loader, root: Path, guard: Guard, kinds: Collection[str]):
        self.loader, self.root, self.guard, self.kinds = loader, root, guard, kinds

    def all(self) -> list[Workflow]:
        return list(self.loader.workflows().values())

    def problems(self) -> list[WorkflowProblem]:
        return self.loader.problems()

    def load_modules(self) -> object:
        """Import the workflow modules (a pickled result may need a class of one)."""
        return self.loader.workflows()

    def workflow(self, name: str | Workflow) -> Workflow:
        """One workflow by name (or as given); NotFound lists the known ones and the broken
        files, BrokenWorkflowError says why a workflow of a broken file is refused."""
        if isinstance(name, Workflow):  # defined in a notebook cell, say: remember it, so a
            wf = name.validate()        # run of it can be resumed after an approval
            check_kinds(wf, self.kinds)
            _given[wf.name] = wf
            return wf
        found, problems = self.loader.load()
        if name in found:
            return found[name]
        refused = [p for p in problems if name in p.workflows]
        if refused:  # its file is broken, or another file defines the same name
            raise BrokenWorkflowError(name, refused)
        if name in _given:
            return _given[name]
        if not self.guard.can("LIST_WORKFLOWS"):  # the names and files are not theirs to see
            raise NotFound(f"no workflow named {name!r} in {self.root}")
        broken = ""
        if problems:  # it may be in a file that could not be read far enough to know
            problems = sorted(problems, key=lambda p: bool(p.workflows))  # those first
            files = len({p.file for p in problems})
            more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
            broken = (f"; {files} file{'s' if files > 1 else ''} could not be loaded: "
                      + "; ".join(map(str, problems[:3])) + more)
        raise NotFound(f"no workflow named {name!r} in {self.root} "
                       f"(known: {', '.join(sorted(found)) or 'none'}){broken}")

    def runnable(self, name: str | Workflow) -> Workflow:
        """The workflow, if the user may run it (RUN_WORKFLOW, and among its runners)."""
        wf = self.workflow(name)
        self.guard.require("RUN_WORKFLOW", f"run workflow {wf.name!r}")
        if not self.guard.among(wf.runners):
            self.guard.deny("RUN_WORKFLOW", f"workflow {wf.name!r} may be run by "
                                            f"{self.guard.describe(wf.runners or [])}")
        return wf
