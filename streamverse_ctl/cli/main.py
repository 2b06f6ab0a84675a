"""Entry points: ``streamverse`` (with the ``ctl`` group) and the ``streamverse-ctl`` alias.

Exit codes: 0 ok, 1 error, 2 changes pending (``plan --detailed-exitcode``), 3 refused by a
guardrail or a held lock. Bad input never shows a traceback (set STREAMVERSE_DEBUG=1 to see one
for an internal error).
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from pathlib import Path
from typing import Annotated

import typer

from .. import __version__

# verb -> (typer object attribute in cli/<verb>.py, one-line help). The line is shown by
# `ctl --help` without importing the verb (a test keeps it equal to the verb's own help), and only
# the verb being run is built, so help and every command start fast.
VERBS: dict[str, tuple[str, str]] = {
    "validate": ("command",
                 "Check an inventory's structure and meaning; report every problem with file, line and field."),
    "plan": ("command", "Show what differs between the inventory and actual state, field by field, in apply order."),
    "show": ("command", "Show a plan saved by `plan --out`, without reading any provider or the state."),
    "apply": ("command",
              "Converge actual state to the inventory, behind the lock and guardrails, journaled and audited."),
    "reconcile": ("command", "Keep reconciling: plan every interval, report drift and pending changes, converge "
                             "with --apply."),
    "diff": ("command", "Show drift: what changed outside StreamVerse Control since it last wrote. Never acts."),
    "get": ("command", "List inventory documents of a kind with their key settings and whether actual state matches."),
    "describe": ("command", "One document in full: its source, effective spec (after overlays and overrides), the "
                            "resources it"),
    "capacity": ("command", "Capacity and cost: storage, egress, GPUs, cache, monthly cost and headroom; what-ifs "
                            "and charts."),
    "schema": ("command", "Write the JSON Schema (draft 2020-12) of inventory documents, for editors and CI."),
    "plugins": ("app", "List the registered providers, kinds, runbook actions and CLI verbs."),
    "state": ("app", "The state backend: locks, audit log, journals."),
    "sim": ("app", "The embedded sim platform (a local simulator, not a cloud): status, faults, drift."),
    "dns": ("app", "DNS traffic steering: set weights, list overrides, verify answers, query."),
    "runbook": ("app", "Runbooks: validated, journaled, resumable operational procedures."),
    "slo": ("app", "SLOs as code: Prometheus rules, burn-rate alerts and Grafana dashboards."),
    "failover": ("command", "Fail a region over (the regional-failover runbook): capacity check, scale, warm, "
                            "shift DNS, drain."),
    "failback": ("command", "Bring a drained region back gradually (the regional-failback runbook), pausing "
                            "on regression."),
    "drill": ("command", "DR drill: run a failover runbook as a game day, measure recovery time and traffic lost, "
                         "write a report."),
    "transcode": ("app", "Transcoding: the encoding ladder's ffmpeg commands and Kubernetes Jobs."),
    "probe": ("app", "Synthetic playback probe: DNS, PoP, playlists and first segment against the startup SLO."),
    "status": ("command", "Regions (health, serving, traffic share, load vs capacity, hit ratio), SLO burn rates, "
                          "overrides, runbooks."),
    "completion": ("command", 'Print the shell completion script: eval "$(streamverse ctl completion bash)".'),
}

HELP = "StreamVerse Control: plan, apply and operate the StreamVerse video platform."

# global options of `ctl` that take a value (given before the verb): the value is not a verb name
GLOBAL_VALUE_OPTIONS = ("--plugin-dir", "--inventory-root", "--secrets-dir")


def verb_object(name: str) -> object | None:
    """The typer command function or group of a verb, or None if this checkout lacks it."""
    attr = VERBS[name][0]
    try:
        module = import_module(f"{__package__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__package__}.{name}":
            return None
        raise
    return getattr(module, attr)


def build_ctl(only: str | None = None, plugin_verbs: bool = True) -> typer.Typer:
    """The ``ctl`` group. With ``only``, that verb is built for real and the others are listed by
    name and help line alone; without it (shell completion), all are built."""
    ctl = typer.Typer(name="ctl", help=HELP, no_args_is_help=True, rich_markup_mode=None,
                      context_settings={"help_option_names": ["-h", "--help"]})
    ctl.callback()(_ctl_options)
    for name, (attr, line) in VERBS.items():
        if only is not None and name != only:
            ctl.command(name=name, help=line, add_help_option=False)(_placeholder)
            continue
        obj = verb_object(name)
        if obj is None:
            continue
        if attr == "app":
            ctl.add_typer(obj, name=name)  # type: ignore[arg-type]
        else:
            ctl.command(name=name, help=obj.__doc__)(obj)  # type: ignore[arg-type,type-var]
    if plugin_verbs:
        from ..core.registry import verbs

        for _name, register in verbs.items():
            register(ctl)
    return ctl


def _ctl_options(
    plugin_dir: Annotated[list[Path] | None, typer.Option(
        "--plugin-dir", metavar="DIR",
        help="Load plugin files (*.py) from DIR (repeatable; also STREAMVERSE_PLUGIN_PATH). ./plugins is never "
             "loaded unless named.")] = None,
    inventory_root: Annotated[Path | None, typer.Option(
        "--inventory-root", metavar="DIR", envvar="STREAMVERSE_INVENTORY_ROOT",
        help="Directory an inventory may read files in: extends, fromFile, templates (default: the parent of "
             "the -i directory).")] = None,
    secrets_dir: Annotated[list[Path] | None, typer.Option(
        "--secrets-dir", metavar="DIR",
        help="Directory fromFile secrets may also be read from (repeatable; also STREAMVERSE_SECRETS_DIR).")] = None,
) -> None:
    """StreamVerse Control: plan, apply and operate the StreamVerse video platform."""
    from ..core import trust

    # --plugin-dir was already applied before the plugins loaded (see plugin_dir_args)
    trust.configure(inventory_root=inventory_root, secrets_dirs=secrets_dir)


def plugin_dir_args(args: list[str]) -> list[str]:
    """The ``--plugin-dir`` values given before the verb (plugins load before typer parses)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-"):
            break
        if arg == "--plugin-dir" and i + 1 < len(args):
            out.append(args[i + 1])
        elif arg.startswith("--plugin-dir="):
            out.append(arg.split("=", 1)[1])
        i += 2 if arg in GLOBAL_VALUE_OPTIONS else 1
    return out


def _placeholder() -> None:  # never runs: a verb named on the command line is built for real
    raise RuntimeError("verb placeholder invoked")


def completion_words(ctl: bool) -> list[str]:
    """The complete words before the one a TAB completes, after ``streamverse ctl`` (or
    ``streamverse-ctl``), from the variables the shell scripts set (bash: COMP_WORDS/COMP_CWORD;
    zsh, fish, PowerShell: _TYPER_COMPLETE_ARGS)."""
    import shlex

    def split(text: str) -> list[str]:
        try:
            return shlex.split(text)
        except ValueError:  # an open quote in the line being completed
            return text.split()

    if "COMP_WORDS" in os.environ:
        words = split(os.environ["COMP_WORDS"])[1:max(1, int(os.environ.get("COMP_CWORD") or 0))]
    else:
        line = os.environ.get("_TYPER_COMPLETE_ARGS", "")
        words = split(line)[1:]
        if words and (os.environ.get("_TYPER_COMPLETE_WORD_TO_COMPLETE") or not line.endswith(" ")):
            words = words[:-1]
    return words if ctl else words[1:] if words[:1] == ["ctl"] else []


def requested_verb(args: list[str]) -> str | None:
    """The ctl verb named on a command line (``--help``: "", build none of them for real).

    On a TAB the verb is read from the words being completed: only that verb is built (a TAB on the
    verb name itself builds none: the names and help lines are listed from :data:`VERBS`)."""
    if any(k.startswith("_STREAMVERSE") and k.endswith("_COMPLETE") for k in os.environ):
        from typer._completion_classes import completion_init

        completion_init()
        args = completion_words(ctl="_STREAMVERSE_CTL_COMPLETE" in os.environ)
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in GLOBAL_VALUE_OPTIONS:
            skip = True
            continue
        if not arg.startswith("-"):
            return arg if arg in VERBS else ""
    return ""


def build_root(only: str | None = None, plugin_verbs: bool = True) -> typer.Typer:
    root = typer.Typer(name="streamverse", help=HELP + " Run `streamverse --version` for the version.",
                       no_args_is_help=True, rich_markup_mode=None, add_completion=False,
                       context_settings={"help_option_names": ["-h", "--help"]})

    @root.callback()
    def _main() -> None:
        pass

    root.add_typer(build_ctl(only, plugin_verbs), name="ctl")
    return root


class _Redact:
    """A logging filter that scrubs known secret values from every record."""

    def filter(self, record: object) -> bool:
        from ..core.secrets import redact

        msg = getattr(record, "msg", "")
        args = getattr(record, "args", None)
        text = str(msg) % args if args else str(msg)
        record.msg, record.args = redact(text), None  # type: ignore[attr-defined]
        return True


def _setup_logging() -> None:
    """Warnings and above to stderr; STREAMVERSE_LOG_LEVEL=info|debug for more. Secrets are scrubbed."""
    import logging

    level = os.environ.get("STREAMVERSE_LOG_LEVEL", "WARNING").upper()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redact())
    logger = logging.getLogger("streamverse")
    logger.setLevel(getattr(logging, level, logging.WARNING))
    logger.addHandler(handler)
    logger.propagate = False


def help_only(args: list[str]) -> bool:
    """A bare help request: ``[ctl] [VERB [SUBVERB]] --help`` (or ``ctl`` alone), nothing else to parse."""
    words = [a for a in args if a not in ("-h", "--help")]
    asks = len(words) < len(args) or words in ([], ["ctl"])
    return asks and len(words) <= 3 and all(not w.startswith("-") and w.replace("-", "").replace("_", "").isalnum()
                                            for w in words)


def _invoke(app: typer.Typer, prog: str) -> int:
    from typer._click import exceptions as cx  # typer vendors click; its exceptions are these

    from ..core.errors import StreamverseError
    from ..core.secrets import redact

    _setup_logging()
    if help_only(sys.argv[1:]):
        from .rawparse import keep_values_as_typed

        keep_values_as_typed()  # help parses nothing: no pydantic for typer's value coercion
    try:
        if any(k.startswith("_STREAMVERSE") and k.endswith("_COMPLETE") for k in os.environ):
            from .completion import attach

            cmd = typer.main.get_command(app)
            attach(cmd)  # a TAB: kinds, names, regions, policies, runbooks, guardrails
            rv = cmd.main(prog_name=prog, standalone_mode=False)
        else:
            rv = app(prog_name=prog, standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        return 1
    except cx.ClickException as exc:
        exc.show()
        return 1
    except StreamverseError as exc:
        from rich.markup import escape

        from .common import err_console

        con = err_console()
        label = "[bold red]error:[/]" if exc.exit_code == 1 else "[bold yellow]refused:[/]"
        con.print(f"{label} {escape(redact(str(exc)))}", highlight=False)
        if exc.hint:
            con.print(f"hint: {escape(exc.hint)}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # an internal error: say so plainly, traceback only on request
        if os.environ.get("STREAMVERSE_DEBUG"):
            raise
        sys.stderr.write(f"internal error: {type(exc).__name__}: {redact(str(exc))}\n"
                         "this is a bug in streamverse-ctl; rerun with STREAMVERSE_DEBUG=1 for details\n")
        return 1


def run() -> None:
    # --version is answered before typer builds anything (a typer option would import pydantic)
    if sys.argv[1:] in (["--version"], ["ctl", "--version"]):
        print(f"streamverse-ctl {__version__}")
        sys.exit(0)
    args = sys.argv[1:]
    ctl_args = args[1:] if args[:1] == ["ctl"] else []
    _name_plugin_dirs(ctl_args)
    only = requested_verb(ctl_args)
    # `streamverse --help` lists only the ctl group: plugin verbs are discovered when ctl is used
    completing = any(k.startswith("_STREAMVERSE") and k.endswith("_COMPLETE") for k in os.environ)
    sys.exit(_invoke(build_root(only, plugin_verbs=args[:1] == ["ctl"] or completing), "streamverse"))


def run_ctl() -> None:
    if sys.argv[1:] == ["--version"]:
        print(f"streamverse-ctl {__version__}")
        sys.exit(0)
    _name_plugin_dirs(sys.argv[1:])
    sys.exit(_invoke(build_ctl(requested_verb(sys.argv[1:])), "streamverse-ctl"))


def _name_plugin_dirs(ctl_args: list[str]) -> None:
    dirs = plugin_dir_args(ctl_args)
    if dirs:
        from ..core.registry import set_plugin_dirs

        set_plugin_dirs(dirs)
