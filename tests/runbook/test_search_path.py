"""Where runbooks, playbooks and templates are found: the directories the user names, then the built-in
ones shipped in the package; never the current working directory implicitly."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from streamverse_ctl.core.builtin import builtin_dir
from streamverse_ctl.core.errors import PermanentError
from streamverse_ctl.runbook import loader
from streamverse_ctl.runbook.actions.ansible import find_playbook

REPO = Path(__file__).resolve().parents[2]
BUILTIN = {p.stem for p in (Path(__file__).resolve().parents[2] / "runbooks").glob("*.yaml")}  # every shipped runbook
MINIMAL = "name: {name}\ndescription: d\nsteps:\n  - id: s\n    action: sleep\n    with: {{seconds: 0}}\n"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMVERSE_RUNBOOKS", raising=False)


def test_a_runbooks_directory_in_the_working_directory_is_not_read(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "planted.yaml").write_text(MINIMAL.format(name="planted"))
    (tmp_path / "runbooks" / "regional-failover.yaml").write_text(MINIMAL.format(name="regional-failover"))
    monkeypatch.chdir(tmp_path)
    files = loader.runbook_files()
    assert set(files) == BUILTIN
    assert files["regional-failover"].parent.resolve() == builtin_dir("runbooks").resolve()
    with pytest.raises(PermanentError) as err:
        loader.find("planted")
    assert str(tmp_path) not in str(err.value)


def test_named_directories_come_first_and_the_builtins_stay_available(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    mine, env = tmp_path / "mine", tmp_path / "env"
    mine.mkdir()
    env.mkdir()
    (mine / "regional-failover.yaml").write_text(MINIMAL.format(name="regional-failover"))
    (env / "regional-failover.yaml").write_text(MINIMAL.format(name="regional-failover"))
    (env / "extra.yaml").write_text(MINIMAL.format(name="extra"))
    monkeypatch.setenv("STREAMVERSE_RUNBOOKS", str(env))
    files = loader.runbook_files([mine])
    assert set(files) == BUILTIN | {"extra"}
    assert files["regional-failover"] == mine / "regional-failover.yaml"
    assert files["extra"] == env / "extra.yaml"
    assert files["viral-content"].parent.resolve() == builtin_dir("runbooks").resolve()


def test_an_unknown_runbook_names_every_directory_searched(tmp_path: Path) -> None:
    with pytest.raises(PermanentError) as err:
        loader.find("nope", [tmp_path / "missing", tmp_path])
    text = str(err.value)
    assert text.startswith(f"no runbook named 'nope' (known: {', '.join(sorted(BUILTIN))};")
    assert f"{tmp_path / 'missing'} (does not exist), {tmp_path}, " in text
    assert f"{builtin_dir('runbooks')} (built-in))" in text


def test_a_copied_runbook_finds_the_builtin_playbook(tmp_path: Path) -> None:
    shipped = builtin_dir("runbooks") / "playbooks" / "pop-nginx.yml"
    assert find_playbook(tmp_path, "playbooks/pop-nginx.yml") == shipped.resolve()
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "pop-nginx.yml").write_text("[]\n")
    assert find_playbook(tmp_path, "playbooks/pop-nginx.yml") == (tmp_path / "playbooks" / "pop-nginx.yml").resolve()
    with pytest.raises(PermanentError) as err:
        find_playbook(tmp_path, "playbooks/none.yml")
    assert str(err.value) == (f"no playbook playbooks/none.yml (searched {tmp_path.resolve()}, "
                              f"{builtin_dir('runbooks').resolve()})")


def test_the_builtin_templates_are_found() -> None:
    assert (builtin_dir("templates") / "pop-nginx.conf.j2").is_file()


def test_pyproject_lists_every_package_and_maps_the_builtin_data() -> None:
    """setuptools' find cannot discover the mapped data packages, so pyproject lists the packages:
    a new subpackage left out of the list would be missing from the wheel."""
    st = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    code = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "streamverse_ctl").rglob("__init__.py")}
    data = {f"streamverse_ctl._builtin.{kind}" for kind in ("runbooks", "templates")}
    assert code | data <= set(st["packages"])
    assert {p for p in st["packages"] if not p.startswith("streamverse_ctl._builtin.")} == code
    assert st["package-dir"] == {f"streamverse_ctl._builtin.{k}": k for k in ("runbooks", "templates")}
