import pytest

import wfnb

from wfnb import LoadError, Param, Workflow, WorkflowError


def make(*params):
    return Workflow("wf", params=list(params))


def test_a_cycle_is_named_at_validation():
    wf = make()
    wf.step(lambda: 1, name="a", after=["b"])
    wf.step(lambda: 1, name="b", after=["a"])
    with pytest.raises(WorkflowError, match="workflow 'wf', step 'a': the steps form a cycle"):
        wf.validate()


def test_unknown_dependency_names_the_step_and_lists_the_real_ones():
    wf = make()
    wf.step(lambda: 1, name="a")
    wf.step(lambda: 1, name="b", after=["nope"])
    with pytest.raises(WorkflowError, match=r"step 'b': after= names 'nope'.*\(steps: a, b\)"):
        wf.validate()


def test_duplicate_step_names_fail_at_definition():
    wf = make()

    @wf.step()
    def a():
        return 1
    with pytest.raises(WorkflowError, match="step 'a': a step with this name already exists"):
        wf.step(lambda: 2, name="a")


def test_a_step_may_not_share_a_parameter_name():
    wf = make(Param("date", type="date"))
    with pytest.raises(WorkflowError, match="same name as a parameter"):
        wf.step(lambda: 1, name="date")


def test_step_arguments_must_be_params_or_upstream_steps():
    wf = make(Param("date", type="date"))

    @wf.step()
    def a(ctx, date):
        return 1

    @wf.step()
    def b(ctx, a):  # a exists but is not upstream
        return a
    with pytest.raises(WorkflowError, match=r"step 'b': argument 'a' is a step that is not "
                                            r"upstream of this one; add after=\['a'\]"):
        wf.validate()

    wf2 = make(Param("date", type="date"))

    @wf2.step()
    def c(ctx, region):
        return region
    with pytest.raises(WorkflowError, match=r"step 'c': argument 'region' is neither a parameter "
                                            r"\(date\) nor an upstream step \(none\)"):
        wf2.validate()


def test_indirect_upstream_results_and_defaults_are_allowed():
    wf = make()
    wf.step(lambda: 1, name="a")
    wf.step(lambda a: a, name="b", after=["a"])

    @wf.step(after=["b"])
    def c(a, b, scale=2):
        return (a + b) * scale
    assert wf.validate() is wf
    assert wf.upstream("c") == {"a", "b"}
    assert wf.order() == ["a", "b", "c"]


def test_version_changes_when_the_definition_changes():
    wf = make()
    wf.step(lambda: 1, name="a")
    before = wf.version
    wf.step(lambda a: a, name="b", after=["a"])
    assert wf.version != before and len(wf.version) == 12


def test_durations_accept_units_and_reject_nonsense():
    wf = make()
    wf.step(lambda: 1, name="a", timeout="2m", retry_delay="500ms")
    assert wf.steps["a"].timeout == 120 and wf.steps["a"].retry_delay == 0.5
    with pytest.raises(WorkflowError, match="step 'b': timeout 'soon' is not a duration"):
        wf.step(lambda: 1, name="b", timeout="soon")


def test_loader_registers_every_module_level_workflow(factory):
    factory.module("two", """
        from wfnb import Workflow
        first = Workflow("first")
        first.step(lambda: 1, name="only")
        second = Workflow("second", title="Second one", tags=["x"])
        second.step(lambda: 2, name="only")
    """)
    factory.module("_private", "raise RuntimeError('never imported')")
    ws = factory.open()
    assert sorted(w.name for w in ws.workflows()) == ["first", "second"]
    assert ws.workflow("second").title == "Second one"
    assert ws.workflow("first").source.endswith("two.py")


def test_loader_reports_the_file_and_line_of_a_broken_module(factory):
    factory.module("broken", """
        from wfnb import Workflow
        wf = Workflow("broken")
        x = undefined_name
    """)
    ws = factory.open()
    assert ws.workflows() == []
    with pytest.raises(LoadError, match=r"broken\.py:4: cannot be imported: NameError"):
        ws.workflow("broken")


def test_definition_errors_surface_at_load_time_with_the_file(factory):
    factory.module("cyclic", """
        from wfnb import Workflow
        wf = Workflow("cyclic")
        wf.step(lambda: 1, name="a", after=["b"])
        wf.step(lambda: 1, name="b", after=["a"])
    """)
    with pytest.raises(WorkflowError, match=r"workflow 'cyclic'.*cyclic\.py:4: .*cycle"):
        factory.open().workflow("cyclic")


def test_two_files_defining_one_name_are_refused(factory):
    for n in ("one", "two"):
        factory.module(n, """
            from wfnb import Workflow
            wf = Workflow("same")
            wf.step(lambda: 1, name="a")
        """)
    with pytest.raises(LoadError, match="workflow 'same' is also defined in workflows/two.py"):
        factory.open().workflow("same")


def test_edited_files_are_reloaded(factory):
    path = factory.module("w", """
        from wfnb import Workflow
        wf = Workflow("w", title="Old")
        wf.step(lambda: 1, name="a")
    """)
    ws = factory.open()
    assert ws.workflow("w").title == "Old"
    path.write_text(path.read_text().replace("Old", "New title"))
    assert ws.workflow("w").title == "New title"


def test_after_accepts_the_function_of_a_step_added_under_another_name():
    wf = make()

    @wf.step(name="load_orders")
    def load():
        return 1

    @wf.step(after=[load])
    def count(load_orders):
        return load_orders
    assert wf.steps["count"].after == ("load_orders",) and wf.validate() is wf


def test_ws_validate_returns_typed_arguments_or_every_problem(ws):
    import datetime as dt
    assert ws.validate("daily_sales", date="2026-11-23")["date"] == dt.date(2026, 11, 23)
    with pytest.raises(wfnb.ParamError) as err:
        ws.validate("daily_sales", rows="many")
    assert set(err.value.errors) == {"date", "rows"}
