"""What ``ws.sql`` may run, and on what: one plain query, checked on DuckDB's own parse tree,
on a connection that can write nothing, load no extension and open no file outside the
workspace's ``[sql] allowed_dirs``.

Two locks, each enough for what it covers. The parse tree must be one SELECT whose every
query node reads (a WITH may hold an INSERT or a COPY ... TO, which a statement type does not
show) and whose table functions are readers. The connection is read-only, with external
access off (no file outside the allowed folders, no network, no LOAD or INSTALL), extension
autoloading off, and its configuration locked before the query runs, so nothing in the query
can turn any of it back on."""
from __future__ import annotations

import functools
import json
import os
import re
import threading
from pathlib import Path

import duckdb

from ..core.errors import SqlError

#: query nodes that only read (INSERT_/UPDATE_/DELETE_/COPY_QUERY_NODE can sit in a WITH)
READING_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE",
                           "CTE_NODE"})

#: table functions a query may call: readers of files (inside the allowed folders),
#: generators and the catalog. Not query(), json_execute_serialized_sql() (they run SQL
#: from a string, which the checks here never see) nor the ones that change settings.
TABLE_FUNCTIONS = frozenset({
    "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json",
    "read_json_auto", "read_json_objects", "read_json_objects_auto", "read_ndjson",
    "read_ndjson_auto", "read_ndjson_objects", "read_text", "read_blob", "glob", "sniff_csv",
    "parquet_metadata", "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata",
    "range", "generate_series", "unnest", "repeat", "repeat_row", "json_each", "json_tree",
    "duckdb_columns", "duckdb_constraints", "duckdb_databases", "duckdb_functions",
    "duckdb_indexes", "duckdb_keywords", "duckdb_schemas", "duckdb_settings", "duckdb_tables",
    "duckdb_types", "duckdb_views", "pragma_table_info", "pragma_version",
    "pragma_database_size", "pg_timezone_names",
})

#: settings given when the connection opens (DuckDB takes allowed_directories only once the
#: database runs, and only while external access is on: see ``lock``)
CONNECT = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
           "python_enable_replacements": False}

_parser_lock = threading.Lock()
_OUTSIDE = re.compile(r'Cannot access (?:file|directory) "([^"]*)"')


@functools.cache
def _parser() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB used only to parse users' SQL (creating one costs ~12 ms)."""
    return duckdb.connect(":memory:", config={
        "enable_external_access": False, "autoload_known_extensions": False,
        "autoinstall_known_extensions": False, "lock_configuration": True})


def refusal(query: str) -> str | None:
    """Why ``query`` may not run through ``sql()`` (one line), or None when it is one plain
    query. SqlError when it does not parse (a mistake, not a refusal)."""
    try:
        with _parser_lock:
            statements = _parser().extract_statements(query)
            tree = json.loads(_parser().execute(
                "SELECT json_serialize_sql(q) FROM (VALUES (?)) t(q)", [query]).fetchone()[0])
    except duckdb.Error as exc:
        raise SqlError(f"query failed: {exc}") from None
    if not statements:
        raise SqlError("give one statement at a time (got none)")
    if len(statements) > 1:
        return f"give one statement at a time (got {len(statements)}): nothing was run"
    try:
        kind = statements[0].type.name
    except ValueError:  # a statement type this duckdb module has no name for
        kind = "UNKNOWN"
    if kind != "SELECT":
        kind = "PIVOT without IN (...)" if kind == "MULTI" else kind  # it creates a type
        return (f"the history is read-only through sql(): {kind} statements are refused, "
                "and nothing was changed")
    if tree.get("error"):
        return f"sql() cannot check this query ({tree.get('error_message')}): nothing was run"
    return _tree_refusal(tree["statements"])


def _tree_refusal(tree: list) -> str | None:
    stack: list = [tree]
    while stack:  # every dict of the tree, without recursion (queries nest deep)
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if isinstance(kind, str) and ("cte_map" in item or kind.endswith("_NODE")) \
                and kind not in READING_NODES:
            inner = kind.removesuffix("_NODE").removesuffix("_QUERY")
            return (f"the history is read-only through sql(): {inner} inside a query is "
                    "refused, and nothing was changed")
        if kind == "TABLE_FUNCTION":
            function = item.get("function") or {}
            name = str(function.get("function_name", "")).lower()
            if name not in TABLE_FUNCTIONS:
                return (f"sql() does not call the table function {name}(): it reads with "
                        "read_csv, read_parquet, read_json, read_text, glob ... (see "
                        "docs/sql.md), and nothing was run")
        stack.extend(item.values())
    return None


def directories(dirs: list[Path]) -> list[str]:
    """The prefixes DuckDB allows for the folders ``dirs`` (absolute): each as given and as
    resolved (a link on the way), with a trailing separator (``data`` must not allow
    ``data2``)."""
    found: list[str] = []
    for d in dirs:
        for p in (d, d.resolve()):
            text = os.path.join(str(p), "")
            if text not in found:
                found.append(text)
    return found


def lock(con: duckdb.DuckDBPyConnection, allowed: list[str]) -> None:
    """Close a fresh connection around the allowed folders, before any user SQL runs on it:
    DuckDB takes allowed_directories only while external access is on, then external access
    goes off and the configuration is locked (SET, RESET, PRAGMA and the functions that
    change settings are refused from then on)."""
    if allowed:
        con.execute("SET allowed_directories = ?", [allowed])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def outside(exc: duckdb.PermissionException, root: Path, dirs: list[Path]) -> str:
    """The one-line refusal for what the connection would not do (a file outside the
    allowed folders, as DuckDB names it)."""
    m = _OUTSIDE.search(str(exc))
    if m is None:
        return f"sql() may not do this: {str(exc).splitlines()[0]}"
    where = ", ".join(os.path.relpath(d, root) if d.is_relative_to(root) else str(d)
                      for d in dirs) or "none set"
    path = repr(m.group(1))
    if not os.path.isabs(m.group(1)) and "://" not in m.group(1):
        path += f" (relative to the current folder, {os.getcwd()})"  # as DuckDB reads it
    return (f"sql() reads files only inside [sql] allowed_dirs of wfnb.toml ({where}): "
            f"{path} is outside them, and nothing was read")
