"""A rerun gets exactly its parent's arguments, types included, from Python and from the CLI."""
import datetime as dt
import json
import subprocess
import sys

import pytest

import wfnb
from tests.helpers import cli_env, poll
from wfnb.cli import main

TYPED = """
    from wfnb import Param, Workflow
    wf = Workflow("typed", params=[
        Param("text", type="str", required=True),
        Param("count", type="int", default=1),
        Param("ratio", type="float", default=0.5),
        Param("flag", type="bool", default=False),
        Param("day", type="date", required=True),
        Param("at", type="datetime", required=True),
        Param("colour", type="choice", choices=["red", "green"], default="red"),
        Param("tags", type="list"),
        Param("five", type="json"),
        Param("hello", type="json"),
        Param("config", type="json"),
        Param("note", type="str"),
    ])

    @wf.step()
    def seen(text, count, ratio, flag, day, at, colour, tags, five, hello, config, note):
        values = dict(text=text, count=count, ratio=ratio, flag=flag, day=day, at=at,
                      colour=colour, tags=tags, five=five, hello=hello, config=config,
                      note=note)
        return {k: [type(v).__name__, repr(v)] for k, v in values.items()}
"""

GIVEN = dict(text="5", count=7, ratio=2.0, flag=True, day=dt.date(2026, 11, 23),
             at=dt.datetime(2026, 11, 23, 6, 30, 15, 250, tzinfo=dt.timezone.utc),
             colour="green", tags=["a", "b, c", 3], five='"5"', hello='"hello"',
             config={"a": [1, "2", None], "b": {"c": 1.5}})  # note: left unset

STORED = {"text": "5", "count": 7, "ratio": 2.0, "flag": True, "day": "2026-11-23",
          "at": "2026-11-23T06:30:15.000250+00:00", "colour": "green",
          "tags": ["a", "b, c", 3], "five": "5", "hello": "hello",
          "config": {"a": [1, "2", None], "b": {"c": 1.5}}, "note": None}


def exactly(params: dict) -> str:
    """JSON text tells 5 from "5", 5.0 and true, where == does not."""
    return json.dumps(params, sort_keys=True)


@pytest.fixture
def typed(factory, monkeypatch):
    monkeypatch.setenv("WFNB_USER", "tester")
    factory.module("typed", TYPED)
    ws = factory.open()
    parent = ws.run("typed", **GIVEN)
    assert parent.status == "Completed", parent.error
    assert exactly(parent.params) == exactly(STORED)
    return ws, parent


def rerun_with_the_cli(ws, parent_id: str, *extra: str) -> str:
    """``wfnb rerun`` in this process: the new run's id."""
    assert main(["rerun", parent_id, *extra, "--json", "--workspace", str(ws.root)]) == 0
    return next(r.id for r in ws.runs(limit=1))


def rerun_in_the_background(ws, parent_id: str, *extra: str) -> str:
    """``wfnb rerun --no-wait`` as a real process, whose child runs it: the run's id, ended."""
    proc = subprocess.run([sys.executable, "-m", "wfnb", "rerun", parent_id, *extra,
                           "--no-wait", "--workspace", str(ws.root)],
                          env=cli_env(WFNB_USER="tester"), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split()[1]
    poll(lambda: ws.get_run(run_id).done, timeout=60, interval=0.1,
         what="the background rerun to end")
    return run_id


HOW = {"api": lambda ws, parent_id, *extra: ws.rerun(parent_id).wait(60).id,
       "cli": rerun_with_the_cli,
       "cli --no-wait": pytest.param(rerun_in_the_background, marks=pytest.mark.slow)}


@pytest.mark.parametrize("how", list(HOW.values()), ids=list(HOW))
def test_a_rerun_gets_exactly_the_arguments_of_its_parent(typed, how):
    ws, parent = typed
    again = ws.get_run(how(ws, parent.id))
    assert again.status == "Completed", again.error
    assert again.trigger == "rerun" and again.parent_id == parent.id
    assert again.params == parent.params and exactly(again.params) == exactly(parent.params)
    # and the step was handed the same Python values: a date, a str "5", None ...
    assert again.result("seen") == parent.result("seen")
    assert parent.result("seen")["five"] == ["str", "'5'"]
    assert parent.result("seen")["day"] == ["date", "datetime.date(2026, 11, 23)"]


def test_api_overrides_are_typed_values_and_the_rest_stays_as_stored(typed):
    ws, parent = typed
    again = ws.rerun(parent.id, count=8, note="again", config=[1]).wait(60)
    assert again.status == "Completed", again.error
    assert exactly(again.params) == exactly({**STORED, "count": 8, "note": "again",
                                             "config": [1]})


def test_cli_overrides_are_text_coerced_as_for_wfnb_run(typed):
    ws, parent = typed
    again = ws.get_run(rerun_with_the_cli(ws, parent.id, "-p", "count=9", "-p", "five=6",
                                          "-p", "tags=x,y"))
    assert exactly(again.params) == exactly({**STORED, "count": 9, "five": 6,
                                             "tags": ["x", "y"]})


@pytest.mark.slow
def test_a_background_rerun_takes_overrides_and_refuses_bad_ones_before_starting(typed):
    ws, parent = typed
    again = ws.get_run(rerun_in_the_background(ws, parent.id, "-p", "count=9",
                                               "-p", "note=later"))
    assert again.status == "Completed", again.error
    assert exactly(again.params) == exactly({**STORED, "count": 9, "note": "later"})
    proc = subprocess.run([sys.executable, "-m", "wfnb", "rerun", parent.id, "-p", "count=x",
                           "--no-wait", "--workspace", str(ws.root)],
                          env=cli_env(WFNB_USER="tester"), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "count: 'x' is not an integer" in proc.stderr
    assert ws.sql("select count(*) n from runs")["n"][0] == 2


def test_a_rerun_of_a_workflow_whose_params_changed_says_what_no_longer_fits(typed, factory):
    ws, parent = typed
    factory.module("typed", TYPED.replace('Param("day", type="date", required=True)',
                                          'Param("day", type="int", required=True)'))
    with pytest.raises(wfnb.ParamError) as err:
        ws.rerun(parent.id)
    assert err.value.errors == {"day": "'2026-11-23' is not an integer"}
