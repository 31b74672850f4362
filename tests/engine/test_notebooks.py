"""Notebook steps on real kernels: papermill notebooks, notebook-cell workflows, faults."""
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

import wfnb
from tests.helpers import cli_env, poll

pytestmark = pytest.mark.slow


def kernel_children() -> set[int]:
    """Kernel processes started by this test process."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"ipykernel" in cmdline and fields[0] != "Z":
            found.add(int(entry))
    return found


def cell(source, *tags):
    c = nbformat.v4.new_code_cell(textwrap.dedent(source))
    c.metadata["tags"] = list(tags)
    return c


def write_notebook(path: Path, *cells, name=None):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    if name:
        nb.metadata["wfnb"] = {"name": name}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def cold(factory):
    """A workspace without the warm pool, so every kernel a run starts is its own."""
    (factory.root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n'
                                            '[kernels]\npool_size = 0\n')
    return factory


def test_a_papermill_step_gets_params_and_upstream_results_and_keeps_its_notebook(ws):
    run = ws.run("mixed_report", region="US")
    assert run.status == "Completed", run.error
    report = run.task("report")
    assert report.result == {"total": 160, "region": "US"}
    assert run.result("publish") == "US total 160"
    executed = nbformat.read(str(ws.root / report.notebook), as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.tags)
    assert "rows = 80" in injected.source and "factor = 2.0" in injected.source
    assert 'region = "US"' in injected.source
    assert "US: 80 rows -> total 160" in executed.cells[-2].outputs[0]["text"]
    assert report.notebook.startswith(f".wfnb/artifacts/{run.id}/")
    assert ws.sql(f"select notebook from tasks where id = '{report.id}'")["notebook"][0] \
        == report.notebook


def test_a_notebook_in_a_workflows_folder_is_a_workflow_of_its_tagged_cells(ws):
    wf = ws.workflow("sales_cells")
    assert [(p.name, p.type, p.default, p.description) for p in wf.params] == [
        ("day", "date", __import__("datetime").date(2026, 11, 23), "day to load"),
        ("stores", "int", 3, "how many stores")]
    assert [(s.name, s.kind, s.after) for s in wf.steps.values()] == [
        ("load", "cell", ()), ("summarise", "cell", ("load",)),
        ("publish", "cell", ("summarise",))]
    with pytest.raises(wfnb.ParamError, match="stores: 'many' is not an integer"):
        ws.start("sales_cells", stores="many")
    run = ws.run("sales_cells", stores=4)
    assert run.status == "Completed", run.error
    tasks = {t.step: t for t in run.tasks}
    assert tasks["load"].log == "loaded 4 stores for 2026-11-23\n"
    assert tasks["summarise"].result["total"] == int(tasks["summarise"].log)
    assert tasks["publish"].log.startswith("published: ")
    executed = nbformat.read(str(ws.root / tasks["publish"].notebook), as_version=4)
    assert "stores = 4" in executed.cells[2].source  # injected after the parameters cell


def test_a_failing_cell_fails_its_step_names_the_line_and_skips_the_rest(cold):
    write_notebook(cold.root / "workflows" / "broken.ipynb",
                   cell("n = 3", "parameters"),
                   cell("ok = n * 2", "step:first"),
                   cell("x = 1\nboom = ok / (n - 3)\ny = 2", "step:second"),
                   cell("print('never')", "step:third"))
    ws = cold.open()
    run = ws.run("broken")
    assert run.status == "Failed"
    second = run.task("second")
    assert second.error == ("ZeroDivisionError: division by zero (cell 3 [4], line 2: "
                            "boom = ok / (n - 3))")
    assert "ZeroDivisionError" in second.traceback and "\x1b[" not in second.traceback
    assert {t.step: t.status.value for t in run.tasks} == {
        "Start": "Completed", "first": "Completed", "second": "Failed", "third": "Skipped"}
    executed = nbformat.read(str(ws.root / second.notebook), as_version=4)
    assert executed.cells[3].outputs[-1]["output_type"] == "error"


def test_a_failing_papermill_notebook_fails_with_the_cell_and_keeps_the_copy(cold):
    nb = write_notebook(cold.root / "nbs" / "bad.ipynb", cell("a = 1", "parameters"),
                        cell("raise ValueError(f'bad a={a}')"))
    cold.module("uses_bad", f"""
        from wfnb import Workflow
        wf = Workflow("uses_bad")
        wf.notebook("nb", {str(nb)!r}, parameters={{"a": 7}})
    """)
    ws = cold.open()
    run = ws.run("uses_bad")
    task = run.task("nb")
    assert run.status == "Failed" and task.status.value == "Failed"
    assert task.error.startswith("ValueError: bad a=7 (cell 2")
    assert (ws.root / task.notebook).exists()


def test_a_dying_kernel_ends_task_and_run_in_error_and_leaves_no_process(cold):
    write_notebook(cold.root / "workflows" / "dies.ipynb",
                   cell("import os", ), cell("os._exit(1)", "step:crash"),
                   cell("print('never')", "step:after"))
    ws = cold.open()
    before = kernel_children()
    started = time.monotonic()
    run = ws.run("dies")
    assert time.monotonic() - started < 15
    assert run.status == "Error"
    assert run.task("crash").status.value == "Error"
    assert "the kernel died while running the step" in run.task("crash").error
    poll(lambda: kernel_children() <= before, timeout=10, what="the kernel to be gone")


def test_a_step_timeout_fails_it_and_shuts_the_kernel_down(cold):
    write_notebook(cold.root / "nbs" / "slow.ipynb", cell("import time\ntime.sleep(60)"))
    cold.module("slowbook", f"""
        from wfnb import Workflow
        wf = Workflow("slowbook")
        wf.notebook("nap", {str(cold.root / 'nbs' / 'slow.ipynb')!r}, timeout=1)
    """)
    ws = cold.open()
    before = kernel_children()
    run = ws.run("slowbook")
    assert run.status == "Failed" and run.task("nap").error == "timed out after 1 s"
    poll(lambda: kernel_children() <= before, timeout=10, what="the kernel to be gone")


def test_cancel_interrupts_the_kernel_and_leaves_no_process(cold):
    write_notebook(cold.root / "workflows" / "sleepy.ipynb",
                   cell("import time\ntime.sleep(600)", "step:nap"),
                   cell("print('never')", "step:after"))
    ws = cold.open()
    before = kernel_children()
    run = ws.start("sleepy")
    poll(lambda: len(run.tasks) > 1 and run.task("nap").status.value == "Running",
         timeout=60, what="the cell to run")
    asked = time.monotonic()
    assert ws.cancel(run.id, wait=10).status == "Cancelled"
    assert time.monotonic() - asked < 5
    assert run.task("nap").status.value == "Cancelled"
    poll(lambda: kernel_children() <= before, timeout=10, what="the kernel to be gone")


def test_missing_or_broken_notebooks_are_load_errors_naming_the_file(cold):
    cold.module("missing", """
        from wfnb import Workflow
        wf = Workflow("missing")
        wf.notebook("nb", "nowhere/report.ipynb")
    """)
    with pytest.raises(wfnb.WorkflowError, match=r"step 'nb': notebook .*nowhere/report.ipynb "
                                                 r"does not exist"):
        cold.open().workflow("missing")
    (cold.root / "workflows" / "missing.py").unlink()
    (cold.root / "workflows" / "junk.ipynb").write_text("{not json")
    with pytest.raises(wfnb.WorkflowError, match=r"junk.ipynb is not a valid notebook"):
        cold.open().workflow("junk")


def test_the_warm_pool_hands_out_fresh_kernels_that_never_share_state(factory):
    (factory.root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n'
                                            '[kernels]\npool_size = 1\n')
    write_notebook(factory.root / "workflows" / "leak.ipynb",
                   cell("import wfnb\nwfnb.output('seen', 'marker' in globals())\n"
                        "marker = True", "step:check"))
    ws = factory.open()
    ws.warm_kernels()
    poll(lambda: ws.kernel_pool.ready() == 1, timeout=60, what="a warm kernel")
    first = ws.run("leak")
    second = ws.run("leak")
    assert first.result("check") == {"seen": False} and second.result("check") == {"seen": False}
    poll(lambda: ws.kernel_pool.ready() == 1, timeout=60, what="the pool to refill")


def test_after_tags_order_cell_steps_and_untagged_cells_belong_to_the_step_above(cold):
    write_notebook(cold.root / "workflows" / "ordered.ipynb",
                   cell("log = []"),
                   cell("log.append('b')", "step:b", "after:a"),
                   cell("log.append('b2')"),
                   cell("log.append('a')", "step:a"),
                   cell("import wfnb\nwfnb.output('log', log)", "step:c", "after:b"))
    ws = cold.open()
    wf = ws.workflow("ordered")
    assert {n: s.after for n, s in wf.steps.items()} == {"b": ("a",), "a": (), "c": ("b",)}
    assert wf.steps["b"].options["cells"] == [1, 2]
    run = ws.run("ordered")
    assert run.status == "Completed", run.error
    assert run.result("c") == {"log": ["a", "b", "b2"]}


def test_notebook_steps_leave_the_process_cwd_alone_and_run_in_their_folder(cold):
    nb = write_notebook(cold.root / "nbs" / "where.ipynb",
                        cell("import os, wfnb\nwfnb.output('cwd', os.getcwd())"))
    cold.module("where", f"""
        from wfnb import Workflow
        wf = Workflow("where")
        wf.notebook("nb", {str(nb)!r})
        wf.step(lambda: __import__("os").getcwd(), name="py")
    """)
    before = os.getcwd()
    run = cold.open().run("where")
    assert run.status == "Completed", run.error
    assert run.result("nb") == {"cwd": str(nb.parent)} and os.getcwd() == before
    assert run.result("py") == before


def test_setup_and_parameters_cells_run_in_order_and_given_values_win(cold):
    write_notebook(cold.root / "workflows" / "params_order.ipynb",
                   cell("base = 100"),
                   cell("n = 3  # how many\nscale = 2 * 3", "parameters"),
                   cell("import wfnb\nwfnb.output('got', [base, n, scale])", "step:use"))
    ws = cold.open()
    assert [(p.name, p.type, p.default) for p in ws.workflow("params_order").params] == [
        ("n", "int", 3), ("scale", "str", None)]  # an expression default stays the notebook's
    run = ws.run("params_order", n=16)
    assert run.status == "Completed", run.error
    assert run.result("use") == {"got": [100, 16, 6]}


def test_a_notebook_step_receives_only_upstream_results(cold):
    nb = write_notebook(cold.root / "nbs" / "up.ipynb", cell("other = 'default'", "parameters"),
                        cell("import wfnb\nwfnb.output('other', other)"))
    cold.module("upstream_only", f"""
        from wfnb import Workflow
        wf = Workflow("upstream_only")
        wf.step(lambda: "not upstream", name="other")
        wf.notebook("nb", {str(nb)!r})
        wf.step(lambda nb, other: nb, name="after", after=["nb", "other"])
    """)
    run = cold.open().run("upstream_only")
    assert run.result("nb") == {"other": "default"}


def test_a_failing_setup_cell_leaves_no_kernel(cold):
    write_notebook(cold.root / "workflows" / "bad_setup.ipynb",
                   cell("raise RuntimeError('no data today')"),
                   cell("print('never')", "step:only"))
    ws = cold.open()
    before = kernel_children()
    run = ws.run("bad_setup")
    assert run.status == "Failed" and "RuntimeError: no data today (cell 1" in run.error
    poll(lambda: kernel_children() <= before, timeout=10, what="the kernel to be gone")


def test_odd_notebooks_load_or_fail_naming_the_file(cold):
    write_notebook(cold.root / "workflows" / "2024-report.ipynb",
                   cell("day = '20240131'  # compact date, kept as text", "parameters"),
                   cell("print(day)"))
    ws = cold.open()
    wf = ws.workflow("nb_2024_report")
    assert [(p.name, p.type) for p in wf.params] == [("day", "str")]
    bad = write_notebook(cold.root / "workflows" / "meta.ipynb", cell("1"))
    nb = nbformat.read(str(bad), as_version=4)
    nb.metadata["wfnb"] = "x"
    nbformat.write(nb, str(bad))
    with pytest.raises(wfnb.WorkflowError, match=r"meta.ipynb: metadata 'wfnb' must be a mapping"):
        ws.workflow("meta")


def test_wfnb_output_refuses_values_that_are_not_json():
    with pytest.raises(TypeError, match=r"wfnb.output\('x', ...\): float is not JSON"):
        wfnb.output("x", float("nan"))


def test_a_command_that_used_the_warm_pool_exits_cleanly(examples):
    for _ in range(3):
        out = subprocess.run([sys.executable, "-m", "wfnb", "run", "sales_cells",
                              "--workspace", str(examples)], env=cli_env(),
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, (out.returncode, out.stderr[-500:])
        assert "Parent appears to have exited" not in out.stderr


def test_a_kernel_that_cannot_start_is_an_error_of_the_infrastructure(cold):
    nb = write_notebook(cold.root / "nbs" / "k.ipynb", cell("1"))
    cold.module("nokernel", f"""
        from wfnb import Workflow
        wf = Workflow("nokernel")
        wf.notebook("nb", {str(nb)!r}, kernel="no-such-kernel")
    """)
    run = cold.open().run("nokernel")
    assert run.status == "Error" and run.task("nb").status.value == "Error"
    assert "kernel 'no-such-kernel' could not be started: NoSuchKernel" in run.error
