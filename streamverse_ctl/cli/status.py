"""``streamverse ctl status``: the platform at a glance, for any platform (engine/status.py gathers it)."""

from __future__ import annotations

from typing import Any

from .common import DEFAULT_INVENTORY, InventoryOpt, Output, OutputOpt, PlatformOpt, StateDirOpt, VarOpt
from .watch import CountOpt, IntervalOpt, WatchOpt


def command(
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, output: OutputOpt = Output.table, watch: WatchOpt = False,
    interval: IntervalOpt = 5.0, count: CountOpt = 0,
) -> None:
    """Regions (health, serving, traffic share, load vs capacity, hit ratio), SLO burn rates, overrides, runbooks.

    Every value names its source (providers' health checks and DNS records, Prometheus, the state
    backend); one that has none shows "unknown (why)". STREAMVERSE_METRICS_AT evaluates the Prometheus
    queries at another time (a replay).

    Example: streamverse ctl status -i inventories/production --watch --interval 10
    """
    from .common import emit, workspace

    def gather() -> dict[str, Any]:
        from ..engine.status import gather as gather_status

        ws = workspace(inventory, state_dir, var, platform)
        try:
            return gather_status(ws)
        finally:
            ws.close()

    if watch:
        from .watch import watch as run_watch

        run_watch(gather, render, output, interval, count)
        return
    data = gather()
    emit(data, output, lambda: _print(data))


def _print(data: dict[str, Any]) -> None:
    from .common import console

    console().print(render(data))


def _pct(value: Any, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f} %" if isinstance(value, int | float) else str(value)


def _health(text: str) -> str:
    from rich.markup import escape

    if text == "up":
        return "[green]up[/]"
    if text == "DOWN":
        return "[red]DOWN[/]"
    return f"[yellow]{escape(text)}[/]"


def render(data: dict[str, Any]) -> Any:
    """The status document as rich tables (what the terminal shows, refreshed in place by --watch)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [Text(f"StreamVerse status of {data['inventory']} ({data['platform']}) at {data['at']}",
                             style="bold")]
    rows = data["regions"]
    policies = sorted({p for r in rows if isinstance(r["share"], dict) for p in r["share"]})
    t = Table(title="Regions", title_justify="left", header_style="bold")
    for col in ("region", "health", "state", *[f"{p} share" for p in policies], "load req/s", "capacity", "util",
                "hit ratio"):
        t.add_column(col)
    for r in rows:
        shares = [_pct(r["share"].get(p, 0.0)) if isinstance(r["share"], dict) else escape(str(r["share"]))
                  for p in policies]
        load = r["load_rps"]
        t.add_row(r["region"], _health(r["health"]), "[yellow]drained[/]" if r["state"] == "drained" else "serving",
                  *shares, f"{load:,.0f}" if isinstance(load, int | float) else escape(str(load)),
                  f"{r['capacity_rps']:,}", escape(_pct(r["utilization"], 0)), escape(_pct(r["hit_ratio"])))
    parts.append(t)
    src = data["sources"]
    notes = [f"{k}: {v}" for k, v in (("traffic", src["traffic"]), ("load", src["load"]),
                                        ("hit ratio", src["hit_ratio"]), ("prometheus", src["prometheus"])) if v]
    if rows and isinstance(rows[0]["share"], str):
        notes.insert(0, f"traffic: {rows[0]['share']}")
    parts.append(Text("sources: " + "; ".join(notes), style="dim"))
    s = Table(title="SLOs", title_justify="left", header_style="bold")
    for col in ("slo", "sli", "region", "objective", "burn rate", "budget left", "source"):
        s.add_column(col)
    for row in data["slos"]:
        burn = row["burn_rate"]
        burn_text = f"{burn:.2f}x" if isinstance(burn, int | float) else str(burn)
        burn_text = f"[red]{burn_text}[/]" if isinstance(burn, int | float) and burn >= 1 else escape(burn_text)
        s.add_row(row["slo"], row["sli"], row["region"], f"{row['objective'] * 100:g} %", burn_text,
                  escape(_pct(row["budget_remaining"])), escape(row["source"]))
    parts.append(s)
    if data["overrides"]:
        o = Table(title="Active overrides", title_justify="left", header_style="bold")
        for col in ("document", "merge", "who", "at", "reason"):
            o.add_column(col)
        for ov in data["overrides"]:
            o.add_row(escape(f"{ov['kind']}/{ov['name']}"), escape(str(ov["merge"])), escape(ov["who"]),
                      escape(ov["at"][:19]), escape(ov["reason"]))
        parts.append(o)
    else:
        parts.append(Text("Active overrides: none"))
    if data["runbooks"]:
        b = Table(title="Runbooks running or paused", title_justify="left", header_style="bold")
        for col in ("run", "runbook", "status", "step", "done", "started"):
            b.add_column(col)
        for run in data["runbooks"]:
            b.add_row(escape(run["id"]), escape(run["runbook"]), escape(run["status"]), escape(str(run["step"] or "")),
                      run["done"], escape(str(run["started_at"] or "")[:19]))
        parts.append(b)
    else:
        parts.append(Text("Runbooks running or paused: none"))
    ctl = data["controller"]
    if isinstance(ctl, dict):
        last, lease = ctl.get("last_iteration"), ctl.get("lease")
        if isinstance(last, dict):
            parts.append(Text(f"Controller: last recorded iteration {str(last['at'])[:19]} by {last['who']}@"
                              f"{last['host']}: {last['action']} {last['target']} {last['result']}"))
        if isinstance(lease, dict):
            parts.append(Text(f"Controller lease: held by {lease['holder']}@{lease['host']}, renewed "
                              f"{str(lease['renewed_at'])[:19]} (ttl {lease['ttl']} s)"))
        elif lease:
            parts.append(Text(f"Controller lease: {lease}"))
    else:
        parts.append(Text(f"Controller: {ctl}"))
    return Group(*parts)
