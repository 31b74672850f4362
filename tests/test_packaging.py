"""What a wheel installs (the server extension enabled, the prebuilt lab extension, so a user
never needs node), and what the development install (``./dev setup``) shows Jupyter."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
BUILT = ROOT / "wfnb" / "labextension"
# not part of a build: environments, the JS toolchain's folders, outputs of earlier builds
SKIP_TOP = {".git", ".venv", "node_modules", "lib", "build", "dist", "test-output", ".yarn"}
SKIP_ANY = shutil.ignore_patterns("__pycache__", ".wfnb", "*.egg-info", ".pytest_cache",
                                  ".ipynb_checkpoints")


def plain(text: str) -> str:
    """Without the terminal colours Jupyter's listings use."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def jupyter(*args: str) -> str:
    done = subprocess.run([str(BIN / "jupyter"), *args], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return plain(done.stdout + done.stderr)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """A wheel built from a copy of the work tree (a build in place would leave build/ behind),
    with the lab extension as ./dev setup built it."""
    assert (BUILT / "package.json").exists(), "wfnb/labextension/ is not built: run ./dev setup"
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = SKIP_TOP if Path(folder) == ROOT else set()
        return top & set(names) | SKIP_ANY(folder, names)
    shutil.copytree(ROOT, src, ignore=ignore)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--wheel-dir", str(tmp / "dist"), str(src)], capture_output=True, text=True, check=False,
        timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = (tmp / "dist").glob("wfnb-*.whl")
    with zipfile.ZipFile(path) as whl:
        yield whl


def data(wheel: zipfile.ZipFile) -> str:
    """Where a wheel keeps what it installs under the environment's prefix."""
    version = Path(wheel.filename).name.split("-")[1]
    return f"wfnb-{version}.data/data/"


def test_wheel_ships_the_prebuilt_lab_extension(wheel):
    names = set(wheel.namelist())
    lab = f"{data(wheel)}share/jupyter/labextensions/wfnb/"
    assert f"{lab}package.json" in names
    assert any(re.fullmatch(rf"{re.escape(lab)}static/remoteEntry\.[0-9a-f]+\.js", n)
               for n in names), sorted(n for n in names if n.startswith(lab))
    # every file of the build, and only once (not also as package data)
    built = {f"{lab}{p.relative_to(BUILT).as_posix()}" for p in BUILT.rglob("*") if p.is_file()}
    assert built <= names, built - names
    assert not [n for n in names if n.startswith("wfnb/labextension/")]
    # the metadata JupyterLab loads it by
    assert b'"load": "static/remoteEntry.' in wheel.read(f"{lab}package.json")


def test_wheel_enables_the_server_extension(wheel):
    config = f"{data(wheel)}etc/jupyter/jupyter_server_config.d/wfnb.json"
    assert config in wheel.namelist()
    assert b'"wfnb": true' in wheel.read(config)


def test_jupyter_sees_both_extensions_in_the_dev_install():
    servers = jupyter("server", "extension", "list")
    assert re.search(r"^\s*wfnb enabled\s*$", servers, re.MULTILINE), servers
    assert re.search(r"^\s*wfnb [0-9.]+ OK\s*$", servers, re.MULTILINE), servers
    labs = jupyter("labextension", "list")
    assert re.search(r"^\s*wfnb v[0-9.]+ enabled OK\b", labs, re.MULTILINE), labs
