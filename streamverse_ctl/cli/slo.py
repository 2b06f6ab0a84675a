"""``streamverse ctl slo``: SLOs as code (compiler/slo_rules.py, compiler/slo_dashboards.py).

``slo rules`` writes, for every SLO document, SLI error-ratio recording rules (5m ... 30d), SLO
metadata rules and multi-window multi-burn-rate alerts (page / ticket), plus the platform's own
recording rules (``streamverse.rules.yml``). Without ``--out`` everything goes to standard output
as one rule file; with it, one file per SLO (``slo-<name>.rules.yml``). Check them with
``promtool check rules DIR/*.yml``.

``slo dashboards`` writes the Grafana dashboard JSON (``streamverse-global-status.json``) that the
provisioning files in ``deploy/grafana/provisioning`` load.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, VarOpt

app = typer.Typer(help="SLOs as code: Prometheus rules, burn-rate alerts and Grafana dashboards.",
                  no_args_is_help=True)


class RuleFormat(str, Enum):
    yaml = "yaml"
    json = "json"


OutDirOpt = Annotated[Path | None, typer.Option(
    "--out", help="Write one file per SLO (and streamverse.rules.yml) into DIR instead of standard output.",
    metavar="DIR")]
FormatOpt = Annotated[RuleFormat, typer.Option("--output", "-o", help="Rule file format.")]


def _render(rule_file: dict[str, Any], fmt: RuleFormat) -> str:
    import json

    from ..compiler.slo_rules import to_yaml

    if fmt == RuleFormat.json:
        return json.dumps(rule_file, indent=2) + "\n"
    return to_yaml(rule_file)


def rule_files(inventory: Path, variables: list[str] | None) -> dict[str, dict[str, Any]]:
    """File stem -> rule file: ``streamverse`` (the platform's rules), then ``slo-<name>`` per SLO."""
    from ..compiler.slo_rules import base_rule_file, slo_rule_file, unreachable_alerts
    from ..inventory import load_inventory
    from ..inventory import models as m
    from .common import err_console, parse_vars

    inv = load_inventory(inventory, parse_vars(variables))
    files = {"streamverse": base_rule_file()}
    specs = sorted(inv.specs("SLO", m.SLOSpec).items())
    if not specs:
        err_console().print(f"[yellow]warning:[/] {inventory} has no SLO document: only the platform's "
                            "recording rules are written", markup=True, highlight=False)
    for name, spec in specs:
        for message in unreachable_alerts(name, spec):
            err_console().print(f"[yellow]warning:[/] {message}", markup=True, highlight=False)
        files[f"slo-{name}"] = slo_rule_file(name, spec)
    return files


@app.command("rules")
def rules(inventory: InventoryOpt = DEFAULT_INVENTORY, var: VarOpt = None, out: OutDirOpt = None,
          output: FormatOpt = RuleFormat.yaml) -> None:
    """Prometheus rule files for every SLO: error ratios, budgets, burn-rate alerts.

    Example: streamverse ctl slo rules -i inventories/production --out deploy/prometheus/rules
    """
    import sys

    from .common import err_console

    files = rule_files(inventory, var)
    if out is None:
        merged = {"groups": [g for f in files.values() for g in f["groups"]]}
        sys.stdout.write(_render(merged, output))
        return
    out.mkdir(parents=True, exist_ok=True)
    suffix = "json" if output == RuleFormat.json else "yml"
    for stem, rule_file in files.items():
        path = out / f"{stem}.rules.{suffix}"
        path.write_text(_render(rule_file, output), encoding="utf-8")
        count = sum(len(g["rules"]) for g in rule_file["groups"])
        err_console().print(f"wrote {path}: {count} rules", highlight=False)


DashOutOpt = Annotated[Path | None, typer.Option(
    "--out", help="Write the dashboard JSON into DIR (for Grafana's file provisioning) instead of standard output.",
    metavar="DIR")]


@app.command("dashboards")
def dashboards(inventory: InventoryOpt = DEFAULT_INVENTORY, var: VarOpt = None, out: DashOutOpt = None) -> None:
    """Grafana dashboard JSON: regions, traffic, load vs capacity, hit ratio, budgets and burn rates.

    Example: streamverse ctl slo dashboards -i inventories/production --out /var/lib/grafana/dashboards/streamverse
    """
    import json
    import sys

    from ..compiler.slo_dashboards import UID, dashboard
    from ..inventory import load_inventory
    from ..inventory import models as m
    from .common import err_console, parse_vars

    inv = load_inventory(inventory, parse_vars(var))
    board = dashboard(inv.specs("Region", m.RegionSpec), dict(sorted(inv.specs("SLO", m.SLOSpec).items())))
    text = json.dumps(board, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{UID}.json"
    path.write_text(text, encoding="utf-8")
    err_console().print(f"wrote {path}: dashboard {board['title']!r}, {len(board['panels'])} panels",
                        highlight=False)
