"""Test inventories bound to a real server: the demo with its DNS on PowerDNS, the rest on the sim."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def demo_on_powerdns(demo: Path, pdns: Any, zone: str = "sv.example.", patches: str = "") -> None:
    """Rewrite a copy of inventories/demo (and its base beside it): ``dns.*`` served by ``pdns`` in
    ``zone`` (API key from env PDNS_API_KEY), everything else by the sim platform, only the weighted
    ``www`` policy kept (PowerDNS has no latency routing). ``patches`` are YAML list items appended
    to the demo's Inventory document ``spec.patches``."""
    (demo / "providers.yaml").write_text(f"""\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: pdns}}
spec:
  type: powerdns
  serves: {{types: ["dns.*"], zones: ["{zone}"]}}
  settings: {{apiUrl: "{pdns.api_url}", apiKey: {{fromEnv: PDNS_API_KEY}}, zone: {zone}, luaRecords: true,
              weightedSelector: pickwrandom, nameservers: ["{pdns.address}"]}}
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: sim}}
spec:
  type: sim
  serves: {{types: ["platform.*", "cdn.*", "transcode.*"]}}
""")
    dns = demo.parent / "base" / "dns.yaml"
    dns.write_text(dns.read_text().split("\n---\n")[0] + "\n")
    inv = demo / "inventory.yaml"
    inv.write_text(inv.read_text() + f"  variables: {{zone: {zone}}}\n" + (f"  patches:\n{patches}" if patches else ""))


def demo_on_route53(demo: Path, zone: str = "sv.example.") -> None:
    """Rewrite a copy of inventories/demo: ``dns.*`` (both policies, with health checks) served by
    Route 53's hosted zone ``zone`` — the endpoint comes from AWS_ENDPOINT_URL_ROUTE_53 as for a
    user — and everything else by the sim platform."""
    (demo / "providers.yaml").write_text(f"""\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: route53}}
spec:
  type: route53
  serves: {{types: ["dns.*"], zones: ["{zone}"]}}
  settings: {{zone: {zone}, waitInsync: true}}
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: sim}}
spec:
  type: sim
  serves: {{types: ["platform.*", "cdn.*", "transcode.*"]}}
""")
    inv = demo / "inventory.yaml"
    inv.write_text(inv.read_text() + f"  variables: {{zone: {zone}}}\n")
