"""The events socket: committed history events pushed to the browser as they happen, each
once, only those its user may see."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from tornado.httpclient import HTTPClientError

from tests.server.client import until
from wfnb.engine.store.events import EventFeed

TERMINAL = {"Completed", "Failed", "Cancelled", "Rejected", "Error"}


class Listener:
    """One browser's events socket: every event it was sent, in order."""

    def __init__(self, conn):
        self.conn, self.events, self.frames = conn, [], 0

    async def until(self, predicate, what: str, timeout: float = 15.0) -> list[dict]:
        """Read frames until ``predicate(events so far)`` holds, with a deadline."""
        deadline = time.monotonic() + timeout
        while not predicate(self.events):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; got {self.events}")
            try:
                frame = await asyncio.wait_for(self.conn.read_message(), left)
            except TimeoutError:
                continue
            assert frame is not None, "the server closed the socket"
            self.events += json.loads(frame)["events"]
            self.frames += 1
        return self.events

    def of(self, kind: str, run_id: str | None = None) -> list[dict]:
        return [e for e in self.events if e["kind"] == kind
                and (run_id is None or e["run_id"] == run_id)]

    def denied(self, user: str) -> bool:
        return any(e["kind"] == "denied" and e["actor"] == user for e in self.events)


@pytest.fixture
def listen(jp_ws_fetch):
    opened = []

    async def listen(user: str) -> Listener:
        conn = await jp_ws_fetch("wfnb", "api", "events",
                                 headers={"Authorization": f"token {user}-token"})
        opened.append(conn)
        return Listener(conn)
    yield listen
    for conn in opened:
        conn.close()


async def test_the_events_of_runs_started_through_the_api_arrive_each_once(
        api, listen, history):
    schedule = history.ws.schedule("chain", cron="0 6 * * *").id
    alice = await listen("alice")
    runs = [await api.run("quick"), await api.run("quick"),
            await api.run("typed", n=4), await api.run("chain")]
    ids = {r["id"] for r in runs}

    def ended(events):
        return {e["run_id"] for e in events if e["kind"] == "run"
                and e["status"] in TERMINAL} >= ids
    await alice.until(ended, "every run's end")
    completed = {e["run_id"] for e in alice.of("run") if e["status"] == "Completed"}
    assert completed == ids
    for run_id in completed:  # told only once it is in the history
        assert history.status(run_id) == "Completed"
    for run in runs:
        statuses = [e["status"] for e in alice.of("run", run["id"])]
        assert statuses == ["Pending", "Running", "Completed"]
        assert {e["data"]["step"] for e in alice.of("task", run["id"])} >= {"Start"}
    logged = [e for e in alice.of("log") if e["run_id"] == runs[2]["id"]]
    assert "".join(e["data"]["text"] for e in logged) == "echo 4 north\n"
    assert all(e["ts"].endswith("Z") for e in alice.events)

    # a schedule's pause is written by another path (a transaction, read back by sequence
    # number): once it has come, every earlier event has come both ways, and each was sent once
    code, _ = await api.post(f"schedules/{schedule}/pause")
    assert code == 200
    await alice.until(lambda events: any(e["kind"] == "schedule" and e["data"]["action"]
                                         == "paused" for e in events), "the pause")
    assert isinstance(alice.of("schedule")[-1]["seq"], int)
    keys = [(e["ts"], e["kind"], e["run_id"], e["task_id"], e["status"]) for e in alice.events]
    assert len(keys) == len(set(keys))
    assert alice.frames < len(alice.events)  # batches, not one frame per event


async def test_each_user_hears_only_what_they_may_see(api, listen):
    alice, bob, carol, dave = [await listen(u) for u in ("alice", "bob", "carol", "dave")]
    daves = await api.run("quick", "dave")           # dave runs, may not see runs
    typed = await api.run("typed", n=1)               # alice's
    sign = await api.run("sign")                      # alice's, waits for a lead
    await api.status(daves["id"], "Completed")
    await api.status(typed["id"], "Completed")
    await api.status(sign["id"], "Waiting for Approval")
    # each is refused something: their own refusal comes after everything above
    for user, path in (("alice", "workflows/restricted/session"), ("bob", "approvals"),
                       ("carol", "runs"), ("dave", "runs")):
        code, _ = await api.get(path, user)
        assert code == 403
    for user, listener in (("alice", alice), ("bob", bob), ("carol", carol),
                           ("dave", dave)):
        await listener.until(lambda _, heard=listener, who=user: heard.denied(who),
                             f"{user}'s refusal")
        assert [e["actor"] for e in listener.of("denied")] == [user]  # no one else's

    def runs(listener):
        return {e["run_id"] for e in listener.of("run")}
    # alice (VIEW_RUNS, VIEW_DETAILS): every run, its steps and their output
    assert runs(alice) == {daves["id"], typed["id"], sign["id"]}
    assert alice.of("task", daves["id"]) and alice.of("log", typed["id"])
    # bob (VIEW_RUNS): every run's status, not its steps nor their output
    assert runs(bob) == runs(alice)
    assert bob.of("task") == [] and bob.of("log") == []
    # dave (RUN_WORKFLOW, APPROVE): the run he started, and the run waiting for approval
    assert runs(dave) == {daves["id"], sign["id"]}
    assert [e["status"] for e in dave.of("run", sign["id"])] == ["Waiting for Approval"]
    assert dave.of("task") == []
    # carol (no role): nothing but her refusal
    assert carol.events == carol.of("denied")
    # an approver follows a waiting run to its end
    code, _ = await api.post(f"runs/{sign['id']}/cancel", user="alice")
    assert code == 200
    await dave.until(lambda _: [e["status"] for e in dave.of("run", sign["id"])] == [
        "Waiting for Approval", "Cancelled"], "the waiting run's end")


async def test_a_socket_without_credentials_is_refused(jp_ws_fetch):
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("wfnb", "api", "events", headers={"Authorization": ""})
    assert refused.value.code == 403


async def test_a_closed_socket_stops_listening(listen, jp_serverapp):
    ws = jp_serverapp.web_app.settings["wfnb"].workspace_for("root")
    feed = EventFeed.for_store(ws.store)
    before = len(feed._listeners)
    bob = await listen("bob")
    assert len(feed._listeners) == before + 1
    bob.conn.close()

    async def gone():
        return len(feed._listeners) == before
    await until(gone, what="the socket's listener removed")
