"""``streamverse ctl sim``: the embedded sim platform. A simulator for demos, tests and game days, not a cloud."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, Output, OutputOpt, StateDirOpt, console, emit, simple_table

app = typer.Typer(
    help="The embedded sim platform (a local simulator, not a cloud): status, faults, drift.", no_args_is_help=True
)


def _sim(inventory: Any, state_dir: Any):  # type: ignore[no-untyped-def]
    from ..providers.sim.provider import sim_path
    from ..providers.sim.store import SimStore
    from .state import open_state_store

    store = open_state_store(inventory, state_dir)
    return SimStore(sim_path(store.directory)), store


@app.command("status")
def status(
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, output: OutputOpt = Output.table
) -> None:
    """Regions (health, drained, traffic share, load vs capacity), PoP hit ratios, injected faults.

    Example: streamverse ctl sim status
    """
    from ..core.resources import Resource
    from ..providers.sim.model import region_load, traffic_shares

    sim, state = _sim(inventory, state_dir)
    health = sim.region_health()
    records = [Resource(t, n, s) for t, n, s, _ in sim.read(["dns.record"])]
    shares = traffic_shares(records, health)
    demand = float(sim.setting("demand_rps"))
    load = region_load(shares, demand)
    regions = {n: s for _, n, s, _ in sim.read(["platform.region"])}
    drained = {n for n, r in state.region_statuses().items() if r["status"] == "drained"}
    rows = []
    for name, spec in regions.items():
        rows.append(
            {
                "region": name,
                "healthy": health.get(name, True),
                "drained": name in drained,
                "share": {p: round(s.get(name, 0.0), 4) for p, s in shares.items()},
                "load_rps": round(load.get(name, 0.0)),
                "max_rps": spec.get("max_rps"),
                "utilization": round(load.get(name, 0.0) / spec["max_rps"], 3) if spec.get("max_rps") else None,
            }
        )
    data = {
        "demand_rps": demand,
        "regions": rows,
        "hit_ratios": sim.hit_ratios(),
        "viral": sim.viral_videos(),
        "rate_limits": sim.rate_limits(),
        "origin_nodes": sim.origin_nodes(),
        "faults": {k: sim.setting(k) for k in ("write_errors", "write_delay")},
        "resources": sim.count(),
        "edge_sites": _edge_summary(sim, load),
        "events": sim.events(10),
    }

    def table() -> None:
        simple_table(
            f"Sim platform (demand {demand:,.0f} req/s)",
            ["region", "health", "state", *[f"{p} share" for p in shares], "load req/s", "capacity", "util"],
            [
                [
                    r["region"],
                    "[green]up[/]" if r["healthy"] else "[red]DOWN[/]",
                    "drained" if r["drained"] else "serving",
                    *[f"{r['share'][p] * 100:.1f} %" for p in shares],
                    f"{r['load_rps']:,}",
                    f"{r['max_rps']:,}",
                    f"{(r['utilization'] or 0) * 100:.0f} %",
                ]
                for r in rows
            ],
        )
        hr = data["hit_ratios"]
        if hr:
            low = {k: v for k, v in hr.items() if v < 0.95}
            console().print(
                f"CDN hit ratio: mean {sum(hr.values()) / len(hr) * 100:.1f} % over {len(hr)} PoPs"
                + (f"; below 95 %: {', '.join(f'{k} {v * 100:.0f} %' for k, v in low.items())}" if low else "")
            )
        edges = data["edge_sites"]
        if edges["total"]:
            console().print(f"edge sites: {edges['total']}, down: {', '.join(edges['down']) or 'none'}; busiest "
                            f"{edges['busiest']['site']} at {edges['busiest']['utilization'] * 100:.0f} %")
        console().print(f"resources: {data['resources']}; faults: {data['faults']}")

    emit(data, output, table)


@app.command("fail-region")
def fail_region(
    region: str,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    state_dir: StateDirOpt = None,
    reason: Annotated[str, typer.Option("--reason", metavar="REASON")] = "injected outage",
) -> None:
    """Mark a region unhealthy (its health checks fail), as in an outage.

    Example: streamverse ctl sim fail-region us-east --reason 'game day'
    """
    sim, _ = _sim(inventory, state_dir)
    _known(sim, region)
    sim.set_region_health(region, False, reason)
    console().print(f"region {region} is now [red]DOWN[/] on the sim platform ({reason})")


@app.command("heal-region")
def heal_region(region: str, inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None) -> None:
    """Mark a region healthy again.

    Example: streamverse ctl sim heal-region us-east
    """
    sim, _ = _sim(inventory, state_dir)
    _known(sim, region)
    sim.set_region_health(region, True)
    console().print(f"region {region} is [green]up[/] again on the sim platform")


def _known(sim: Any, region: str) -> None:
    from ..core.errors import PermanentError

    known = [n for _, n, _, _ in sim.read(["platform.region"])]
    if region not in known:
        raise PermanentError(
            f"the sim platform has no region '{region}' (has: {', '.join(known) or 'none; apply first'})"
        )


def _edge_summary(sim: Any, load: dict[str, float]) -> dict[str, Any]:
    from ..providers.sim.edges import edge_loads

    loads = edge_loads(sim, load)
    busiest = max(loads, key=lambda e: e.utilization, default=None)
    return {"total": len(loads), "down": [e.site for e in loads if not e.healthy],
            "busiest": {"site": busiest.site, "utilization": round(busiest.utilization, 3)} if busiest else None}


@app.command("fail-edge")
def fail_edge(
    site: Annotated[str, typer.Argument(help="EdgeSite name (cdn.edge_site on the sim platform)")],
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    state_dir: StateDirOpt = None,
    reason: Annotated[str, typer.Option("--reason", metavar="REASON")] = "injected outage",
) -> None:
    """Mark an edge site unhealthy (its health check fails): its users go to its PoP and sibling sites.

    Example: streamverse ctl sim fail-edge yonkers-nyc1 --reason 'power cut'
    """
    from ..providers.sim.edges import set_edge_health

    sim, _ = _sim(inventory, state_dir)
    _known_edge(sim, site)
    set_edge_health(sim, site, False, reason)
    console().print(f"edge site {site} is now [red]DOWN[/] on the sim platform ({reason})")


@app.command("heal-edge")
def heal_edge(site: Annotated[str, typer.Argument(help="EdgeSite name")], inventory: InventoryOpt = DEFAULT_INVENTORY,
              state_dir: StateDirOpt = None) -> None:
    """Mark an edge site healthy again.

    Example: streamverse ctl sim heal-edge yonkers-nyc1
    """
    from ..providers.sim.edges import set_edge_health

    sim, _ = _sim(inventory, state_dir)
    _known_edge(sim, site)
    set_edge_health(sim, site, True)
    console().print(f"edge site {site} is [green]up[/] again on the sim platform")


@app.command("edges")
def edges(
    pop: Annotated[str | None, typer.Option("--pop", metavar="POP", help="Only the sites under this PoP.")] = None,
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, output: OutputOpt = Output.table,
) -> None:
    """Edge sites on the sim platform: health, requests/s, egress vs capacity.

    Example: streamverse ctl sim edges --pop nyc1
    """
    from ..core.resources import Resource
    from ..providers.sim.edges import edge_loads
    from ..providers.sim.model import region_load, traffic_shares

    sim, _ = _sim(inventory, state_dir)
    records = [Resource(t, n, s) for t, n, s, _ in sim.read(["dns.record"])]
    load = region_load(traffic_shares(records, sim.region_health()), float(sim.setting("demand_rps")))
    rows: list[dict[str, Any]] = [
        {"site": e.site, "pop": e.pop, "region": e.region, "healthy": e.healthy, "rps": round(e.rps),
         "egress_gbps": round(e.gbps, 2), "capacity_gbps": e.capacity_gbps, "utilization": round(e.utilization, 3)}
        for e in edge_loads(sim, load) if pop is None or e.pop == pop]
    emit(rows, output, lambda: simple_table(
        f"Edge sites ({len(rows)})", ["site", "pop", "region", "health", "req/s", "egress Gbps", "capacity", "util"],
        [[r["site"], r["pop"], r["region"], "up" if r["healthy"] else "DOWN", f"{r['rps']:,}", f"{r['egress_gbps']:,}",
          f"{r['capacity_gbps']:g}", f"{r['utilization'] * 100:.0f} %"] for r in rows]))


def _known_edge(sim: Any, site: str) -> None:
    from ..core.errors import PermanentError

    known = {n for _, n, _, _ in sim.read(["cdn.edge_site"])}
    if site not in known:
        import difflib

        near = difflib.get_close_matches(site, sorted(known), n=3)
        raise PermanentError(f"the sim platform has no edge site '{site}' ("
                             + (f"did you mean {', '.join(near)}?" if near else
                                f"{len(known)} known" if known else "none; apply an inventory with EdgeSites first")
                             + ")")


@app.command("drift")
def drift(
    resource: Annotated[
        str, typer.Argument(help="Resource id TYPE/NAME, e.g. dns.record/www.streamverse.example./A/us-east")
    ],
    fields: Annotated[list[str] | None, typer.Argument(help="FIELD=VALUE (YAML value) to change")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Delete the resource instead.")] = False,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    state_dir: StateDirOpt = None,
) -> None:
    """Change a resource behind the tool's back (out-of-band), to rehearse drift.

    Example: streamverse ctl sim drift cdn.pop/lhr1 cache_tb=10
    """
    import yaml

    from ..core.errors import PermanentError

    sim, _ = _sim(inventory, state_dir)
    rtype, _, name = resource.partition("/")
    spec = sim.get(rtype, name)
    if spec is None:
        raise PermanentError(f"the sim platform has no {resource}")
    with sim.tx() as db:
        if delete:
            sim.delete(db, rtype, name)
        else:
            if not fields:
                raise typer.BadParameter("give FIELD=VALUE pairs or --delete")
            for pair in fields:
                key, sep, value = pair.partition("=")
                if not sep:
                    raise typer.BadParameter(f"'{pair}' is not FIELD=VALUE")
                spec[key] = yaml.safe_load(value)
            sim.put(db, rtype, name, spec)
    sim.event("drift", resource=resource, delete=delete, fields=fields or [])
    console().print(f"{'deleted' if delete else 'changed'} {resource} out of band")


@app.command("faults")
def faults(
    write_errors: Annotated[int | None, typer.Option("--write-errors", metavar="N",
        help="Next N writes fail (retryable).")] = None,
    write_delay: Annotated[float | None, typer.Option("--write-delay", metavar="SECONDS",
        help="Seconds each write takes.")] = None,
    demand_rps: Annotated[float | None, typer.Option("--demand-rps", metavar="RPS", help="Global peak demand.")] = None,
    hit_ratio: Annotated[list[str] | None, typer.Option("--hit-ratio", metavar="POP=RATIO",
        help="POP=RATIO (0..1), repeatable.")] = None,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    state_dir: StateDirOpt = None,
) -> None:
    """Inject faults and load: throttled writes, slow writes, demand, CDN hit ratios.

    Example: streamverse ctl sim faults --hit-ratio lhr1=0.6
    """
    sim, _ = _sim(inventory, state_dir)
    for key, value in (("write_errors", write_errors), ("write_delay", write_delay), ("demand_rps", demand_rps)):
        if value is not None:
            sim.set_setting(key, value)
    for pair in hit_ratio or []:
        pop, _, ratio = pair.partition("=")
        sim.set_hit_ratio(pop, float(ratio))
    console().print({k: sim.setting(k) for k in ("write_errors", "write_delay", "demand_rps")})


@app.command("reset")
def reset(
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    state_dir: StateDirOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y")] = False,
) -> None:
    """Empty the sim platform (all resources, health, faults). The state backend is kept.

    Example: streamverse ctl sim reset --yes
    """
    if not yes and not typer.confirm("Reset the sim platform?", default=False):
        raise typer.Exit(1)
    sim, _ = _sim(inventory, state_dir)
    sim.reset()
    console().print("sim platform reset")


@app.command("viral")
def viral(video: Annotated[str | None, typer.Argument(help="Video id going viral.")] = None,
          end: Annotated[bool, typer.Option("--end", help="The wave is over (all videos, or VIDEO).")] = False,
          inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None) -> None:
    """Make a video go viral: PoPs that have not warmed it lose hit ratio until it is warm and kept long.

    Example: streamverse ctl sim viral v123
    """
    sim, _ = _sim(inventory, state_dir)
    if end:
        n = sim.end_viral(video)
        console().print(f"viral wave over for {video or 'all videos'} ({n})")
        return
    if not video:
        raise typer.BadParameter("give a VIDEO id (or --end)")
    sim.start_viral(video)
    hr = sim.hit_ratios()
    mean = sum(hr.values()) / len(hr) if hr else 0.0
    console().print(f"{video} is going viral: mean CDN hit ratio now {mean * 100:.1f} % over {len(hr)} PoPs")
