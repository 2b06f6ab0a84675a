"""PowerDNS without LUA records: plain records (DnsRecord, and a one-region TrafficPolicy) are applied
and served; a routed policy is refused at plan time with each reason printed once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamverse_ctl.providers.dnsverify import query
from tests.e2e.test_dns_dump import SIM, Z, pdns_settings, provider_doc, runner
from tests.unit.helpers import REGIONS, doc, write

pytestmark = [pytest.mark.servers]


def test_plain_records_work_and_routed_refusals_print_once(pdns: Any, tmp_path: Path) -> None:
    records = "---\n".join([
        doc("DnsRecord", "mail", {"zone": Z, "name": "@", "type": "MX", "values": ["10 mx.example.net."]}),
        doc("DnsRecord", "spf", {"zone": Z, "name": "@", "type": "TXT", "values": ["v=spf1 -all"]}),
        doc("TrafficPolicy", "api", {"zone": Z, "record": "api", "routing": "weighted", "weights": {"r1": 100}}),
    ])
    inv = write(tmp_path / "inv", {"providers.yaml": provider_doc("pdns", "powerdns", pdns_settings(pdns)) + "---\n"
                                   + SIM, "regions.yaml": REGIONS, "dns.yaml": records})
    run = runner(inv, tmp_path, PDNS_API_KEY=pdns.api_key)
    run("apply", "--yes")
    assert query(pdns.address, f"api.{Z}", "A") == {"192.0.2.1"}
    assert query(pdns.address, Z, "MX") == {"10 mx.example.net."}
    assert run("plan", "--detailed-exitcode").returncode == 0

    routed = doc("TrafficPolicy", "www", {
        "zone": Z, "record": "www", "routing": "weighted", "weights": {"r1": 50, "r2": 30, "r3": 20},
        "healthCheck": {"protocol": "HTTPS", "path": "/healthz", "port": 443, "interval": 10}})
    (inv / "www.yaml").write_text(routed)
    refused = run("plan", code=1)
    text = refused.stdout + refused.stderr
    lines = [line for line in text.splitlines() if "does not support" in line]
    assert len(lines) == 2, text  # weighted routing and health checks, each once (not once per record)
    assert sum("dns.routing.weighted" in line for line in lines) == 1
    assert all("TrafficPolicy/www" in line and "luaRecords: true" in line for line in lines)
