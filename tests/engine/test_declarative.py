"""Workflows declared in *.wfnb.toml files: loading, every problem named with its line, and
saving edits as new versions (invalid edits never written)."""
from __future__ import annotations

import textwrap

import pytest

import wfnb
from wfnb.engine.model.declarative import load
from wfnb.engine.core.errors import EditConflict
from wfnb.engine.core.errors import DeclarationError

from ..helpers import DECLARED, LIB, TEAM_ROLES, poll

def test_a_declared_workflow_loads_runs_and_waits_for_its_approval(declared, factory):
    ws = factory.open(user="ana")
    wf = ws.workflow("weekly")
    assert [(s.name, s.kind, s.after) for s in wf.steps.values()] == [
        ("extract", "python", ()), ("count", "python", ("extract",)),
        ("ok", "approval", ("count",))]
    assert wf.steps["extract"].timeout == 300 and wf.steps["extract"].retries == 1
    assert wf.steps["extract"].description == "Rows of a region."  # the callable's docstring
    run = ws.start("weekly", region="south")
    poll(lambda: run.refresh().status == "Waiting for Approval", what="the approval step")
    assert run.task("count").result == 3
    ws.approve(run.id, comment="fine")
    assert run.wait(timeout=20).status == "Completed"
    assert run.version == wf.version


def test_every_problem_is_named_with_its_file_line_and_field(factory):
    factory.module("lib", LIB)
    path = factory.root / "workflows" / "bad.wfnb.toml"
    path.write_text(textwrap.dedent('''\
        [workflow]
        name = "bad"

        [[params]]
        name = "when"
        type = "date"
        default = "not a date"

        [[steps]]
        name = "a"
        call = "lib:nope"
        retires = 2

        [[steps]]
        name = "b"
        after = ["zzz"]
        timeout = "soon"
        code = """
        x = (
        """

        [[steps]]
        name = "c"
        approval = true
        on_timeout = "explode"
        '''))
    with pytest.raises(DeclarationError) as caught:
        load(path)
    problems = {(field, line) for field, line, _ in caught.value.problems}
    assert problems == {("params.when", 7), ("steps.a.retires", 12), ("steps.a.call", 11),
                        ("steps.b.timeout", 17), ("steps.b.code", 19),
                        ("steps.c.on_timeout", 25), ("steps.b.after", 16)}
    text = str(caught.value)
    assert f"{path}, line 11: steps.a.call: cannot import 'lib:nope'" in text
    assert "'zzz' is not a step of this workflow" in text
    # the workspace leaves the broken file out, and running it names the file and line
    ws = factory.open()
    assert ws.workflows() == []
    with pytest.raises(wfnb.LoadError, match=r"bad\.wfnb\.toml:7: params\.when"):
        ws.workflow("bad")


def test_a_toml_syntax_error_names_the_line(factory):
    path = factory.root / "workflows" / "syntax.wfnb.toml"
    path.write_text('[workflow]\nname = "x"\n[[steps]\nname = "a"\n')
    with pytest.raises(DeclarationError, match=r"syntax\.wfnb\.toml, line 3: syntax: not valid "
                                               "TOML"):
        load(path)


def test_a_step_needs_exactly_one_kind(factory):
    path = factory.root / "workflows" / "kinds.wfnb.toml"
    path.write_text('[[steps]]\nname = "a"\ncall = "os:getcwd"\ncode = "x = 1"\n'
                    '[[steps]]\nname = "b"\n')
    with pytest.raises(DeclarationError) as caught:
        load(path)
    assert [(f, line) for f, line, _ in caught.value.problems] == [("steps.a", 1), ("steps.b", 5)]
    assert "give exactly one of call, notebook, code, approval (found call, code)" \
        in str(caught.value)


def test_a_declared_float_param_takes_nan_only_with_allow_nan(factory):
    factory.module("look", "def look(loose, strict):\n    return [repr(loose), repr(strict)]\n")
    (factory.root / "workflows" / "ratios.wfnb.toml").write_text(textwrap.dedent('''\
        [workflow]
        name = "ratios"

        [[params]]
        name = "loose"
        type = "float"
        allow_nan = true
        default = nan

        [[params]]
        name = "strict"
        type = "float"
        default = 0.5

        [[steps]]
        name = "look"
        call = "look:look"
        '''))
    ws = factory.open()
    assert [p.allow_nan for p in ws.workflow("ratios").params] == [True, False]
    run = ws.run("ratios")
    assert run.status == "Completed", run.error
    assert run.result("look") == ["nan", "0.5"]
    with pytest.raises(wfnb.ParamError, match=r"strict: nan is not a number this parameter "
                                              r"accepts"):
        ws.run("ratios", strict="nan")
    # without allow_nan, a nan default is a problem of the file, named with its line and field
    path = factory.root / "workflows" / "strict.wfnb.toml"
    path.write_text('[workflow]\nname = "strict"\n[[params]]\nname = "x"\ntype = "float"\n'
                    'default = nan\n[[steps]]\nname = "a"\ncall = "look:look"\n')
    with pytest.raises(DeclarationError) as caught:
        load(path)
    assert [(f, line) for f, line, _ in caught.value.problems] == [("params.x", 6)]
    assert "default: nan is not a number this parameter accepts" in str(caught.value)


def test_a_saved_edit_is_a_new_version_with_comments_kept(declared, factory):
    ws = factory.open(user="root")
    before = ws.workflow("weekly")
    first = ws.start("weekly")
    poll(lambda: first.refresh().status == "Waiting for Approval", what="the first run")
    ws.approve(first.id)
    saved = ws.save_workflow("weekly", {
        "params": {"region": {"default": "south", "description": "Sales region"}},
        "steps": {"extract": {"retries": "3", "timeout": None},
                  "count": {"description": "how many rows"}}}, base_version=before.version)
    assert saved.version != before.version
    assert saved.params[0].default == "south" and saved.params[0].description == "Sales region"
    assert saved.steps["extract"].retries == 3 and saved.steps["extract"].timeout is None
    text = declared.read_text()
    assert "# comments survive saves" in text and 'default = "south"' in text
    assert "timeout" not in text.split("[[steps]]")[1]
    second = ws.start("weekly")
    poll(lambda: second.refresh().status == "Waiting for Approval", what="the second run")
    assert (first.version, second.version) == (before.version, saved.version)
    versions = ws.workflow_versions("weekly")
    assert [(v["version"], v["origin"], v["saved_by"]) for v in versions] == [
        (saved.version, "editor", "root"), (before.version, "file", None)]
    assert ws.workflow_source("weekly", before.version) == DECLARED  # what the first run ran
    assert ws.workflow_source("weekly", saved.version) == text


def test_an_invalid_edit_is_reported_and_never_written(declared, factory):
    ws = factory.open(user="root")
    version = ws.workflow("weekly").version
    cases = [
        ({"params": {"region": {"default": "west"}}}, "params.region", "not one of the choices"),
        ({"steps": {"extract": {"after": ["count"]}}}, "steps.extract.after", "cycle"),
        ({"steps": {"count": {"timeout": "soon"}}}, "steps.count.timeout", "not a duration"),
        ({"steps": {"count": {"call": "lib:missing"}}}, "steps.count.call", "cannot import"),
        ({"steps": {"nope": {"retries": 1}}}, "steps.nope", "no such step"),
        ({"steps": {"count": {"name": "renamed"}}}, "steps.count.name", "cannot be changed"),
    ]
    for changes, field, message in cases:
        with pytest.raises(DeclarationError) as caught:
            ws.save_workflow("weekly", changes)
        assert caught.value.problems[0][0] == field, changes
        assert message in caught.value.problems[0][2]
        assert declared.read_text() == DECLARED
    with pytest.raises(DeclarationError):
        ws.check_workflow("weekly", cases[0][0])
    assert ws.check_workflow("weekly", {"steps": {"count": {"retries": 2}}}).version != version
    assert ws.workflow("weekly").version == version and ws.workflow_versions("weekly") == []


def test_a_stale_editor_cannot_overwrite_a_newer_save(declared, factory):
    ws = factory.open(user="root")
    opened = ws.workflow("weekly").version
    ws.save_workflow("weekly", {"steps": {"count": {"retries": 1}}}, base_version=opened)
    now = declared.read_text()
    with pytest.raises(EditConflict, match="changed since it was opened"):
        ws.save_workflow("weekly", {"steps": {"count": {"retries": 2}}}, base_version=opened)
    assert declared.read_text() == now


def test_editing_needs_update_workflow_and_a_declared_workflow(declared, factory):
    (factory.root / "wfnb.toml").write_text(TEAM_ROLES)
    factory.module("plain", '''
        from wfnb import Workflow
        wf = Workflow("plain")
        @wf.step()
        def a():
            return 1
        ''')
    ana = factory.open(user="ana")
    assert not ana.editable("weekly")
    with pytest.raises(wfnb.PermissionDenied, match="UPDATE_WORKFLOW"):
        ana.save_workflow("weekly", {"steps": {"count": {"retries": 1}}})
    assert declared.read_text() == DECLARED
    root = factory.open(user="root")
    assert root.editable("weekly") and not root.editable("plain")
    with pytest.raises(wfnb.WfnbError, match=r"'plain' is defined in Python \(.*plain\.py\)"):
        root.save_workflow("plain", {"steps": {"a": {"retries": 1}}})


def test_a_changed_helper_module_is_picked_up(declared, factory):
    ws = factory.open(user="root")
    run = ws.start("weekly")
    poll(lambda: run.refresh().status == "Waiting for Approval", what="the run")
    assert run.task("count").result == 3
    ws.cancel(run.id)
    factory.module("lib", LIB.replace("return len(extract)", "return len(extract) * 10")
                   + "\n# changed\n")
    run = ws.start("weekly")
    poll(lambda: run.refresh().status == "Waiting for Approval", what="the second run")
    assert run.task("count").result == 30


@pytest.mark.slow
def test_cell_and_notebook_steps_declared_in_a_file(examples, monkeypatch):
    monkeypatch.setenv("WFNB_USER", "tester")
    ws = wfnb.open(examples)
    run = ws.start("weekly_report", region="US", weeks=3)
    poll(lambda: run.refresh().status == "Waiting for Approval", timeout=60,
         what="the weekly report to reach its sign-off")
    chart = run.task("chart")
    assert chart.result == {"weeks_charted": 3, "total": 900 * 3 + 37 * 3}
    assert "week  1 #########" in chart.log
    assert chart.notebook and (examples / chart.notebook).is_file()
    ws.reject(run.id, comment="numbers look off")
    assert run.wait(timeout=20).status == "Rejected"


@pytest.mark.slow
def test_a_declared_notebook_step_gets_params_upstream_results_and_its_parameters(examples):
    (examples / "workflows" / "nb_report.wfnb.toml").write_text(textwrap.dedent('''\
        [[params]]
        name = "region"
        default = "US"

        [[steps]]
        name = "rows"
        call = "regional_sales:extract"

        [[steps]]
        name = "report"
        notebook = "../notebooks/report.ipynb"
        after = ["rows"]
        parameters = { factor = 3.0, rows = 7 }
        timeout = "2m"
        '''))
    ws = wfnb.open(examples, user="tester")
    assert ws.workflow("nb_report").steps["report"].kind == "notebook"
    run = ws.run("nb_report")
    assert run.status == "Completed", run.error
    assert run.result("report") == {"total": 21, "region": "US"}  # parameters win over rows
    assert (examples / run.task("report").notebook).is_file()


def test_every_saved_edit_is_a_new_kept_version_even_of_a_title(declared, factory):
    ws = factory.open(user="root")
    before = ws.workflow("weekly").version
    saved = ws.save_workflow("weekly", {"workflow": {"title": "Weekly, renamed"},
                                        "steps": {"count": {"description": "rows"}}})
    assert saved.version != before and saved.title == "Weekly, renamed"
    assert [v["version"] for v in ws.workflow_versions("weekly")] == [saved.version, before]
    assert 'title = "Weekly, renamed"' in ws.workflow_source("weekly", saved.version)


def test_edited_code_keeps_its_lines_so_problems_name_the_right_one(factory):
    path = factory.root / "workflows" / "cells.wfnb.toml"
    path.write_text('[[steps]]\nname = "a"\ncode = "x = 1"\n')
    ws = factory.open(user="root")
    ws.save_workflow("cells", {"steps": {"a": {"code": "x = 1\ny = x + 1\n"}}})
    assert 'code = """x = 1\ny = x + 1\n"""' in path.read_text()  # lines stay lines
    with pytest.raises(DeclarationError) as caught:
        ws.save_workflow("cells", {"steps": {"a": {"code": "x = 1\ny = (\n"}}})
    field, line, message = caught.value.problems[0]
    assert (field, line) == ("steps.a.code", 4) and "never closed" in message  # y = ( is line 4


def test_a_changed_helper_of_a_called_module_is_picked_up(factory):
    factory.module("shop", "import shop_helpers\n\ndef extract():\n"
                           "    return shop_helpers.clean()\n")
    factory.module("shop_helpers", "def clean():\n    return 'old'\n")
    (factory.root / "workflows" / "shop.wfnb.toml").write_text(
        '[[steps]]\nname = "extract"\ncall = "shop:extract"\n')
    ws = factory.open(user="root")
    assert ws.run("shop").result("extract") == "old"
    factory.module("shop_helpers", "def clean():\n    return 'new'\n\n# changed\n")
    assert ws.run("shop").result("extract") == "new"


@pytest.mark.slow
def test_two_processes_saving_the_same_version_at_once_never_both_win(declared, factory):
    """Both check the version they started from, then wait for the history (held by a third
    process): only one may replace the file, the other must get EditConflict."""
    import subprocess
    import sys
    ws = factory.open(user="root")
    base, history = ws.workflow("weekly").version, str(ws.store.path)
    ws.store.release()
    go = factory.root / "go"
    script = textwrap.dedent(f'''
        import os, sys, time, wfnb
        from wfnb.engine.services.edits import EditConflict
        ws = wfnb.open({str(factory.root)!r}, user="root")
        ws.store.release()
        open({str(factory.root)!r} + "/ready-" + sys.argv[1], "w").close()
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
        try:
            ws.save_workflow("weekly", {{"steps": {{"count": {{"retries": int(sys.argv[1])}}}}}},
                             base_version={base!r})
            print("saved")
        except EditConflict:
            print("conflict")
    ''')
    savers = [subprocess.Popen([sys.executable, "-c", script, str(n)], stdout=subprocess.PIPE,
                               text=True) for n in (3, 4)]
    poll(lambda: all((factory.root / f"ready-{n}").exists() for n in (3, 4)), timeout=60,
         what="both savers to open the workspace")
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               f"c = duckdb.connect({history!r}); print('held', flush=True); "
                               "time.sleep(1.5)"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    go.write_text("go")
    outcomes = [p.communicate(timeout=60)[0].strip() for p in savers]
    holder.wait(30)
    assert sorted(outcomes) == ["conflict", "saved"], outcomes
    winner = 3 if outcomes[0] == "saved" else 4
    assert f"retries = {winner}" in declared.read_text()


def test_reuse_approvals_is_a_workflow_key_that_must_be_true_or_false(factory):
    path = factory.root / "workflows" / "gate.wfnb.toml"
    path.write_text('[workflow]\nname = "gate"\nreuse_approvals = true\n'
                    '[[steps]]\nname = "ok"\napproval = true\n')
    assert load(path).reuse_approvals is True
    path.write_text('[workflow]\nname = "gate"\nreuse_approvals = "yes"\n'
                    '[[steps]]\nname = "ok"\napproval = true\n')
    with pytest.raises(DeclarationError, match="must be true or false, not 'yes'") as caught:
        load(path)
    assert [(f, line) for f, line, _ in caught.value.problems] == [
        ("workflow.reuse_approvals", 3)]
