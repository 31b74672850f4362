"""Workflow parameters: declaration, coercion from Python values or strings, validation.

Validation reports every problem at once, field by field, so a form or a CLI user sees all of
them in one go; no run is created while any remains. Whatever passes can be stored as JSON and
read back to the same value, so a rerun gets what the first run got.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

from .errors import ParamError, UsageError

TYPES = ("str", "int", "float", "bool", "date", "datetime", "choice", "list", "json")
_ORDERED = ("int", "float", "date", "datetime")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
_MISSING: Any = object()
# the documented shapes only: date.fromisoformat also takes 20261123 and 2026-W48-1 (3.11+)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    # what isoformat() writes (+HH:MM, +HH:MM:SS[.ffffff] for odd zones), Z, and +HHMM (%z)
    r"(Z|[+-][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?|[+-][0-9]{4})?")
_SHOWN = 40       # characters of a long value quoted in a message
_MAX_DEPTH = 500  # nesting of list and json values (json.dumps recurses)


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
    allow_nan: bool = False   # float only: accept NaN, inf and -inf (stored as "NaN", ...)
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
            for choice in self.choices:
                if isinstance(choice, float) and not math.isfinite(choice):
                    p.append(f"choices: {choice!r} cannot be stored as JSON (give a finite "
                             "number)")
        if self.required and self.default is not None:
            p.append("a required parameter cannot have a default (drop one of them)")
        if self.allow_nan not in (True, False):
            p.append(f"allow_nan must be True or False, not {_show(self.allow_nan)}")
        elif self.allow_nan and self.type != "float":
            p.append(f"allow_nan applies to float, not to {self.type!r} (JSON has no NaN or "
                     "inf: use null or a string in list and json values)")
        if (self.min is not None or self.max is not None) and self.type not in _ORDERED:
            p.append(f"min/max apply to {', '.join(_ORDERED)}, not to {self.type!r}")
        for bound in ("min", "max"):
            value = getattr(self, bound)
            if value is not None:
                try:
                    typed = (_parse_float(value) if self.type == "float"
                             else coerce(self, value, check_bounds=False))
                except ValueError as exc:
                    p.append(f"{bound}: {exc}")
                    continue
                if isinstance(typed, float) and not math.isfinite(typed):
                    p.append(f"{bound}: {typed!r} is not a bound (give a finite number, or "
                             f"no {bound})")
                setattr(self, bound, typed)
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
        out = {
            "name": self.name, "type": self.type, "required": self.required,
            "default": to_jsonable(self.default), "description": self.description,
            "choices": [to_jsonable(c) for c in self.choices] if self.choices else None,
            "min": to_jsonable(self.min), "max": to_jsonable(self.max),
            "label": self.label or self.name,
        }
        if self.allow_nan:  # only when set: the workflow version hashes this dict
            out["allow_nan"] = True
        return out


# ---- quoting values in messages --------------------------------------------------------------
def _int_digits(v: int) -> int:
    """How many decimal digits ``v`` has, without str() (which refuses past 4300 digits)."""
    n = abs(v)
    if n < 10:
        return 1
    d = int(math.log10(n)) + 1
    if 10 ** (d - 1) > n:  # log10 rounds near powers of ten
        d -= 1
    elif 10 ** d <= n:
        d += 1
    return d


def _show(v: Any) -> str:
    """``repr(v)``, abbreviated when long: a message quotes what was given, not 5,000 digits."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10 ** (_SHOWN + 20):
        return f"an integer of {_int_digits(v)} digits"
    if isinstance(v, str):
        if len(v) <= _SHOWN + 20:
            return repr(v)
        head = repr(v[:_SHOWN])
        return f"{head[:-1]}…{head[-1]} ({len(v)} characters)"
    try:
        text = repr(v)
    except ValueError:  # holds an int past Python's digit limit
        return f"a {type(v).__name__} too large to show"
    if len(text) <= _SHOWN + 20:
        return text
    return f"{text[:_SHOWN]}… ({len(text)} characters)"


# ---- checks every value passes -------------------------------------------------------------
def _digit_limit() -> int:
    return sys.get_int_max_str_digits()  # 0: no limit


def _too_long(v: int) -> bool:
    """More digits than str() writes: such an int could be neither shown nor stored."""
    limit = _digit_limit()
    return bool(limit) and v.bit_length() > limit * 3.3 and abs(v) >= 10 ** limit


def _refuse_surrogate(text: str, of: str = "") -> None:
    """Refuse a lone surrogate (a non-UTF-8 byte as Python's argv decodes it, a ``\\ud800``
    escape in JSON): such text cannot be written as UTF-8, so cannot be stored or shown."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        place = f"position {exc.start}" + (f" of {of}" if of else "")
        raise ValueError(f"contains text that is not valid Unicode (a lone surrogate at "
                         f"{place}, such as a non-UTF-8 byte from the shell); pass valid "
                         "UTF-8 text") from None


def _check_storable(value: Any) -> None:
    """Refuse what JSON cannot hold faithfully inside a list or json value: lone surrogates
    (keys too), NaN and inf, integers past the digit limit, nesting deeper than _MAX_DEPTH."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise ValueError(f"is nested too deeply (at most {_MAX_DEPTH} levels)")
        if isinstance(item, str):
            _refuse_surrogate(item, f"the text at {path}" if path else "")
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"holds {item!r} at {path or 'the top'}, which JSON cannot hold "
                             "(give a finite number, or null)")
        elif isinstance(item, int) and not isinstance(item, bool) and _too_long(item):
            raise ValueError(f"holds {_show(item)} at {path or 'the top'}, too long to store "
                             f"(at most {_digit_limit()} digits)")
        elif isinstance(item, dict):
            for key in item:
                if isinstance(key, str):
                    _refuse_surrogate(key, f"the key {_show(key)}" + (f" in {path}" if path
                                                                        else ""))
            stack.extend((sub, f"{path}[{_show(key)}]", depth + 1)  # reversed: the first
                         for key, sub in reversed(item.items()))     # problem is named
        elif isinstance(item, (list, tuple)):
            stack.extend((sub, f"{path}[{i}]", depth + 1)
                         for i, sub in reversed(list(enumerate(item))))


# ---- parsers, one per type ---------------------------------------------------------------------
def _parse_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise ValueError(f"{_show(v)} is not a boolean (true/false, yes/no, 1/0)")


def _parse_int(v: Any) -> int:
    limit = _digit_limit()
    if isinstance(v, bool):
        raise ValueError(f"{_show(v)} is not an integer")
    if isinstance(v, int):
        if _too_long(v):
            raise ValueError(f"{_show(v)} is too large (at most {limit} digits)")
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        text = v.strip()
        digits = text.lstrip("+-").replace("_", "")
        if limit and digits.isdecimal() and len(digits) > limit:  # int() would refuse it
            raise ValueError(f"{_show(v)} is too long for an integer (at most {limit} digits)")
        try:
            return int(text)
        except ValueError:
            pass
    raise ValueError(f"{_show(v)} is not an integer")


def _parse_float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError(f"{_show(v)} is not a number")
    if isinstance(v, (int, float)):
        try:
            return float(v)
        except OverflowError:
            raise ValueError(f"{_show(v)} is too large for a float") from None
    if isinstance(v, str):
        text = v.strip()
        try:  # takes "NaN", "Infinity" and "-Infinity", as to_jsonable writes them
            result = float(text)
        except ValueError:
            pass
        else:
            if math.isinf(result) and "inf" not in text.lower():  # '1e999', 400 digits
                raise ValueError(f"{_show(v)} is too large for a float")
            return result
    raise ValueError(f"{_show(v)} is not a number")


def _parse_date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        raise ValueError(f"{_show(v)} is a datetime, not a date (YYYY-MM-DD)")
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str) and ISO_DATE.fullmatch(v.strip()):
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError:
            pass
    raise ValueError(f"{_show(v)} is not a date (YYYY-MM-DD)")


def _parse_datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, str) and ISO_DATETIME.fullmatch(v.strip()):
        try:
            return dt.datetime.fromisoformat(v.strip())
        except ValueError:
            pass
    raise ValueError(f"{_show(v)} is not a datetime (YYYY-MM-DDTHH:MM[:SS][+HH:MM])")


def _loads(v: str, what: str) -> Any:
    try:
        return json.loads(v)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{_show(v)} is not {what}: {exc.msg}") from None
    except ValueError:  # json reads integers with int(), which has a digit limit
        raise ValueError(f"{_show(v)} holds an integer too long to read (at most "
                         f"{_digit_limit()} digits)") from None
    except RecursionError:
        raise ValueError(f"{_show(v)} is nested too deeply") from None


def _parse_list(v: Any) -> list:
    if isinstance(v, (list, tuple)):
        value = list(v)
    elif isinstance(v, str):
        text = v.strip()
        value = _loads(text, "a JSON list") if text.startswith("[") else None
        if not isinstance(value, list):
            value = [item.strip() for item in text.split(",") if item.strip()]
    else:
        raise ValueError(f"{_show(v)} is not a list (a JSON list or comma-separated values)")
    _check_storable(value)
    return value


def _parse_json(v: Any) -> Any:
    value = _loads(v, "valid JSON") if isinstance(v, str) else v
    _check_storable(value)  # first: it names what json.dumps would only choke on
    if not isinstance(v, str):
        try:
            json.dumps(v)
        except (TypeError, ValueError, RecursionError):
            raise ValueError(f"{_show(v)} cannot be represented as JSON") from None
    return value


def _parse_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    raise ValueError(f"{_show(v)} is not text")


def _parse_choice(param: Param, v: Any) -> Any:
    for choice in param.choices or []:
        if v == choice or (isinstance(v, str) and v == str(to_jsonable(choice))):
            return choice
    options = ", ".join(repr(c) for c in param.choices or [])
    raise ValueError(f"{_show(v)} is not one of the choices ({options})")


_PARSERS = {"str": _parse_str, "int": _parse_int, "float": _parse_float, "bool": _parse_bool,
            "date": _parse_date, "datetime": _parse_datetime, "list": _parse_list,
            "json": _parse_json}


def coerce(param: Param, value: Any, check_bounds: bool = True) -> Any:
    """Turn ``value`` (typed, or a string from a CLI or form) into the param's type.

    Raises ValueError with a message that says what is wrong and what would be right.
    """
    if isinstance(value, str):
        _refuse_surrogate(value)
    if param.type == "choice":
        return _parse_choice(param, value)
    result = _PARSERS[param.type](value)
    if isinstance(result, float) and not math.isfinite(result) and not param.allow_nan:
        raise ValueError(f"{result!r} is not a number this parameter accepts (pass "
                         "allow_nan=True to Param to allow NaN and inf)")
    if check_bounds:
        if param.choices is not None and result not in param.choices:
            raise ValueError(f"{_show(value)} is not one of the choices "
                             f"({', '.join(repr(c) for c in param.choices)})")
        try:  # NaN compares false both ways: allowed NaN is not held to the bounds
            if param.min is not None and result < param.min:
                raise ValueError(f"{_show(value)} is below the minimum "
                                 f"{_show(to_jsonable(param.min))}")
            if param.max is not None and result > param.max:
                raise ValueError(f"{_show(value)} is above the maximum "
                                 f"{_show(to_jsonable(param.max))}")
        except TypeError:  # a naive and an aware datetime cannot be compared
            raise ValueError(f"{_show(value)} cannot be compared with the bounds (give both "
                             "with a time zone, or both without)") from None
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
    """Dates and datetimes as ISO strings, NaN and inf as "NaN", "Infinity" and "-Infinity"
    (which a float param reads back); everything else unchanged (for JSON storage)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    return value


def parse_assignments(pairs: Sequence[str] | None) -> dict[str, str]:
    """``-p key=value`` texts (the ``wfnb`` command, ``%wfnb run``) as {key: text};
    UsageError for one without ``=`` or a key given twice."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-p {pair!r}: expected key=value")
        if key.strip() in out:
            raise UsageError(f"-p {key.strip()}: given twice")
        out[key.strip()] = value
    return out
