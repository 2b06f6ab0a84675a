"""The CLI's help is accurate and every verb is wired."""

from __future__ import annotations

import pytest

from streamverse_ctl.cli import main


@pytest.mark.parametrize("verb", sorted(main.VERBS))
def test_static_help_line_matches_the_verbs_own_help(verb: str) -> None:
    # `ctl --help` shows VERBS' line without importing the verb; it must say what the verb says
    obj = main.verb_object(verb)
    assert obj is not None, f"verb {verb} is listed but cli/{verb}.py does not exist"
    own = obj.info.help if main.VERBS[verb][0] == "app" else obj.__doc__  # type: ignore[attr-defined]
    first = " ".join((own or "").strip().split("\n\n")[0].split())
    listed = " ".join(main.VERBS[verb][1].split())
    assert first.startswith(listed.rstrip(".")) or listed.startswith(first), (verb, listed, first)


def test_requested_verb_builds_only_what_runs() -> None:
    assert main.requested_verb(["plan", "-i", "x"]) == "plan"
    assert main.requested_verb(["--help"]) == ""
    assert main.requested_verb(["nosuch"]) == ""


def test_unknown_verb_and_option_exit_1_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main._invoke(main.build_root(""), "streamverse") in (0, 1)  # no args: usage
    import sys

    argv = sys.argv
    try:
        sys.argv = ["streamverse", "ctl", "nosuch"]
        assert main._invoke(main.build_root(main.requested_verb(["nosuch"])), "streamverse") == 1
        sys.argv = ["streamverse", "ctl", "plan", "--nope"]
        assert main._invoke(main.build_root("plan"), "streamverse") == 1
    finally:
        sys.argv = argv
    err = capsys.readouterr().err
    assert "No such command 'nosuch'" in err and "No such option: --nope" in err
    assert "Traceback" not in err
