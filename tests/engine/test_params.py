import datetime as dt
import json
import math
import re
import subprocess
import sys

import pytest

from tests.helpers import cli_env
from wfnb import Param, ParamError, Workflow, WorkflowError
from wfnb.engine.core.params import validate

PARAMS = [
    Param("date", type="date", required=True),
    Param("when", type="datetime"),
    Param("region", type="choice", choices=["EU", "US"], default="EU"),
    Param("rows", type="int", default=10, min=1, max=100),
    Param("ratio", type="float", default=0.5, min=0, max=1),
    Param("dry", type="bool", default=False),
    Param("tags", type="list", default=[]),
    Param("extra", type="json"),
    Param("note", type="str", description="free text"),
]


def test_strings_from_a_cli_or_form_are_coerced_to_types():
    args = validate("wf", PARAMS, {"date": "2026-11-23", "when": "2026-11-23T06:00:00",
                                   "region": "US", "rows": "42", "ratio": "0.25",
                                   "dry": "yes", "tags": "a, b", "extra": '{"k": [1]}',
                                   "note": "hi"})
    assert args == {"date": dt.date(2026, 11, 23), "when": dt.datetime(2026, 11, 23, 6),
                    "region": "US", "rows": 42, "ratio": 0.25, "dry": True,
                    "tags": ["a", "b"], "extra": {"k": [1]}, "note": "hi"}


def test_typed_python_values_pass_and_defaults_fill_in():
    args = validate("wf", PARAMS, {"date": dt.date(2026, 1, 2), "tags": ("x",)})
    assert args["date"] == dt.date(2026, 1, 2)
    assert args["region"] == "EU" and args["rows"] == 10 and args["tags"] == ["x"]
    assert args["when"] is None


def test_every_problem_is_reported_at_once_field_by_field():
    with pytest.raises(ParamError) as err:
        validate("daily", PARAMS, {"date": "2026-13-01", "region": "MARS", "rows": "0",
                                   "ratio": "lots", "dry": "maybe", "extra": "{oops",
                                   "colour": "red"})
    errors = err.value.errors
    assert set(errors) == {"date", "region", "rows", "ratio", "dry", "extra", "colour"}
    assert errors["date"] == "'2026-13-01' is not a date (YYYY-MM-DD)"
    assert "not one of the choices ('EU', 'US')" in errors["region"]
    assert "below the minimum 1" in errors["rows"]
    assert "unknown parameter" in errors["colour"] and "date" in errors["colour"]
    assert "daily" in str(err.value) and "rows:" in str(err.value)


def test_required_fields_refuse_missing_and_blank_values():
    with pytest.raises(ParamError) as err:
        validate("wf", PARAMS, {"date": "  "})
    assert err.value.errors == {"date": "is required"}


def test_int_refuses_bools_and_fractions():
    p = [Param("n", type="int")]
    for bad in (True, 1.5, "1.5", "ten"):
        with pytest.raises(ParamError):
            validate("wf", p, {"n": bad})
    assert validate("wf", p, {"n": 3.0}) == {"n": 3}


def test_bad_parameter_definitions_fail_when_the_workflow_is_defined():
    with pytest.raises(WorkflowError, match="parameter 'x': type 'number' is unknown"):
        Workflow("w", params=[Param("x", type="number")])
    with pytest.raises(WorkflowError, match="'choice' needs a non-empty choices"):
        Workflow("w", params=[Param("x", type="choice")])
    with pytest.raises(WorkflowError, match="default: 'XX' is not one of the choices"):
        Workflow("w", params=[Param("x", type="choice", choices=["A"], default="XX")])
    with pytest.raises(WorkflowError, match="default: 500 is above the maximum 100"):
        Workflow("w", params=[Param("x", type="int", default=500, max=100)])
    with pytest.raises(WorkflowError, match="required parameter cannot have a default"):
        Workflow("w", params=[Param("x", required=True, default="a")])
    with pytest.raises(WorkflowError, match="min/max apply to int, float, date, datetime"):
        Workflow("w", params=[Param("x", type="list", min=["b"])])
    with pytest.raises(WorkflowError, match="cannot be named 'ctx'"):
        Workflow("w", params=[Param("ctx")])
    with pytest.raises(WorkflowError, match="declared twice"):
        Workflow("w", params=[Param("x"), Param("x")])


def test_date_bounds_are_checked():
    p = [Param("d", type="date", min="2026-01-01")]
    with pytest.raises(ParamError, match="below the minimum '2026-01-01'"):
        validate("wf", p, {"d": "2025-12-31"})


# ---- NaN and inf ---------------------------------------------------------------------------
NAN_HINT = "is not a number this parameter accepts (pass allow_nan=True to Param to allow NaN " \
           "and inf)"


@pytest.mark.parametrize("value, shown", [("nan", "nan"), (float("nan"), "nan"),
                                          ("inf", "inf"), ("-Infinity", "-inf"),
                                          (float("-inf"), "-inf")])
def test_nan_and_inf_are_refused_for_a_float_even_within_bounds(value, shown):
    with pytest.raises(ParamError) as err:
        validate("wf", PARAMS, {"date": "2026-11-23", "ratio": value})
    assert err.value.errors == {"ratio": f"{shown} {NAN_HINT}"}
    assert f"ratio: {shown} {NAN_HINT}" in str(err.value)


@pytest.mark.parametrize("name, value, where", [
    ("extra", '{"k": [1, NaN]}', "holds nan at ['k'][1]"),
    ("extra", "Infinity", "holds inf at the top"),
    ("extra", {"k": float("-inf")}, "holds -inf at ['k']"),
    ("tags", '["a", NaN]', "holds nan at [1]"),
    ("tags", ["a", {"b": float("inf")}], "holds inf at [1]['b']"),
])
def test_nan_and_inf_inside_list_and_json_values_are_refused(name, value, where):
    with pytest.raises(ParamError) as err:
        validate("wf", PARAMS, {"date": "2026-11-23", name: value})
    assert err.value.errors == {name: f"{where}, which JSON cannot hold (give a finite number, "
                                      "or null)"}


def test_allow_nan_is_a_float_option_and_bounds_stay_finite():
    p = [Param("x", type="float", allow_nan=True, min=0, max=1)]
    assert math.isnan(validate("wf", p, {"x": "NaN"})["x"])   # NaN is not held to the bounds
    assert validate("wf", [Param("x", type="float", allow_nan=True)],
                    {"x": "-inf"}) == {"x": -math.inf}
    with pytest.raises(ParamError, match="inf is above the maximum 1"):
        validate("wf", p, {"x": float("inf")})
    with pytest.raises(WorkflowError, match="allow_nan applies to float, not to 'json'"):
        Workflow("w", params=[Param("x", type="json", allow_nan=True)])
    with pytest.raises(WorkflowError, match=r"min: nan is not a bound \(give a finite number"):
        Workflow("w", params=[Param("x", type="float", min=float("nan"), allow_nan=True)])
    with pytest.raises(WorkflowError, match=f"default: nan {re.escape(NAN_HINT)}"):
        Workflow("w", params=[Param("x", type="float", default="nan")])
    assert Param("x", type="float", default="nan", allow_nan=True).to_dict()["default"] == "NaN"


def test_an_allowed_nan_is_stored_as_json_and_a_rerun_gets_it_back(factory):
    factory.module("measure", """
        import math
        from wfnb import Param, Workflow
        wf = Workflow("measure", params=[Param("x", type="float", allow_nan=True)])
        wf.step(lambda x: repr(x), name="look")
    """)
    ws = factory.open()
    for given, stored, seen in [("nan", "NaN", "nan"), (float("-inf"), "-Infinity", "-inf")]:
        first = ws.run("measure", x=given)
        assert first.status == "Completed", first.error
        row = ws.sql("select params, json_valid(params) ok from runs where id = ?", [first.id])
        assert bool(row["ok"][0]), row["params"][0]   # DuckDB reads it as JSON
        assert json.loads(row["params"][0], parse_constant=_no_constants) == {"x": stored}
        again = ws.rerun(first.id).wait()
        assert again.status == "Completed", again.error
        assert again.result("look") == seen == first.result("look")
        assert ws.get_run(again.id).params == {"x": stored}


def _no_constants(token):
    raise AssertionError(f"{token} is not JSON")


# ---- dates ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["20261123", "2026-W48-1", "2026-W48"])
def test_a_date_is_exactly_yyyy_mm_dd(text):
    with pytest.raises(ParamError) as err:
        validate("wf", PARAMS, {"date": text})
    assert err.value.errors == {"date": f"{text!r} is not a date (YYYY-MM-DD)"}


def test_a_datetime_takes_the_documented_iso_forms_only():
    refused = ["20261123T120000", "2026-11-23T120000", "2026-W48-1T12:00", "2026-11-23T12",
               "2026-11-23", "2026-11-23T12:00:00,5", "2026-11-23T12:00:00.1234567",
               "2026-11-23t12:00", "2026-11-23T12:00+01"]
    with pytest.raises(ParamError) as err:
        validate("wf", [Param(f"t{i}", type="datetime") for i in range(len(refused))],
                 {f"t{i}": text for i, text in enumerate(refused)})
    assert err.value.errors == {f"t{i}": f"{text!r} is not a datetime "
                                         "(YYYY-MM-DDTHH:MM[:SS][+HH:MM])"
                                for i, text in enumerate(refused)}
    utc, plus1 = dt.timezone.utc, dt.timezone(dt.timedelta(hours=1))
    for text, expected in [
            ("2026-11-23T08:00", dt.datetime(2026, 11, 23, 8)),
            ("2026-11-23 08:00:30", dt.datetime(2026, 11, 23, 8, 0, 30)),
            ("2026-11-23T08:00:30.25", dt.datetime(2026, 11, 23, 8, 0, 30, 250000)),
            ("2026-11-23T08:00+01:00", dt.datetime(2026, 11, 23, 8, tzinfo=plus1)),
            ("2026-11-23T08:00Z", dt.datetime(2026, 11, 23, 8, tzinfo=utc))]:
        assert validate("wf", PARAMS, {"date": "2026-11-23", "when": text})["when"] == expected
    odd = dt.datetime(2026, 11, 23, 8, 0, 0, 7,  # what isoformat() writes is read back
                      tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30, seconds=15)))
    assert validate("wf", PARAMS, {"date": "2026-01-02", "when": odd.isoformat()})["when"] == odd


# ---- long values ---------------------------------------------------------------------------
LONG = "1" * 5000
SHOWN = f"'{'1' * 40}…' (5000 characters)"


@pytest.mark.parametrize("name, value, message", [
    ("rows", LONG, f"{SHOWN} is too long for an integer (at most 4300 digits)"),
    ("rows", "x" * 5000, f"'{'x' * 40}…' (5000 characters) is not an integer"),
    ("rows", 10 ** 5000, "an integer of 5001 digits is too large (at most 4300 digits)"),
    ("ratio", 10 ** 400, "an integer of 401 digits is too large for a float"),
    ("ratio", "9" * 400, f"'{'9' * 40}…' (400 characters) is too large for a float"),
    ("extra", LONG, f"{SHOWN} holds an integer too long to read (at most 4300 digits)"),
    ("extra", "[" * 5000, f"'{'[' * 40}…' (5000 characters) is nested too deeply"),
    ("extra", {"n": 10 ** 5000}, "holds an integer of 5001 digits at ['n'], too long to "
                                 "store (at most 4300 digits)"),
    ("tags", [10 ** 5000], "holds an integer of 5001 digits at [0], too long to store (at "
                           "most 4300 digits)"),
    ("region", LONG, f"{SHOWN} is not one of the choices ('EU', 'US')"),
    ("when", LONG, f"{SHOWN} is not a datetime (YYYY-MM-DDTHH:MM[:SS][+HH:MM])"),
    ("dry", LONG, f"{SHOWN} is not a boolean (true/false, yes/no, 1/0)"),
], ids=["int-digits", "int-text", "int-value", "float-int", "float-text", "json-digits",
        "json-depth", "json-int", "list-int", "choice", "datetime", "bool"])
def test_a_huge_value_is_refused_with_a_short_message(name, value, message):
    with pytest.raises(ParamError) as err:
        validate("wf", PARAMS, {"date": "2026-11-23", name: value})
    assert err.value.errors == {name: message}


def test_a_huge_int_never_reaches_the_history(factory):
    factory.module("count", """
        from wfnb import Param, Workflow
        wf = Workflow("count", params=[Param("n", type="int")])
        wf.step(lambda n: n % 7, name="mod")
    """)
    ws = factory.open()
    with pytest.raises(ParamError) as err:
        ws.start("count", n=10 ** 5000)
    assert err.value.errors == {"n": "an integer of 5001 digits is too large (at most 4300 "
                                     "digits)"}
    assert len(str(err.value)) < 200
    assert ws.sql("select count(*) n from runs")["n"][0] == 0


# ---- lone surrogates -----------------------------------------------------------------------
BAD_TEXT = "contains text that is not valid Unicode (a lone surrogate at {}, such as a " \
           "non-UTF-8 byte from the shell); pass valid UTF-8 text"


@pytest.mark.parametrize("name, value, where", [
    ("note", "caf\udce9", "position 3"),
    ("note", "x\ud800y", "position 1"),
    ("region", "E\udce9", "position 1"),
    ("date", "2026-11-23\udce9", "position 10"),
    ("tags", "a, b\ud800", "position 4"),
    ("tags", ["ok", "x\ud800"], "position 1 of the text at [1]"),
    ("tags", [{"k\udce9": 1}], "position 1 of the key 'k\\udce9' in [0]"),
    ("extra", '{"k": "\\ud800"}', "position 0 of the text at ['k']"),
    ("extra", '{"\\udc00": 1}', "position 0 of the key '\\udc00'"),
    ("extra", {"a": ["x", "yy\udfff"]}, "position 2 of the text at ['a'][1]"),
])
def test_lone_surrogates_are_refused_at_the_door(name, value, where):
    with pytest.raises(ParamError) as err:
        validate("wf", PARAMS, {"date": "2026-11-23", name: value})
    assert err.value.errors == {name: BAD_TEXT.format(where)}


def test_a_non_utf8_byte_from_the_shell_is_refused_and_nothing_is_created(factory):
    factory.module("echo", """
        from wfnb import Param, Workflow
        wf = Workflow("echo", params=[Param("s", required=True)])
        wf.step(lambda s: s, name="say")
    """)
    proc = subprocess.run([sys.executable, "-m", "wfnb", "run", "echo", "-p", b"s=caf\xe9",
                           "--workspace", str(factory.root)],
                          env=cli_env(PYTHONUTF8="1"), capture_output=True, timeout=60)
    err = proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == 2, err
    assert err == ("error: invalid arguments for workflow 'echo':\n"
                   f"  s: {BAD_TEXT.format('position 3')}\n")
    assert proc.stdout == b""
    assert factory.open().sql("select count(*) n from runs")["n"][0] == 0
