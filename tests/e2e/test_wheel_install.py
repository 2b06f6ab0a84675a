"""Installed from a wheel into a fresh virtualenv and run outside the checkout, the CLI still works.

The test builds the wheel from a copy of the checkout (``pip wheel --no-deps --no-build-isolation``,
so no network; the copy keeps a stale ``build/`` or ``*.egg-info`` of the checkout out of it),
creates an empty venv (``python -m venv --without-pip``) and installs only the wheel there
(``pip --python NEWVENV install --no-deps``). A real ``pip install WHEEL`` would fetch boto3,
ansible-core, kubernetes, ... from the index: about 60 s of CI and a network dependency. Instead
the new venv gets the dependencies by one ``.pth`` file that lists the running test interpreter's
purelib and platlib (``sysconfig.get_paths()``). Python does not scan a directory added by a
``.pth`` line for further ``.pth`` files, so the development install's editable finder (a ``.pth``
in that site-packages) is not loaded, and the new venv's own site-packages comes first on
``sys.path``: ``streamverse_ctl`` is the installed wheel, which the test checks. PYTHONPATH and the
STREAMVERSE_* variables are removed for the installed CLI's subprocesses, and they run in an empty
directory with a copy of the demo inventory elsewhere: nothing can come from the checkout.

Building without isolation needs setuptools >= 70.1 (or the ``wheel`` package) in the test
environment; with an older setuptools the test lets pip fetch the build backend (a few seconds).
The editable install scripts/setup.sh makes (``pip install -e``) is checked the same way: it maps the
package to the copy, and the built-in runbooks are the copy's top-level ``runbooks/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
                                ".ruff_cache", ".pytest_cache", ".hypothesis", ".streamverse", "tests", "bench")

SHIPPED = {p.stem for p in (Path(__file__).resolve().parents[2] / "runbooks").glob("*.yaml")}  # every shipped runbook


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
                          **kw)  # type: ignore[call-overload]


def _fresh_venv(venv: Path, *install: str, with_pip: bool = False) -> Path:
    """An empty venv with only streamverse-ctl installed (``install``: pip arguments) and the test
    interpreter's site-packages on sys.path through a .pth line (see the module docstring)."""
    made = _run([sys.executable, "-m", "venv", *([] if with_pip else ["--without-pip"]), str(venv)])
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    site = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=_env(venv))
    paths = sysconfig.get_paths()
    # first, so that a build without isolation in the new venv finds the test environment's setuptools
    (Path(site.stdout.strip()) / "_streamverse_test_deps.pth").write_text(
        "".join(f"{p}\n" for p in dict.fromkeys([paths["purelib"], paths["platlib"]])))
    inst = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", *install])
    assert inst.returncode == 0, inst.stdout[-3000:] + inst.stderr[-3000:]
    return venv


def _isolation() -> list[str]:
    """``--no-build-isolation`` when the test environment can build a wheel (setuptools >= 70.1 or the
    wheel package); otherwise pip fetches the build backend pyproject names, as scripts/setup.sh's
    editable install does."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(x) for x in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return []
    try:
        version("wheel")
        has_wheel = True
    except PackageNotFoundError:
        has_wheel = False
    return ["--no-build-isolation"] if has_wheel or (major, minor) >= (70, 1) else []


def _copy_of_checkout(root: Path) -> Path:
    src = root / "src"
    shutil.copytree(REPO, src, ignore=IGNORE, symlinks=True)
    return src


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from this checkout; returns the venv directory."""
    root = tmp_path_factory.mktemp("wheel")
    src = _copy_of_checkout(root)
    build = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *_isolation(), "-w", str(root / "dist"),
                  str(src)], cwd=root)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = (root / "dist").glob("streamverse_ctl-*.whl")
    return _fresh_venv(root / "venv", "--no-index", str(wheel))


def _env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVERSE_") and k not in ("PYTHONPATH", "CI")}
    # the dependencies' console scripts (ansible-playbook) are those of the test interpreter's environment
    env["PATH"] = os.pathsep.join([str(venv / "bin"), sysconfig.get_paths()["scripts"], env.get("PATH", "")])
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An empty working directory, and a copy of the demo inventory (with its base) beside it."""
    shutil.copytree(REPO / "inventories" / "demo", tmp_path / "inv" / "demo")
    shutil.copytree(REPO / "inventories" / "base", tmp_path / "inv" / "base")
    (tmp_path / "cwd").mkdir()
    return tmp_path


def _sv(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([str(venv / "bin" / "streamverse"), "ctl", *args], cwd=cwd, env=_env(venv))


def test_the_package_is_the_installed_wheel(installed: Path, elsewhere: Path) -> None:
    env = _env(installed)
    assert "PYTHONPATH" not in env
    out = _run([str(installed / "bin" / "python"), "-c", "import streamverse_ctl; print(streamverse_ctl.__file__)"],
               cwd=elsewhere / "cwd", env=env)
    assert out.returncode == 0, out.stderr
    where = Path(out.stdout.strip()).resolve()
    assert where.is_relative_to(installed.resolve()), where
    assert not where.is_relative_to(REPO)


def test_runbook_list_shows_the_builtin_runbooks(installed: Path, elsewhere: Path) -> None:
    p = _sv(installed, elsewhere / "cwd", "runbook", "list", "-o", "json")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    data = json.loads(p.stdout)
    assert {r["name"] for r in data["runbooks"]} == SHIPPED
    assert data["problems"] == []
    for r in data["runbooks"]:  # package data inside the new venv, not the checkout
        assert Path(r["file"]).is_relative_to(installed.resolve() / "lib"), r["file"]


def _state_init(installed: Path, elsewhere: Path) -> None:
    """What a new user does for a state location of their own choosing (a typo is never a new store)."""
    p = _sv(installed, elsewhere / "cwd", "state", "init", "--state-dir", str(elsewhere / "state"))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]


def test_failover_dry_run_from_another_directory(installed: Path, elsewhere: Path) -> None:
    _state_init(installed, elsewhere)
    p = _sv(installed, elsewhere / "cwd", "failover", "us-east", "--dry-run", "-i", str(elsewhere / "inv" / "demo"),
            "--state-dir", str(elsewhere / "state"))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "no runbook named" not in p.stdout + p.stderr


def test_viral_content_dry_run_from_another_directory(installed: Path, elsewhere: Path) -> None:
    """The edge-config step renders the shipped template with the shipped playbook (Ansible check mode)."""
    _state_init(installed, elsewhere)
    p = _sv(installed, elsewhere / "cwd", "runbook", "run", "viral-content", "--set", "video=launch-trailer",
            "--dry-run", "-i", str(elsewhere / "inv" / "demo"), "--state-dir", str(elsewhere / "state"),
            "-o", "json")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert "edge-config" in {e.get("step") for e in events if e["event"] == "step.done"}
    rendered = [e["status"] for e in events
                if e["event"] == "step.ansible" and e.get("task") == "Render nginx.conf per PoP" and e.get("host")]
    assert rendered == ["ok"]
    assert events[-1]["event"] == "run.finish" and events[-1]["exit_code"] == 0


def test_an_editable_install_reads_the_checkouts_runbooks(tmp_path: Path, elsewhere: Path) -> None:
    src = _copy_of_checkout(tmp_path)
    venv = tmp_path / "venv"
    isolation = _isolation()
    # pip --python builds in an isolated environment only for a target venv that has pip itself
    _fresh_venv(venv, *isolation, "-e", str(src), with_pip=not isolation)
    p = _sv(venv, elsewhere / "cwd", "runbook", "list", "-o", "json")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    files = {r["name"]: Path(r["file"]) for r in json.loads(p.stdout)["runbooks"]}
    assert set(files) == SHIPPED
    assert all(f.parent == (src / "runbooks").resolve() for f in files.values()), files
