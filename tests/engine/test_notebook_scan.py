"""Finding notebook workflows without nbformat or papermill: the plain JSON reading and the
parameter inspection give what nbformat and papermill give, and a fresh process lists a
workspace's workflows without importing them."""
import json
import subprocess
import sys
import textwrap

import nbformat
import pytest
from papermill.inspection import _infer_parameters
from papermill.translators import PythonTranslator

import wfnb
from wfnb.engine.model import notebook_files
from wfnb.engine.model.notebook_workflows import notebook_workflow
from tests.helpers import cli_env

PARAMETER_CELLS = [
    "x = 1",
    "x = 1  # the x\ny: int = 2 # type: int the y\n",
    "# a comment\n\nname = 'abc'   # who\nday = '2024-01-31'\n",
    "values = [\n    1,  # one\n    2,\n]  # the values\nother = {'a': 1}\n",
    "a = b = 1\nc = 3\n",
    "d: 'str' = 'x'\ne = None\nf = some_call(1)  # computed\n",
    "g = 'a=b'\nh = 1.5e3\n",
    "   indented = 1\nbad line without assignment\nk=2#tight\n",
    "",
    "# only comments\n",
    "when = '2024-01-31T10:00:00Z'  # a time\nflag = True\nratio = -0.5",
    "t = (1,\n     2)\nu = 'x' # type: str\n",
]


@pytest.mark.parametrize("source", PARAMETER_CELLS)
def test_python_parameters_are_inspected_as_papermill_does(source):
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})
    expected = [(p.name, p.default, p.help) for p in PythonTranslator.inspect(cell)]
    assert notebook_files._python_parameters(source) == expected


def write(path, cells, metadata=None, split=False, minor=5):
    """A notebook file written by hand: sources as one string or as a list of lines."""
    def src(text):
        return text.splitlines(keepends=True) if split else text
    doc = {"nbformat": 4, "nbformat_minor": minor,
           "metadata": metadata if metadata is not None else {
               "kernelspec": {"name": "python3", "display_name": "Python 3",
                              "language": "python"},
               "language_info": {"name": "python"}},
           "cells": [{"cell_type": kind, "metadata": {"tags": tags} if tags is not None else {},
                      "source": src(text), **({"outputs": [], "execution_count": None}
                                              if kind == "code" else {}),
                      "id": f"c{i}"}
                     for i, (kind, text, tags) in enumerate(cells)]}
    path.write_text(json.dumps(doc))
    return path


CELLS = [("markdown", "# Monthly report\nSome text", None),
         ("code", "region = 'EU'  # where\nmonths = [\n  1,\n  2]\n", ["parameters"]),
         ("code", "import os", None),
         ("code", "x = region\nprint(x)", ["step:load"]),
         ("code", "y = 1", ["step:total", "after:load"])]


@pytest.mark.parametrize("split", [False, True])
def test_scan_reads_what_nbformat_reads(tmp_path, split):
    path = write(tmp_path / "report.ipynb", CELLS, split=split)
    plain, full = notebook_files.scan(path), notebook_files.read(path)
    assert isinstance(plain, notebook_files.Node)  # no nbformat on this path
    assert plain.metadata == full.metadata
    assert [(c.cell_type, c.source, c.metadata.tags) for c in plain.cells] == \
        [(c.cell_type, c.source, c.metadata.tags) for c in full.cells]
    assert [(p.name, p.type, p.default, p.description) for p in notebook_files.parameters_of(plain)] \
        == [(p.name, p.type, p.default, p.description) for p in notebook_files.parameters_of(full)]
    found = [(p.name, p.default, p.help) for p in _infer_parameters(full)]
    assert notebook_files._declared(plain) == found
    assert [n for n, _, _ in found] == ["region", "months"]
    wf = notebook_workflow(path)
    assert (wf.name, wf.title, list(wf.steps), wf.steps["total"].after) == \
        ("report", "Monthly report", ["load", "total"], ("load",))


def test_notebooks_scan_cannot_take_go_to_nbformat_and_fail_alike(tmp_path):
    junk = tmp_path / "junk.ipynb"
    junk.write_text("{not json")
    for fn in (notebook_files.scan, notebook_files.read):
        with pytest.raises(wfnb.WorkflowError, match=r"junk.ipynb is not a valid notebook: "
                                                     r"Notebook does not appear to be JSON"):
            fn(junk, "junk")
    with pytest.raises(wfnb.WorkflowError, match=r"notebook .*gone.ipynb does not exist"):
        notebook_files.scan(tmp_path / "gone.ipynb", "gone")
    # an nbformat 3 notebook: nbformat converts it, scan hands it over
    v3 = tmp_path / "old.ipynb"
    v3.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {
        "name": "old", "kernelspec": {"name": "python3", "language": "python"}},
        "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1",
                                   "metadata": {"tags": ["parameters"]}, "outputs": [],
                                   "language": "python"}]}]}))
    old = notebook_files.scan(v3)
    assert not isinstance(old, notebook_files.Node)
    assert [p.name for p in notebook_files.parameters_of(old)] == ["x"]
    # a cell without tags, and one whose tags are not a list: nbformat's reading
    odd = write(tmp_path / "odd.ipynb", [("code", "x = 1", None)])
    assert notebook_files.scan(odd).cells[0].metadata.tags == []
    doc = json.loads(odd.read_text())
    doc["cells"][0]["metadata"]["tags"] = "parameters"
    odd.write_text(json.dumps(doc))
    assert not isinstance(notebook_files.scan(odd), notebook_files.Node)


def test_parameters_need_a_kernel_name_and_language_as_with_papermill(tmp_path):
    cells = [("code", "x = 1", ["parameters"])]
    nameless = write(tmp_path / "a.ipynb", cells, metadata={})
    with pytest.raises(ValueError, match="No kernel name found in notebook"):
        notebook_files.parameters_of(notebook_files.scan(nameless))
    with pytest.raises(ValueError, match="No kernel name found in notebook"):
        _infer_parameters(notebook_files.read(nameless))
    mute = write(tmp_path / "b.ipynb", cells, metadata={"kernelspec": {"name": "python3"}})
    with pytest.raises(ValueError, match="No language found in notebook"):
        notebook_files.parameters_of(notebook_files.scan(mute))
    # no parameters cell: no kernel needed
    assert notebook_files.parameters_of(notebook_files.scan(
        write(tmp_path / "c.ipynb", [("code", "x = 1", [])], metadata={}))) == []
    # another language goes to papermill (which inspects only Python)
    r = write(tmp_path / "r.ipynb", cells, metadata={
        "kernelspec": {"name": "ir", "language": "R"}, "language_info": {"name": "R"}})
    assert notebook_files.parameters_of(notebook_files.scan(r)) == []


def test_a_fresh_process_lists_notebook_workflows_without_nbformat_or_papermill(examples):
    code = textwrap.dedent(f"""
        import json, sys, wfnb
        ws = wfnb.open({str(examples)!r})
        names = sorted(w.name for w in ws.workflows())
        ws.search_runs(limit=25)
        heavy = sorted(m for m in ("nbformat", "papermill", "jsonschema", "jupyter_client",
                                   "nbclient") if m in sys.modules)
        print(json.dumps([names, heavy, [str(p) for p in ws.workflow_problems()]]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=cli_env(WFNB_USER="tester"), timeout=120)
    assert out.returncode == 0, out.stderr
    names, heavy, problems = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"sales_cells", "mixed_report"} <= set(names)  # notebooks among them
    assert heavy == [] and problems == []
