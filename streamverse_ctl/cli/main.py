"""Entry points: ``streamverse`` (with the ``ctl`` group) and the ``streamverse-ctl`` alias.

Exit codes: 0 ok, 1 error, 2 changes pending (``plan --detailed-exitcode``), 3 refused by a
guardrail or a held lock. Bad input never shows a traceback (set STREAMVERSE_DEBUG=1 to see one
for an internal error).
"""

from __future__ import annotations

import os
import sys
from importlib import import_module

import typer

from .. import __version__

# verb module -> typer object attribute; each module is one verb (or one verb group)
VERBS: list[tuple[str, str]] = [
    ("validate", "command"),
    ("plan", "command"),
    ("apply", "command"),
    ("diff", "command"),
    ("get", "command"),
    ("describe", "command"),
    ("schema", "command"),
    ("plugins", "app"),
    ("state", "app"),
    ("sim", "app"),
    ("dns", "app"),
    ("runbook", "app"),
    ("failover", "command"),
    ("failback", "command"),
]

HELP = "StreamVerse Control: plan, apply and operate the StreamVerse video platform."


def build_ctl() -> typer.Typer:
    ctl = typer.Typer(name="ctl", help=HELP, no_args_is_help=True, rich_markup_mode=None,
                      context_settings={"help_option_names": ["-h", "--help"]})
    for module_name, attr in VERBS:
        try:
            module = import_module(f"{__package__}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{module_name}":
                continue  # verb not built yet in this checkout
            raise
        obj = getattr(module, attr)
        if attr == "app":
            ctl.add_typer(obj, name=module_name.replace("_", "-"))
        else:
            ctl.command(name=module_name.replace("_", "-"), help=obj.__doc__)(obj)
    from ..core.registry import verbs

    for _name, register in verbs.items():
        register(ctl)
    return ctl


def build_root() -> typer.Typer:
    root = typer.Typer(name="streamverse", help=HELP + " Run `streamverse --version` for the version.",
                       no_args_is_help=True, rich_markup_mode=None, add_completion=True,
                       context_settings={"help_option_names": ["-h", "--help"]})

    @root.callback()
    def _main() -> None:
        pass

    root.add_typer(build_ctl(), name="ctl")
    return root


def _invoke(app: typer.Typer, prog: str) -> int:
    import click

    from ..core.errors import StreamverseError
    from ..core.secrets import redact

    try:
        rv = app(prog_name=prog, standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        sys.stderr.write("aborted\n")
        return 1
    except click.ClickException as exc:
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
    sys.exit(_invoke(build_root(), "streamverse"))


def run_ctl() -> None:
    if sys.argv[1:] == ["--version"]:
        print(f"streamverse-ctl {__version__}")
        sys.exit(0)
    sys.exit(_invoke(build_ctl(), "streamverse-ctl"))
