from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from .common import (
    DEFAULT_INVENTORY,
    InventoryOpt,
    Output,
    OutputOpt,
    PlatformOpt,
    StateDirOpt,
    VarOpt,
    emit,
    workspace,
)
from .get import KIND_HELP, resolve_kind


def command(
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    name: Annotated[str, typer.Argument(help="Document name")],
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, output: OutputOpt = Output.table,
) -> None:
    """One document in full: its source, effective spec (after overlays and overrides), the resources it
    compiles to with their actual state, and pending changes.

    Example: streamverse ctl describe TrafficPolicy www
    """
    from ..core.errors import PermanentError
    from ..core.resources import diff_fields
    from .common import console, short

    ws = workspace(inventory, state_dir, var, platform)
    try:
        k = resolve_kind(ws, kind)
        doc = ws.inventory.get(k, name)
        if doc is None:
            raise PermanentError(f"no {k} named '{name}' (known: {', '.join(d.name for d in ws.inventory.of(k))})")
        overrides = [o for o in ws.overrides() if (o.kind, o.name) == (k, name)]
        mine = [r for r in ws.compiled.resources if r.document == doc.ref]
        actual = {(r.provider, r.id): r for r in ws.read_actual()} if mine else {}
        resources: list[dict[str, Any]] = []
        for r in mine:
            cur = actual.get((r.provider, r.id))
            fields = diff_fields(dict(cur.spec), dict(r.spec)) if cur else None
            resources.append({"id": r.id, "provider": r.provider, "desired": dict(r.spec),
                              "actual": dict(cur.spec) if cur else None,
                              "status": "missing" if cur is None else ("in sync" if not fields else "differs"),
                              "differences": [{"path": f.path, "before": f.before, "after": f.after}
                                              for f in fields or []],
                              "why": ws.compiled.reasons.get(r.id, "")})
        file, line = doc.locate(())
        data: dict[str, Any] = {"kind": k, "name": name, "source": f"{file}:{line}", "labels": doc.labels,
                "spec": _effective(doc.model.model_dump(by_alias=True, exclude_none=True), overrides),
                "overrides": [o.__dict__ | {"merge": dict(o.merge)} for o in overrides], "resources": resources}
    finally:
        ws.close()

    def table() -> None:
        import yaml

        con = console()
        con.print(f"[bold]{k}/{name}[/]  ({data['source']})")
        if doc.labels:
            con.print("labels: " + ", ".join(f"{a}={b}" for a, b in doc.labels.items()))
        con.print(yaml.safe_dump({"spec": data["spec"]}, sort_keys=False).rstrip(), markup=False)
        for o in overrides:
            con.print(f"[cyan]override[/] by {o.who} at {o.at}: {short(dict(o.merge), 80)} {o.reason}")
        for r in resources:
            color = {"in sync": "green", "differs": "yellow", "missing": "red"}[r["status"]]
            con.print(f"[{color}]{r['status']:>8}[/] {r['id']} @ {r['provider']} {r['why']}", highlight=False)
            for f in r["differences"]:
                con.print(f"           {f['path']}: actual {short(f['before'], 30)} → desired {short(f['after'], 30)}",
                          markup=False)

    emit(data, output, table)


def _effective(spec: dict[str, Any], overrides: Sequence[object]) -> dict[str, Any]:
    from ..inventory.loader import merge_patch

    for o in overrides:
        spec = merge_patch(spec, dict(getattr(o, "merge", {})))
    return spec
