"""The views socket: the cell views, hosted in the server for the Jupyter user of the socket,
driven by the frames the lab extension sends (the same messages a kernel's comm carries)."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

import wfnb
from tests.helpers import QUICK, TEAM_ROLES, WorkspaceFactory

APPROVAL = """
from wfnb import Workflow

wf = Workflow("signoff", title="Sign-off")

@wf.step()
def prepare(ctx):
    return 1

wf.approval("ok", after=["prepare"], approvers=["lead"])
"""

TOKENS = {"ana-token": "ana", "lea-token": "lea"}


@pytest.fixture
def team(tmp_path):
    """A workspace where ana (analyst) runs and lea (lead) approves but may not run."""
    factory = WorkspaceFactory(tmp_path / "team")
    (factory.root / "wfnb.toml").write_text(TEAM_ROLES)
    factory.module("quick", QUICK)
    factory.module("signoff", APPROVAL)
    return factory.root


@pytest.fixture
def jp_server_config(team):
    return {"ServerApp": {"jpserver_extensions": {"wfnb": True},
                          "identity_provider_class": "tests.identity.TokenUsers"},
            "TokenUsers": {"users": TOKENS},
            "WfnbExtension": {"workspace": str(team)}}


class Client:
    """One page's views socket: sends frames, keeps each view's state as the frames say."""

    def __init__(self, conn):
        self.conn, self.state, self.frames = conn, {}, []

    def send(self, **frame) -> None:
        self.conn.write_message(json.dumps(frame))

    async def until(self, predicate, timeout: float = 20.0, what: str = "a frame"):
        """Read frames until ``predicate(frame)`` holds for one; return it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; got {self.frames[-5:]}")
            text = await asyncio.wait_for(self.conn.read_message(), left)
            assert text is not None, "the server closed the socket"
            frame = json.loads(text)
            self.frames.append(frame)
            if frame["op"] in ("opened", "update"):
                self.state.setdefault(frame["id"], {}).update(frame["state"])
            if predicate(frame):
                return frame

    async def view(self, view_id: str, predicate, timeout: float = 20.0, what: str = "state"):
        """Wait until the state of ``view_id`` satisfies ``predicate``."""
        if predicate(self.state.get(view_id, {})):
            return None
        return await self.until(lambda f: f.get("id") == view_id and predicate(
            self.state.get(view_id, {})), timeout, what)


@pytest.fixture
def connect(jp_ws_fetch):
    async def connect(token: str) -> Client:
        conn = await jp_ws_fetch("wfnb", "api", "views",
                                 headers={"Authorization": f"token {token}"})
        return Client(conn)
    return connect


async def test_the_gallery_shows_the_cards_for_the_jupyter_user_not_WFNB_USER(
        connect, team, monkeypatch):
    monkeypatch.setenv("WFNB_USER", "mallory")
    page = await connect("ana-token")
    page.send(op="open", id="g", view="gallery", args={})
    opened = await page.until(lambda f: f["op"] == "opened", what="opened")
    assert opened["id"] == "g"
    assert "function render" in opened["state"]["_esm"]  # the module anywidget loads too
    await page.view("g", lambda s: len(s.get("cards", [])) == 2, what="two cards")
    state = page.state["g"]
    assert state["user"] == "ana"
    assert sorted(c["title"] for c in state["cards"]) == ["Quick", "Sign-off"]
    assert all(c["can_run"] for c in state["cards"])
    # a card's View Runs asks the page to open the runs view (a tab in JupyterLab)
    page.send(op="custom", id="g", content={"action": "runs", "workflow": "quick"})
    intent = await page.until(lambda f: f["op"] == "intent", what="the intent")
    assert intent == {"op": "intent", "id": "g",
                      "content": {"action": "runs", "workflow": "quick"}}


async def test_the_run_dialog_refuses_a_bad_field_then_runs_and_reports_what_is_stored(
        connect, team):
    page = await connect("ana-token")
    page.send(op="open", id="d", view="run", args={"workflow": "signoff"})
    await page.view("d", lambda s: s.get("steps"), what="the steps")
    page.send(op="open", id="q", view="run", args={"workflow": "quick"})
    await page.view("q", lambda s: s.get("steps"), what="the steps of quick")
    page.send(op="custom", id="q", content={"action": "start", "values": {"nope": 1}})
    await page.view("q", lambda s: s.get("errors"), what="a field error")
    assert "nope" in page.state["q"]["errors"]
    assert wfnb.open(team, user="ana").runs() == []  # nothing started
    page.send(op="custom", id="q", content={"action": "start", "values": {}})
    await page.view("q", lambda s: s.get("run", {}).get("status") == "Completed",
                    what="the run completed")
    shown = page.state["q"]["run"]
    stored = wfnb.open(team, user="ana").get_run(shown["id"])
    assert (stored.status, stored.created_by) == ("Completed", "ana")
    assert {r["name"]: r["status"] for r in page.state["q"]["steps"]} == {
        "Start": "Completed", "one": "Completed"}


async def test_an_approver_decides_in_the_run_details_view(connect, team):
    run = wfnb.open(team, user="ana").start("signoff")
    page = await connect("lea-token")
    page.send(op="open", id="r", view="details", args={"run_id": run.id})
    await page.view("r", lambda s: s.get("approvals"), what="the approval waiting")
    [waiting] = page.state["r"]["approvals"]
    assert waiting["can_decide"] is True
    page.send(op="custom", id="r", content={"action": "approve", "step": "ok",
                                            "comment": "fine by me"})
    await page.view("r", lambda s: s.get("run", {}).get("status") == "Completed",
                    what="the run completed after the approval")
    decided = wfnb.open(team, user="root").sql(
        'SELECT decision, "user", comment FROM approvals WHERE run_id = ?', [run.id])
    assert decided.values.tolist() == [["approve", "lea", "fine by me"]]


async def test_a_view_the_user_may_not_open_is_refused_in_the_server_and_recorded(
        connect, team):
    page = await connect("lea-token")  # a lead may not run workflows
    page.send(op="open", id="d", view="run", args={"workflow": "quick"})
    refused = await page.until(lambda f: f["op"] == "refused", what="the refusal")
    assert refused["capability"] == "RUN_WORKFLOW"
    assert "RUN_WORKFLOW is missing for user 'lea'" in refused["message"]
    ws = wfnb.open(team, user="root")
    denied = ws.sql("SELECT actor, data FROM events WHERE kind = 'denied'")
    assert denied["actor"].tolist() == ["lea"]
    assert json.loads(denied["data"][0])["capability"] == "RUN_WORKFLOW"
    assert ws.runs() == []
    # the socket stays usable: the runs table is allowed
    page.send(op="open", id="t", view="runs", args={})
    await page.until(lambda f: f["op"] == "opened" and f["id"] == "t", what="the runs table")


@pytest.mark.parametrize("frame, problem", [
    ({"op": "open", "id": "x", "view": "nope", "args": {}}, "view: unknown view 'nope'"),
    ({"op": "open", "id": "x", "view": "run", "args": {}}, "args.workflow: the run view needs"),
    ({"op": "open", "id": "x", "view": "run", "args": {"workflow": 3}},
     "args.workflow: must be a str"),
    ({"op": "open", "id": "x", "view": "details", "args": {"run_id": "no-such-run"}},
     "no-such-run"),
    ({"op": "custom", "id": "x", "content": {}}, "id: no open view 'x'"),
    ({"op": "dance", "id": "x"}, "op: unknown operation 'dance'"),
])
async def test_a_bad_frame_gets_an_error_naming_what_is_wrong(connect, frame, problem):
    page = await connect("ana-token")
    page.send(**frame)
    error = await page.until(lambda f: f["op"] == "error", what="the error")
    assert problem in error["message"], error
    assert error["id"] == "x"


async def test_unauthenticated_sockets_are_refused(jp_ws_fetch):
    from tornado.httpclient import HTTPClientError
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("wfnb", "api", "views", headers={"Authorization": "token wrong"})
    assert refused.value.code == 403


async def test_closing_the_page_stops_its_views(connect, team):
    def repainters():
        return [t for t in threading.enumerate() if t.name.startswith("wfnb-view-")]
    before = len(repainters())
    page = await connect("ana-token")
    page.send(op="open", id="g", view="gallery", args={})
    page.send(op="open", id="t", view="runs", args={})
    await page.until(lambda f: f["op"] == "opened" and f["id"] == "t", what="the runs table")
    assert len(repainters()) == before + 2
    page.conn.close()
    deadline = time.monotonic() + 10
    while len(repainters()) > before:
        assert time.monotonic() < deadline, "the views' repaint threads still run"
        await asyncio.sleep(0.05)
