"""The REST API of the server extension, through a real Jupyter Server (jp_fetch) and the real
engine on a DuckDB history: every endpoint, every refusal, bad requests and unknown ids."""
from __future__ import annotations

import asyncio
import threading
from http.cookies import SimpleCookie

import pytest

from tests.server.client import until
from wfnb.engine.core.errors import ParamError
from wfnb.workspace import Workspace


def is_utc(text: str | None) -> bool:
    return isinstance(text, str) and text.endswith("Z") and "T" in text


# ---- who is asking --------------------------------------------------------------------------
async def test_the_user_is_the_jupyter_user_with_the_capabilities_of_their_roles(
        api, monkeypatch, workspace):
    monkeypatch.setenv("WFNB_USER", "mallory")  # anyone can set it: the server ignores it
    code, alice = await api.get("me", "alice")
    assert code == 200
    assert alice["user"] == "alice" and alice["roles"] == ["analyst", "lead"]
    assert alice["workspace"] == str(workspace.resolve())
    assert alice["contents_path"] is None  # outside the server's root: no file browser path
    caps = alice["capabilities"]
    assert caps["RUN_WORKFLOW"] and caps["APPROVE"] and caps["VIEW_DETAILS"]
    assert not caps["CANCEL_RUN"] and not caps["ADMIN"]
    _, bob = await api.get("me", "bob")
    assert bob["user"] == "bob" and bob["roles"] == ["viewer"]
    assert [c for c, yes in bob["capabilities"].items() if yes] == ["LIST_WORKFLOWS",
                                                                     "VIEW_RUNS"]
    _, carol = await api.get("me", "carol")
    assert carol["roles"] == [] and not any(carol["capabilities"].values())


@pytest.mark.parametrize("inside, expected", [("", ""), ("team/ws", "team/ws"),
                                               ("../elsewhere", None)])
def test_the_workspace_is_named_as_the_contents_api_names_files(tmp_path, inside, expected):
    from wfnb.server.handlers import contents_path
    assert contents_path(tmp_path / "root" / inside, tmp_path / "root") == expected


async def test_a_request_without_valid_credentials_is_refused_and_starts_nothing(api, history):
    for user in (None, "mallory"):  # no token; a token nobody has
        code, _ = await api.get("me", user)
        assert code == 403
        code, _ = await api.post("runs", {"workflow": "quick"}, user)
        assert code == 403
    assert history.counts()["runs"] == 0


async def test_a_browser_login_cookie_carries_the_user_and_a_post_needs_the_xsrf_token(
        jp_fetch, api, history):
    # a browser opens a page with ?token=: the answer sets the login cookie
    opened = await jp_fetch("wfnb", "api", "me", params={"token": "alice-token"},
                            headers={"Authorization": ""})
    jar = SimpleCookie()
    for header in opened.headers.get_list("Set-Cookie"):
        jar.load(header)
    login = "; ".join(f"{k}={m.value}" for k, m in jar.items())
    assert login
    plain = {"Authorization": "", "Cookie": login}
    code, me = await api.call("GET", "me", None, headers=plain)
    assert code == 200 and me["user"] == "alice"
    # a POST with the login cookie alone (a cross-site form, say) is refused
    code, body = await api.call("POST", "runs", None, {"workflow": "quick"}, headers=plain)
    assert code == 403 and "_xsrf" in body["message"]
    assert history.counts()["runs"] == 0
    # with the XSRF cookie and header a page of the server sends, it goes through
    xsrf = {"Authorization": "", "Cookie": f"{login}; _xsrf=c0ffee", "X-XSRFToken": "c0ffee"}
    code, body = await api.call("POST", "runs", None, {"workflow": "quick"}, headers=xsrf)
    assert code == 201 and body["run"]["created_by"] == "alice"
    await api.status(body["run"]["id"], "Completed")


async def test_a_slow_engine_call_does_not_hold_up_other_requests(api, monkeypatch):
    release = threading.Event()
    listed = Workspace.workflows

    def stuck(self):
        release.wait(10)
        return listed(self)
    monkeypatch.setattr(Workspace, "workflows", stuck)
    waiting = asyncio.ensure_future(api.get("workflows"))
    code, _ = await api.get("me")  # answered while the engine works on the other request
    assert code == 200 and not waiting.done()
    release.set()
    code, body = await waiting
    assert code == 200 and body["workflows"]


# ---- workflows ------------------------------------------------------------------------------
async def test_workflows_have_their_schema_who_may_run_them_last_run_and_next_schedule(
        api, history):
    code, body = await api.get("workflows")
    assert code == 200
    shown = {w["name"]: w for w in body["workflows"]}
    assert [w["title"] for w in body["workflows"]] == ["Chain", "Quick", "Restricted",
                                                       "Sign off", "Slow", "Typed"]
    typed = shown["typed"]
    assert typed["params"][0] == {"name": "n", "type": "int", "required": True,
                                  "default": None, "description": "", "choices": None,
                                  "min": 1, "max": 10, "label": "n"}
    assert typed["path"] == "workflows/flows.py" and shown["quick"]["path"] == "workflows/quick.py"
    assert shown["sign"]["kinds"] == ["approval", "python"]
    assert [s["name"] for s in shown["sign"]["steps"]] == ["prepare", "ok", "book"]
    assert shown["quick"]["can_run"] and not shown["restricted"]["can_run"]  # runners: admin
    assert shown["quick"]["last_run"] is None and shown["chain"]["next_run"] is None
    assert [(p["file"], "broken on purpose" in p["message"]) for p in body["problems"]] == [
        ("workflows/broken.py", True)]

    run = await api.run("quick")
    await api.status(run["id"], "Completed")
    schedule = history.ws.schedule("chain", cron="0 6 * * *")
    code, quick = await api.get("workflows/quick")
    assert code == 200
    assert quick["last_run"]["id"] == run["id"] and quick["last_run"]["status"] == "Completed"
    assert is_utc(quick["last_run"]["created_at"])
    _, chain = await api.get("workflows/chain")
    assert chain["next_run"] == schedule.next_fire.isoformat(timespec="milliseconds") + "Z"
    # bob may list and see runs, not run
    _, seen = await api.get("workflows", "bob")
    assert not any(w["can_run"] for w in seen["workflows"])
    assert {w["name"]: w["last_run"] for w in seen["workflows"]}["quick"]["id"] == run["id"]


# ---- starting and reading runs --------------------------------------------------------------
async def test_a_run_started_through_the_api_completes_with_its_tasks_results_and_log(api):
    code, body = await api.post("runs", {"workflow": "typed",
                                         "params": {"n": "3", "region": "south"}})
    assert code == 201
    run = body["run"]
    assert (run["workflow"], run["created_by"], run["trigger"]) == ("typed", "alice", "manual")
    assert run["params"] == {"n": 3, "day": "2026-01-01", "region": "south"}  # typed, stored
    assert is_utc(run["created_at"]) and "search" not in run
    details = await api.status(run["id"], "Completed")
    code, mine = await api.get(f"runs/{run['id']}")  # as alice, who started it
    assert code == 200
    assert mine["run"]["status"] == "Completed" and mine["run"]["progress"] == 1.0
    assert is_utc(mine["run"]["ended_at"]) and mine["approvals"] == []
    tasks = {t["step"]: t for t in mine["tasks"]}
    assert list(tasks) == ["Start", "echo"]
    echo = tasks["echo"]
    assert echo["status"] == "Completed" and echo["kind"] == "python"
    assert echo["result"] == {"n": 3, "day": "2026-01-01", "region": "south"}
    assert echo["log"] == "echo 3 south\n" and echo["traceback"] is None
    assert is_utc(echo["started_at"]) and echo["duration"] >= 0
    assert details["tasks"] == mine["tasks"]


async def test_a_form_error_is_400_with_the_forms_messages_and_nothing_is_stored(api, history):
    before = history.counts()
    given = {"n": "0", "day": "2026-13-01", "region": "east"}
    code, body = await api.post("runs", {"workflow": "typed", "params": given})
    assert code == 400
    with pytest.raises(ParamError) as form:  # what the run dialog shows at each field
        history.ws.validate("typed", **given)
    assert body["fields"] == form.value.errors and set(body["fields"]) == {"n", "day", "region"}
    assert body["message"] == str(form.value)
    code, body = await api.post("runs", {"workflow": "typed", "params": {}})
    assert code == 400 and list(body["fields"]) == ["n"]
    assert history.counts() == before and history.denied() == []


async def test_a_malformed_request_is_400_naming_the_field_and_changes_nothing(api, history):
    run = await api.run("quick")
    await api.status(run["id"], "Completed")
    before = history.counts()
    rid = run["id"]
    cases = [
        ("POST", "runs", "{not json", "body"),
        ("POST", "runs", "[1, 2]", "body"),
        ("POST", "runs", {}, "workflow"),
        ("POST", "runs", {"workflow": 3}, "workflow"),
        ("POST", "runs", {"workflow": "quick", "params": [1]}, "params"),
        ("GET", "runs", {"limit": "ten"}, "limit"),
        ("GET", "runs", {"limit": "0"}, "limit"),
        ("GET", "runs", {"limit": "501"}, "limit"),
        ("GET", "runs", {"offset": "-1"}, "offset"),
        ("GET", "runs", {"status": "Sleeping"}, "status"),
        ("POST", f"runs/{rid}/rerun", {"params": "n=3"}, "params"),
        ("POST", f"runs/{rid}/decision", {}, "decision"),
        ("POST", f"runs/{rid}/decision", {"decision": "maybe"}, "decision"),
        ("POST", f"runs/{rid}/decision", {"decision": "approve", "comment": 5}, "comment"),
        ("POST", f"runs/{rid}/decision", {"decision": "reject", "inputs": {"a": 1}}, "inputs"),
        ("POST", "workflows/chain/test", {"params": 1}, "params"),
        ("POST", "workflows/chain/steps/double/test", {"inputs": []}, "inputs"),
    ]
    for method, path, sent, field in cases:
        if method == "GET":
            code, body = await api.get(path, **sent)
        else:
            code, body = await api.post(path, sent)
        assert (code, body["field"]) == (400, field), (path, sent, body)
        assert body["message"].startswith(f"{field}: ")
    assert history.counts() == before and history.denied() == []


async def test_unknown_runs_workflows_steps_and_schedules_are_404(api, history):
    before = history.counts()
    cases = [
        ("POST", "runs", {"workflow": "nope"}),
        ("GET", "workflows/nope", None),
        ("GET", "runs/nope", None),
        ("POST", "runs/nope/cancel", {}),
        ("POST", "runs/nope/rerun", {}),
        ("POST", "runs/nope/decision", {"decision": "approve"}),
        ("POST", "workflows/nope/test", {}),
        ("POST", "workflows/nope/steps/double/test", {}),
        ("POST", "workflows/chain/steps/nope/test", {}),
        ("GET", "workflows/nope/session", None),
        ("DELETE", "workflows/nope/session", None),
        ("POST", "schedules/nope/pause", {}),
        ("POST", "schedules/nope/resume", {}),
    ]
    for method, path, sent in cases:
        code, body = await api.call(method, path, "alice", sent)
        assert code == 404, (method, path, body)
        assert "nope" in body["message"]
    assert history.counts() == before and history.denied() == []


async def test_runs_are_listed_newest_first_filtered_searched_and_paged(api):
    started = [await api.run("quick"), await api.run("quick"),
               await api.run("typed", n=7, region="south")]
    code, body = await api.post("workflows/chain/test", {"params": {"x": 1}})
    assert code == 201
    for run in [*started, body["run"]]:
        await api.status(run["id"], "Completed")
    newest_first = [r["id"] for r in reversed(started)]

    code, page = await api.get("runs")
    assert code == 200
    assert [r["id"] for r in page["runs"]] == newest_first  # test runs are left out
    assert (page["total"], page["limit"], page["offset"], page["more"]) == (3, 50, 0, False)
    assert all(is_utc(r["created_at"]) for r in page["runs"])
    _, quick = await api.get("runs", workflow="quick")
    assert [r["id"] for r in quick["runs"]] == newest_first[1:]
    _, done = await api.get("runs", status="completed")
    assert done["total"] == 3
    _, failed = await api.get("runs", status="Failed")
    assert (failed["runs"], failed["total"]) == ([], 0)
    _, south = await api.get("runs", q="SOUTH")  # text in the arguments, any case
    assert [r["id"] for r in south["runs"]] == [started[2]["id"]]
    _, first = await api.get("runs", limit="2")
    _, second = await api.get("runs", limit="2", offset="2")
    assert [r["id"] for r in first["runs"] + second["runs"]] == newest_first
    assert (first["total"], second["total"]) == (3, 3)
    _, tests = await api.get("runs", trigger="test")
    assert [r["id"] for r in tests["runs"]] == [body["run"]["id"]]
    code, bobs = await api.get("runs", "bob")  # VIEW_RUNS: the list, arguments included
    assert code == 200 and bobs["runs"][0]["params"] == started[2]["params"]


# ---- actions --------------------------------------------------------------------------------
async def test_an_approver_approves_with_inputs_and_rejects_with_a_comment(api, history):
    first, second = await api.run("sign"), await api.run("sign")
    for run in (first, second):
        await api.status(run["id"], "Waiting for Approval")
    code, body = await api.get("approvals")
    assert code == 200
    waiting = {a["run_id"]: a for a in body["approvals"]}
    assert set(waiting) == {first["id"], second["id"]}
    item = waiting[first["id"]]
    assert (item["step"], item["description"], item["approvers"]) == ("ok", "Check it",
                                                                     ["lead"])
    assert [f["name"] for f in item["fields"]] == ["cost_centre"]
    assert item["can_decide"] and is_utc(item["waiting_since"])
    _, details = await api.get(f"runs/{first['id']}")
    assert [(a["step"], a["can_decide"]) for a in details["approvals"]] == [("ok", True)]

    # a bad approver input: 400 at its field, nothing recorded
    code, body = await api.post(f"runs/{first['id']}/decision",
                                {"decision": "approve", "inputs": {"cost_centre": "XX"}})
    assert code == 400 and list(body["fields"]) == ["cost_centre"]
    assert history.sql("SELECT count(*) AS n FROM approvals")[0]["n"] == 0

    code, body = await api.post(f"runs/{first['id']}/decision",
                                {"step": "ok", "decision": "approve", "comment": "fine",
                                 "inputs": {"cost_centre": "OPS"}})
    assert code == 200 and body["run"]["id"] == first["id"]
    done = await api.status(first["id"], "Completed")
    assert {t["step"]: t["result"] for t in done["tasks"]}.get("book") == "OPS", \
        [(t["step"], t["status"]) for t in done["tasks"]]  # Completed comes with every task
    code, _ = await api.post(f"runs/{second['id']}/decision",
                             {"decision": "reject", "comment": "no receipt"})
    assert code == 200
    rejected = await api.status(second["id"], "Rejected")
    assert "no receipt" in {t["step"]: t for t in rejected["tasks"]}["ok"]["error"]
    assert history.sql('SELECT run_id, decision, "user", comment FROM approvals '
                       "ORDER BY decided_at") == [
        {"run_id": first["id"], "decision": "approve", "user": "alice", "comment": "fine"},
        {"run_id": second["id"], "decision": "reject", "user": "alice",
         "comment": "no receipt"}]
    # deciding again: a conflict, not a second decision
    code, body = await api.post(f"runs/{first['id']}/decision", {"decision": "approve"})
    assert code == 409, body
    assert body["message"].startswith(f"step 'ok' of run {first['id']} was already approved")
    _, body = await api.get("approvals")
    assert body["approvals"] == []


@pytest.mark.slow  # a real kernel runs the notebook
async def test_an_executed_notebook_is_served_to_who_may_see_the_run(api, workspace):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print(6 * 7)"))
    nbformat.write(nb, str(workspace / "workflows" / "tiny.ipynb"))
    (workspace / "workflows" / "nbflow.py").write_text(
        "from wfnb import Workflow\n"
        "wf = Workflow('nbflow', title='Notebook flow')\n"
        "wf.notebook('tiny', 'tiny.ipynb')\n")
    run = await api.run("nbflow")
    done = await api.status(run["id"], "Completed", timeout=120)
    path = {t["step"]: t["notebook"] for t in done["tasks"]}["tiny"]
    assert path.startswith(".wfnb/")  # hidden: JupyterLab's contents API does not serve it
    name = path.rsplit("/", 1)[1]
    code, body = await api.get(f"runs/{run['id']}/notebooks/{name}")
    assert code == 200, body
    assert (body["name"], body["path"], body["step"], body["attempt"]) == (name, path, "tiny", 1)
    assert is_utc(body["last_modified"])
    (cell,) = body["content"]["cells"]
    assert "".join(cell["outputs"][0]["text"]) == "42\n"
    code, body = await api.get(f"runs/{run['id']}/notebooks/other.ipynb")
    assert code == 404 and "no executed notebook 'other.ipynb'" in body["message"]
    code, body = await api.get(f"runs/{run['id']}/notebooks/{name}", "bob")  # no VIEW_DETAILS
    assert (code, body["capability"]) == (403, "VIEW_DETAILS")


async def test_cancel_ends_a_running_run_and_a_second_cancel_is_a_conflict(api, history):
    run = await api.run("slow")
    await api.status(run["id"], "Running")
    code, body = await api.post(f"runs/{run['id']}/cancel")  # her own: RUN_WORKFLOW is enough
    assert code == 200 and body["run"]["status"] == "Cancelled"
    assert history.status(run["id"]) == "Cancelled"
    code, body = await api.post(f"runs/{run['id']}/cancel")
    assert code == 409 and "already ended" in body["message"]


async def test_rerun_starts_the_workflow_again_with_the_parents_arguments_changed(api):
    parent = await api.run("typed", n=2, region="south")
    await api.status(parent["id"], "Completed")
    code, body = await api.post(f"runs/{parent['id']}/rerun", {"params": {"n": 5}})
    assert code == 201
    child = body["run"]
    assert (child["parent_id"], child["trigger"]) == (parent["id"], "rerun")
    assert child["params"] == {"n": 5, "day": "2026-01-01", "region": "south"}
    done = await api.status(child["id"], "Completed")
    assert {t["step"]: t["result"] for t in done["tasks"]}["echo"]["n"] == 5
    code, body = await api.post(f"runs/{parent['id']}/rerun", {"params": {"n": 99}})
    assert code == 400 and list(body["fields"]) == ["n"]


async def test_test_runs_and_step_tests_fill_the_session_which_can_be_cleared(api):
    code, body = await api.post("workflows/chain/test", {"params": {"x": 5}})
    assert code == 201 and body["run"]["trigger"] == "test"
    await api.status(body["run"]["id"], "Completed")

    async def session(step, value):
        code, found = await api.get("workflows/chain/session")
        assert code == 200
        return found if found["values"].get(step) == value else None
    kept = await until(lambda: session("plus_one", 11), what="the test's results kept")
    assert kept["values"] == {"Start": {"x": 5}, "double": 10, "plus_one": 11}
    assert kept["active"] is True

    code, body = await api.post("workflows/chain/steps/plus_one/test",
                                {"inputs": {"double": 20}})
    assert code == 201
    await api.status(body["run"]["id"], "Completed")
    await until(lambda: session("plus_one", 21), what="the step test's result kept")

    code, cleared = await api.delete("workflows/chain/session")
    assert code == 200 and cleared["values"] == {}
    # without a session value nor an input, the step test says what it lacks
    code, body = await api.post("workflows/chain/steps/plus_one/test", {})
    assert code == 400 and "double" in body["message"]


async def test_schedules_are_listed_paused_and_resumed(api, history):
    made = history.ws.schedule("chain", cron="0 6 * * *", params={"x": 3})
    code, body = await api.get("schedules")
    assert code == 200
    [shown] = body["schedules"]
    assert (shown["id"], shown["workflow"], shown["cron"], shown["params"], shown["paused"]) \
        == (made.id, "chain", "0 6 * * *", {"x": 3}, False)
    assert is_utc(shown["next_fire"]) and is_utc(shown["created_at"])
    _, daves = await api.get("schedules", "dave")  # no VIEW_RUNS / VIEW_DETAILS
    assert daves["schedules"][0]["params"] is None

    code, body = await api.post(f"schedules/{made.id}/pause")
    assert code == 200
    assert (body["schedule"]["paused"], body["schedule"]["next_fire"]) == (True, None)
    assert history.counts()["paused"] == 1
    _, chain = await api.get("workflows/chain")
    assert chain["next_run"] is None
    code, body = await api.post(f"schedules/{made.id}/resume")
    assert code == 200 and body["schedule"]["paused"] is False
    assert is_utc(body["schedule"]["next_fire"]) and history.counts()["paused"] == 0


# ---- refusals -------------------------------------------------------------------------------
async def test_every_refusal_is_403_naming_the_capability_recorded_and_changes_nothing(
        api, history):
    done, waiting, running = (await api.run("quick"), await api.run("sign"),
                              await api.run("slow"))
    await api.status(done["id"], "Completed")
    await api.status(waiting["id"], "Waiting for Approval")
    await api.status(running["id"], "Running")
    schedule = history.ws.schedule("chain", cron="0 6 * * *").id

    async def settled():  # what the history holds is what the API shows: nothing in flight
        return [history.status(r["id"]) for r in (done, waiting, running)] == [
            "Completed", "Waiting for Approval", "Running"] and history.sql(
            "SELECT count(*) AS n FROM tasks WHERE step = 'wait' AND status = 'Running'"
        )[0]["n"] == 1
    await until(settled, what="the runs' states written")
    before = history.counts()
    refusals = [
        ("bob", "POST", "runs", {"workflow": "quick"}, "RUN_WORKFLOW"),
        ("bob", "POST", "runs", {"workflow": "no_such"}, "RUN_WORKFLOW"),  # not a 404
        ("alice", "POST", "runs", {"workflow": "restricted"}, "RUN_WORKFLOW"),  # runners
        ("bob", "POST", f"runs/{done['id']}/rerun", {}, "RUN_WORKFLOW"),
        ("dave", "POST", f"runs/{done['id']}/rerun", {}, "VIEW_DETAILS"),
        ("bob", "POST", "workflows/chain/test", {}, "RUN_WORKFLOW"),
        ("bob", "POST", "workflows/chain/steps/double/test", {}, "RUN_WORKFLOW"),
        ("bob", "GET", "workflows/chain/session", None, "RUN_WORKFLOW"),
        ("bob", "DELETE", "workflows/chain/session", None, "RUN_WORKFLOW"),
        ("alice", "GET", "workflows/restricted/session", None, "RUN_WORKFLOW"),
        ("bob", "GET", f"runs/{done['id']}", None, "VIEW_DETAILS"),
        ("bob", "POST", f"runs/{running['id']}/cancel", {}, "CANCEL_RUN"),
        ("dave", "POST", f"runs/{running['id']}/cancel", {}, "CANCEL_RUN"),  # not his run
        ("bob", "POST", f"runs/{waiting['id']}/decision",
         {"decision": "approve", "inputs": {"cost_centre": "OPS"}}, "APPROVE"),
        ("dave", "POST", f"runs/{waiting['id']}/decision", {"decision": "reject"},
         "APPROVE"),  # APPROVE, but the step is for leads
        ("bob", "GET", "approvals", None, "APPROVE"),
        ("bob", "POST", f"schedules/{schedule}/pause", {}, "RUN_WORKFLOW"),
        ("carol", "GET", "workflows", None, "LIST_WORKFLOWS"),
        ("carol", "GET", "workflows/quick", None, "LIST_WORKFLOWS"),
        ("carol", "GET", "schedules", None, "LIST_WORKFLOWS"),
        ("carol", "GET", "runs", None, "VIEW_RUNS"),
    ]
    answers = []
    for user, method, path, sent, capability in refusals:
        code, body = await api.call(method, path, user, sent)
        assert (code, body["capability"]) == (403, capability), (user, method, path, body)
        answers.append(body["message"])
    assert answers[0] == ("You may not run workflow 'quick': RUN_WORKFLOW is missing for "
                          "user 'bob' (roles: viewer).")
    assert answers[2] == "Permission denied: workflow 'restricted' may be run by admin."
    assert answers[11] == (f"You may not cancel run {running['id']} (started by alice): "
                           "CANCEL_RUN is missing for user 'bob' (roles: viewer).")
    assert answers[14] == f"Permission denied: step 'ok' of run {waiting['id']} is for lead."
    assert answers[-1] == ("You may not list runs: VIEW_RUNS is missing for user 'carol' "
                           "(roles: none).")
    # each refusal is in the audit trail, and nothing else changed
    assert history.denied() == [(user, cap) for user, _, _, _, cap in refusals]
    assert history.counts() == before
    code, body = await api.post(f"runs/{running['id']}/cancel", user="alice")
    assert code == 200 and body["run"]["status"] == "Cancelled"



FRAGILE = '''
from pathlib import Path
from wfnb import Param, Workflow

fragile = Workflow("fragile", params=[Param("n", type="int", default=2)])

@fragile.step()
def first(n):
    return list(range(n))

@fragile.step(after=["first"])
def second(first):
    if (Path(__file__).parent / "down").exists():
        raise RuntimeError("down")
    return sum(first)
'''


async def test_rerun_from_failure_reuses_and_refusals_change_nothing(api, workspace):
    (workspace / "workflows" / "fragile.py").write_text(FRAGILE)
    (workspace / "workflows" / "down").touch()
    pid = (await api.run("fragile", n=3))["id"]
    await api.status(pid, "Failed")
    (workspace / "workflows" / "down").unlink()
    code, body = await api.post(f"runs/{pid}/rerun", {"from_failure": "yes"})
    assert code == 400 and body["field"] == "from_failure" and "true or false" in body["message"]
    code, body = await api.post(f"runs/{pid}/rerun", {"from_failure": True,
                                                      "params": {"n": 4}})
    assert code == 409 and "first read n" in body["message"]
    code, listed = await api.get("runs", workflow="fragile")
    assert code == 200 and len(listed["runs"]) == 1  # nothing started
    code, body = await api.post(f"runs/{pid}/rerun", {"from_failure": True})
    assert code == 201 and body["run"]["rerun_mode"] == "from_failure"
    done = await api.status(body["run"]["id"], "Completed")
    tasks = {t["step"]: t for t in done["tasks"]}
    assert tasks["first"]["reused_from"].startswith(pid) and tasks["second"]["reused_from"] is None
    assert tasks["second"]["result"] == 3 and tasks["first"]["params_used"] == ["n"]
    code, body = await api.post(f"runs/{pid}/rerun", {"from_step": "nope"})
    assert code == 404 and "no step 'nope'" in body["message"]
