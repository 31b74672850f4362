"""The API's errors: an HTTP status and a JSON body with ``message`` (``answer``), made
from a bad request or from the engine's exception, so every handler answers errors alike."""
from __future__ import annotations

from typing import Any

from tornado import web

from ..engine.core.errors import (BrokenWorkflowError, ConfigError, DecisionError,
                                  EditConflict, NotFound, ParamError, PermissionDenied,
                                  ScheduleError, StateError, StoreError, TestSessionError,
                                  WfnbError)

# the engine's errors by HTTP status; the first class that matches wins (subclasses first)
STATUS: list[tuple[type[WfnbError], int]] = [
    (PermissionDenied, 403),
    (ParamError, 400),
    (TestSessionError, 400),
    (ScheduleError, 400),
    (NotFound, 404),
    (BrokenWorkflowError, 409),  # it exists, but its file is broken
    (DecisionError, 409),        # not waiting, decided already, several steps wait ...
    (EditConflict, 409),
    (StateError, 409),
    (StoreError, 503),           # the history is busy, locked or damaged
    (ConfigError, 500),          # the workspace's wfnb.toml is broken
    (WfnbError, 409),            # e.g. cancelling a run that has ended
]


def answer(status: int, message: str, **more: Any) -> web.HTTPError:
    """An error answer: tornado's HTTPError for ``status``, carrying the JSON ``body``
    (``message`` and more) that ``WfnbHandler.write_error`` sends."""
    error = web.HTTPError(status, log_message=message.replace("%", "%%"))
    error.body = {"message": message, **more}
    return error


def bad_request(field: str, problem: str) -> web.HTTPError:
    """400 naming the field of the request (body key or query argument) that is wrong."""
    return answer(400, f"{field}: {problem}", field=field)


def not_found(message: str) -> web.HTTPError:
    return answer(404, message)


def from_engine(ws, exc: WfnbError) -> web.HTTPError:
    """The answer to an engine error raised while acting as ``ws.user``."""
    status = next(code for cls, code in STATUS if isinstance(exc, cls))
    if isinstance(exc, PermissionDenied):
        from ..widgets.app import denied_line  # the one line a view shows for a refusal
        return answer(403, denied_line(ws, exc), capability=exc.capability)
    if isinstance(exc, ParamError):  # the form's messages, by field
        return answer(400, str(exc), fields=dict(exc.errors))
    if isinstance(exc, BrokenWorkflowError):
        return answer(409, str(exc), problems=[p.to_dict() for p in exc.problems])
    return answer(status, str(exc))
