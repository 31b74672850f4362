"""Reading ``wfnb.toml``: every way it can be unreadable is a ConfigError naming the file."""
import subprocess
import sys

import pytest

import wfnb
from tests.helpers import cli_env

LATIN1 = '[workspace]\nname = "caf\xe9"\n'.encode("latin-1")   # 0xe9 at byte 23, line 2


def test_a_config_that_is_not_utf8_names_the_file_the_byte_and_what_to_do(factory):
    (factory.root / "wfnb.toml").write_bytes(LATIN1)
    with pytest.raises(wfnb.ConfigError) as err:
        factory.open()
    assert str(err.value) == (f"{factory.root / 'wfnb.toml'}: not UTF-8 text (byte 0xe9 at "
                              "position 23, on line 2); save it as UTF-8")
    assert not (factory.root / ".wfnb").exists()


def test_the_cli_says_so_in_one_line_and_exits_2(factory):
    (factory.root / "wfnb.toml").write_bytes(LATIN1)
    proc = subprocess.run([sys.executable, "-m", "wfnb", "workflows", "--workspace",
                           str(factory.root)], env=cli_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == (f"error: {factory.root / 'wfnb.toml'}: not UTF-8 text (byte 0xe9 "
                           "at position 23, on line 2); save it as UTF-8\n")


def test_a_utf8_config_with_a_byte_order_mark_is_read(factory):
    (factory.root / "wfnb.toml").write_bytes(
        '\ufeff[workspace]\nname = "café"\npaths = ["workflows"]\n'.encode("utf-8"))
    factory.module("hello", """
        from wfnb import Workflow
        wf = Workflow("hello")
        wf.step(lambda: "hi", name="say")
    """)
    ws = factory.open()
    assert ws.config.name == "café"
    assert ws.run("hello").result("say") == "hi"


def test_a_config_that_cannot_be_read_or_written_is_a_config_error(factory, tmp_path):
    (factory.root / "wfnb.toml").unlink()
    (factory.root / "wfnb.toml").mkdir()
    with pytest.raises(wfnb.ConfigError, match=r"wfnb\.toml: cannot be read \(Is a directory\)"):
        factory.open()
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("hello")
    with pytest.raises(wfnb.ConfigError, match=r"notes\.txt/wfnb\.toml: cannot be created"):
        wfnb.open(not_a_folder)
