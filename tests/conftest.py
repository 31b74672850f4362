"""Fixtures: small real workspaces in tmp_path (real wfnb.toml, real DuckDB history).

The helpers that tests import (``poll``, ``cli_env``, ``spawn``, the shared workspaces) live in
``tests/helpers.py``."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import wfnb
from tests.helpers import DECLARED, EXAMPLES, LIB, WorkspaceFactory


@pytest.fixture
def factory(tmp_path) -> WorkspaceFactory:
    return WorkspaceFactory(tmp_path / "ws")


@pytest.fixture
def examples(tmp_path) -> Path:
    """A private copy of the example workspace."""
    dest = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns(".wfnb", "__pycache__",
                                                                  "*.ipynb_checkpoints"))
    return dest


@pytest.fixture
def ws(examples, monkeypatch) -> wfnb.Workspace:
    monkeypatch.setenv("WFNB_USER", "tester")
    return wfnb.open(examples)


@pytest.fixture
def declared(factory):
    factory.module("lib", LIB)
    path = factory.root / "workflows" / "weekly.wfnb.toml"
    path.write_text(DECLARED)
    return path
