"""A history file that is damaged, or on a full disk: one line that says what happened and what
to do, never a traceback or DuckDB's own text; nothing stored is lost."""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import pytest

from tests.helpers import PYTHON, QUICK, cli_env


def wfnb_cli(root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "wfnb", *args, "--workspace", str(root)],
                          capture_output=True, text=True, env=cli_env(), timeout=300)


def truncate(path):
    os.truncate(path, os.path.getsize(path) // 2)


def garbage_in_every_block(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        for offset in range(12288, size, 4096):  # past DuckDB's headers: every block
            fh.seek(offset)
            fh.write(b"\x5a" * 64)


def garbage_header(path):
    with open(path, "r+b") as fh:
        fh.write(os.urandom(8192))


def empty(path):
    os.truncate(path, 0)


@pytest.fixture(scope="module")
def good_history(tmp_path_factory):
    """A workspace with two runs in its history, made by the CLI."""
    root = tmp_path_factory.mktemp("damaged") / "ws"
    (root / "workflows").mkdir(parents=True)
    (root / "wfnb.toml").write_text('[workspace]\npaths = ["workflows"]\n')
    (root / "workflows" / "quick.py").write_text(QUICK)
    for _ in range(2):
        assert wfnb_cli(root, "run", "quick").returncode == 0
    return root


@pytest.mark.slow
@pytest.mark.parametrize("damage, what", [
    (truncate, "shorter than its contents say"),
    (garbage_in_every_block, "checksum"),
    (garbage_header, "not a DuckDB database file"),
    (empty, "not a DuckDB database file"),
])
def test_a_damaged_history_is_one_line_naming_the_file_and_what_to_do(good_history, tmp_path,
                                                                      damage, what):
    root = tmp_path / "ws"
    shutil.copytree(good_history, root)
    history = root / ".wfnb" / "history.duckdb"
    damage(history)
    damaged = history.read_bytes()
    for command in (["runs"], ["run", "quick"], ["sql", "select count(*) from runs"]):
        proc = wfnb_cli(root, *command)
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith(f"error: the history {history} is damaged: ")
        assert what in proc.stderr and "Restore it from a backup" in proc.stderr
        assert "Traceback" not in proc.stderr and "IO Error" not in proc.stderr
    assert history.read_bytes() == damaged  # wfnb changed nothing in the damaged file


FULL_DISK = """
import os, sys, wfnb
from wfnb import StoreError
root, filler = sys.argv[1], sys.argv[2]
ws = wfnb.open(root)
first = ws.run("quick")
print("first", first.id, first.status, flush=True)
with open(filler, "wb") as fh:           # fill the disk that holds the history
    try:
        while True:
            fh.write(b"x" * 65536)
            fh.flush()
    except OSError:
        pass
try:
    second = ws.run("quick")
    print("second", second.id, second.status, flush=True)
except StoreError as exc:
    print("refused", exc, flush=True)
os.remove(filler)                        # room again: what was queued is written
third = ws.run("quick")
print("third", third.id, third.status, flush=True)
print("stored", sorted(ws.sql("select status from runs")["status"]), flush=True)
"""


def in_small_disk(script: str, *args: str) -> subprocess.CompletedProcess | None:
    """Run ``script`` with a 4 MB tmpfs mounted at ``args[0]/disk`` (in a mount namespace of
    its own); None when this machine cannot mount one."""
    for unshare in (["unshare", "-Urm"], ["unshare", "-m"]):
        probe = subprocess.run([*unshare, "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
                               capture_output=True)
        if probe.returncode == 0:
            return subprocess.run(
                [*unshare, "sh", "-c", 'mount -t tmpfs -o size=4m tmpfs "$1/disk" && shift '
                 '&& exec "$@"', "sh", *args], capture_output=True, text=True,
                env=cli_env(), timeout=300)
    return None


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_loses_nothing_stored(tmp_path):
    root = tmp_path / "ws"
    (root / "workflows").mkdir(parents=True)
    (root / "disk").mkdir()
    history = root / "disk" / "history.duckdb"
    (root / "wfnb.toml").write_text(f'[workspace]\npaths = ["workflows"]\n'
                                    f'history = "{history}"\n')
    (root / "workflows" / "quick.py").write_text(QUICK)
    script = tmp_path / "full.py"
    script.write_text(textwrap.dedent(FULL_DISK))
    proc = in_small_disk(script, str(root), PYTHON, str(script), str(root),
                         str(root / "disk" / "filler"))
    if proc is None:
        pytest.skip("this machine cannot mount a small tmpfs (unshare -m)")
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "first" in out and " Completed" in out.splitlines()[0]
    refused = [line for line in out.splitlines() if line.startswith("refused")]
    assert refused, out
    assert "is full; free some space and try again" in refused[0], out
    assert "no transaction is active" not in out and "IO Error" not in out
    # the first run, the one refused while the disk was full (written once there was room)
    # and the third are all stored
    assert out.splitlines()[-1] == "stored ['Completed', 'Completed', 'Completed']", out
