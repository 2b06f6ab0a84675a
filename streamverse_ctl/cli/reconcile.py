from __future__ import annotations

import signal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, Output, OutputOpt, PlatformOpt, StateDirOpt, VarOpt

if TYPE_CHECKING:
    from ..engine.leader import Elector, Status
    from ..engine.reconcile import Tick
    from .eventlog import EventLog
    from .metrics import Metrics


# as `runbook run --runbooks` (not imported from cli/runbook.py: that would load the plan and apply
# verbs' modules into `reconcile --help`)
RunbooksOpt = Annotated[list[Path] | None, typer.Option(
    "--runbooks", metavar="DIR", help="Directory of runbooks for automatic remediation, searched before the "
    "built-in ones (repeatable; env STREAMVERSE_RUNBOOKS).")]


class LeaseKind(str, Enum):
    state = "state"
    k8s = "k8s"
    none = "none"


class LogFormat(str, Enum):
    text = "text"
    json = "json"


COLORS = {"in-sync": "green", "pending": "yellow", "applied": "cyan", "refused": "bold yellow",
          "locked": "magenta", "error": "red"}


def command(
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None,
    apply: Annotated[bool, typer.Option("--apply", help="Converge pending changes (never forced); "
                                                         "without it, only report.")] = False,
    interval: Annotated[str, typer.Option("--interval", metavar="DURATION",
        help="Time between iterations, e.g. 30s, 5m.")] = "60s",
    iterations: Annotated[int, typer.Option("--iterations", "-n", metavar="N",
        help="Stop after N iterations (0: run until "
                                                                        "SIGTERM or Ctrl-C).")] = 0,
    lease: Annotated[LeaseKind | None, typer.Option("--lease", metavar="KIND",
        help="Leader election between replicas: only the lease holder writes, the others plan and report. "
             "'state': a lease row in the state backend (default with --apply); 'k8s': a coordination.k8s.io "
             "Lease (KUBECONFIG or in-cluster); 'none': no election.")] = None,
    lease_ttl: Annotated[str, typer.Option("--lease-ttl", metavar="DURATION",
        help="How long a lease outlives its holder (a follower takes over within it).")] = "15s",
    lease_name: Annotated[str, typer.Option("--lease-name", metavar="NAME",
        help="Lease name (replicas that share it elect one leader).")] = "streamverse-reconcile",
    lease_namespace: Annotated[str | None, typer.Option("--lease-namespace", metavar="NS",
        help="Namespace of the k8s Lease (default: POD_NAMESPACE, the service account's, 'default').")] = None,
    metrics_addr: Annotated[str | None, typer.Option("--metrics-addr", metavar="HOST:PORT",
        help="Serve /metrics (Prometheus), /healthz and /readyz here, e.g. 127.0.0.1:9400.")] = None,
    log_format: Annotated[LogFormat, typer.Option("--log-format", metavar="FORMAT",
        help="text, or json: one JSON object per event (iterations, leadership, remediation), secrets "
             "scrubbed.")] = LogFormat.text,
    runbooks: RunbooksOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Keep reconciling: plan every interval, report drift and pending changes, converge with --apply.

    As a controller: run replicas with --apply (one leader writes, the others follow), --metrics-addr
    for Prometheus and probes, --log-format json. FailoverPolicy mode automatic: the leader fails a
    region over once it has been unhealthy for unhealthyObservations iterations. SIGTERM finishes
    the iteration, gives up the lease and exits 0.

    Example: streamverse ctl reconcile --interval 5m --apply --metrics-addr 127.0.0.1:9400
    """
    from ..engine.reconcile import reconcile
    from ..inventory.models import parse_duration
    from .common import parse_vars
    from .eventlog import EventLog

    seconds = _duration(interval, "--interval", parse_duration)
    ttl = _duration(lease_ttl, "--lease-ttl", parse_duration)
    if ttl < 1:
        raise typer.BadParameter("a lease TTL under 1 s would be lost between renewals", param_hint="--lease-ttl")
    kind = lease.value if lease is not None else ("state" if apply else "none")
    log = EventLog(log_format.value, stderr=output != Output.table)
    stopping = {"now": False}

    def stop(_sig: int, _frame: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    variables = parse_vars(var)
    metrics = _metrics(metrics_addr, seconds, ttl if kind != "none" else 0.0, log)
    elector = None if kind == "none" else _elector(kind, ttl, lease_name, lease_namespace, inventory, state_dir,
                                                   variables, platform, log, metrics)
    worst = 0
    try:
        after = _remediation(apply, elector, runbooks, log, log_format == LogFormat.json or output == Output.table,
                             metrics)
        for tick in reconcile(inventory, state_dir=state_dir, variables=variables, platform=platform,
                              apply=apply, interval=seconds, iterations=iterations, stop=lambda: stopping["now"],
                              elector=elector, after=after):
            if tick.status in ("error", "refused"):
                worst = 1
            if metrics is not None:
                metrics.observe(tick)
                if elector is not None:
                    metrics.lease(elector.status())
            _report(tick, output, log)
    finally:
        if elector is not None:
            released = elector.stop(release=True)
            if released:
                log("lease.released", f"released the lease ({elector.backend.where})", holder=elector.holder)
        if metrics is not None:
            metrics.close()
    if iterations and worst:
        raise typer.Exit(1)


def _duration(text: str, hint: str, parse: Any) -> float:
    try:
        return float(parse(text))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from exc


def _metrics(addr: str | None, interval: float, ttl: float, log: EventLog) -> Metrics | None:
    if addr is None:
        return None
    from .metrics import Metrics, parse_addr

    try:
        host, port = parse_addr(addr)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--metrics-addr") from exc
    metrics = Metrics(interval, ttl)
    try:
        bound = metrics.serve(host, port)
    except OSError as exc:
        raise typer.BadParameter(f"cannot listen on {addr}: {exc.strerror}", param_hint="--metrics-addr") from exc
    log("metrics.listening", f"serving /metrics, /healthz, /readyz on http://{bound[0]}:{bound[1]}",
        addr=f"{bound[0]}:{bound[1]}")
    return metrics


def _elector(kind: str, ttl: float, name: str, namespace: str | None, inventory: Path,
             state_dir: str | Path | None, variables: dict[str, str], platform: str | None, log: EventLog,
             metrics: Metrics | None) -> Elector:
    from ..engine.leader import Elector, LeaseBackend, StateLease

    backend: LeaseBackend
    if kind == "k8s":
        from ..providers.k8slease import KubeLease

        backend = KubeLease(name, namespace)
    else:
        from ..engine.workspace import Workspace

        def open_store() -> Any:
            return Workspace(inventory, state_dir=state_dir, variables=variables, platform=platform).state

        backend = StateLease(open_store, name)

    def changed(old: Status, new: Status) -> None:
        if metrics is not None:
            metrics.lease(new)
        if new.leader and not old.leader:
            log("lease.acquired", f"leader: this replica ({elector.holder}) holds the lease ({backend.where})",
                holder=elector.holder, where=backend.where)
        elif old.leader and not new.leader:
            log("lease.lost", f"follower: lost the lease ({new.error or 'another replica holds it'})",
                level="warning", holder=new.holder, error=new.error)
        elif not new.leader:
            log("lease.follower", new.describe(), holder=new.holder, since=new.since)

    elector = Elector(backend, ttl, on_change=changed)
    elector.start()  # a configuration error ends the command (exit 1); a server that is down is retried
    if elector.last_error is not None:
        log("lease.error", f"lease unavailable, retrying as a follower: {elector.last_error}", level="warning",
            error=str(elector.last_error))
    return elector


def _remediation(apply: bool, elector: Elector | None, runbooks: list[Path] | None, log: EventLog,
                 show_steps: bool, metrics: Metrics | None) -> Any:
    from ..runbook.remediation import remediate

    def sink(event: dict[str, Any]) -> None:
        if metrics is not None:
            metrics.heartbeat()  # a runbook that waits between steps keeps /healthz green
        if not show_steps:
            return
        name = event.get("event", "")
        if log.json:
            log(f"runbook.{name}", **{("data_" + k if k in ("level", "message") else k): v
                                      for k, v in event.items() if k != "event"})
        elif name in ("run.start", "step.done", "step.fail", "run.finish"):
            what = event.get("step") or event.get("runbook") or event.get("status") or ""
            log(name, f"    remediation {event.get('run_id', '')}: {name} {what}")

    def after(ws: Any, tick: Tick) -> None:
        status = elector.status() if elector is not None else None
        # only a writer counts observations: the leader, or without election a reconcile --apply; a
        # report-only run reads the counts as the controller keeps them and writes nothing
        leader = status.leader if status is not None else apply
        tick.remediation = remediate(ws, leader=leader, act=apply and leader, runbooks=runbooks or [], sink=sink)

    return after


def _report(tick: Tick, output: Output, log: EventLog) -> None:
    if log.json:
        log("reconcile.tick", level="error" if tick.status == "error" else "info", **tick.as_dict())
        return
    if output != Output.table:
        from .common import emit_event

        emit_event(tick.as_dict(), output)
        return
    from rich.markup import escape

    from .common import console
    from .eventlog import scrub

    extra = f" {tick.changes} change(s)" if tick.changes else ""
    extra += f", {tick.drift} drifted" if tick.drift else ""
    extra += f", applied {tick.applied}" if tick.applied else ""
    role = f" ({tick.role})" if tick.role == "leader" else ""
    console().print(f"{tick.at} #{tick.iteration} [{COLORS[tick.status]}]{tick.status}[/]{role}{extra}"
                    + (f": {escape(scrub(tick.detail))}" if tick.detail else ""), highlight=False)
    for r in tick.refusals:
        console().print(f"    {escape(r)}", highlight=False)
    for item in tick.remediation:
        console().print(f"    remediation: {escape(scrub(str(item.get('detail', ''))))}", highlight=False)
