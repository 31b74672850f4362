"""POST runs/<id>/rerun as a resume: from_step, force, the types of its body keys, and who
may resume (the REST side of Rerun from failure / Rerun from here)."""
from __future__ import annotations

from tests.server.test_api import FRAGILE


async def failed_fragile(api, workspace) -> str:
    (workspace / "workflows" / "fragile.py").write_text(FRAGILE)
    (workspace / "workflows" / "down").touch()
    pid = (await api.run("fragile", n=3))["id"]
    await api.status(pid, "Failed")
    (workspace / "workflows" / "down").unlink()
    return pid


async def test_each_resume_key_of_the_wrong_type_is_400_naming_it(api, workspace):
    pid = await failed_fragile(api, workspace)
    for body, field in [({"from_step": 2}, "from_step"), ({"force": "true"}, "force"),
                        ({"from_failure": 1}, "from_failure")]:
        code, answer = await api.post(f"runs/{pid}/rerun", body)
        assert (code, answer["field"]) == (400, field), answer
    code, listed = await api.get("runs", workflow="fragile")
    assert len(listed["runs"]) == 1


async def test_from_step_and_force(api, workspace):
    pid = await failed_fragile(api, workspace)
    code, body = await api.post(f"runs/{pid}/rerun", {"from_step": "second"})
    assert code == 201 and (body["run"]["rerun_mode"], body["run"]["rerun_from"]) == (
        "from_step", "second")
    done = await api.status(body["run"]["id"], "Completed")
    assert [t["step"] for t in done["tasks"] if t["reused_from"]] == ["first"]
    # a changed parameter the reused step read: refused, then run again with force
    code, body = await api.post(f"runs/{pid}/rerun", {"from_failure": True, "force": True,
                                                      "params": {"n": 5}})
    assert code == 201, body
    done = await api.status(body["run"]["id"], "Completed")
    tasks = {t["step"]: t for t in done["tasks"]}
    assert tasks["first"]["reused_from"] is None and tasks["second"]["result"] == 10


async def test_a_completed_run_has_nothing_to_resume_and_a_viewer_may_not(api, workspace):
    pid = await failed_fragile(api, workspace)
    code, body = await api.post(f"runs/{pid}/rerun", {"from_failure": True}, user="bob")
    assert code == 403
    code, body = await api.post(f"runs/{pid}/rerun", {"from_failure": True})
    done = await api.status(body["run"]["id"], "Completed")
    code, body = await api.post(f"runs/{done['run']['id']}/rerun", {"from_failure": True})
    assert code == 409 and "nothing failed to resume from" in body["message"]
    code, listed = await api.get("runs", workflow="fragile")
    assert len(listed["runs"]) == 2
