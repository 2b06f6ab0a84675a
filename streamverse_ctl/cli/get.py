from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import (
    DEFAULT_INVENTORY,
    InventoryOpt,
    Output,
    OutputOpt,
    PlatformOpt,
    StateDirOpt,
    VarOpt,
    console,
    emit,
    workspace,
)
from .selector import SelectorOpt
from .watch import CountOpt, IntervalOpt, WatchOpt

if TYPE_CHECKING:
    from ..engine.workspace import Workspace

KIND_HELP = "Inventory kind (Region, PoP, TrafficPolicy, TranscodePool, ...; case-insensitive, plural ok)"


def resolve_kind(ws: Workspace, kind: str) -> str:
    from ..core.errors import PermanentError
    from ..core.registry import kinds

    wanted = kind.lower().rstrip("s") if kind.lower() not in ("slos",) else "slo"
    for name in kinds.names():
        if name.lower() in (kind.lower(), wanted):
            return name
    raise PermanentError(f"unknown kind '{kind}' (known: {', '.join(kinds.names())})")


def status_by_document(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Inventory document -> sync status, from a plan against actual state."""
    plan = ws.plan()
    out: dict[str, dict[str, Any]] = {}
    for c in plan.changes:
        entry = out.setdefault(c.document, {"pending": 0, "changes": []})
        entry["pending"] += 1
        entry["changes"].append(f"{c.action} {c.id}")
    return out


def command(
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    name: Annotated[str | None, typer.Argument(help="Only this one")] = None,
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, output: OutputOpt = Output.table, selector: SelectorOpt = None,
    watch: WatchOpt = False, interval: IntervalOpt = 5.0, count: CountOpt = 0,
) -> None:
    """List inventory documents of a kind with their key settings and whether actual state matches.

    Example: streamverse ctl get pops -l tier=core,region=eu-west
    """
    from . import selector as sel

    requirements = sel.parse(selector)
    shown: dict[str, str] = {}

    def gather() -> list[dict[str, Any]]:
        ws = workspace(inventory, state_dir, var, platform)
        try:
            shown["kind"] = k = resolve_kind(ws, kind)
            named = [d for d in ws.inventory.of(k) if name is None or d.name == name]
            docs = [d for d in named if sel.matches(d.labels or {}, requirements)]
            if name is not None and not named:
                from ..core.errors import PermanentError

                raise PermanentError(f"no {k} named '{name}'")
            status = status_by_document(ws) if k not in ("Inventory", "Provider", "SLO", "FailoverPolicy") else {}
            extra = _extra(ws, k)
            rows = []
            for d in docs:
                pend = status.get(d.ref, {}).get("pending", 0)
                rows.append({"name": d.name, **_summary(d.model.model_dump(by_alias=True, exclude_none=True)),
                             **extra.get(d.name, {}),
                             "status": "in sync" if not pend else f"{pend} change(s) pending",
                             "source": "{}:{}".format(*d.locate(()))})
            return rows
        finally:
            ws.close()

    def table(rows: list[dict[str, Any]]) -> Any:
        from rich.markup import escape
        from rich.table import Table

        cols = list(rows[0]) if rows else ["name"]
        if len(cols) > 8:  # the table shows the first settings; -o json/yaml has them all
            keep = [c for c in cols if c not in ("source", "status", "health", "traffic")][:5]
            cols = keep + [c for c in ("health", "traffic", "status") if c in cols]
        t = Table(title=shown.get("kind", kind), title_justify="left", header_style="bold")
        for c in cols:
            t.add_column(c)
        for r in rows:
            t.add_row(*[escape(str(r.get(c, ""))) for c in cols])
        return t

    if watch:
        from .watch import watch as run_watch

        run_watch(gather, table, output, interval, count)
        return
    rows = gather()
    emit(rows, output, lambda: console().print(table(rows)))


def _summary(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()) and len(value) <= 6:
            out[key] = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            out[key] = ", ".join(map(str, value))
        elif isinstance(value, dict | list):
            out[key] = f"({len(value)} items)"
        else:
            out[key] = value
    return out


def _extra(ws: Workspace, kind: str) -> dict[str, dict[str, Any]]:
    if kind != "Region":
        return {}
    health = ws.health()
    drained = ws.drained()
    return {n: {"health": "up" if health.get(n, True) else "DOWN", "traffic": "drained" if n in drained else "serving"}
            for n in ws.compiled.regions}
