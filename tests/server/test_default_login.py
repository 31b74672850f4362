"""With jupyter_server's own token login, which names nobody, the API acts as the account the
server runs as, never as $WFNB_USER."""
from __future__ import annotations

import os
import pwd

import pytest
from traitlets.config import Config

from tests.helpers import QUICK, WorkspaceFactory
from tests.server.client import Api


@pytest.fixture
def jp_server_config(tmp_path):
    factory = WorkspaceFactory(tmp_path / "solo")  # no roles: the single-user default
    factory.module("quick", QUICK)
    return Config({"ServerApp": {"jpserver_extensions": {"wfnb": True}},
                   "WfnbExtension": {"workspace": str(factory.root)}})


async def test_the_servers_own_token_acts_as_the_account_the_server_runs_as(
        jp_fetch, monkeypatch):
    monkeypatch.setenv("WFNB_USER", "mallory")
    api = Api(lambda *parts, headers=None, **kw: jp_fetch(*parts, **kw))  # jp_fetch's token
    account = pwd.getpwuid(os.getuid()).pw_name
    code, me = await api.get("me", None)
    assert code == 200 and me["user"] == account != "mallory"
    code, body = await api.post("runs", {"workflow": "quick"}, None)
    assert code == 201 and body["run"]["created_by"] == account
    await api.status(body["run"]["id"], "Completed")
