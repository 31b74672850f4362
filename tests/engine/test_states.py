import pytest

from wfnb.engine.core.errors import StateError
from wfnb.engine.core.states import (RUN_TERMINAL, RUN_TRANSITIONS, TASK_TERMINAL, RunStatus,
                                     TaskStatus, check_run, check_task)


def test_run_statuses_are_the_words_users_see():
    assert [s.value for s in RunStatus] == [
        "Pending", "Running", "Waiting for Approval", "Completed", "Failed", "Cancelled",
        "Rejected", "Error"]
    assert str(RunStatus.WAITING) == "Waiting for Approval"


def test_terminal_statuses_allow_no_transition():
    for status in RUN_TERMINAL:
        for target in RunStatus:
            with pytest.raises(StateError, match=f"from '{status.value}'"):
                check_run(status, target)
    for status in TASK_TERMINAL:
        with pytest.raises(StateError):
            check_task(status, TaskStatus.RUNNING)


def test_legal_paths_through_a_run():
    assert check_run(RunStatus.PENDING, RunStatus.RUNNING) is RunStatus.RUNNING
    assert check_run(RunStatus.RUNNING, RunStatus.WAITING) is RunStatus.WAITING
    assert check_run(RunStatus.WAITING, RunStatus.RUNNING) is RunStatus.RUNNING
    assert check_task(TaskStatus.PENDING, TaskStatus.SKIPPED) is TaskStatus.SKIPPED


def test_a_run_cannot_complete_without_running():
    with pytest.raises(StateError, match="cannot go from 'Pending' to 'Completed'"):
        check_run(RunStatus.PENDING, RunStatus.COMPLETED)
    assert RunStatus.COMPLETED not in RUN_TRANSITIONS[RunStatus.PENDING]
