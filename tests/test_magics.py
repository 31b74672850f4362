"""The IPython magics in a real kernel (nbclient): ``%%wfsql`` binds variables as parameters
and refuses writes in one line; ``%wfnb run | runs | show`` show the views, with the API's
permissions and errors, each one line."""
from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import TEAM_ROLES

pytestmark = pytest.mark.slow

CHAIN = """
    from wfnb import Param, Workflow
    wf = Workflow("chain", params=[Param("n", type="int", default=2)])

    @wf.step()
    def extract(n):
        return list(range(n))
"""
WIDGET = "application/vnd.jupyter.widget-view+json"


def execute(root, monkeypatch, *sources: str, user: str = "ana") -> list[list[dict]]:
    """Run ``sources`` as the cells of a notebook in a fresh kernel on the workspace
    ``root``; the outputs of each cell."""
    monkeypatch.setenv("WFNB_WORKSPACE", str(root))
    monkeypatch.setenv("WFNB_USER", user)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(root)}}).execute()
    return [cell.outputs for cell in nb.cells]


def text(outputs: list[dict]) -> str:
    out = []
    for o in outputs:
        if o["output_type"] == "stream":
            out.append(o["text"])
        elif o["output_type"] == "error":
            out.append(f"{o['ename']}: {o['evalue']}\n" + "\n".join(o["traceback"]))
        else:
            out.append(o.get("data", {}).get("text/plain", ""))
    return "".join(out)


def is_one_line_error(outputs: list[dict], needle: str) -> bool:
    """IPython prints a UsageError as one line on stderr, with no traceback."""
    said = [o["text"] for o in outputs if o["output_type"] == "stream"
            and o["name"] == "stderr"]
    return (len(outputs) == 1 and len(said) == 1 and said[0].startswith("UsageError: ")
            and needle in said[0] and said[0].count("\n") == 1)


@pytest.fixture
def root(factory):
    factory.module("chain", CHAIN)
    ws = factory.open(user="ana")
    for n in (1, 2, 3):
        ws.run("chain", n=n)
    return factory.root


def test_wfsql_binds_variables_as_parameters_and_refuses_writes(root, monkeypatch):
    outs = execute(
        root, monkeypatch,
        "import wfnb\nwf = 'chain'\nlimit = 2\nsneaky = \"chain'; DELETE FROM runs; --\"",
        "%%wfsql -o recent\nSELECT workflow, params->>'n' AS n FROM runs\n"
        "WHERE workflow = $wf ORDER BY created_at DESC LIMIT :limit",
        "len(recent), list(recent['n'])",
        "%%wfsql\nSELECT count(*) AS n FROM runs WHERE workflow = :sneaky -- not :limit\n",
        "%%wfsql\nSELECT 'keep $wf and :limit' AS text, 2::INTEGER AS cast",
        "%%wfsql\nDELETE FROM runs",
        "%%wfsql\nSELECT * FROM runs WHERE workflow = $nope",
        "%%wfsql\nSELECT count(*) AS n FROM runs")
    assert "chain" in text(outs[1]) and text(outs[2]) == "(2, ['3', '2'])"
    assert text(outs[3]).split()[-1] == "0"  # the quote was a value, not SQL
    assert "keep $wf and :limit" in text(outs[4])
    assert is_one_line_error(outs[5], "DELETE"), outs[5]
    assert is_one_line_error(outs[6], "$nope is not a variable"), outs[6]
    assert text(outs[7]).split()[-1] == "3"  # nothing was deleted


def test_wfnb_run_runs_and_show_show_the_views_with_one_line_errors(root, monkeypatch):
    outs = execute(
        root, monkeypatch,
        "%load_ext wfnb",
        "dialog = %wfnb run chain -p n=4\ndialog",
        "import time, wfnb\nws = wfnb.open()\nrun = dialog.view._run\n"
        "run.wait(60).status, run.result('extract')",
        "%wfnb run chain -p n=many",
        "%wfnb run nope",
        "%wfnb runs --workflow chain",
        "%wfnb show {run.id}",
        "%wfnb show 20000101-000000-000-000000",
        "%wfnb explode")
    assert WIDGET in outs[1][0]["data"]
    assert text(outs[2]) == "('Completed', [0, 1, 2, 3])"
    assert is_one_line_error(outs[3], "n:"), outs[3]
    assert is_one_line_error(outs[4], "nope"), outs[4]
    assert WIDGET in outs[5][0]["data"] and WIDGET in outs[6][0]["data"]
    assert is_one_line_error(outs[7], "no run"), outs[7]
    assert is_one_line_error(outs[8], "invalid choice"), outs[8]


def test_the_magics_have_the_api_s_permissions(root, monkeypatch):
    (root / "wfnb.toml").write_text(TEAM_ROLES)
    outs = execute(root, monkeypatch, "import wfnb", "%wfnb run chain",
                   "%%wfsql\nSELECT count(*) FROM runs", "%wfnb runs", user="lea")
    assert is_one_line_error(outs[1], "RUN_WORKFLOW"), outs[1]  # lea: a lead, no RUN_WORKFLOW
    assert text(outs[2]).split()[-1] == "3" and WIDGET in outs[3][0]["data"]  # VIEW_RUNS she has
    outs = execute(root, monkeypatch, "import wfnb", "%%wfsql\nSELECT count(*) FROM runs",
                   "%wfnb runs", user="nobody")
    assert is_one_line_error(outs[1], "VIEW_RUNS"), outs[1]
    assert is_one_line_error(outs[2], "VIEW_RUNS"), outs[2]
