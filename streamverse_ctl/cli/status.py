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


class _Notes:
    """Table cells show ``unknown [n]``; each distinct reason is printed once, numbered, below."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def __call__(self, value: Any, fmt: Any = str) -> str:
        from rich.markup import escape

        if isinstance(value, str) and value.startswith("unknown (") and value.endswith(")"):
            why = value[len("unknown ("):-1]
            if why not in self.reasons:
                self.reasons.append(why)
            return f"[yellow]unknown [{self.reasons.index(why) + 1}][/]"
        return escape(fmt(value))


def _pct(digits: int = 1) -> Any:
    return lambda v: f"{v * 100:.{digits}f} %" if isinstance(v, int | float) else str(v)


def _health(text: str, note: _Notes) -> str:
    if text == "up":
        return "[green]up[/]"
    if text == "DOWN":
        return "[red]DOWN[/]"
    if text.startswith("up ("):
        return "[green]up[/] (" + note("unknown (" + text[4:]) + ")"
    return note(text)


def _edges(value: Any, note: _Notes) -> str:
    if not isinstance(value, dict):
        return note(value)
    down = value.get("down") or []
    text = f"{value.get('total', 0) - len(down)}/{value.get('total', 0)} up"
    return f"[red]{text}[/] ({', '.join(down[:3])}{'…' if len(down) > 3 else ''} down)" if down else text


def render(data: dict[str, Any]) -> Any:
    """The status document as rich tables (what the terminal shows, refreshed in place by --watch)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    note = _Notes()
    parts: list[Any] = [Text(f"StreamVerse status of {data['inventory']} ({data['platform']}) at {data['at']}",
                             style="bold")]
    rows = data["regions"]
    policies = sorted({p for r in rows if isinstance(r["share"], dict) for p in r["share"]})
    t = Table(title="Regions", title_justify="left", header_style="bold")
    share_cols = [f"{p} share" for p in policies] or ["share"]
    with_edges = any(r.get("edge_sites") for r in rows)
    for col in ("region", "health", "state", *share_cols, "load req/s", "capacity", "util", "hit ratio",
                *(["edge sites"] if with_edges else [])):
        t.add_column(col)
    for r in rows:
        shares = ([_pct()(r["share"].get(p, 0.0)) for p in policies] if isinstance(r["share"], dict)
                  else [note(r["share"])])
        t.add_row(r["region"], _health(r["health"], note),
                  "[yellow]drained[/]" if r["state"] == "drained" else "serving", *shares,
                  note(r["load_rps"], lambda v: f"{v:,.0f}" if isinstance(v, int | float) else str(v)),
                  f"{r['capacity_rps']:,}", note(r["utilization"], _pct(0)), note(r["hit_ratio"], _pct()),
                  *([_edges(r.get("edge_sites"), note)] if with_edges else []))
    parts.append(t)
    src = data["sources"]
    notes = [f"{k}: {v}" for k, v in (("traffic", src["traffic"]), ("load", src["load"]),
                                        ("hit ratio", src["hit_ratio"]), ("prometheus", src["prometheus"]))
             if v and not str(v).startswith("unknown (")]
    if notes:
        parts.append(Text("sources: " + "; ".join(notes), style="dim"))
    s = Table(title="SLOs", title_justify="left", header_style="bold")
    for col in ("slo", "sli", "region", "objective", "burn rate", "budget left", "source"):
        s.add_column(col)
    for row in data["slos"]:
        burn = row["burn_rate"]
        burn_text = note(burn, lambda v: f"{v:.2f}x")
        if isinstance(burn, int | float) and burn >= 1:
            burn_text = f"[red]{burn_text}[/]"
        s.add_row(row["slo"], row["sli"], row["region"], f"{row['objective'] * 100:g} %", burn_text,
                  note(row["budget_remaining"], _pct()), escape(row["source"]))
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
        parts.append(Text.from_markup(f"Controller: {note(ctl)}"))
    if note.reasons:
        parts.append(Text("\n".join(f"[{i}] unknown: {why}" for i, why in enumerate(note.reasons, 1)), style="yellow"))
    return Group(*parts)
