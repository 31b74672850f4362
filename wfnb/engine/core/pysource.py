"""Parsing Python source into an AST, one thread at a time.

CPython 3.11 keeps the AST converter's recursion depth in state that threads share: two
threads parsing at once can fail with "SystemError: AST constructor recursion depth mismatch"
(seen in this suite when a loader thread and a notebook scan parsed together). Every parse
wfnb makes goes through here, under one lock.
"""
from __future__ import annotations

import ast
import threading
from typing import Any

_LOCK = threading.Lock()


def parse(source: str) -> ast.Module:
    with _LOCK:
        return ast.parse(source)


def literal_eval(source: str) -> Any:
    with _LOCK:
        return ast.literal_eval(source)
