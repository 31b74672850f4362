"""Workflow parameters: declaration, coercion from Python values or strings, validation.

Validation reports every problem at once, field by field, so a form or a CLI user sees all of
them in one go; no run is created while any remains.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import ParamError

TYPES = ("str", "int", "float", "bool", "date", "datetime", "choice", "list", "json")
_ORDERED = ("int", "float", "date", "datetime")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
_MISSING: Any = object()


@dataclass
class Param:
    """One parameter of a workflow: ``Param("date", type="date", required=True)``."""

    name: str
    type: str = "str"
    required: bool = False
    default: Any = None
    description: str = ""
    choices: list | None = None
    min: Any = None
    max: Any = None
    label: str | None = None
    _problems: list[str] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        p = self._problems
        if not isinstance(self.name, str) or not self.name.isidentifier():
            p.append(f"name {self.name!r} is not a valid Python identifier")
        if self.type not in TYPES:
            p.append(f"type {self.type!r} is unknown (expected one of: {', '.join(TYPES)})")
            return
        if self.type == "choice" and not self.choices:
            p.append("type 'choice' needs a non-empty choices=[...]")
        if self.choices is not None:
            self.choices = list(self.choices)
        if self.required and self.default is not None:
            p.append("a required parameter cannot have a default (drop one of them)")
        if (self.min is not None or self.max is not None) and self.type not in _ORDERED:
            p.append(f"min/max apply to {', '.join(_ORDERED)}, not to {self.type!r}")
        for bound in ("min", "max"):
            value = getattr(self, bound)
            if value is not None:
                try:
                    setattr(self, bound, coerce(self, value, check_bounds=False))
                except ValueError as exc:
                    p.append(f"{bound}: {exc}")
        if self.default is not None:
            try:
                self.default = coerce(self, self.default)
            except ValueError as exc:
                p.append(f"default: {exc}")

    @property
    def problems(self) -> list[str]:
        """Definition problems (a bad type, a default outside the choices ...)."""
        return list(self._problems)

    def to_dict(self) -> dict:
        """A JSON-able description, for forms and for the CLI."""
        return {
            "name": self.name, "type": self.type, "required": self.required,
            "default": to_jsonable(self.default), "description": self.description,
            "choices": [to_jsonable(c) for c in self.choices] if self.choices else None,
            "min": to_jsonable(self.min), "max": to_jsonable(self.max),
            "label": self.label or self.name,
        }


def _parse_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise ValueError(f"{v!r} is not a boolean (true/false, yes/no, 1/0)")


def _parse_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            pass
    raise ValueError(f"{v!r} is not an integer")


def _parse_float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a number")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            pass
    raise ValueError(f"{v!r} is not a number")


def _parse_date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        raise ValueError(f"{v!r} is a datetime, not a date (YYYY-MM-DD)")
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError:
            pass
    raise ValueError(f"{v!r} is not a date (YYYY-MM-DD)")


def _parse_datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, str):
        try:
            return dt.datetime.fromisoformat(v.strip())
        except ValueError:
            pass
    raise ValueError(f"{v!r} is not a datetime (YYYY-MM-DDTHH:MM[:SS][+HH:MM])")


def _parse_list(v: Any) -> list:
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, str):
        text = v.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{v!r} is not a JSON list: {exc.msg}") from None
            if isinstance(value, list):
                return value
        return [item.strip() for item in text.split(",") if item.strip()]
    raise ValueError(f"{v!r} is not a list (a JSON list or comma-separated values)")


def _parse_json(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{v!r} is not valid JSON: {exc.msg}") from None
    try:
        json.dumps(v)
    except (TypeError, ValueError):
        raise ValueError(f"{v!r} cannot be represented as JSON") from None
    return v


def _parse_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    raise ValueError(f"{v!r} is not text")


def _parse_choice(param: Param, v: Any) -> Any:
    for choice in param.choices or []:
        if v == choice or (isinstance(v, str) and v == str(to_jsonable(choice))):
            return choice
    options = ", ".join(repr(c) for c in param.choices or [])
    raise ValueError(f"{v!r} is not one of the choices ({options})")


_PARSERS = {"str": _parse_str, "int": _parse_int, "float": _parse_float, "bool": _parse_bool,
            "date": _parse_date, "datetime": _parse_datetime, "list": _parse_list,
            "json": _parse_json}


def coerce(param: Param, value: Any, check_bounds: bool = True) -> Any:
    """Turn ``value`` (typed, or a string from a CLI or form) into the param's type.

    Raises ValueError with a message that says what is wrong and what would be right.
    """
    if param.type == "choice":
        return _parse_choice(param, value)
    result = _PARSERS[param.type](value)
    if check_bounds:
        if param.choices is not None and result not in param.choices:
            raise ValueError(f"{value!r} is not one of the choices "
                             f"({', '.join(repr(c) for c in param.choices)})")
        try:
            if param.min is not None and result < param.min:
                raise ValueError(f"{value!r} is below the minimum {to_jsonable(param.min)!r}")
            if param.max is not None and result > param.max:
                raise ValueError(f"{value!r} is above the maximum {to_jsonable(param.max)!r}")
        except TypeError:  # a naive and an aware datetime cannot be compared
            raise ValueError(f"{value!r} cannot be compared with the bounds (give both with "
                             "a time zone, or both without)") from None
    return result


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def validate(workflow: str, params: list[Param], values: dict[str, Any]) -> dict[str, Any]:
    """Return the complete, typed arguments for a run, or raise ParamError listing every problem."""
    by_name = {p.name: p for p in params}
    errors: dict[str, str] = {}
    for name in values:
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            errors[name] = f"unknown parameter (this workflow takes: {known})"
    result: dict[str, Any] = {}
    for p in params:
        value = values.get(p.name, _MISSING)
        if value is _MISSING or _is_blank(value):
            if p.required:
                errors[p.name] = "is required"
            else:
                result[p.name] = p.default
            continue
        try:
            result[p.name] = coerce(p, value)
        except ValueError as exc:
            errors[p.name] = str(exc)
    if errors:
        raise ParamError(workflow, errors)
    return result


def to_jsonable(value: Any) -> Any:
    """Dates and datetimes as ISO strings; everything else unchanged (for JSON storage)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
