"""Each view's front end: the shared helpers and styles, then the view's own module."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def esm(name: str) -> str:
    return (HERE / "common.js").read_text() + (HERE / f"{name}.js").read_text()


def css(name: str) -> str:
    return (HERE / "common.css").read_text() + (HERE / f"{name}.css").read_text()
