from __future__ import annotations

from collections import Counter

from .common import DEFAULT_INVENTORY, InventoryOpt, Output, OutputOpt, VarOpt, console, emit


def command(inventory: InventoryOpt = DEFAULT_INVENTORY, var: VarOpt = None,
            output: OutputOpt = Output.table) -> None:
    """Check an inventory's structure and meaning; report every problem with file, line and field.

    Example: streamverse ctl validate -i inventories/production
    """
    from ..inventory import load_inventory
    from .common import parse_vars

    inv = load_inventory(inventory, parse_vars(var))
    counts = Counter(d.kind for d in inv.documents)
    data = {"inventory": str(inventory), "valid": True, "documents": dict(sorted(counts.items())),
            "layers": [str(p) for p in inv.layers]}
    emit(data, output, lambda: console().print(
        f"[green]✓[/] {inventory} is valid: {len(inv.documents)} documents ("
        + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + ")"))
