"""A real Jupyter Server with wfnb enabled (pytest-jupyter's ``jp_*`` fixtures) on a small
workspace with roles, a user per token (``tests.identity.TokenUsers``), and a client that
calls the API as one of them."""
from __future__ import annotations

# pytest-jupyter's server plugin (jp_fetch, jp_ws_fetch, jp_serverapp ... and the hooks that
# run async tests). Not ``pytest_plugins = ["pytest_jupyter.jupyter_server"]``: pytest refuses
# that outside the root conftest when the whole suite runs, and in the root conftest its
# autouse fixtures (an event loop, a ServerApp cleanup) would wrap every test of the suite.
# Imported here, its fixtures and hooks apply to this folder only.
from pytest_jupyter.jupyter_server import *  # noqa: F403

from pathlib import Path

import pytest
from traitlets.config import Config

from tests.helpers import QUICK, WorkspaceFactory
from tests.server.client import Api, History

ROLES = """
[workspace]
paths = ["workflows"]

[roles]
analyst = ["LIST_WORKFLOWS", "RUN_WORKFLOW", "VIEW_RUNS", "VIEW_DETAILS"]
lead = ["LIST_WORKFLOWS", "VIEW_RUNS", "VIEW_DETAILS", "APPROVE"]
viewer = ["LIST_WORKFLOWS", "VIEW_RUNS"]
runner = ["LIST_WORKFLOWS", "RUN_WORKFLOW", "APPROVE"]
admin = ["ADMIN"]

[users]
alice = ["analyst", "lead"]
bob = "viewer"
dave = "runner"
root = "admin"
"""
# carol is in no role: she may do nothing
USERS = ("alice", "bob", "carol", "dave", "root")

FLOWS = """
from wfnb import Param, Workflow

typed = Workflow("typed", title="Typed", params=[
    Param("n", type="int", required=True, min=1, max=10),
    Param("day", type="date", default="2026-01-01"),
    Param("region", type="choice", choices=["north", "south"], default="north")])

@typed.step()
def echo(n, day, region):
    print(f"echo {n} {region}")
    return {"n": n, "day": str(day), "region": region}

sign = Workflow("sign", title="Sign off", approvers=["lead"])

@sign.step()
def prepare():
    return 1

sign.approval("ok", after=["prepare"], description="Check it",
              inputs=[Param("cost_centre", type="choice", choices=["OPS", "RND"],
                            required=True)])

@sign.step(after=["ok"])
def book(ok):
    return ok["cost_centre"]

slow = Workflow("slow", title="Slow")

@slow.step()
def wait(ctx):
    ctx.sleep(60)  # wakes at once when the run is cancelled
    return "woke"

chain = Workflow("chain", title="Chain", params=[Param("x", type="int", default=2)])

@chain.step()
def double(x):
    return x * 2

@chain.step(after=["double"])
def plus_one(double):
    return double + 1

restricted = Workflow("restricted", title="Restricted", runners=["admin"])

@restricted.step()
def only():
    return 0
"""


@pytest.fixture
def workspace(tmp_path) -> Path:
    factory = WorkspaceFactory(tmp_path / "ws")
    (factory.root / "wfnb.toml").write_text(ROLES)
    factory.module("quick", QUICK)
    factory.module("flows", FLOWS)
    factory.module("broken", "raise RuntimeError('broken on purpose')\n")
    return factory.root


@pytest.fixture
def jp_server_config(workspace):
    return Config({
        "ServerApp": {"jpserver_extensions": {"wfnb": True},
                      "identity_provider_class": "tests.identity.TokenUsers"},
        "TokenUsers": {"users": {f"{user}-token": user for user in USERS}},
        "WfnbExtension": {"workspace": str(workspace)},
    })


@pytest.fixture
def api(jp_fetch) -> Api:
    return Api(jp_fetch)


@pytest.fixture
def history(jp_serverapp) -> History:
    return History(jp_serverapp.web_app.settings["wfnb"].workspace_for("root"))
