"""``streamverse ctl dns dump`` and ``dns compare``: bring a zone under management, compare two copies."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import (
    DEFAULT_INVENTORY,
    InventoryOpt,
    Output,
    OutputOpt,
    StateDirOpt,
    VarOpt,
    emit,
    err_console,
    simple_table,
    workspace,
)

if TYPE_CHECKING:
    from ..core.resources import Resource
    from ..engine.workspace import Workspace


class DumpOutput(str, Enum):
    yaml = "yaml"
    json = "json"


def _zone(text: str) -> str:
    zone = text.strip().lower()
    return zone if zone.endswith(".") else zone + "."


def _records(ws: Workspace, provider: str) -> list[Resource]:
    from ..core.errors import PermanentError

    if provider not in ws.compiled.bindings:
        raise PermanentError(f"no Provider named '{provider}' in the inventory (known: "
                             f"{', '.join(sorted(ws.compiled.bindings)) or 'none'})")
    return list(ws.provider(provider).read(["dns.record"]))


def dump(
    zone: Annotated[str, typer.Argument(help="The zone, e.g. sv.example.")],
    provider: Annotated[str, typer.Option("--provider", "-p", metavar="NAME",
        help="The inventory's Provider document that serves the zone.")],
    output: Annotated[DumpOutput, typer.Option("--output", "-o", help="yaml (inventory documents) or json.")] =
        DumpOutput.yaml,
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR",
        help="Write DIR/dns-<zone>.yaml instead of printing.")] = None,
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
) -> None:
    """Write inventory documents for what a zone serves: DnsRecord per record set, TrafficPolicy per
    weighted set whose set identifiers are Regions. Planning them changes nothing but ownership:
    `apply --force adopt` takes the records over.

    Example: streamverse ctl dns dump sv.example. --provider bind --out inventories/prod
    """
    import yaml

    from ..compiler.dnszone import dump_zone

    name = _zone(zone)
    ws = workspace(inventory, state_dir, var)
    try:
        result = dump_zone(_records(ws, provider), name, ws.compiled.regions)
    finally:
        ws.close()
    if not result.documents and not result.notes:
        result.notes.append(f"provider '{provider}' serves no record of zone {name} (is it the zone in its settings?)")
    for note in result.notes:
        err_console().print(f"note: {note}", markup=False)
    if output == DumpOutput.json:
        emit(result.documents, Output.json, lambda: None)
        return
    text = (f"# {len(result.documents)} document(s): what {name} served at provider '{provider}' "
            f"(streamverse ctl dns dump)\n" + "".join(
                "---\n" + yaml.safe_dump(d, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
                for d in result.documents))
    if out is None:
        sys.stdout.write(text)
        return
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"dns-{name.rstrip('.') or 'root'}.yaml"
    path.write_text(text, encoding="utf-8")
    err_console().print(f"wrote {len(result.documents)} document(s) to {path}; plan shows the takeover, "
                        "`apply --force adopt` takes ownership", markup=False)


def compare(
    zone: Annotated[str, typer.Argument(help="The zone, e.g. sv.example.")],
    provider: Annotated[list[str], typer.Option("--provider", "-p", metavar="NAME",
        help="A Provider document serving the zone; give exactly two.")],
    output: OutputOpt = Output.table,
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
) -> None:
    """Compare what two providers serve for a zone, per name and type; exit 2 when they differ.

    Example: streamverse ctl dns compare sv.example. --provider bind --provider pdns
    """
    from ..compiler.dnszone import compare_zones

    if len(provider) != 2:
        raise typer.BadParameter(f"give exactly two providers (got {len(provider)})", param_hint="--provider")
    name = _zone(zone)
    a, b = provider
    ws = workspace(inventory, state_dir, var)
    try:
        diffs = compare_zones(_records(ws, a), _records(ws, b), name, (a, b))
    finally:
        ws.close()

    def cell(value: Any) -> str:
        if value is None:
            return "∅"
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    rows = [[d.name, d.type, d.set_id or "", d.status,
             "; ".join(f"{f}: {cell(x)}" for f, (x, _) in d.fields.items()),
             "; ".join(f"{f}: {cell(y)}" for f, (_, y) in d.fields.items())] for d in diffs]
    emit({"zone": name, "providers": [a, b], "same": not diffs, "differences": [d.as_dict() for d in diffs]},
         output, lambda: simple_table(f"{name}: {a} vs {b}" + ("" if diffs else " (no differences)"),
                                      ["name", "type", "set", "status", a, b], rows))
    if diffs:
        raise typer.Exit(2)
