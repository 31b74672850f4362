"""Resuming a run from its failure, or rerunning it from a step: what is reused (and shown
as reused), what runs again, and every refusal, with nothing started."""
from __future__ import annotations

import pytest

import wfnb
from tests.helpers import poll

CHAIN = """
    import time
    from pathlib import Path
    from wfnb import Param, Workflow

    wf = Workflow("chain", params=[Param("n", type="int", default=2),
                                   Param("label", type="str", default="x")])
    HERE = Path(__file__).parent

    def count(name):  # how many times each step really ran, across runs
        path = HERE / f"ran-{name}"
        path.write_text(str(int(path.read_text()) + 1 if path.exists() else 1))

    @wf.step()
    def extract(n):
        count("extract")
        return list(range(n))

    @wf.step(after=["extract"])
    def transform(extract):
        count("transform")
        return [x * 10 for x in extract]

    @wf.step(after=["transform"])
    def load(transform, label):
        count("load")
        while (HERE / "hold").exists():  # a test holds the step here
            time.sleep(0.01)
        if (HERE / "broken").exists():
            raise RuntimeError("the warehouse is down")
        return {"label": label, "total": sum(transform)}
"""


def ran(factory, name: str) -> int:
    path = factory.root / "workflows" / f"ran-{name}"
    return int(path.read_text()) if path.exists() else 0


@pytest.fixture
def chain(factory):
    factory.module("chain", CHAIN)
    (factory.root / "workflows" / "broken").touch()
    ws = factory.open(user="ana")
    failed = ws.run("chain", n=3)
    assert failed.status == "Failed"
    (factory.root / "workflows" / "broken").unlink()
    return ws, failed


def test_resume_from_failure_reuses_completed_steps_and_runs_the_failed_one(chain, factory):
    ws, failed = chain
    assert (ran(factory, "extract"), ran(factory, "transform"), ran(factory, "load")) == (1, 1, 1)
    run = ws.rerun(failed.id, from_failure=True).wait(60)
    assert run.status == "Completed"
    assert run.result("load") == {"label": "x", "total": 30}
    # extract and transform did not run again: load ran once more
    assert (ran(factory, "extract"), ran(factory, "transform"), ran(factory, "load")) == (1, 1, 2)
    tasks = {t.step: t for t in run.task_records()}
    parent = {t.step: t for t in failed.task_records()}
    assert tasks["extract"].reused_from == parent["extract"].id
    assert tasks["transform"].reused_from == parent["transform"].id
    assert tasks["load"].reused_from is None and tasks["load"].status == "Completed"
    assert run.result("transform") == [0, 10, 20]
    record = run.record
    assert (record.parent_id, record.trigger, record.rerun_mode) == (failed.id, "rerun",
                                                                     "from_failure")
    # SQL sees it too
    rows = ws.sql("SELECT step, reused_from FROM tasks WHERE run_id = ? AND step <> 'Start' "
                  "ORDER BY seq", [run.id])
    assert list(rows["step"]) == ["extract", "transform", "load"]
    assert rows["reused_from"].notna().tolist() == [True, True, False]


def test_the_reused_tasks_are_in_the_history_while_the_first_step_works(chain, factory):
    ws, failed = chain
    hold = factory.root / "workflows" / "hold"
    hold.touch()
    ws.store.flush_interval = 3600  # nothing but the resume itself writes them before the end
    try:
        run = ws.rerun(failed.id, from_failure=True)
        poll(lambda: ws.sql("SELECT count(*) AS n FROM tasks WHERE run_id = ? AND reused_from "
                            "IS NOT NULL", [run.id])["n"][0] == 2, timeout=20,
             what="the reused tasks in the history")
        assert run.status == "Running" and run.task("load").status == "Running"
    finally:
        hold.unlink()
    assert run.wait(60).status == "Completed"


def test_rerun_from_a_step_reuses_only_what_is_upstream_of_it(chain, factory):
    ws, failed = chain
    run = ws.rerun(failed.id, from_step="transform").wait(60)
    assert run.status == "Completed"
    assert (ran(factory, "extract"), ran(factory, "transform"), ran(factory, "load")) == (1, 2, 2)
    assert run.record.rerun_mode == "from_step" and run.record.rerun_from == "transform"
    tasks = {t.step: t for t in run.task_records()}
    assert tasks["extract"].reused_from and not tasks["transform"].reused_from


def test_a_plain_rerun_runs_everything_and_says_so(chain, factory):
    ws, failed = chain
    run = ws.rerun(failed.id).wait(60)
    assert run.status == "Completed" and run.record.rerun_mode == "all"
    assert (ran(factory, "extract"), ran(factory, "transform"), ran(factory, "load")) == (2, 2, 2)
    assert not any(t.reused_from for t in run.task_records())


def test_an_override_of_a_param_a_reused_step_read_is_refused_unless_forced(chain, factory):
    ws, failed = chain
    before = len(ws.runs())
    with pytest.raises(wfnb.WfnbError, match=r"extract read n.*force=True"):
        ws.rerun(failed.id, from_failure=True, n=5)
    assert len(ws.runs()) == before  # nothing started
    # a param only the rerun step reads may change
    run = ws.rerun(failed.id, from_failure=True, label="y").wait(60)
    assert run.result("load") == {"label": "y", "total": 30}
    # forced: the steps that read it run again, and what follows them
    forced = ws.rerun(failed.id, from_failure=True, force=True, n=5).wait(60)
    assert forced.status == "Completed" and forced.result("load")["total"] == 100
    assert not any(t.reused_from for t in forced.task_records())


def test_a_step_changed_since_the_parent_ran_is_named_and_refused(chain, factory):
    ws, failed = chain
    factory.module("chain", CHAIN.replace("x * 10", "x * 100"))
    ws = factory.open(user="ana")
    with pytest.raises(wfnb.WfnbError, match=r"steps changed since run .*: transform;"):
        ws.rerun(failed.id, from_failure=True)
    # from before the changed step: allowed
    run = ws.rerun(failed.id, from_step="transform").wait(60)
    assert run.status == "Completed" and run.result("load")["total"] == 300


# a step returning an object that is not JSON (pickled), then one using it
BOXES = """
    from pathlib import Path
    from wfnb import Workflow
    wf = Workflow("{name}")

    class Box:
        def __init__(self, v):
            self.v = v

    @wf.step()
    def make():
        return Box(7)

    @wf.step(after=["make"])
    def {then}(make):{check}
        return make.v
"""
BROKEN_CHECK = """
        if (Path(__file__).parent / "broken").exists():
            raise RuntimeError("not yet")"""


@pytest.fixture
def boxes(factory):
    """A run of ``objs`` whose ``use`` step failed, after ``make`` pickled its Box."""
    factory.module("objs", BOXES.format(name="objs", then="use", check=BROKEN_CHECK))
    (factory.root / "workflows" / "broken").touch()
    ws = factory.open(user="ana")
    failed = ws.run("objs")
    (factory.root / "workflows" / "broken").unlink()
    return ws, failed


def test_a_missing_artifact_is_named_and_refused(boxes, factory):
    ws, failed = boxes
    ref = failed.task("make").result_ref
    assert ref and (factory.root / ref).is_file()
    assert ws.rerun(failed.id, from_failure=True).wait(60).result("use") == 7
    (factory.root / ref).unlink()
    with pytest.raises(wfnb.WfnbError, match=rf"'make'.*pickled to {ref}, which is missing"):
        ws.rerun(failed.id, from_failure=True)


def test_a_reused_result_that_cannot_be_loaded_ends_the_step_that_reads_it_in_error(
        boxes, factory):
    ws, failed = boxes
    ref = failed.task("make").result_ref
    (factory.root / ref).write_bytes(b"not a pickle")  # there, so the plan takes it
    run = ws.rerun(failed.id, from_failure=True).wait(60)
    use = run.task("use")
    assert (run.status, use.status) == ("Error", "Error")  # not the step's own failure
    assert f"the result of step 'make' (task {failed.task('make').id}, {ref}) could not be " \
           "loaded: UnpicklingError" in use.error
    assert run.task("make").reused_from == failed.task("make").id  # make did not run again


LOGGED_BOXES = """
    from pathlib import Path
    from wfnb import Workflow
    HERE = Path(__file__).parent
    wf = Workflow("boxes")

    class Box:  # pickled; says when it is unpickled
        def __init__(self, name):
            self.name = name

        def __setstate__(self, state):
            self.__dict__.update(state)
            with open(HERE / "unpickled", "a") as log:
                log.write(self.name + "\\n")

    @wf.step()
    def a():
        return Box("a")

    @wf.step(after=["a"])
    def b(a):
        return Box("b")

    @wf.step(after=["b"])
    def c(b):
        if (HERE / "broken").exists():
            raise RuntimeError("not yet")
        return b.name
"""


def test_a_resume_unpickles_only_the_reused_results_a_step_reads(factory):
    factory.module("boxes", LOGGED_BOXES)
    (factory.root / "workflows" / "broken").touch()
    ws = factory.open(user="ana")
    failed = ws.run("boxes")
    assert failed.status == "Failed"
    (factory.root / "workflows" / "broken").unlink()
    log = factory.root / "workflows" / "unpickled"
    run = ws.rerun(failed.id, from_failure=True).wait(60)
    assert run.status == "Completed" and run.result("c") == "b"
    assert log.read_text().split() == ["b"]  # c reads b; nothing reads a: left on disk
    assert run.result("a").name == "a"  # still there when asked for
    assert log.read_text().split() == ["b", "a"]


def test_refusals_for_a_run_that_cannot_be_resumed(chain, factory):
    ws, failed = chain
    ok = ws.rerun(failed.id).wait(60)
    with pytest.raises(wfnb.WfnbError, match="completed: nothing failed to resume from"):
        ws.rerun(ok.id, from_failure=True)
    with pytest.raises(wfnb.NotFound, match=r"no step 'nope' \(its steps: extract, transform"):
        ws.rerun(failed.id, from_step="nope")
    with pytest.raises(wfnb.WfnbError, match="one of from_failure and from_step"):
        ws.rerun(failed.id, from_failure=True, from_step="load")


APPROVAL = """
    from wfnb import Workflow
    from pathlib import Path
    wf = Workflow("gate", reuse_approvals={reuse})

    @wf.step()
    def prepare():
        return 1

    wf.approval("sign_off", after=["prepare"])

    @wf.step(after=["sign_off"])
    def ship(prepare):
        if (Path(__file__).parent / "broken").exists():
            raise RuntimeError("ship failed")
        return prepare + 1
"""


@pytest.mark.parametrize("reuse", [False, True])
def test_a_decided_approval_is_asked_again_unless_the_workflow_reuses_approvals(
        factory, reuse):
    factory.module("gate", APPROVAL.format(reuse=reuse))
    (factory.root / "workflows" / "broken").touch()
    ws = factory.open(user="ana")
    first = ws.start("gate")
    poll(lambda: first.status == "Waiting for Approval", timeout=60)
    ws.approve(first.id, comment="go")
    assert first.wait(60).status == "Failed"
    (factory.root / "workflows" / "broken").unlink()
    again = ws.rerun(first.id, from_failure=True)
    tasks = lambda: {t.step: t for t in again.refresh().task_records()}  # noqa: E731
    if reuse:
        assert again.wait(60).status == "Completed" and again.result("ship") == 2
        assert tasks()["sign_off"].reused_from is not None
    else:
        poll(lambda: again.status == "Waiting for Approval", timeout=60)
        assert tasks()["prepare"].reused_from is not None
        assert tasks()["sign_off"].reused_from is None
        ws.approve(again.id)
        assert again.wait(60).status == "Completed"


def test_wfnb_rerun_from_failure_from_a_step_and_its_refusals(chain, factory, capsys):
    import json
    from wfnb.cli import main
    ws, failed = chain
    where = ["--workspace", str(factory.root)]
    code = main(["rerun", failed.id, "--from-failure", "--json", *where])
    run = json.loads(capsys.readouterr().out)
    assert code == 0 and run["status"] == "Completed" and run["parent_id"] == failed.id
    assert run["rerun_mode"] == "from_failure"
    assert (ran(factory, "extract"), ran(factory, "transform"), ran(factory, "load")) == (1, 1, 2)
    # a refusal: one line, exit 2, nothing started
    before = len(ws.runs())
    code = main(["rerun", failed.id, "--from-failure", "-p", "n=4", *where])
    out, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: ") and "--force" in err
    assert len(err.strip().splitlines()) == 1 and len(ws.runs()) == before
    code = main(["rerun", failed.id, "--from-failure", "-p", "n=4", "--force", "--json", *where])
    assert code == 0 and json.loads(capsys.readouterr().out)["status"] == "Completed"
    # in the background: the child process plans the same rerun
    code = main(["rerun", failed.id, "--from-step", "load", "--no-wait", "--json", *where])
    started = json.loads(capsys.readouterr().out)
    assert code == 0
    child = ws.get_run(started["id"]).wait(60)
    assert child.status == "Completed" and child.record.rerun_from == "load"
    assert {t.step for t in child.task_records() if t.reused_from} == {"extract", "transform"}


def test_wfnb_show_says_which_tasks_were_reused(chain, factory, capsys):
    from wfnb.cli import main
    ws, failed = chain
    run = ws.rerun(failed.id, from_failure=True).wait(60)
    assert main(["show", run.id, "--workspace", str(factory.root)]) == 0
    out = capsys.readouterr().out
    assert "rerun_mode:  from_failure" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "Completed (reused)" in lines["extract"] and "Completed (reused)" in lines["transform"]
    assert "reused" not in lines["load"]


@pytest.mark.slow
def test_a_reused_notebook_step_keeps_its_outputs_and_executed_notebook(examples):
    import textwrap
    flag = examples / "workflows" / "broken"
    (examples / "workflows" / "nb_publish.wfnb.toml").write_text(textwrap.dedent(f'''\
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
        parameters = {{ factor = 3.0, rows = 7 }}

        [[steps]]
        name = "publish"
        code = "import os\\nassert not os.path.exists({str(flag)!r}), 'the portal is down'"
        after = ["report"]
        '''))
    flag.touch()
    ws = wfnb.open(examples, user="tester")
    failed = ws.run("nb_publish")
    assert failed.status == "Failed" and "portal is down" in failed.error
    flag.unlink()
    run = ws.rerun(failed.id, from_failure=True).wait(120)
    assert run.status == "Completed", run.error
    report, parent = run.task("report"), failed.task("report")
    assert report.reused_from == parent.id
    assert run.result("report") == {"total": 21, "region": "US"}  # its wfnb.output values
    assert report.notebook == parent.notebook and (examples / report.notebook).is_file()
    assert run.task("publish").reused_from is None and run.task("publish").notebook
    # the artifacts: the reused report's notebook is the parent's, opened as a notebook
    arts = {(a.step, a.kind): a for a in ws.artifacts(run.id)}
    assert arts[("report", "notebook")].reused and arts[("report", "notebook")].size > 0
    assert not arts[("publish", "notebook")].reused
    nb = ws.artifact(run.id, "report")
    assert nb.nbformat == 4 and any(c.cell_type == "code" for c in nb.cells)
    # the report notebook was not executed again: nothing of it under the new run's folder
    folder = lambda r: examples / ".wfnb" / "artifacts" / r.id  # noqa: E731
    assert list(folder(failed).glob("report*")) and list(folder(run).glob("publish*"))
    assert not list(folder(run).glob("report*"))


def test_compare_a_resumed_run_with_its_parent(chain, factory, capsys):
    import json
    from wfnb.cli import main
    ws, failed = chain
    run = ws.rerun(failed.id, from_failure=True, label="y").wait(60)
    diff = ws.compare(failed.id, run.id)
    assert diff.params == [{"name": "label", "a": "x", "b": "y"}]
    steps = {s["step"]: s for s in diff.steps}
    assert steps["extract"]["a"]["status"] == "Completed" and steps["extract"]["b"]["reused"]
    assert steps["extract"]["result"] == "same"
    assert steps["load"]["a"]["status"] == "Failed" and steps["load"]["b"]["status"] == "Completed"
    # a result that differs, as a structured diff
    other = ws.rerun(run.id, from_step="load", label="z").wait(60)
    diff = ws.compare(run.id, other.id)
    assert diff.results["load"]["changes"] == [
        {"path": "$.label", "change": "changed", "a": "y", "b": "z"}]
    assert main(["diff", run.id, other.id, "--workspace", str(factory.root)]) == 0
    out = capsys.readouterr().out
    assert 'label: "y" -> "z"' in out and 'changed  $.label: "y" -> "z"' in out
    assert main(["diff", run.id, other.id, "--json", "--workspace", str(factory.root)]) == 0
    assert json.loads(capsys.readouterr().out)["params"][0]["name"] == "label"


def test_large_results_are_summarised_in_a_comparison(chain, factory):
    ws, failed = chain
    a = ws.rerun(failed.id, n=400).wait(60)   # transform returns 400 numbers
    b = ws.rerun(failed.id, n=500).wait(60)
    diff = ws.compare(a.id, b.id)
    changes = diff.results["transform"]
    assert len(changes["changes"]) == 20 and changes["more"] == 80  # 100 added items, capped
    text = diff.text()
    assert "... and 80 more changes" in text and len(text) < 6000
    # a whole large value is described, not dumped
    from wfnb.engine.services.compare import summary
    assert summary(list(range(1000))).startswith("<list of 1000 items")


def test_compare_needs_view_details_and_known_runs(chain, factory):
    from tests.helpers import TEAM_ROLES
    ws, failed = chain
    with pytest.raises(wfnb.NotFound):
        ws.compare(failed.id, "20000101-000000-000-000000")
    (factory.root / "wfnb.toml").write_text(TEAM_ROLES)
    otto = factory.open(user="otto")  # VIEW_RUNS, not VIEW_DETAILS
    with pytest.raises(wfnb.PermissionDenied, match="VIEW_DETAILS"):
        otto.compare(failed.id, failed.id)
    # and a resume needs RUN_WORKFLOW before it says anything about the parent
    lea = factory.open(user="lea")
    with pytest.raises(wfnb.PermissionDenied, match="RUN_WORKFLOW"):
        lea.rerun(failed.id, from_failure=True, n=9)


def test_artifacts_are_listed_with_their_size_and_open_as_what_they_are(factory, capsys):
    from wfnb.cli import main
    factory.module("objs2", BOXES.format(name="objs2", then="plain", check=""))
    ws = factory.open(user="ana")
    run = ws.run("objs2")
    [art] = ws.artifacts(run.id)
    assert (art.step, art.kind, art.reused) == ("make", "pickle", False)
    assert art.size == (factory.root / art.path).stat().st_size > 0
    assert ws.artifact(run.id, "make").v == 7
    assert ws.artifact(run.id, "plain") == 7  # a JSON result is itself
    with pytest.raises(wfnb.NotFound, match=r"no task for step 'nope' \(its steps: make, plain"):
        ws.artifact(run.id, "nope")
    assert main(["show", run.id, "--workspace", str(factory.root)]) == 0
    out = capsys.readouterr().out
    assert "artifacts:" in out and art.path in out and " B " in out
    (factory.root / art.path).unlink()
    assert ws.artifacts(run.id)[0].size is None
    with pytest.raises(wfnb.WfnbError, match="pickled to .*, which is missing"):
        ws.artifact(run.id, "make")
