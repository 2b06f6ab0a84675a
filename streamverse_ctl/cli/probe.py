"""``streamverse ctl probe playback``: synthetic playback through the PoPs (providers/playback.py).

Exit codes: 0 every play started within the threshold (the SLO's ``startupSeconds``); 1 a play
was slower or failed (DNS, connection, HTTP error), or bad input. Metrics for Prometheus
(providers/playback_metrics.py): ``--metrics-file`` for node_exporter's textfile collector
(counts accumulate across runs), ``--metrics-addr`` to keep probing every ``--interval`` and
serve ``/metrics``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, Output, VarOpt

if TYPE_CHECKING:
    from ..providers.playback import Play

app = typer.Typer(help="Synthetic playback probe: DNS, PoP, playlists and first segment against the startup SLO.",
                  no_args_is_help=True)


class Scheme(str, Enum):
    https = "https"
    http = "http"


def _table(plays: list[Play], threshold: float) -> None:
    from .common import err_console, simple_table

    def sec(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f} ms"

    colour = {"pass": "[green]pass[/]", "slow": "[red]slow[/]", "error": "[red]error[/]"}
    simple_table(f"Playback probe (startup threshold {threshold:g} s)",
                 ["pop", "region", "host", "address", "dns", "connect", "first byte", "first segment", "startup",
                  "cache", "result"],
                 [[p.target.pop or "-", p.target.region or "-", p.target.host.rstrip("."), p.address or "-",
                   sec(p.dns_seconds), sec(p.connect_seconds), sec(p.first_byte_seconds),
                   sec(p.first_segment_seconds), sec(p.startup_seconds),
                   "/".join(f.cache or "-" for f in p.fetches) or "-",
                   colour[p.verdict]] for p in plays])
    for p in plays:
        if p.error:
            err_console().print(f"{p.target.pop or p.target.host}: {p.error}", highlight=False, markup=False)


def _parse_addr(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise typer.BadParameter(f"'{text}' is not HOST:PORT", param_hint="--metrics-addr")
    return host.strip("[]") or "127.0.0.1", int(port)


@app.command("playback")
def playback(
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    var: VarOpt = None,
    pop: Annotated[list[str] | None, typer.Option("--pop", "-p", metavar="POP",
                   help="PoP to play through (repeatable, globs allowed). Default: every PoP.")] = None,
    all_pops: Annotated[bool, typer.Option("--all", help="Every PoP of the inventory (the default).")] = False,
    host: Annotated[str | None, typer.Option("--host", metavar="NAME",
                    help="Play through this name instead of the PoPs' (e.g. the steered playback name).")] = None,
    video: Annotated[str, typer.Option("--video", metavar="VIDEO",
                     help="Video id: /videos/VIDEO/master.m3u8 (publish a short canary under 'probe').")] = "probe",
    samples: Annotated[int, typer.Option("-n", "--samples", min=1, max=1000, metavar="N",
                       help="Plays per PoP, each with its own DNS query and connection.")] = 1,
    nameserver: Annotated[str | None, typer.Option("--nameserver", metavar="HOST:PORT",
                          help="Authoritative nameserver (default: the inventory's DNS provider's).")] = None,
    zone: Annotated[str | None, typer.Option("--zone", metavar="ZONE",
                    help="Zone of the PoP names (default: the TrafficPolicies').")] = None,
    host_template: Annotated[str, typer.Option("--host-template", metavar="TEMPLATE",
                             help="PoP name from {pop}, {region}, {zone}.")] = "{pop}.pop.{zone}",
    scheme: Annotated[Scheme, typer.Option("--scheme", help="Protocol the PoPs serve.")] = Scheme.https,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, metavar="PORT",
                    help="PoP port (default 443 for https, 80 for http).")] = 0,
    threshold: Annotated[float | None, typer.Option("--threshold", metavar="SECONDS",
                         help="Startup limit (default: the SLO document's startupSeconds).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS",
                       help="Per DNS query and HTTP step.")] = 5.0,
    ca_file: Annotated[Path | None, typer.Option("--ca-file", metavar="FILE",
                       help="https: CA bundle the PoPs' certificates are verified with (default: the system's).")]
    = None,
    metrics_file: Annotated[Path | None, typer.Option("--metrics-file", metavar="FILE",
                            help="Write Prometheus metrics here (node_exporter textfile collector; counts "
                                 "accumulate across runs).")] = None,
    metrics_addr: Annotated[str | None, typer.Option("--metrics-addr", metavar="HOST:PORT",
                            help="Keep probing every --interval and serve /metrics here (until interrupted).")]
    = None,
    interval: Annotated[float, typer.Option("--interval", metavar="SECONDS",
                        help="With --metrics-addr: seconds between rounds.")] = 30.0,
    output: Annotated[Output, typer.Option("--output", "-o", help="Output format.")] = Output.table,
) -> None:
    """Play a video through the PoPs like a player: resolve the name on the authoritative DNS, fetch the
    master playlist, a media playlist and the first segment; time DNS, connect, first byte, first
    segment and startup; compare startup with the SLO. Exit 0: all within it; 1: slower or failed.

    Example: streamverse ctl probe playback -i inventories/production --pop 'lhr*' --video probe -n 3
    Example: streamverse ctl probe playback --all --metrics-file /var/lib/node_exporter/textfile/playback.prom
    """
    import time

    from ..core.errors import PermanentError
    from ..inventory import load_inventory
    from ..inventory import models as m
    from ..providers import playback as pb
    from ..providers.playback_metrics import ProbeMetrics
    from .common import emit, err_console, parse_vars

    if sum((bool(pop), all_pops, host is not None)) > 1:
        raise typer.BadParameter("give --pop, --all or --host, not several", param_hint="--pop / --all / --host")
    inv = load_inventory(inventory, parse_vars(var))
    server = nameserver or pb.inventory_nameserver(inv)
    if not server:
        raise PermanentError("no nameserver to resolve the PoPs with: give --nameserver HOST:PORT (the inventory's "
                             "DNS provider names none)")
    targets = pb.targets(inv, None if all_pops else pop, host, zone, host_template)
    if not targets:
        raise PermanentError(f"{inventory} has no PoP to probe: give --host NAME")
    slos = inv.specs("SLO", m.SLOSpec)
    slo = slos[sorted(slos)[0]] if slos else m.SLOSpec()
    limit = threshold if threshold is not None else pb.inventory_startup_seconds(inv)
    settings = pb.ProbeSettings(server, scheme.value, port, video, limit, timeout,
                                str(ca_file) if ca_file else None)
    metrics = ProbeMetrics.for_slo(slo)

    def round_once() -> list[Play]:
        plays = pb.run(targets, settings, samples)
        metrics.observe(plays, timeout)
        return plays

    if metrics_addr is not None:
        from prometheus_client import start_http_server

        addr, mport = _parse_addr(metrics_addr)
        start_http_server(mport, addr, registry=metrics.registry())
        err_console().print(f"serving metrics on http://{addr}:{mport}/metrics; a round every {interval:g} s",
                            highlight=False)
        while True:
            served = round_once()
            slow = sum(not p.passed for p in served)
            err_console().print(f"{time.strftime('%H:%M:%S')} {len(served) - slow}/{len(served)} plays within "
                                f"{limit:g} s", highlight=False)
            time.sleep(max(0.1, interval))
    if metrics_file is not None:
        metrics.load(metrics_file)
    plays = round_once()
    if metrics_file is not None:
        metrics.write(metrics_file)
    data = {"threshold_seconds": limit, "nameserver": server, "video": video,
            "passed": all(p.passed for p in plays), "plays": [p.as_dict() for p in plays], **pb.health(plays)}
    emit(data, output, lambda: _table(plays, limit))
    bad = [p for p in plays if not p.passed]
    if bad:
        err_console().print(f"[red]{len(bad)} of {len(plays)} play(s) did not start within {limit:g} s[/]",
                            highlight=False)
        raise typer.Exit(1)
