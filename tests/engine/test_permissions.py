"""Roles and capabilities from wfnb.toml, enforced by the engine and the CLI."""
import json
import subprocess
import sys
import textwrap

import pytest

import wfnb
from tests.helpers import TEAM_ROLES, cli_env, poll
from wfnb.engine.core.errors import PermissionDenied

ROLES = TEAM_ROLES


@pytest.fixture
def team(examples):
    (examples / "wfnb.toml").write_text(ROLES)
    return lambda user: wfnb.open(examples, user=user)


def denied_events(ws):
    return ws.sql("select actor, data->>'capability' cap from events where kind = 'denied' "
                  "order by seq").to_dict("records")


def counts(ws):
    return ws.sql("select (select count(*) from runs) runs, (select count(*) from approvals) "
                  "approvals, (select count(*) from events where kind != 'denied') events"
                  ).to_dict("records")[0]


def test_each_capability_is_refused_to_a_user_without_it_and_nothing_is_written(team):
    admin, lea, otto = team("root"), team("lea"), team("otto")
    done = admin.run("daily_sales", date="2026-11-23")
    before = counts(admin)
    refusals = [
        (lambda: otto.workflows(), "LIST_WORKFLOWS"),
        (lambda: lea.start("daily_sales", date="2026-11-23"), "RUN_WORKFLOW"),
        (lambda: lea.validate("daily_sales", date="2026-11-23"), "RUN_WORKFLOW"),
        (lambda: lea.rerun(done.id), "RUN_WORKFLOW"),
        (lambda: otto.get_run(done.id), "VIEW_DETAILS"),
        (lambda: team("nobody").runs(), "VIEW_RUNS"),
        (lambda: team("nobody").sql("select 1"), "VIEW_RUNS"),
        (lambda: team("ana").pending_approvals(), "APPROVE"),
    ]
    for action, capability in refusals:
        with pytest.raises(PermissionDenied) as err:
            action()
        assert err.value.capability == capability
        assert f"may not {capability}" in str(err.value)
    assert counts(admin) == before
    assert [e["cap"] for e in denied_events(admin)] == [c for _, c in refusals]
    assert [e["actor"] for e in denied_events(admin)][:2] == ["otto", "lea"]


def test_a_user_in_no_role_may_do_nothing_once_roles_exist(team):
    stranger = team("stranger")
    for action in (stranger.workflows, stranger.runs,
                   lambda: stranger.start("daily_sales", date="2026-11-23")):
        with pytest.raises(PermissionDenied, match="user 'stranger'"):
            action()


def test_roles_grant_what_they_list(team):
    ana, lea = team("ana"), team("lea")
    run = ana.run("daily_sales", date="2026-11-23")
    assert run.status == "Completed" and run.created_by == "ana"
    assert [r.id for r in lea.runs()] == [run.id]
    assert lea.get_run(run.id).status == "Completed"
    assert ana.can("RUN_WORKFLOW", "daily_sales") and not lea.can("RUN_WORKFLOW")


def test_cancel_needs_cancel_run_unless_it_is_your_own_run(team):
    ana, otto, lea = team("ana"), team("otto"), team("lea")
    mine = ana.start("slow_etl", seconds=60)
    poll(lambda: len(mine.tasks) > 1)
    assert ana.cancel(mine.id).status == "Cancelled"  # own run, with RUN_WORKFLOW
    other = ana.start("slow_etl", seconds=60)
    poll(lambda: len(other.tasks) > 1)
    with pytest.raises(PermissionDenied, match="may not CANCEL_RUN .*started by ana"):
        lea.cancel(other.id)
    assert other.status == "Running"
    assert otto.cancel(other.id).status == "Cancelled"


def test_approvers_are_checked_by_role_and_by_name(team):
    ana, lea = team("ana"), team("lea")
    run = ana.start("expense_approval", employee="ana", amount=10)
    poll(lambda: run.status == "Waiting for Approval")
    with pytest.raises(PermissionDenied, match="may not APPROVE"):
        ana.approve(run.id, cost_centre="OPS")  # an analyst cannot approve
    assert lea.pending_approvals()[0].run_id == run.id
    assert lea.approve(run.id, cost_centre="OPS").wait(30).status == "Completed"
    assert lea.sql("select \"user\" from approvals")["user"].tolist() == ["lea"]


def test_a_workflow_can_narrow_who_may_run_and_approve_it(team, examples):
    (examples / "workflows" / "narrow.py").write_text(textwrap.dedent("""
        from wfnb import Workflow
        wf = Workflow("narrow", runners=["user:root"], approvers=["user:root"])
        wf.approval("ok")
        wf.step(lambda ok: "done", name="go", after=["ok"])
    """))
    ana, lea, admin = team("ana"), team("lea"), team("root")
    with pytest.raises(PermissionDenied, match="workflow 'narrow' may be run by user:root"):
        ana.start("narrow")
    run = admin.start("narrow")
    poll(lambda: run.status == "Waiting for Approval")
    with pytest.raises(PermissionDenied, match="is for user:root"):
        lea.approve(run.id)
    assert lea.pending_approvals() == []
    assert admin.approve(run.id).wait(30).status == "Completed"


def test_without_roles_the_local_user_may_do_everything(ws):
    assert ws.permissions.enabled is False
    assert all(ws.can(c) for c in wfnb.engine.core.auth.CAPABILITIES)


@pytest.mark.parametrize("toml, message", [
    ('[roles]\nanalyst = ["LIST_WORKFLOWS", "FLY"]\n',
     r"wfnb.toml \(line 2\): \[roles\] analyst names unknown capability 'FLY'"),
    ('[roles]\nanalyst = ["VIEW_RUNS"]\n[users]\nana = ["analyst", "boss"]\n',
     r"wfnb.toml \(line 4\): \[users\] ana has role 'boss', which \[roles\] does not define"),
    ('[roles]\nanalyst = "VIEW_RUNS"\n', r"\[roles\] analyst must be a list of capabilities"),
    ('[users]\nana = ["x"]\n', "has role 'x', which"),
    ('[roles\n', "not valid TOML"),
    ('[roles]\n"user:ana" = ["VIEW_RUNS"]\n',
     r"\[roles\] 'user:ana': a role name cannot start with 'user:'"),
])
def test_a_malformed_permission_config_is_a_clear_error_at_open(tmp_path, toml, message):
    (tmp_path / "wfnb.toml").write_text(toml)
    with pytest.raises(wfnb.ConfigError, match=message):
        wfnb.open(tmp_path)


def test_the_cli_prints_the_refusal_and_exits_2(team, examples):
    admin = team("root")
    for args, capability in ((["runs"], "VIEW_RUNS"),
                             (["run", "daily_sales", "-p", "date=2026-11-23"], "RUN_WORKFLOW"),
                             (["sql", "select 1"], "VIEW_RUNS")):
        out = subprocess.run([sys.executable, "-m", "wfnb", *args, "-w", str(examples)],
                             env=cli_env(WFNB_USER="lea" if args[0] == "run" else "nobody"),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out.stdout
        assert "error: permission denied: user " in out.stderr and capability in out.stderr
    assert admin.sql("select count(*) n from runs")["n"][0] == 0
    assert len(denied_events(admin)) == 3


def test_the_current_user_comes_from_wfnb_user_then_jupyterhub_then_the_os(monkeypatch, ws):
    import getpass
    from wfnb.engine.api import current_user
    monkeypatch.delenv("WFNB_USER", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    assert current_user() == getpass.getuser()
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-ana")
    assert current_user() == "hub-ana"
    monkeypatch.setenv("WFNB_USER", "ana")
    assert current_user() == "ana"
    run = wfnb.open(ws.root).run("daily_sales", date="2026-11-23")
    assert run.created_by == "ana"
    assert ws.sql(f"select actor from events where run_id = '{run.id}' and status = 'Pending' "
                  "and kind = 'run'")["actor"][0] == "ana"


def test_view_runs_alone_does_not_show_tasks_and_deciders_are_not_revealed(team):
    admin, otto, ana = team("root"), team("otto"), team("ana")
    run = admin.run("daily_sales", date="2026-11-23")
    listed = otto.runs()[0]
    assert listed.id == run.id and listed.status == "Completed"
    with pytest.raises(PermissionDenied, match="VIEW_DETAILS"):
        listed.tasks
    gated = admin.start("expense_approval", employee="x", amount=1)
    poll(lambda: gated.status == "Waiting for Approval")
    admin.approve(gated.id, cost_centre="OPS").wait(30)
    with pytest.raises(PermissionDenied, match="may not APPROVE"):
        ana.reject(gated.id)  # refused before anything about the decision is said


# runners and approvers are roles; a user whose name is a role's holds nothing by it
CREW = TEAM_ROLES.replace("[users]\n", """runner = ["LIST_WORKFLOWS", "RUN_WORKFLOW"]
approver = ["LIST_WORKFLOWS", "VIEW_RUNS", "APPROVE"]

[users]
rita = ["runner"]
analyst = ["runner"]
lead = ["approver"]
olga = ["approver"]
""")

TWO_SPEED = """
from wfnb import Workflow
wf = Workflow("two_speed")
wf.step(lambda: {"rows": 3}, name="quick")
@wf.step(after=["quick"])
def slow(ctx):
    ctx.sleep(60)
"""


@pytest.fixture
def crew(examples):
    (examples / "wfnb.toml").write_text(CREW)
    return lambda user: wfnb.open(examples, user=user)


def test_tasks_and_results_of_a_run_driven_here_need_view_details_of_the_handles_user(
        crew, examples):
    (examples / "workflows" / "two_speed.py").write_text(TWO_SPEED)
    admin, otto = crew("root"), crew("otto")  # otto: VIEW_RUNS, not VIEW_DETAILS
    run = admin.start("two_speed")
    # task() raises until the step has a task: wait on the list of tasks instead
    poll(lambda: [t.status.value for t in run.tasks if t.step == "quick"] == ["Completed"],
         what="the quick step")
    # the same live run, driven by admin's workspace in this process
    listed = poll(lambda: otto.runs(), what="the run in the history")[0]
    assert listed.id == run.id and run.id in otto.liveness.live and not listed.done
    for detail in (lambda: listed.tasks, lambda: listed.task("quick"),
                   lambda: listed.results, lambda: listed.result("quick")):
        with pytest.raises(PermissionDenied, match="user 'otto' may not VIEW_DETAILS"):
            detail()
    # the run's own handle, and admin's from the list, still show everything
    assert run.result("quick") == admin.runs()[0].result("quick") == {"rows": 3}
    assert admin.runs()[0].results == {"quick": {"rows": 3}}
    assert [e["actor"] for e in denied_events(admin)] == ["otto"] * 4
    assert admin.cancel(run.id).status == "Cancelled"


def test_approvers_are_role_names_and_a_user_named_like_a_role_is_not_one(crew, examples):
    (examples / "workflows" / "sign.py").write_text(textwrap.dedent("""
        from wfnb import Workflow
        wf = Workflow("sign", approvers=["lead"])
        wf.approval("ok")
        wf.approval("named", after=["ok"], approvers=["user:olga"])
        wf.step(lambda named: "done", name="go", after=["named"])
    """))
    admin, lead, lea, olga = crew("root"), crew("lead"), crew("lea"), crew("olga")
    run = admin.start("sign")
    poll(lambda: run.status == "Waiting for Approval")
    assert lead.pending_approvals() == []  # the user called lead lacks the role lead
    with pytest.raises(PermissionDenied, match=r"step 'ok' of run .* is for lead\)$"):
        lead.approve(run.id)
    assert [p.step for p in lea.pending_approvals()] == ["ok"]
    lea.approve(run.id)
    poll(lambda: [p.step for p in olga.pending_approvals()] == ["named"],
         what="the second approval")
    with pytest.raises(PermissionDenied, match="is for user:olga"):
        lea.approve(run.id)  # the role lead is not named: only the user olga
    assert olga.approve(run.id).wait(30).status == "Completed"
    assert admin.sql('select "user" from approvals order by decided_at')["user"].tolist() == \
        ["lea", "olga"]
    # a bare name that is no role matches nobody, and a refusal says how to name a user
    assert admin.permissions.describe(["lead", "olga"]) == \
        "lead, olga (not a role: olga; name a user as 'user:olga')"


def test_runners_are_role_names_too(crew, examples):
    (examples / "workflows" / "narrowed.py").write_text(textwrap.dedent("""
        from wfnb import Workflow
        roles = Workflow("by_role", runners=["analyst"])
        roles.step(lambda: 1, name="one")
        users = Workflow("by_user", runners=["user:rita"])
        users.step(lambda: 1, name="one")
    """))
    ana, analyst, rita = crew("ana"), crew("analyst"), crew("rita")
    assert ana.run("by_role").status == "Completed"
    assert not analyst.can("RUN_WORKFLOW", "by_role")  # RUN_WORKFLOW, but not the role
    with pytest.raises(PermissionDenied, match="workflow 'by_role' may be run by analyst"):
        analyst.start("by_role")
    assert rita.run("by_user").status == "Completed"
    with pytest.raises(PermissionDenied, match="may be run by user:rita"):
        ana.start("by_user")


def test_a_refused_cancel_names_who_started_the_run_only_to_who_may_see_runs(crew):
    admin, rita, ana = crew("root"), crew("rita"), crew("ana")
    run = admin.start("slow_etl", seconds=60)
    with pytest.raises(PermissionDenied) as err:
        rita.cancel(run.id)  # may run workflows, not see runs
    assert str(err.value) == (f"permission denied: user 'rita' may not CANCEL_RUN "
                              f"(cancel run {run.id})")
    with pytest.raises(PermissionDenied, match=rf"cancel run {run.id} \(started by root\)"):
        ana.cancel(run.id)  # may see runs: learns nothing new
    whats = admin.sql("select data->>'what' w from events where kind = 'denied' order by seq")
    assert whats["w"].tolist() == [f"cancel run {run.id}",
                                   f"cancel run {run.id} (started by root)"]
    assert admin.cancel(run.id).status == "Cancelled"


def test_schedule_arguments_are_hidden_from_who_may_not_see_run_arguments(crew, examples,
                                                                         monkeypatch, capsys):
    from wfnb.cli import main
    admin, rita, ana = crew("root"), crew("rita"), crew("ana")
    made = admin.schedule("daily_sales", cron="0 6 * * *",
                          params={"date": "2026-11-23", "region": "US"})
    assert [s.params for s in ana.schedules()] == [{"date": "2026-11-23", "region": "US"}]
    shown = rita.schedules()  # LIST_WORKFLOWS, but neither VIEW_RUNS nor VIEW_DETAILS
    assert [(s.id, s.workflow, s.cron, s.params) for s in shown] == [
        (made.id, "daily_sales", "0 6 * * *", None)]
    assert shown[0].next_fire == made.next_fire
    monkeypatch.setenv("WFNB_USER", "rita")
    assert main(["schedules", "-w", str(examples)]) == 0
    assert made.id in capsys.readouterr().out
    assert main(["schedules", "--json", "-w", str(examples)]) == 0
    assert [s["params"] for s in json.loads(capsys.readouterr().out)] == [None]


def test_run_from_the_cli_without_view_details_follows_the_run_without_its_tasks(
        crew, examples, monkeypatch, capsys):
    from wfnb.cli import main
    monkeypatch.setenv("WFNB_USER", "rita")
    assert main(["run", "daily_sales", "-p", "date=2026-11-23", "-w", str(examples)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("of daily_sales started") and " Completed in " in out[-1]
    assert len(out) == 2  # no task lines: they need VIEW_DETAILS


def test_an_unknown_workflow_names_the_others_only_to_who_may_list_them(examples):
    (examples / "wfnb.toml").write_text(ROLES.replace(
        "[users]", 'starter = ["RUN_WORKFLOW"]\n\n[users]') + 'stan = ["starter"]\n')
    with pytest.raises(wfnb.NotFound) as stan_sees:
        wfnb.open(examples, user="stan").start("no_such_flow")
    # neither the workflows nor the broken files of the workspace
    assert str(stan_sees.value) == f"no workflow named 'no_such_flow' in {examples.resolve()}"
    with pytest.raises(wfnb.NotFound, match=r"known: .*daily_sales"):
        wfnb.open(examples, user="ana").start("no_such_flow")


def test_a_rerun_copies_arguments_only_a_user_may_see(examples):
    (examples / "wfnb.toml").write_text(ROLES.replace(
        "[users]", 'starter = ["RUN_WORKFLOW"]\n\n[users]') + 'stan = ["starter"]\n')
    anas = wfnb.open(examples, user="ana").run("daily_sales", date="2026-11-23", region="US")
    stan = wfnb.open(examples, user="stan")
    with pytest.raises(PermissionDenied, match="VIEW_DETAILS"):
        stan.rerun(anas.id)
    root = wfnb.open(examples, user="root")
    assert root.runs(workflow="daily_sales")[0].id == anas.id  # nothing started
    assert denied_events(root)[-1] == {"actor": "stan", "cap": "VIEW_DETAILS"}
    own = stan.run("daily_sales", date="2026-11-24")
    again = stan.rerun(own.id, region="APAC")  # their own arguments: theirs to copy
    again.wait()
    assert again.params["date"] == own.params["date"]
