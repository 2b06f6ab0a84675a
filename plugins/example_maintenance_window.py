"""Example plugin: maintenance windows (an inventory kind, a runbook action and a CLI verb).

A file in a plugin directory the user names (``--plugin-dir DIR`` or ``STREAMVERSE_PLUGIN_PATH``;
``./plugins`` is never loaded implicitly) is imported once per
run by :func:`streamverse_ctl.core.registry.load_plugins`; it registers what it adds with the
registries' decorators. ``streamverse ctl plugins list`` shows the entries with this file as
their origin. The same objects can be shipped in a package through the entry point groups
``streamverse.kinds``, ``streamverse.actions`` and ``streamverse.verbs``.

1. Kind ``MaintenanceWindow``::

       apiVersion: streamverse.io/v1
       kind: MaintenanceWindow
       metadata: {name: fra-power-work}
       spec:
         regions: [eu-west]
         pops: [fra1, fra2]
         start: "2025-03-02T01:00:00Z"
         duration: 3h
         reason: Colocation power maintenance in Frankfurt

   The spec model is a pydantic model (camelCase in YAML, unknown fields rejected), so
   ``streamverse ctl validate`` and ``streamverse ctl schema`` handle it like a built-in kind.
   A window is operational metadata: ``resources()`` compiles it to no platform resource.

2. Runbook action ``maintenance-window-open`` (``actions`` registry). PROVISIONAL SIGNATURE: the
   runbook engine is still being built, so an action is a plain function
   ``action(ctx, **kwargs) -> dict`` whose ``ctx`` may offer ``ctx.inventory`` (a loaded
   :class:`~streamverse_ctl.inventory.model.Inventory`); this one falls back to an
   ``inventory=<directory>`` argument. It returns whether a region (or PoP) is inside a window now
   (or at ``at=<ISO time>``), so a runbook can refuse disruptive steps outside a window.

3. CLI verb ``streamverse ctl maintenance-windows`` (``verbs`` registry: a callable
   ``register(ctl_app: typer.Typer)`` that adds commands): lists the windows of an inventory with
   their state (active, upcoming, past).
"""

# No ``from __future__ import annotations`` here: typer reads the verb's parameter annotations at
# run time, and they name objects imported inside ``register``.
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, Field, field_validator, model_validator

from streamverse_ctl.core.registry import actions, kinds, verbs
from streamverse_ctl.inventory.models import Spec, parse_duration


class MaintenanceWindowSpec(Spec):
    """A planned maintenance window for regions and/or PoPs."""

    regions: list[str] = Field(default_factory=list, description="regions under maintenance")
    pops: list[str] = Field(default_factory=list, description="PoPs under maintenance")
    start: AwareDatetime = Field(description="start, ISO 8601 with a time zone, e.g. 2025-03-02T01:00:00Z")
    duration: str = Field(description="length, e.g. 90m or 3h")
    reason: str = Field(min_length=1)
    ticket: str | None = Field(None, description="change ticket, e.g. CHG-1234")

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: str) -> str:
        if parse_duration(v) <= 0:
            raise ValueError("duration must be positive")
        return v

    @model_validator(mode="after")
    def _something(self) -> "MaintenanceWindowSpec":
        if not self.regions and not self.pops:
            raise ValueError("name at least one region or PoP")
        return self

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=parse_duration(self.duration))

    def state(self, at: datetime) -> str:
        if at < self.start:
            return "upcoming"
        return "active" if at < self.end else "past"

    def resources(self, name: str, doc: Any) -> list[Any]:
        """Compiler hook (see compiler/compile.py ``_plugin_resources``): no platform resource."""
        return []


kinds.register("MaintenanceWindow", MaintenanceWindowSpec)


def _windows(inventory: Any) -> dict[str, MaintenanceWindowSpec]:
    # by kind, not isinstance: importing this file directly makes a second copy of the class
    return {d.name: d.model for d in inventory.of("MaintenanceWindow") if d.model is not None}


def _parse_time(at: str | datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@actions.register("maintenance-window-open")
def maintenance_window_open(ctx: Any, **kwargs: Any) -> dict[str, Any]:
    """Is ``region=`` (or ``pop=``) inside an active maintenance window (now, or ``at=``)?

    Provisional action signature: ``action(ctx, **kwargs) -> dict``.
    """
    inventory = getattr(ctx, "inventory", None)
    if inventory is None:
        from streamverse_ctl.inventory import load_inventory

        inventory = load_inventory(Path(kwargs.get("inventory") or "inventories/demo"))
    region, pop = kwargs.get("region"), kwargs.get("pop")
    if not region and not pop:
        raise ValueError("maintenance-window-open needs region= or pop=")
    at = _parse_time(kwargs.get("at"))
    active = sorted(name for name, w in _windows(inventory).items()
                    if w.state(at) == "active" and ((region and region in w.regions) or (pop and pop in w.pops)))
    return {"open": bool(active), "windows": active, "at": at.isoformat(), "region": region, "pop": pop}


@verbs.register("maintenance-windows")
def register(ctl_app: Any) -> None:
    """Add ``streamverse ctl maintenance-windows`` to the CLI."""
    import typer

    from streamverse_ctl.cli.common import (
        DEFAULT_INVENTORY,
        InventoryOpt,
        Output,
        OutputOpt,
        VarOpt,
        emit,
        parse_vars,
        simple_table,
    )

    @ctl_app.command("maintenance-windows")
    def maintenance_windows(inventory: InventoryOpt = DEFAULT_INVENTORY, var: VarOpt = None,
                            output: OutputOpt = Output.table,
                            at: str | None = typer.Option(None, "--at", help="Evaluate at this ISO time "
                                                          "(default: now).")) -> None:
        """List the inventory's maintenance windows (example plugin) and whether each is active."""
        from streamverse_ctl.inventory import load_inventory

        inv = load_inventory(inventory, parse_vars(var))
        when = _parse_time(at)
        rows: list[dict[str, Any]] = [
            {"name": name, "state": w.state(when), "start": w.start.isoformat(), "end": w.end.isoformat(),
             "regions": w.regions, "pops": w.pops, "reason": w.reason, "ticket": w.ticket}
            for name, w in sorted(_windows(inv).items(), key=lambda kv: kv[1].start)]
        emit({"at": when.isoformat(), "windows": rows}, output, lambda: simple_table(
            f"maintenance windows at {when.isoformat()}",
            ["name", "state", "start", "end", "regions", "pops", "reason"],
            [(r["name"], r["state"], r["start"], r["end"], ", ".join(r["regions"]) or "-",
              ", ".join(r["pops"]) or "-", r["reason"]) for r in rows]))
