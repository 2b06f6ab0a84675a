"""Test inventories bound to a real server: the demo with its DNS on PowerDNS or Route 53, the rest on the sim."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _demo_with_dns(demo: Path, name: str, provider_type: str, zone: str, settings: str, patches: str = "") -> None:
    """Rewrite a copy of inventories/demo: ``dns.*`` in ``zone`` served by one provider (``settings``
    is its YAML flow mapping), everything else by the sim platform; ``patches`` are YAML list items
    appended to the demo's Inventory document ``spec.patches``."""
    (demo / "providers.yaml").write_text(f"""\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: {name}}}
spec:
  type: {provider_type}
  serves: {{types: ["dns.*"], zones: ["{zone}"]}}
  settings: {settings}
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: sim}}
spec:
  type: sim
  serves: {{types: ["platform.*", "cdn.*", "transcode.*"]}}
""")
    inv = demo / "inventory.yaml"
    inv.write_text(inv.read_text() + f"  variables: {{zone: {zone}}}\n" + (f"  patches:\n{patches}" if patches else ""))


def demo_on_powerdns(demo: Path, pdns: Any, zone: str = "sv.example.", patches: str = "") -> None:
    """The demo (and its base beside it) with ``dns.*`` served by ``pdns`` (API key from env
    PDNS_API_KEY), only the weighted ``www`` policy kept (PowerDNS has no latency routing)."""
    _demo_with_dns(demo, "pdns", "powerdns", zone, f"""{{apiUrl: "{pdns.api_url}", apiKey: {{fromEnv: PDNS_API_KEY}}, \
zone: {zone}, luaRecords: true,
              weightedSelector: pickwrandom, nameservers: ["{pdns.address}"]}}""", patches)
    dns = demo.parent / "base" / "dns.yaml"
    dns.write_text(dns.read_text().split("\n---\n")[0] + "\n")


def demo_on_route53(demo: Path, zone: str = "sv.example.") -> None:
    """The demo with ``dns.*`` (both policies, with health checks) served by Route 53's hosted zone
    ``zone``; the endpoint comes from AWS_ENDPOINT_URL_ROUTE_53, as for a user."""
    _demo_with_dns(demo, "route53", "route53", zone, f"{{zone: {zone}, waitInsync: true}}")
