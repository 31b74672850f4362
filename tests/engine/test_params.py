import datetime as dt

import pytest

from wfnb import Param, ParamError, Workflow, WorkflowError
from wfnb.engine.params import validate

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
