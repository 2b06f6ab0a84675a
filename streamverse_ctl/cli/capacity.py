from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, PlatformOpt, StateDirOpt, VarOpt, workspace


class CapacityOutput(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def command(
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None,
    output: Annotated[CapacityOutput, typer.Option("--output", "-o", help="Output format.")] = CapacityOutput.table,
    what_if: Annotated[list[str] | None, typer.Option(
        "--what-if", metavar="SCENARIO",
        help="fail=REGION, viral=VIDEO:FACTOR, users=x2 (repeatable, one of each kind; combined).")] = None,
    chart: Annotated[Path | None, typer.Option(
        "--chart", metavar="FILE", help="Also draw load vs capacity per region and the cost breakdown (.png or .svg).")
    ] = None,
    live: Annotated[bool, typer.Option(
        "--live", help="Current demand (request rate, egress, hit ratio) from the SLO's Prometheus instead of "
                       "the model's peak.")] = False,
) -> None:
    """Capacity and cost: storage, egress, GPUs, cache, monthly cost and headroom; what-ifs and charts.

    Example: streamverse ctl capacity --what-if fail=us-east --chart capacity.png
    """
    from ..core.errors import PermanentError
    from ..engine.capacity import edge_health, parse_what_if, report

    if chart is not None and chart.suffix.lower() not in (".png", ".svg"):
        raise PermanentError(f"--chart {chart}: give a .png or .svg file")
    scenarios = parse_what_if(what_if or [])
    ws = workspace(inventory, state_dir, var, platform)
    try:
        health = ws.health() if any(w.kind == "fail" for w in scenarios) else {}
        measured = None
        if live:
            source = ws.metrics_source()
            if source is None:
                raise PermanentError("--live reads Prometheus: the SLO needs a prometheusUrl, and the inventory "
                                     "Provider documents (not --platform sim)")
            from ..providers.prometheus_demand import live_demand

            try:
                measured = live_demand(source)
            finally:
                source.close()
            if not measured.rps:
                raise PermanentError(f"--live: {measured.source} has no cdn_requests_total rate to read demand from")
        data = report(ws, scenarios, health, measured, edge_health(ws))
    finally:
        ws.close()
    if chart is not None:
        from .capacity_chart import draw

        draw(data, chart)
    if output == CapacityOutput.json:
        from .common import Output, emit

        emit(data, Output.json, lambda: None)
    elif output == CapacityOutput.markdown:
        sys.stdout.write(markdown(data))
    else:
        tables(data)
    if chart is not None:
        sys.stderr.write(f"chart written to {chart}\n")


# ----- rendering -----------------------------------------------------------------------------
def _n(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def _usd(x: float) -> str:
    return f"${x / 1e6:,.2f}M" if abs(x) >= 1e5 else f"${x:,.0f}"


def _h(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


Section = tuple[str, list[str], list[list[str]]]


def sections(data: dict[str, Any]) -> list[Section]:
    base, after = data["baseline"], data.get("what_if")
    label = "what-if " + " ".join(after["what_if"]) if after else ""
    scen = [("baseline", base)] + ([(label, after)] if after else [])
    out: list[Section] = []
    rows = []
    for name, key, fmt in (("users", "users", lambda v: _n(v)), ("viewers at peak", "viewers", lambda v: _n(v)),
                           ("requests/s at peak", "rps", lambda v: _n(v)),
                           ("mean viewed bitrate", "mean_kbps", lambda v: f"{_n(v)} kbps"),
                           ("egress at peak", "egress_tbps", lambda v: f"{_n(v, 1)} Tbps"),
                           ("origin egress after CDN", "origin_egress_tbps", lambda v: f"{_n(v, 2)} Tbps"),
                           ("CDN hit ratio", "hit_ratio", lambda v: f"{v * 100:.1f} %")):
        rows.append([name, *(fmt(s["demand"][key]) for _, s in scen)])
    rows.append(["servers needed", *(_n(s["servers"]) for _, s in scen)])
    rows.append(["GPUs needed (peak / pools' max)",
                 *(f"{_n(s['gpus']['peak'])} / {_n(s['gpus']['max'])}" for _, s in scen)])
    out.append(("Demand", ["", *(n for n, _ in scen)], rows))
    st = base["storage"]
    out.append(("Storage by class (after retention)", ["class", "until day", "copies", "PB", "PB written/year"],
                [[c, str(st[c]["days"]), str(st[c]["copies"]), _n(st[c]["pb"], 1), _n(st[c]["pb_per_year"], 1)]
                 for c in ("hot", "warm", "cold", "archive")]
                + [["total", "", "", _n(st["total"]["pb"], 1), _n(st["total"]["pb_per_year"], 1)]]))
    cur = after or base
    before = {r["region"]: r for r in base["regions"]}

    def arrow(region: str, key: str, fmt: Any) -> str:
        now = next(r for r in cur["regions"] if r["region"] == region)[key]
        return fmt(now) if after is None else f"{fmt(before[region][key])} → {fmt(now)}"

    rows = []
    edges = any(r.get("edge_sites") for r in cur["regions"])

    def tbps(key: str, digits: int = 1) -> str:
        return _n(sum(r[key] for r in cur["regions"]) / 1000, digits)

    for r in cur["regions"]:
        name = r["region"]
        rows.append([name, arrow(name, "share", lambda v: f"{v * 100:.1f} %"), arrow(name, "rps", _n),
                     _n(r["max_rps"]), arrow(name, "egress_gbps", lambda v: _n(v / 1000, 2)),
                     _n(r["egress_capacity_gbps"] / 1000, 1), _n(r["viewers"]),
                     arrow(name, "user_egress_gbps", lambda v: _n(v / 1000, 2)), _n(r["pop_capacity_gbps"] / 1000, 1),
                     *([f"{_n(r['edge_capacity_gbps'] / 1000, 1)} ({r['edge_sites']})"] if edges else []),
                     _n(r["origin_gbps"] / 1000, 2)])
    rows.append(["total", "", _n(cur["demand"]["rps"]), _n(sum(r["max_rps"] for r in cur["regions"])),
                 tbps("egress_gbps", 2), tbps("egress_capacity_gbps"), _n(cur["demand"]["viewers"]),
                 tbps("user_egress_gbps", 2), tbps("pop_capacity_gbps"),
                 *([f"{tbps('edge_capacity_gbps')} ({sum(r['edge_sites'] for r in cur['regions'])})"] if edges else []),
                 _n(cur["demand"]["origin_egress_tbps"], 2)])
    out.append(("Peak load per region" + (f" ({label})" if after else "")
                + " - req/s and egress: where the traffic policies send them; viewers: where they are",
                ["region", "share", "req/s", "maxRps", "egress Tbps", "egressGbps (Tbps)", "viewers",
                 "viewers' egress Tbps", "PoP capacity Tbps", *(["edge capacity Tbps (sites)"] if edges else []),
                 "origin Tbps"], rows))
    cats = ("cdn", "transfer", "transcode", "serving", "storage", "total")
    out.append(("Monthly cost (USD)", ["category", *(n for n, _ in scen)],
                [[c, *(_usd(s["cost_per_month"][c]) for _, s in scen)] for c in cats]
                + [["compute (transcode + serving)", *(_usd(s["cost_by_category"]["compute"]) for _, s in scen)]]))
    rows = []
    for h in cur["headroom"]:
        if h["scope"].startswith("all ") or h["resource"] == "storage":
            rows.append([h["resource"], h["scope"], f"{_n(h['need'])} {h['unit']}", f"{_n(h['capacity'])} {h['unit']}",
                         _h(h["headroom"]), f"{h['policy']:g}x", h["status"]])
    for res in ("pop-egress", "edge-egress", "cache"):
        items = [h for h in cur["headroom"] if h["resource"] == res]
        if items:
            items = [h for h in items if not h["scope"].startswith("all ")]
            if not items:
                continue
            worst = min(items, key=lambda h: h["headroom"] or float("inf"))
            where = "per PoP" if res == "cache" else "per region"
            rows.append([res, f"{where} (worst: {worst['scope']})", f"{_n(worst['need'])} {worst['unit']}",
                         f"{_n(worst['capacity'])} {worst['unit']}", _h(worst["headroom"]), f"{worst['policy']:g}x",
                         worst["status"]])
    out.append(("Headroom" + (f" ({label})" if after else ""),
                ["resource", "scope", "need", "capacity", "headroom", "policy", "status"], rows))
    out.append((f"Shortfalls: {len(cur['shortfalls'])}", ["resource, scope: status (headroom vs policy)"],
                [[s] for s in cur["shortfalls"]] or [["none"]]))
    if after and after["failover"]:
        f = after["failover"]
        out.append((f"Failover of {f['region']} ({f['policy']} weights after: "
                    + ", ".join(f"{k} {v}" for k, v in f["weights_after"].items()) + ")",
                    ["the failover guardrail would say"], [[r] for r in f["refusals"]] or [["no refusal"]]))
    return out


def tables(data: dict[str, Any]) -> None:
    from .common import console, simple_table

    console().print(f"Capacity model: {data['model']}")
    if data.get("live"):
        console().print(f"Demand: live from {data['live']['source']}")
    for title, cols, rows in sections(data):
        simple_table(title, cols, rows)
    for note in (data.get("what_if") or data["baseline"]).get("notes", []):
        console().print(f"note: {note}")


def markdown(data: dict[str, Any]) -> str:
    def md(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["### StreamVerse capacity", "", f"Capacity model: `{md(data['model'])}`", ""]
    if data.get("live"):
        lines[-1:] = [f"Demand: live from {md(data['live']['source'])}", ""]
    for title, cols, rows in sections(data):
        lines += [f"#### {md(title)}", "", "| " + " | ".join(md(c) for c in cols) + " |",
                  "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(md(v) for v in row) + " |" for row in rows]
        lines.append("")
    for note in (data.get("what_if") or data["baseline"]).get("notes", []):
        lines.append(f"- {md(note)}")
    return "\n".join(lines).rstrip() + "\n"
