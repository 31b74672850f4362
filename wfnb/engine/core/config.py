"""``wfnb.toml``: where a workspace's workflows live and how it runs them."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

FILENAME = "wfnb.toml"
DEFAULT_TOML = """\
# wfnb workspace settings (see docs/user-guide.md)
[workspace]
# folders (or files) holding workflow modules, relative to this file
paths = ["workflows"]
# the run history (DuckDB); relative paths are relative to this file
history = ".wfnb/history.duckdb"

[executor]
kind = "local"        # steps run on a thread pool in the process that starts the run
max_workers = 16
# kind = "dask"       # steps run on Dask workers (pip install 'wfnb[dask]')
# address = "tcp://scheduler:8786"   # without it, a LocalCluster of `workers` processes
# workers = 2
# processes = true    # kind = "dask", no address: false runs the workers as threads here

[kernels]
pool_size = 2         # pre-started kernels per kernel name for notebook steps (0: off)
"""

_KNOWN = {
    "workspace": {"paths", "history", "name", "hung_after"},
    "executor": {"kind", "max_workers", "address", "workers", "threads_per_worker",
                 "processes"},
    "kernels": {"pool_size"},
    "sql": {"allowed_dirs"},
    "roles": None,     # checked by the permissions layer
    "users": None,
}


def read(file: Path) -> str:
    """The text of a config file; ConfigError (not a traceback) when it is not UTF-8 text."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")  # TOML is UTF-8; a BOM (Windows editors) is harmless
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{file}: not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
                          f"{exc.start}, on line {line}); save it as UTF-8") from None


def parse(file: Path) -> dict[str, Any]:
    """The TOML of a config file; a syntax error names the file and the line."""
    try:
        return tomllib.loads(read(file))
    except tomllib.TOMLDecodeError as exc:  # its message ends "(at line 3, column 7)"
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None


@dataclass
class Config:
    root: Path
    paths: list[Path] = field(default_factory=list)
    history: Path = Path(".wfnb/history.duckdb")
    name: str = ""
    executor: dict[str, Any] = field(default_factory=lambda: {"kind": "local"})
    kernel_pool: int = 2
    raw: dict[str, Any] = field(default_factory=dict)
    sql_dirs: list[Path] = field(default_factory=list)   # [sql] allowed_dirs, absolute
    hung_after: float = 60.0   # s without a heartbeat before a live local runner counts as hung


def _sql_dirs(raw: dict[str, Any], root: Path, file: Path) -> list[Path]:
    """``[sql] allowed_dirs``: the folders ``ws.sql`` may read files from (none by default);
    relative ones are relative to the workspace."""
    dirs = raw.get("sql", {}).get("allowed_dirs", [])
    if not isinstance(dirs, list) or not all(isinstance(d, str) and d.strip() for d in dirs):
        raise ConfigError(f"{file}: [sql] allowed_dirs must be a list of folder names "
                          f'(relative to the workspace, e.g. ["data"]), got {dirs!r}')
    return [root / d for d in dirs]


def load(root: Path, create: bool = True) -> Config:
    """Read ``root/wfnb.toml`` (writing the default one first when absent and ``create``)."""
    file = root / FILENAME
    if not file.exists():
        if not create:
            raise ConfigError(f"{file}: no such file (is {root} a wfnb workspace?)")
        try:
            root.mkdir(parents=True, exist_ok=True)
            file.write_text(DEFAULT_TOML, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{file}: cannot be created ({exc.strerror or exc}); is {root} "
                              "a folder you may write to?") from None
    raw = parse(file)
    for section, value in raw.items():
        if section not in _KNOWN:
            raise ConfigError(f"{file}: unknown section [{section}] "
                              f"(known: {', '.join('[' + k + ']' for k in _KNOWN)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{file}: {section} must be a table ([{section}])")
        keys = _KNOWN[section]
        for key in value if keys is not None else ():
            if key not in keys:
                raise ConfigError(f"{file}: unknown key {key!r} in [{section}] "
                                  f"(known: {', '.join(sorted(keys))})")
    ws = raw.get("workspace", {})
    paths = ws.get("paths", ["workflows"])
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigError(f"{file}: [workspace] paths must be a list of folder names")
    history = ws.get("history", ".wfnb/history.duckdb")
    if not isinstance(history, str) or not history:
        raise ConfigError(f"{file}: [workspace] history must be a file path")
    hung_after = ws.get("hung_after", 60)
    if not isinstance(hung_after, (int, float)) or isinstance(hung_after, bool) \
            or not 2 <= hung_after <= 86400:
        raise ConfigError(f"{file}: [workspace] hung_after must be a number of seconds from 2 "
                          f"to 86400, got {hung_after!r}")
    executor = dict(raw.get("executor", {}))
    executor.setdefault("kind", "local")
    workers = executor.get("max_workers", 16)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"{file}: [executor] max_workers must be an integer >= 1, "
                          f"got {workers!r}")
    pool_size = raw.get("kernels", {}).get("pool_size", 2)
    if not isinstance(pool_size, int) or isinstance(pool_size, bool) or pool_size < 0:
        raise ConfigError(f"{file}: [kernels] pool_size must be an integer >= 0 (0 turns the "
                          f"warm kernel pool off), got {pool_size!r}")
    return Config(root=root, paths=[root / p for p in paths], history=root / history,
                  name=ws.get("name", root.name), executor=executor, kernel_pool=pool_size,
                  raw=raw, sql_dirs=_sql_dirs(raw, root, file), hung_after=float(hung_after))
