"""PowerDNS weighted LUA records weigh REGIONS, not addresses (issue 8 item 5.2), on a real PowerDNS:
``verify`` (answers mapped back to regions) rejects a record written with per-address weights (2/3
vs 1/3). That each region gets its weight whatever its address count is checked for every weighted
back-end by the conformance suite (dns_conformance/test_weighted.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streamverse_ctl.core.secrets import Secret
from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.dnsverify import query
from streamverse_ctl.providers.powerdns import PowerDNSProvider

from .helpers import apply, plan, rec

pytestmark = pytest.mark.servers
Z = "sv.example."
EAST, WEST = ["192.0.2.10", "192.0.2.11"], ["192.0.2.20"]


def _provider(pdns: Any, tmp_path: Path) -> PowerDNSProvider:
    return PowerDNSProvider("pdns", {
        "apiUrl": pdns.api_url, "apiKey": Secret(pdns.api_key, "env PDNS_API_KEY"), "zone": Z,
        "luaRecords": True, "nameservers": [pdns.address], "timeout": 2}, ProviderContext(tmp_path))


def _desired() -> list[Any]:
    return [rec(Z, "www", values=EAST, routing="weighted", set_id="us-east", weight=50, policy="www",
                region="us-east"),
            rec(Z, "www", values=WEST, routing="weighted", set_id="us-west", weight=50, policy="www",
                region="us-west")]


def _region_shares(pdns: Any, n: int = 400) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for _ in range(n):
        for v in query(pdns.address, f"www.{Z}", "A"):
            counts["us-east" if v in EAST else "us-west" if v in WEST else v] += 1
    return {k: c / n for k, c in counts.items()}


def test_verify_rejects_per_address_weights(pdns: Any, tmp_path: Path) -> None:
    p = _provider(pdns, tmp_path)
    apply(p, _desired())
    rrsets = {(rr["name"], rr["type"]): rr for rr in pdns.api("GET", f"/zones/{Z}")["rrsets"]}
    lua = rrsets[(f"www.{Z}", "LUA")]
    per_address = "A \"pickwrandom({{50,'192.0.2.10'},{50,'192.0.2.11'},{50,'192.0.2.20'}})\""
    pdns.api("PATCH", f"/zones/{Z}", {"rrsets": [{**lua, "changetype": "REPLACE",
                                                  "records": [{"content": per_address, "disabled": False}]}]})
    shares = _region_shares(pdns)
    assert shares["us-east"] > 0.55  # the defect: us-east gets ~2/3
    results = p.verify(_desired(), timeout=1)
    assert results and not any(v.ok for v in results)
    assert "region shares" in results[0].detail and "want shares us-east=0.50, us-west=0.50" in results[0].detail
    assert plan(p, _desired())  # and plan shows the record must be rewritten
