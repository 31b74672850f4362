"""A broken workflow file never stops the others: it is left out, its problem is kept (file,
line, message), only its own workflows are refused, and it loads again once fixed."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import nbformat
import pytest

import wfnb
from wfnb import BrokenWorkflowError, LoadError, NotFound, WorkflowError, WorkflowProblem

from ..helpers import cli_env

GOOD = """
    from wfnb import Workflow
    wf = Workflow("good")
    wf.step(lambda: 1, name="only")
"""

SYNTAX_ERROR = 'from wfnb import Workflow\nwf = Workflow("syntax")\nx = (\n'

CYCLE = """\
    from wfnb import Workflow
    fine = Workflow("fine")
    fine.step(lambda: 2, name="only")
    wf = Workflow("cyclic")

    @wf.step(after=["b"])
    def a(): ...

    @wf.step(after=["a"])
    def b(): ...
"""

SAME = 'from wfnb import Workflow\n\nwf = Workflow("same")\nwf.step(lambda: 1, name="a")\n'


def names(ws: wfnb.Workspace) -> list[str]:
    return sorted(w.name for w in ws.workflows())


def write(factory, name: str, text: str):
    path = factory.root / "workflows" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def notebook(path, source: str = "x = 1") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(nb, str(path))


def cli(root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wfnb", *args, "--workspace", str(root)],
                          env=cli_env(WFNB_USER="tester"), capture_output=True, text=True,
                          timeout=120)


def test_a_syntax_error_is_left_out_and_named_when_a_workflow_is_not_found(factory):
    factory.module("good", GOOD)
    bad = write(factory, "bad.py", SYNTAX_ERROR)
    ws = factory.open(user="tester")
    assert names(ws) == ["good"]
    [problem] = ws.workflow_problems()
    assert isinstance(problem, WorkflowProblem)
    assert (problem.file, problem.line, problem.workflows) == ("workflows/bad.py", 3, ())
    assert problem.message.startswith("cannot be imported: SyntaxError: ")
    assert str(problem).startswith("workflows/bad.py:3: cannot be imported: SyntaxError")
    assert ws.run("good").status == "Completed"
    # its names are unknown: NotFound lists the known workflows and the broken file
    with pytest.raises(NotFound, match=r"\(known: good\); 1 file could not be loaded: "
                                       r"workflows/bad\.py:3: cannot be imported: SyntaxError"):
        ws.run("syntax")
    bad.write_text(SYNTAX_ERROR.replace("x = (", 'wf.step(lambda: 3, name="s")'))
    assert names(ws) == ["good", "syntax"] and ws.workflow_problems() == []
    assert ws.run("syntax").status == "Completed"


def test_an_import_error_refuses_the_workflows_the_file_would_define(factory):
    factory.module("good", GOOD)
    path = factory.module("imports", """\
        import no_such_module_for_wfnb_tests
        from wfnb import Workflow
        wf = Workflow("imported")
        wf.step(lambda: 1, name="only")
    """)
    ws = factory.open(user="tester")
    assert names(ws) == ["good"]
    assert ws.workflow_problems() == [WorkflowProblem(
        "workflows/imports.py", 1, "cannot be imported: ModuleNotFoundError: No module named "
        "'no_such_module_for_wfnb_tests'", ("imported",))]
    with pytest.raises(BrokenWorkflowError, match=r"workflow 'imported': cannot be run: "
                       r"workflows/imports\.py:1: cannot be imported: ModuleNotFoundError") as e:
        ws.run("imported")
    assert isinstance(e.value, LoadError) and isinstance(e.value, WorkflowError)
    assert e.value.problems == ws.workflow_problems()
    assert ws.run("good").status == "Completed"
    path.write_text(path.read_text().replace("import no_such_module_for_wfnb_tests\n", ""))
    assert ws.run("imported").status == "Completed" and ws.workflow_problems() == []


def test_a_cycle_refuses_that_workflow_only_naming_the_line_of_its_step(factory):
    factory.module("good", GOOD)
    factory.module("cyclic", CYCLE)
    ws = factory.open(user="tester")
    assert names(ws) == ["fine", "good"]  # its neighbour in the same file loads
    [problem] = ws.workflow_problems()
    assert problem == WorkflowProblem("workflows/cyclic.py", 6, "workflow 'cyclic', step 'a': "
                                      "the steps form a cycle: a -> b -> a", ("cyclic",))
    with pytest.raises(WorkflowError, match=r"workflows/cyclic\.py:6: .*cycle: a -> b -> a"):
        ws.run("cyclic")
    assert ws.run("fine").status == "Completed" and ws.run("good").status == "Completed"


def test_a_name_defined_in_two_files_is_refused_in_both(factory):
    factory.module("good", GOOD)
    factory.module("one", SAME)
    two = factory.module("two", SAME)
    ws = factory.open(user="tester")
    assert names(ws) == ["good"]
    assert [(p.file, p.line, p.workflows) for p in ws.workflow_problems()] == [
        ("workflows/one.py", 3, ("same",)), ("workflows/two.py", 3, ("same",))]
    assert "also defined in workflows/two.py" in ws.workflow_problems()[0].message
    with pytest.raises(BrokenWorkflowError) as caught:
        ws.run("same")
    assert "workflows/one.py:3: workflow 'same' is also defined in workflows/two.py" \
        in str(caught.value)
    assert "workflows/two.py:3: workflow 'same' is also defined in workflows/one.py" \
        in str(caught.value)
    assert ws.run("good").status == "Completed"
    two.unlink()
    assert ws.run("same").status == "Completed" and ws.workflow_problems() == []


def test_a_broken_definition_still_clashes_with_a_good_one_of_the_same_name(factory):
    factory.module("one", SAME)
    factory.module("two", "import no_such_module_for_wfnb_tests\n" + SAME)
    ws = factory.open(user="tester")
    assert names(ws) == []
    with pytest.raises(BrokenWorkflowError, match=r"two\.py:1: cannot be imported.*"
                       r"two\.py:4: workflow 'same' is also defined in workflows/one\.py"):
        ws.workflow("same")


def test_a_declared_notebook_step_without_its_notebook_loads_once_it_is_there(factory):
    factory.module("good", GOOD)
    write(factory, "report.wfnb.toml", """\
        [workflow]
        name = "report"

        [[steps]]
        name = "render"
        notebook = "../notebooks/report.ipynb"
        """)
    ws = factory.open(user="tester")
    assert names(ws) == ["good"]
    missing = factory.root / "notebooks" / "report.ipynb"
    assert ws.workflow_problems() == [WorkflowProblem(
        "workflows/report.wfnb.toml", 6, f"steps.render.notebook: no notebook at {missing}",
        ("report",))]
    with pytest.raises(BrokenWorkflowError, match=r"report\.wfnb\.toml:6: steps\.render\."
                                                  "notebook: no notebook at"):
        ws.run("report")
    assert ws.run("good").status == "Completed"
    notebook(missing)  # only the notebook appears: the declaration itself is unchanged
    assert ws.workflow("report").steps["render"].kind == "notebook"
    assert ws.workflow_problems() == []
    missing.unlink()  # and when it goes, the workflow is refused again
    assert names(ws) == ["good"] and "no notebook at" in ws.workflow_problems()[0].message


def test_a_python_notebook_step_and_a_notebook_workflow_that_are_broken(factory):
    factory.module("good", GOOD)
    factory.module("nbstep", """\
        from wfnb import Workflow
        wf = Workflow("nbstep")
        wf.notebook("render", "../notebooks/gone.ipynb")
    """)
    write(factory, "cells.ipynb", "{ not json")
    ws = factory.open(user="tester")
    assert names(ws) == ["good"]
    problems = {p.file: p for p in ws.workflow_problems()}
    assert problems["workflows/nbstep.py"].line == 2  # where the workflow is made
    assert "gone.ipynb does not exist" in problems["workflows/nbstep.py"].message
    assert problems["workflows/cells.ipynb"].workflows == ("cells",)
    assert "is not a valid notebook" in problems["workflows/cells.ipynb"].message
    with pytest.raises(BrokenWorkflowError, match=r"workflows/cells\.ipynb: .*not a valid"):
        ws.run("cells")
    with pytest.raises(BrokenWorkflowError, match=r"workflows/nbstep\.py:2: .*does not exist"):
        ws.run("nbstep")
    assert ws.run("good").status == "Completed"
    notebook(factory.root / "workflows" / "cells.ipynb")
    notebook(factory.root / "notebooks" / "gone.ipynb")
    assert names(ws) == ["cells", "good", "nbstep"] and ws.workflow_problems() == []


def test_a_broken_wfnb_toml_is_left_out_with_its_lines(factory):
    factory.module("good", GOOD)
    syntax = write(factory, "weekly.wfnb.toml", """\
        [workflow]
        name = "weekly_toml"
        [[steps]
        name = "a"
        """)
    write(factory, "fields.wfnb.toml", """\
        [[steps]]
        name = "a"
        call = "os:getcwd"
        retries = -1
        timeout = "soon"
        """)
    ws = factory.open(user="tester")
    assert names(ws) == ["good"]
    assert [(p.file, p.line, p.workflows) for p in ws.workflow_problems()] == [
        ("workflows/fields.wfnb.toml", 4, ("fields",)),
        ("workflows/fields.wfnb.toml", 5, ("fields",)),
        ("workflows/weekly.wfnb.toml", 3, ("weekly_toml",))]
    assert ws.workflow_problems()[2].message.startswith("syntax: not valid TOML")
    with pytest.raises(LoadError, match=r"weekly\.wfnb\.toml:3: syntax: not valid TOML"):
        ws.run("weekly_toml")
    with pytest.raises(LoadError, match=r"fields\.wfnb\.toml:4: steps\.a\.retries: .*; "
                                        r"workflows/fields\.wfnb\.toml:5: steps\.a\.timeout"):
        ws.run("fields")
    assert ws.run("good").status == "Completed"
    syntax.write_text(syntax.read_text().replace("[[steps]\n", '[[steps]]\ncall = "os:getcwd"\n'))
    assert names(ws) == ["good", "weekly_toml"]


def test_the_problems_are_listed_only_for_those_who_may_list_workflows(factory):
    factory.module("bad", SYNTAX_ERROR)
    (factory.root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n'
                                            '[roles]\nops = ["CANCEL_RUN"]\n'
                                            '[users]\notto = ["ops"]\n')
    with pytest.raises(wfnb.PermissionDenied):
        factory.open(user="otto").workflow_problems()


def test_the_cli_runs_the_good_workflow_and_lists_the_broken_files(factory):
    factory.module("good", GOOD)
    write(factory, "bad.py", SYNTAX_ERROR)
    factory.module("cyclic", CYCLE)
    root = factory.root
    ran = cli(root, "run", "good")
    assert ran.returncode == 0, ran.stderr
    assert "Completed" in ran.stdout
    refused = cli(root, "run", "cyclic")
    assert refused.returncode == 2
    assert "error: workflow 'cyclic': cannot be run: workflows/cyclic.py:6: workflow 'cyclic', " \
        "step 'a': the steps form a cycle: a -> b -> a" in refused.stderr

    listed = cli(root, "workflows")
    assert listed.returncode == 2  # as before, a broken file fails the command (CI checks)
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["NAME", "fine", "good"]
    assert "broken files (2;" in listed.stderr
    assert "  workflows/bad.py:3: cannot be imported: SyntaxError" in listed.stderr
    assert "  workflows/cyclic.py:6: workflow 'cyclic', step 'a': the steps form a cycle" \
        in listed.stderr

    as_json = cli(root, "workflows", "--json")
    assert as_json.returncode == 2
    assert [w["name"] for w in json.loads(as_json.stdout)] == ["fine", "good"]  # still a list
    problems = json.loads(as_json.stderr)["problems"]
    assert [(p["file"], p["line"], p["workflows"]) for p in problems] == [
        ("workflows/bad.py", 3, []), ("workflows/cyclic.py", 6, ["cyclic"])]


def test_the_cli_lists_a_clean_workspace_as_before(factory):
    factory.module("good", GOOD)
    listed = cli(factory.root, "workflows", "--json")
    assert listed.returncode == 0 and listed.stderr == ""
    assert [w["name"] for w in json.loads(listed.stdout)] == ["good"]
