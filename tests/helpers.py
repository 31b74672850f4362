"""Helpers the tests import: paths, waiting, environments and processes, workspace builders and
the small workspaces (settings, workflows) that several test modules share."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import wfnb

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PYTHON = sys.executable


def poll(predicate, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):
    """Wait for ``predicate()`` to be truthy, with a deadline; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def cli_env(**extra) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra}
    env.pop("WFNB_WORKSPACE", None)
    return env


def spawn(code: str, *args, stderr=subprocess.STDOUT, **env) -> subprocess.Popen:
    """``python -c code *args`` (code dedented, args as str) with ``cli_env(**env)``.

    Its stdout is piped, as text; its stderr goes where ``stderr`` says: into stdout by
    default, ``subprocess.PIPE`` for a pipe of its own, ``None`` to inherit the test's.
    """
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            env=cli_env(**env), stdout=subprocess.PIPE, stderr=stderr, text=True)


class WorkspaceFactory:
    """Builds a workspace folder and writes workflow modules into it."""

    def __init__(self, root: Path):
        self.root = root
        (root / "workflows").mkdir(parents=True, exist_ok=True)
        (root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n')

    def module(self, name: str, source: str) -> Path:
        path = self.root / "workflows" / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    def open(self, **kw) -> wfnb.Workspace:
        return wfnb.open(self.root, **kw)


# roles for permission tests: analysts run, leads approve
TEAM_ROLES = """
[workspace]
paths = ["workflows"]

[roles]
analyst = ["LIST_WORKFLOWS", "RUN_WORKFLOW", "VIEW_RUNS", "VIEW_DETAILS"]
lead = ["LIST_WORKFLOWS", "VIEW_RUNS", "VIEW_DETAILS", "APPROVE"]
ops = ["CANCEL_RUN", "VIEW_RUNS"]
admin = ["ADMIN"]

[users]
ana = ["analyst"]
lea = ["lead"]
otto = ["ops"]
root = ["admin"]
"""


# a workflow declared in a file (python steps and an approval) and the module it calls
LIB = '''
def extract(region, n: int = 3):
    """Rows of a region."""
    return [{"region": region, "i": i} for i in range(n)]

def count(extract):
    return len(extract)
'''

DECLARED = '''
# comments survive saves
[workflow]
name = "weekly"
title = "Weekly"

[[params]]
name = "region"
type = "choice"
choices = ["north", "south"]
default = "north"   # the usual one

[[steps]]
name = "extract"
call = "lib:extract"
retries = 1
timeout = "5m"

[[steps]]
name = "count"
call = "lib:count"
after = ["extract"]

[[steps]]
name = "ok"
approval = true
after = ["count"]
approvers = ["lead"]
'''

# a one-step workflow module (workflows/quick.py)
QUICK = """
from wfnb import Workflow

wf = Workflow("quick")

@wf.step()
def one(ctx):
    return {"n": 1}
"""
