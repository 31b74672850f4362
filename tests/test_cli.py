"""The ``wfnb`` command, invoked as a user would (in-process ``main`` and real processes)."""
import json
import subprocess
import sys

import pytest

from tests.helpers import TEAM_ROLES, cli_env, poll
from wfnb.cli import main


@pytest.fixture
def wfnb_cli(ws, capsys):
    """Run ``wfnb ARGS`` against the example workspace; returns (exit code, stdout, stderr)."""
    def invoke(*args, workspace=True):
        argv = [*args, "--workspace", str(ws.root)] if workspace else list(args)
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err
    return invoke


def test_run_follows_the_run_and_exits_0_when_it_completes(wfnb_cli, ws):
    code, out, _ = wfnb_cli("run", "daily_sales", "-p", "date=2026-11-23", "-p", "region=US")
    assert code == 0
    assert "  report                         Completed" in out
    run_id = out.split()[1]
    assert ws.get_run(run_id).params == {"date": "2026-11-23", "region": "US", "rows": 120}
    assert out.strip().splitlines()[-1].startswith(f"run {run_id} Completed in ")


def test_a_failed_run_exits_1_and_says_why(wfnb_cli):
    code, out, _ = wfnb_cli("run", "flaky_import")
    assert code == 1
    assert "fetch                          Failed: FileNotFoundError" in out
    assert "load                           Skipped" in out


def test_bad_input_exits_2_lists_every_field_and_creates_nothing(wfnb_cli, ws):
    code, out, err = wfnb_cli("run", "daily_sales", "-p", "date=2026-02-30", "-p", "rows=-1",
                              "-p", "colour=red")
    assert code == 2 and out == ""
    assert "error: invalid arguments for workflow 'daily_sales':" in err
    assert "  date: '2026-02-30' is not a date (YYYY-MM-DD)" in err
    assert "  rows: '-1' is below the minimum 1" in err
    assert "  colour: unknown parameter" in err
    assert wfnb_cli("run", "nope")[0] == 2
    assert wfnb_cli("run", "daily_sales", "-p", "date")[2] == \
        "error: -p 'date': expected key=value\n"
    assert ws.sql("select count(*) n from runs")["n"][0] == 0


def test_bad_usage_exits_2(wfnb_cli, tmp_path):
    assert wfnb_cli("frobnicate")[0] == 2
    assert wfnb_cli("runs", "--limit", "many")[0] == 2
    code, _, err = wfnb_cli("runs", "--workspace", str(tmp_path), workspace=False)
    assert code == 2 and "is not a wfnb workspace (no wfnb.toml)" in err
    assert not (tmp_path / ".wfnb").exists()


def test_workspace_option_works_anywhere_and_from_the_environment(ws, capsys, monkeypatch):
    assert main(["--workspace", str(ws.root), "workflows"]) == 0
    assert "daily_sales" in capsys.readouterr().out
    assert main(["workflows", "-w", str(ws.root), "--json"]) == 0
    assert [w["name"] for w in json.loads(capsys.readouterr().out)] == [
        "daily_sales", "expense_approval", "flaky_import", "mixed_report", "sales_cells",
        "slow_etl", "weekly_report"]
    monkeypatch.setenv("WFNB_WORKSPACE", str(ws.root))
    assert main(["runs"]) == 0 and capsys.readouterr().out == "no runs\n"


def test_runs_show_and_json(wfnb_cli, ws):
    ok = ws.run("daily_sales", date="2026-11-23")
    bad = ws.run("flaky_import")
    code, out, _ = wfnb_cli("runs", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [bad.id, ok.id]
    code, out, _ = wfnb_cli("runs", "--status", "Failed")
    assert bad.id in out and ok.id not in out
    code, out, _ = wfnb_cli("runs", "--workflow", "daily_sales", "--limit", "1", "--json")
    assert [r["status"] for r in json.loads(out)] == ["Completed"]
    code, out, _ = wfnb_cli("show", bad.id)
    assert code == 0 and "status:      Failed" in out and "Traceback" in out
    code, out, _ = wfnb_cli("show", ok.id, "--json")
    shown = json.loads(out)
    assert [t["step"] for t in shown["tasks"]][0] == "Start"
    assert shown["tasks"][-1]["result"]["focus"] == 60
    assert wfnb_cli("show", "no-such-run")[0] == 2


def test_rerun_and_sql(wfnb_cli, ws):
    first = ws.run("daily_sales", date="2026-11-23")
    code, out, _ = wfnb_cli("rerun", first.id, "-p", "region=US", "--json")
    rerun = json.loads(out)
    assert code == 0 and rerun["parent_id"] == first.id and rerun["params"]["region"] == "US"
    code, out, _ = wfnb_cli("sql", "select trigger, count(*) n from runs group by 1 order by 1",
                            "--json")
    assert json.loads(out) == [{"trigger": "manual", "n": 1}, {"trigger": "rerun", "n": 1}]
    code, _, err = wfnb_cli("sql", "delete from runs")
    assert code == 2 and "read-only" in err
    assert ws.sql("select count(*) n from runs")["n"][0] == 2


def test_cancel_of_an_ended_or_unknown_run_exits_2(wfnb_cli, ws):
    done = ws.run("daily_sales", date="2026-11-23")
    code, _, err = wfnb_cli("cancel", done.id)
    assert code == 2 and "has already ended (Completed)" in err
    assert wfnb_cli("cancel", "nope")[0] == 2


@pytest.mark.slow
def test_no_wait_returns_at_once_and_the_run_goes_on_in_the_background(ws):
    proc = subprocess.run([sys.executable, "-m", "wfnb", "run", "slow_etl", "-p",
                           "seconds=0.5", "--no-wait", "--workspace", str(ws.root)],
                          env=cli_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split()[1]
    assert "started in the background" in proc.stdout
    run = poll(lambda: (r := ws.get_run(run_id)).done and r, timeout=30,
               what="the background run to end")
    assert run.status == "Completed" and [t.step for t in run.tasks] == [
        "Start", "stage", "transform", "publish"]


@pytest.mark.slow
def test_a_real_process_cancels_with_the_cli(ws):
    run = ws.start("slow_etl", seconds=600)
    poll(lambda: len(run.tasks) > 1, what="the first step")
    proc = subprocess.run([sys.executable, "-m", "wfnb", "--workspace", str(ws.root), "cancel",
                           run.id], env=cli_env(WFNB_USER="ops"), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == f"run {run.id} Cancelled\n", proc.stderr
    assert run.wait(5).status == "Cancelled" and run.error == "cancelled by ops"


def test_approvals_approve_and_reject_from_the_command_line(wfnb_cli, ws):
    first = ws.start("expense_approval", employee="ana", amount=12.5)
    second = ws.start("expense_approval", employee="bo", amount=7000)
    poll(lambda: all(r.status == "Waiting for Approval" and r.id not in ws.liveness.live
                     for r in (first, second)), what="both runs to wait")
    code, out, _ = wfnb_cli("approvals")
    assert code == 0 and first.id in out and second.id in out and "lead, admin" in out
    code, out, _ = wfnb_cli("approvals", "--json")
    assert {p["run_id"] for p in json.loads(out)} == {first.id, second.id}
    code, out, err = wfnb_cli("approve", first.id, "-p", "cost_centre=NOPE")
    assert code == 2 and "cost_centre: 'NOPE' is not one of the choices" in err
    code, out, _ = wfnb_cli("approve", first.id, "-p", "cost_centre=SALES", "-m", "fine")
    assert code == 0, out
    assert out.splitlines()[:2] == [
        f"approved run {first.id} as tester",
        "carrying the run on in this process until it ends or waits again"]
    assert f"run {first.id} Completed" in out
    code, out, _ = wfnb_cli("reject", second.id, "--comment", "too much")
    assert code == 0 and f"run {second.id} Rejected" in out
    code, _, err = wfnb_cli("reject", second.id)
    assert code == 2 and "was already rejected by tester" in err
    code, out, _ = wfnb_cli("approvals")
    assert out == "nothing waits for tester\n"


def test_run_stops_following_when_the_run_waits_for_a_decision(wfnb_cli):
    code, out, _ = wfnb_cli("run", "expense_approval", "-p", "employee=ana", "-p", "amount=5")
    assert code == 1
    assert "sign_off                       Waiting for Approval" in out
    assert "is Waiting for Approval (sign_off); nothing runs meanwhile" in out


@pytest.mark.slow
def test_wfnb_lab_serves_the_workspace_in_the_workflows_sidebar(ws, tmp_path):
    import socket
    import threading
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "wfnb", "lab", "--no-browser", "--port",
                             str(port), "--workspace", str(ws.root)], cwd=tmp_path,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(proc.stdout), daemon=True).start()

    def answers():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as r:
                return json.loads(r.read())["version"]
        except OSError:
            return None
    try:
        assert poll(answers, timeout=90, interval=0.3, what="JupyterLab to answer")
        # the server extension behind the sidebar serves this workspace, not the folder
        poll(lambda: any(f"wfnb: workspace {ws.root}" in line for line in said), timeout=30,
             what="the wfnb server extension to load the workspace")
        assert not (ws.root / "Gallery.ipynb").exists()  # nothing written into the workspace
    finally:
        proc.terminate()
        proc.wait(30)
    assert poll(lambda: answers() is None, timeout=30, what="the server to stop with wfnb lab")


def test_wfnb_lab_names_a_notebook_that_is_not_there(ws):
    done = subprocess.run([sys.executable, "-m", "wfnb", "lab", "--no-browser", "--notebook",
                           "nope.ipynb", "--workspace", str(ws.root)], env=cli_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "--notebook: nope.ipynb is not a file" in done.stderr + done.stdout


def test_a_user_without_view_details_is_not_shown_the_tasks_of_their_run(factory):
    (factory.root / "wfnb.toml").write_text(TEAM_ROLES.replace(
        "[users]", 'starter = ["LIST_WORKFLOWS", "RUN_WORKFLOW"]\n\n[users]')
        + 'stan = ["starter"]\n')
    factory.module("expense", """
        from wfnb import Workflow
        wf = Workflow("expense")
        wf.step(lambda: 5, name="check")
        wf.approval("sign_off", after=["check"])
    """)

    def wfnb_run(user, *extra):
        return subprocess.run([sys.executable, "-m", "wfnb", "run", "expense", *extra,
                               "--workspace", str(factory.root)], env=cli_env(WFNB_USER=user),
                              capture_output=True, text=True, timeout=120)
    out = wfnb_run("stan")
    assert out.returncode == 1, out.stderr
    assert "is Waiting for Approval; nothing runs meanwhile" in out.stdout
    assert "sign_off" not in out.stdout and "check" not in out.stdout
    shown = json.loads(wfnb_run("stan", "--json").stdout)
    assert shown["status"] == "Waiting for Approval" and "tasks" not in shown
    shown = json.loads(wfnb_run("ana", "--json").stdout)  # ana has VIEW_DETAILS
    assert [t["step"] for t in shown["tasks"]] == ["Start", "check", "sign_off"]
