"""Options shared by verbs, workspace construction and output rendering (table, json, yaml)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ..engine.workspace import Workspace


class Output(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


InventoryOpt = Annotated[
    Path,
    typer.Option(
        "--inventory",
        "-i",
        metavar="DIR",
        envvar="STREAMVERSE_INVENTORY",
        show_default=True,
        help="Inventory directory (env STREAMVERSE_INVENTORY).",
    ),
]
StateDirOpt = Annotated[
    str | None,
    typer.Option(
        "--state-url",
        "--state-dir",
        envvar=["STREAMVERSE_STATE_URL", "STREAMVERSE_STATE_DIR"],
        metavar="URL|DIR",
        help="State backend: a directory or sqlite:///DIR (local), or postgresql://USER@HOST:PORT/DB (team; "
        "password from PGPASSWORD/PGPASSFILE or ?passwordFile=PATH). Default: the inventory's state.url or "
        "state.path, else ./.streamverse. --state-dir is an alias.",
    ),
]
VarOpt = Annotated[list[str] | None, typer.Option("--var", metavar="NAME=VALUE",
    help="Set an inventory variable, NAME=VALUE (repeatable).")]
PLATFORMS = ("sim",)  # --platform values; anything else is an error, never silently the real providers


def check_platform(value: str | None) -> str | None:
    """A known platform name (case and surrounding blanks ignored: ``SIM`` is ``sim``), or None.

    An unknown name is a usage error (exit 1) naming the known ones: a typo must never mean "the real
    providers"."""
    if value is None or not value.strip():
        return None
    name = value.strip().lower()
    if name not in PLATFORMS:
        raise typer.BadParameter(f"unknown platform '{value}' (known: {', '.join(PLATFORMS)}; "
                                 "leave it unset to use the inventory's Provider documents)",
                                 param_hint="'--platform' / STREAMVERSE_PLATFORM")
    return name


PlatformOpt = Annotated[
    str | None,
    typer.Option(
        "--platform",
        metavar="PLATFORM",
        envvar="STREAMVERSE_PLATFORM",
        callback=check_platform,
        help="'sim' runs against the embedded sim platform whatever Provider documents say.",
    ),
]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="Output format.")]
DEFAULT_INVENTORY = Path("inventories/demo")

_console: Console | None = None
_err: Console | None = None


def console() -> Console:
    global _console
    if _console is None:
        from rich.console import Console

        width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120  # CI logs, pipes: not 80
        _console = Console(highlight=False, soft_wrap=False, width=width)
    return _console


def err_console() -> Console:
    global _err
    if _err is None:
        from rich.console import Console

        _err = Console(stderr=True, highlight=False, soft_wrap=True)  # one problem per line, greppable
    return _err


def parse_vars(pairs: Sequence[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise typer.BadParameter(f"'{pair}' is not NAME=VALUE", param_hint="--var")
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    return out


def workspace(
    inventory: Path,
    state_dir: str | Path | None = None,
    var: Sequence[str] | None = None,
    platform: str | None = None,
    dry_run: bool = False,
) -> Workspace:
    from ..engine.workspace import Workspace

    return Workspace(inventory, state_dir=state_dir, variables=parse_vars(var), platform=check_platform(platform),
                     dry_run=dry_run)


def to_plain(data: Any) -> Any:
    if hasattr(data, "as_dict"):
        return to_plain(data.as_dict())
    if isinstance(data, Mapping):
        return {str(k): to_plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple | set | frozenset):
        return [to_plain(v) for v in data]
    if isinstance(data, Path):
        return str(data)
    return data


def emit(data: Any, output: Output, table: Callable[[], None]) -> None:
    """Print ``data`` as JSON or YAML, or call ``table`` to render it for people."""
    if output == Output.json:
        sys.stdout.write(json.dumps(to_plain(data), indent=2, default=str) + "\n")
    elif output == Output.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(to_plain(data), sort_keys=False, default_flow_style=False))
    else:
        table()


def emit_event(data: Any, output: Output) -> None:
    """One event of a stream (reconcile ticks, runbook events): a JSON line, or a YAML document
    (``---`` first, so the whole output is a multi-document YAML stream). Flushed at once."""
    if output == Output.yaml:
        import yaml

        sys.stdout.write("---\n" + yaml.safe_dump(to_plain(data), sort_keys=False, default_flow_style=False))
    else:
        sys.stdout.write(json.dumps(to_plain(data), default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def short(value: Any, width: int = 60) -> str:
    if value is None:
        return "∅"
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def simple_table(title: str | None, columns: Iterable[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(
            *[
                escape(short(v)) if not isinstance(v, str) else (v if v.startswith("[") and "[/]" in v else escape(v))
                for v in row
            ]
        )
    console().print(t)


def interactive() -> bool:
    return sys.stdin.isatty() and os.environ.get("CI") is None
