"""The history file: schema versions, refusals, and nothing lost on bad input."""
import duckdb
import pytest

import wfnb
from wfnb.engine.store.schema import SCHEMA_VERSION


def test_a_new_workspace_gets_the_config_and_a_versioned_history(tmp_path):
    ws = wfnb.open(tmp_path / "fresh")
    assert (tmp_path / "fresh" / "wfnb.toml").exists()
    tables = set(ws.sql("select table_name from information_schema.tables")["table_name"])
    assert {"runs", "tasks", "events", "approvals", "owners", "schema_version"} <= tables
    assert ws.sql("select max(version) v from schema_version")["v"][0] == SCHEMA_VERSION
    assert ws.workflows() == []


def test_a_history_from_a_newer_wfnb_is_refused_and_left_alone(tmp_path):
    ws = wfnb.open(tmp_path / "ws")
    path = ws.config.history
    ws.store.release()  # this process keeps the file open briefly after a write
    con = duckdb.connect(str(path))
    con.execute("insert into schema_version values (?, now())", [SCHEMA_VERSION + 1])
    con.close()
    wfnb.engine.store.store.Store._instances.clear()  # as a new process would see it
    with pytest.raises(wfnb.StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer "
                                              "than this wfnb knows"):
        wfnb.open(tmp_path / "ws")
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("select max(version) from schema_version").fetchone()[0] \
        == SCHEMA_VERSION + 1
    con.close()


def test_a_foreign_duckdb_file_is_not_touched(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "wfnb.toml").write_text('[workspace]\nhistory = "other.duckdb"\n')
    con = duckdb.connect(str(root / "other.duckdb"))
    con.execute("create table sales(x int)")
    con.close()
    with pytest.raises(wfnb.StoreError, match="not a wfnb history"):
        wfnb.open(root)


@pytest.mark.parametrize("toml, message", [
    ("[workspace\npaths = 1", "not valid TOML"),
    ("[workspace]\npaths = 3\n", "paths must be a list"),
    ("[workspace]\nhistroy = 'x'\n", "unknown key 'histroy' in \\[workspace\\]"),
    ("[executor]\nkind = 'spark'\n", "kind = 'spark' is unknown"),
    ("[executor]\nmax_workers = 0\n", "max_workers must be an integer >= 1"),
    ("[schedule]\nx = 1\n", "unknown section \\[schedule\\]"),
])
def test_a_malformed_config_names_the_file_and_the_problem(tmp_path, toml, message):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "wfnb.toml").write_text(toml)
    with pytest.raises(wfnb.ConfigError, match=message):
        ws = wfnb.open(root)
        ws.executor  # the executor is made on first use
    assert not (root / ".wfnb" / "history.duckdb").exists() or "executor" in toml


def test_an_ended_run_is_never_moved_back_by_a_late_writer(ws):
    """Another process marked the run Error (its owner looked lost); the owner's later
    writes must not resurrect it, but late log lines of the same status still land."""
    from wfnb.engine.execution.liveness import end_run
    run = ws.start("slow_etl", seconds=600)
    ws.store.flush()
    from tests.helpers import poll
    poll(lambda: len(run.tasks) > 1)
    ws.store.flush()
    ws.store.transact(lambda con: end_run(con, run.id, "Running", wfnb.RunStatus.ERROR,
                                          "runner lost: test", None))
    ws.cancel(run.id)  # the owner carries on and writes Cancelled
    stored = ws.sql(f"select status, error from runs where id = '{run.id}'")
    assert stored.to_dict("records") == [{"status": "Error", "error": "runner lost: test"}]
    assert set(ws.sql(f"select status from tasks where run_id = '{run.id}' and step != 'Start'")
               ["status"]) == {"Error"}
