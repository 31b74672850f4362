"""``ws.sql`` / ``wfnb sql``: one plain query, read-only, reading files only inside
``[sql] allowed_dirs``; every refusal changes nothing and is written to the audit trail."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import duckdb
import pytest

import wfnb
from tests.helpers import EXAMPLES, PYTHON, TEAM_ROLES, cli_env
from wfnb.engine.store import sqlguard
from wfnb.engine.core.errors import ConfigError


# the team's roles, and vic, who may only VIEW_RUNS
VIEWER_ROLES = (TEAM_ROLES
                .replace('admin = ["ADMIN"]\n', 'admin = ["ADMIN"]\nviewer = ["VIEW_RUNS"]\n')
                .replace("[users]\n", '[users]\nvic = ["viewer"]\n'))


def configure(root, allowed_dirs=None, roles: str = ""):
    """Give a workspace ``[sql] allowed_dirs`` (and roles) in its wfnb.toml."""
    text = roles or (root / "wfnb.toml").read_text()
    if allowed_dirs is not None:
        text += f"\n[sql]\nallowed_dirs = {list(allowed_dirs)!r}\n".replace("'", '"')
    (root / "wfnb.toml").write_text(text)


def denied(ws) -> list[tuple]:
    return [tuple(r) for r in ws.sql(
        "SELECT actor, data->>'capability', data->>'what', data->>'query' FROM events "
        "WHERE kind = 'denied' ORDER BY seq").itertuples(index=False)]


def history(ws) -> tuple:
    """What a refused query must leave as it was (refusals themselves are events), and the
    refusals so far, in one query."""
    row = ws.sql(
        "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM tasks), "
        "(SELECT list(status ORDER BY id) FROM runs), "
        "(SELECT count(*) FROM events WHERE kind != 'denied'), "
        "(SELECT count(*) FROM approvals), (SELECT coalesce(list([actor, data->>'capability', "
        "data->>'what', data->>'query'] ORDER BY seq), []) FROM events WHERE kind = 'denied')"
    ).iloc[0].tolist()
    return tuple(str(v) for v in row[:5]), [tuple(d) for d in row[5]]


def files(root) -> dict[str, str]:
    """Every file of the workspace but its history folder, with a hash of its bytes."""
    found = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".wfnb"]
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = hashlib.sha256(
                open(path, "rb").read()).hexdigest()
    return found


def refused(ws, query: str, match: str, params=()) -> str:
    """Run ``query``; it must be refused with one line matching ``match``, change nothing
    and leave exactly one ``denied`` event naming it."""
    (kept, before), tree = history(ws), files(ws.root)
    with pytest.raises(wfnb.SqlError, match=match) as info:
        ws.sql(query, params)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    assert history(ws) == (kept, [*before, (ws.user, "VIEW_RUNS", message, query)])
    assert files(ws.root) == tree
    return message


@pytest.fixture(scope="module")
def everything_readable(tmp_path_factory):
    """The example workspace with one run, whose whole folder sql() may read: the worst
    case for writes, as DuckDB itself would let a write into an allowed folder through."""
    root = tmp_path_factory.mktemp("sql") / "ws"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns(".wfnb", "__pycache__"))
    (root / "data").mkdir()
    configure(root, ["."])
    ws = wfnb.open(root, user="tester")
    ws.run("daily_sales", date="2026-11-23")
    return ws


@pytest.fixture
def with_data(examples):
    """The example workspace with a data folder sql() may read, and one run."""
    (examples / "data").mkdir()
    (examples / "data" / "owners.csv").write_text("workflow,owner\ndaily_sales,ana\n")
    duckdb.connect().execute(
        "COPY (SELECT 'daily_sales' AS workflow, 'sales' AS team) TO "
        f"'{examples / 'data' / 'teams.parquet'}' (FORMAT parquet)")
    (examples / "data2").mkdir()  # a sibling whose name starts like the allowed one
    (examples / "data2" / "x.csv").write_text("a\n1\n")
    configure(examples, ["data"])
    ws = wfnb.open(examples, user="tester")
    ws.run("daily_sales", date="2026-11-23")
    return ws


# ---- the tricks found: EXPLAIN ANALYZE around a write -----------------------------------

def test_explain_analyze_copy_writes_no_file_and_is_audited(everything_readable):
    ws = everything_readable
    for target in (ws.root / "leak.csv", ws.root / "data" / "leak.csv", ws.root / "wfnb.toml"):
        message = refused(ws, f"EXPLAIN ANALYZE COPY (SELECT id FROM runs) TO '{target}'",
                          "EXPLAIN statements are refused")
        assert message == ("the history is read-only through sql(): EXPLAIN statements are "
                           "refused, and nothing was changed")
    assert not (ws.root / "leak.csv").exists() and not (ws.root / "data" / "leak.csv").exists()


def test_a_user_with_only_view_runs_cannot_make_themselves_admin(factory):
    """The tester's escalation: rewrite wfnb.toml through sql(), here with the whole
    workspace readable, through each way a write could hide in one statement."""
    roles = VIEWER_ROLES
    configure(factory.root, ["."], roles=roles)
    toml = factory.root / "wfnb.toml"
    original = toml.read_bytes()
    payload = roles.replace('vic = ["viewer"]', 'vic = ["admin"]').replace("'", "''")
    copy = f"COPY (SELECT '{payload}') TO '{toml}' (FORMAT csv, HEADER false, QUOTE '')"
    vic = factory.open(user="vic")
    assert not vic.can("ADMIN")
    for query, match in [
            (f"EXPLAIN ANALYZE {copy}", "EXPLAIN statements are refused"),
            (copy, "COPY statements are refused"),
            (f"WITH x AS ({copy}) SELECT 1", "COPY inside a query is refused"),
            ("SELECT * FROM json_execute_serialized_sql(json_serialize_sql("
             f"'WITH x AS ({copy.replace(chr(39), chr(39) * 2)}) SELECT 1'))",
             "table function json_execute_serialized_sql"),
            (f"SELECT 1; {copy}", "one statement at a time")]:
        refused(vic, query, match)
    assert toml.read_bytes() == original
    again = wfnb.open(factory.root, user="vic")
    assert not again.can("ADMIN") and not again.can("RUN_WORKFLOW")
    assert {actor for actor, *_ in denied(factory.open(user="root"))} == {"vic"}


# ---- statements other than one plain query ------------------------------------------------

STATEMENTS = {  # query (with {out}: a file in an allowed folder) -> its refusal
    "copy to": ("COPY runs TO '{out}'", "COPY statements"),
    "copy from": ("COPY runs FROM '{out}'", "COPY statements"),
    "export": ("EXPORT DATABASE '{dir}'", "EXPORT statements"),
    "attach": ("ATTACH '{dir}/other.duckdb' AS other", "ATTACH statements"),
    "detach": ("DETACH history", "DETACH statements"),
    "load": ("LOAD httpfs", "LOAD statements"),
    "install": ("INSTALL httpfs", "LOAD statements"),
    "explain analyze load": ("EXPLAIN ANALYZE LOAD httpfs", "EXPLAIN statements"),
    "explain": ("EXPLAIN SELECT 1", "EXPLAIN statements"),
    "set": ("SET enable_external_access = true", "SET statements"),
    "reset": ("RESET lock_configuration", "SET statements"),
    "set variable": ("SET VARIABLE x = 1", "SET statements"),
    "use": ("USE memory", "SET statements"),
    "pragma": ("PRAGMA version", "PRAGMA statements"),
    "pragma profiling": ("PRAGMA enable_profiling", "PRAGMA statements"),
    "pragma assignment": ("PRAGMA profiling_output = '{out}'", "SET statements"),
    "call": ("CALL pragma_version()", "CALL statements"),
    "checkpoint": ("CHECKPOINT", "CALL statements"),
    "create table": ("CREATE TABLE t AS SELECT 1", "CREATE statements"),
    "create temp table": ("CREATE TEMP TABLE t (a INTEGER)", "CREATE statements"),
    "create macro": ("CREATE MACRO m() AS 1", "CREATE statements"),
    "create secret": ("CREATE SECRET s (TYPE s3)", "CREATE statements"),
    "insert": ("INSERT INTO events (ts, kind) VALUES (now(), 'x')", "INSERT statements"),
    "update": ("UPDATE runs SET status = 'Failed'", "UPDATE statements"),
    "delete": ("DELETE FROM runs", "DELETE statements"),
    "merge": ("MERGE INTO runs USING (SELECT 1 AS id) s ON runs.id = s.id "
              "WHEN MATCHED THEN DELETE", "MERGE_INTO statements"),
    "drop": ("DROP TABLE tasks", "DROP statements"),
    "alter": ("ALTER TABLE runs ADD COLUMN x INTEGER", "ALTER statements"),
    "vacuum": ("VACUUM", "VACUUM statements"),
    "begin": ("BEGIN", "TRANSACTION statements"),
    "prepare": ("PREPARE p AS SELECT 1", "PREPARE statements"),
    "pivot creating a type": ("PIVOT runs ON status", r"PIVOT without IN \(...\) statements"),
    "update extensions": ("UPDATE EXTENSIONS", "UNKNOWN statements"),
    "with copy": ("WITH x AS (COPY runs TO '{out}') SELECT 1", "COPY inside a query"),
    "with insert": ("WITH x AS (INSERT INTO events (ts, kind) VALUES (now(), 'x') "
                    "RETURNING *) SELECT * FROM x", "INSERT inside a query"),
    "with update": ("WITH x AS (UPDATE runs SET status = 'Failed' RETURNING *) "
                    "SELECT * FROM x", "UPDATE inside a query"),
    "nested delete": ("SELECT 1 WHERE EXISTS (WITH y AS (DELETE FROM runs RETURNING 1) "
                      "SELECT * FROM y)", "DELETE inside a query"),
    "summarize copy": ("SUMMARIZE (WITH c AS (COPY runs TO '{out}') SELECT 1)",
                       "COPY inside a query"),
    "two statements": ("SELECT 1; SELECT 2", r"one statement at a time \(got 2\)"),
    "a write after a read": ("SELECT 1; COPY runs TO '{out}'", "one statement at a time"),
}


@pytest.mark.parametrize("name", STATEMENTS)
def test_anything_but_one_plain_query_is_refused(everything_readable, name):
    ws = everything_readable
    query, match = STATEMENTS[name]
    data = ws.root / "data"
    refused(ws, query.format(out=data / "out.csv", dir=data), match)
    assert os.listdir(data) == []


TABLE_FUNCTIONS = {  # table functions that run SQL from a string or change settings
    "query": "SELECT * FROM query('SELECT 1')",
    "query, qualified": "SELECT * FROM main.\"QUERY\"('SELECT 1')",
    "query in a subquery": "SELECT (FROM query('SELECT 1'))",
    "serialized sql": "SELECT * FROM json_execute_serialized_sql("
                      "json_serialize_sql('WITH x AS (COPY runs TO ''{out}'') SELECT 1'))",
    "enable_logging": "SELECT * FROM enable_logging()",
    "enable_profiling": "SELECT * FROM enable_profiling()",
    "truncate logs": "SELECT * FROM truncate_duckdb_logs()",
    "extensions": "SELECT * FROM duckdb_extensions()",
}


@pytest.mark.parametrize("name", TABLE_FUNCTIONS)
def test_table_functions_that_run_sql_or_change_settings_are_refused(everything_readable,
                                                                      name):
    ws = everything_readable
    refused(ws, TABLE_FUNCTIONS[name].format(out=ws.root / "data" / "out.csv"),
            r"does not call the table function \w+\(\)")
    assert os.listdir(ws.root / "data") == []


def test_a_select_calling_a_writing_function_writes_nothing(everything_readable):
    ws = everything_readable
    with pytest.raises(wfnb.SqlError, match="query failed"):
        ws.sql("SELECT nextval('no_such_sequence')")
    settings = ws.sql("SELECT current_setting('enable_external_access') AS ext, "
                      "current_setting('lock_configuration') AS locked, "
                      "current_setting('autoload_known_extensions') AS autoload, "
                      "current_setting('autoinstall_known_extensions') AS autoinstall")
    assert settings.to_dict("records") == [
        {"ext": False, "locked": True, "autoload": False, "autoinstall": False}]


# ---- what still works ----------------------------------------------------------------------

def test_plain_queries_run_with_their_parameters(everything_readable):
    ws = everything_readable
    run_id = ws.sql("SELECT id FROM runs")["id"][0]
    assert ws.sql("SELECT status FROM runs WHERE id = ?", [run_id])["status"][0] == "Completed"
    assert ws.sql("SELECT $1 || $2 AS s", ("a", "b"))["s"][0] == "ab"
    queries = [
        "WITH r AS (SELECT * FROM runs) SELECT count(*) FROM r",
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) "
        "SELECT * FROM t",
        "FROM runs SELECT id", "TABLE runs", "VALUES (1), (2)", "SELECT 1 UNION SELECT 2",
        "DESCRIBE runs", "SHOW TABLES", "SUMMARIZE runs",
        "PIVOT runs ON status IN ('Completed', 'Failed') USING count(*)",
        "SELECT * FROM pragma_version()", "SELECT * FROM pragma_table_info('runs')",
        "SELECT * FROM duckdb_tables()", "SELECT table_name FROM information_schema.tables",
        "SELECT * FROM range(3)", "SELECT * FROM json_each('{\"a\": 1}')",
        "SELECT unnest([1, 2])", "SELECT * FROM runs, LATERAL (SELECT runs.id) x",
    ]
    for query in queries:
        assert len(ws.sql(query).columns) > 0, query
    before = denied(ws)
    assert ws.sql("SHOW TABLES")["name"].str.contains("runs").any()
    assert denied(ws) == before


def test_the_workspace_writes_as_before_after_sql_refusals(everything_readable):
    ws = everything_readable
    with pytest.raises(wfnb.SqlError):
        ws.sql("SET enable_external_access = true")
    with pytest.raises(wfnb.SqlError):
        ws.sql("SELECT * FROM read_csv('/etc/passwd')")
    assert ws.run("daily_sales", date="2026-11-24").status == "Completed"
    assert ws.sql("SELECT count(*) AS n FROM runs")["n"][0] >= 2


# ---- files ---------------------------------------------------------------------------------

def test_files_in_allowed_dirs_can_be_read_and_joined_with_the_history(with_data, monkeypatch):
    ws, data = with_data, with_data.root / "data"
    joined = ws.sql(f"SELECT r.workflow, o.owner, t.team FROM runs r "
                    f"JOIN read_csv('{data / 'owners.csv'}') o USING (workflow) "
                    f"JOIN '{data / 'teams.parquet'}' t USING (workflow)")
    assert joined.to_dict("records") == [
        {"workflow": "daily_sales", "owner": "ana", "team": "sales"}]
    assert ws.sql("SELECT owner FROM read_csv(?)", [str(data / "owners.csv")])["owner"][0] \
        == "ana"
    assert sorted(os.path.basename(f) for f in ws.sql(f"SELECT * FROM glob('{data}/*')")["file"]) \
        == ["owners.csv", "teams.parquet"]
    assert ws.sql(f"SELECT * FROM parquet_schema('{data / 'teams.parquet'}')").shape[0] > 0
    monkeypatch.chdir(ws.root)  # a relative path is read from the current folder
    assert ws.sql("SELECT count(*) AS n FROM read_csv('data/owners.csv')")["n"][0] == 1
    assert denied(ws) == []


def test_files_outside_allowed_dirs_are_refused(with_data, tmp_path, monkeypatch):
    ws, root = with_data, with_data.root
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    for query in [
            "SELECT * FROM read_csv('/etc/passwd')",
            "SELECT * FROM read_text('/etc/passwd')",
            "SELECT * FROM read_blob('/etc/passwd')",
            "SELECT * FROM sniff_csv('/etc/passwd')",
            f"SELECT * FROM read_csv('{secret}')",
            f"SELECT * FROM '{secret}'",
            f"SELECT * FROM read_json('{secret}')",
            f"SELECT * FROM read_parquet('{secret}')",
            f"SELECT * FROM parquet_metadata('{secret}')",
            f"SELECT * FROM glob('{tmp_path}/*')",
            f"SELECT * FROM glob('{root}/*')",
            f"SELECT * FROM read_text('{root / 'wfnb.toml'}')",
            f"SELECT * FROM read_text('{root}/data/../wfnb.toml')",
            f"SELECT * FROM read_csv('{root / 'data2' / 'x.csv'}')",
            f"SELECT * FROM read_csv(['{root}/data/owners.csv', '{secret}'])",
            "SELECT * FROM read_csv('https://example.com/x.csv')"]:
        refused(ws, query, r"reads files only inside \[sql\] allowed_dirs of wfnb.toml \(data\)")
    message = refused(ws, "SELECT * FROM read_csv(?)", "allowed_dirs", params=[str(secret)])
    assert message.endswith(f"{str(secret)!r} is outside them, and nothing was read")
    monkeypatch.chdir(root)
    message = refused(ws, "SELECT * FROM read_text('wfnb.toml')", "allowed_dirs")
    assert f"'wfnb.toml' (relative to the current folder, {root})" in message


def test_without_allowed_dirs_no_file_can_be_read(ws):
    (ws.root / "data").mkdir()
    (ws.root / "data" / "x.csv").write_text("a\n1\n")
    message = refused(ws, f"SELECT * FROM read_csv('{ws.root / 'data' / 'x.csv'}')",
                      r"allowed_dirs of wfnb.toml \(none set\)")
    assert "x.csv" in message


def test_the_connection_alone_refuses_writes_extensions_and_other_files(with_data, tmp_path):
    """The second lock, without the parse check: what DuckDB refuses on the connection."""
    ws, tmp_path = with_data, tmp_path / "outside"
    tmp_path.mkdir()
    with ws.store.connect(read_only=True, config=sqlguard.CONNECT) as con:
        sqlguard.lock(con, sqlguard.directories(ws.config.sql_dirs))
        for statement, error in [
                ("SET enable_external_access = true", duckdb.InvalidInputException),
                ("SET allowed_directories = ['/']", duckdb.InvalidInputException),
                ("RESET lock_configuration", duckdb.InvalidInputException),
                ("SET autoload_known_extensions = true", duckdb.InvalidInputException),
                (f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'", duckdb.PermissionException),
                (f"ATTACH '{tmp_path / 'new.duckdb'}'", duckdb.PermissionException),
                ("LOAD httpfs", duckdb.PermissionException),
                ("INSTALL httpfs", duckdb.PermissionException),
                ("INSERT INTO events (ts, kind) VALUES (now(), 'x')", duckdb.Error),
                ("SELECT * FROM read_csv('/etc/passwd')", duckdb.PermissionException)]:
            with pytest.raises(error):
                con.execute(statement)
    assert os.listdir(tmp_path) == []


def test_allowed_dirs_must_be_a_list_of_folders(examples):
    for value in ('"data"', "[1]", '[""]'):
        (examples / "wfnb.toml").write_text(f"[sql]\nallowed_dirs = {value}\n")
        with pytest.raises(ConfigError, match=r"\[sql\] allowed_dirs must be a list of folder"):
            wfnb.open(examples)
    (examples / "wfnb.toml").write_text('[sql]\nallowed = ["data"]\n')
    with pytest.raises(ConfigError, match="unknown key 'allowed' in \\[sql\\]"):
        wfnb.open(examples)


# ---- the command line ----------------------------------------------------------------------

def wfnb_sql(root, query, cwd, user="tester"):
    return subprocess.run([PYTHON, "-m", "wfnb", "sql", query, "--workspace", str(root)],
                          cwd=cwd, env=cli_env(WFNB_USER=user), capture_output=True,
                          text=True, timeout=120)


def test_wfnb_sql_reads_allowed_files_and_refuses_the_rest(with_data, tmp_path):
    ws, data, tmp_path = with_data, with_data.root / "data", tmp_path / "elsewhere"
    tmp_path.mkdir()
    ok = wfnb_sql(ws.root, f"SELECT r.workflow, o.owner FROM runs r "
                           f"JOIN read_csv('{data / 'owners.csv'}') o USING (workflow)", tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "daily_sales   ana" in ok.stdout
    target = ws.root / "wfnb.toml"
    original = target.read_bytes()
    for query, reason in [
            (f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{target}'",
             "the history is read-only through sql(): EXPLAIN statements are refused"),
            (f"WITH x AS (COPY runs TO '{data / 'leak.csv'}') SELECT 1",
             "the history is read-only through sql(): COPY inside a query is refused"),
            ("SELECT * FROM read_csv('/etc/passwd')",
             "sql() reads files only inside [sql] allowed_dirs of wfnb.toml (data)")]:
        done = wfnb_sql(ws.root, query, tmp_path)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith(f"error: {reason}") and done.stderr.count("\n") == 1
        assert denied(ws)[-1][3] == query
    assert target.read_bytes() == original and not (data / "leak.csv").exists()
    assert os.listdir(tmp_path) == []


def test_wfnb_sql_cannot_make_a_viewer_admin(factory, tmp_path):
    roles = VIEWER_ROLES
    configure(factory.root, ["."], roles=roles)
    toml = factory.root / "wfnb.toml"
    original = toml.read_bytes()
    payload = roles.replace('vic = ["viewer"]', 'vic = ["admin"]').replace("'", "''")
    query = (f"EXPLAIN ANALYZE COPY (SELECT '{payload}') TO '{toml}' "
             "(FORMAT csv, HEADER false, QUOTE '')")
    done = wfnb_sql(factory.root, query, tmp_path, user="vic")
    assert done.returncode == 2 and "EXPLAIN statements are refused" in done.stderr
    assert toml.read_bytes() == original
    assert not wfnb.open(factory.root, user="vic").can("ADMIN")
    assert denied(factory.open(user="root")) == [
        ("vic", "VIEW_RUNS", done.stderr.removeprefix("error: ").strip(), query)]
