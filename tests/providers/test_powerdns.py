"""PowerDNS provider against a real PowerDNS Authoritative (HTTP API, LUA records, DNS queries): what the
conformance suite (tests/providers/dns_conformance/) does not cover: the LUA code written, pickwhashed,
API errors, the hints in refusals, geo, and answers following PowerDNS's own health checks."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streamverse_ctl.core.errors import PermanentError, ProviderError
from streamverse_ctl.core.resources import Change
from streamverse_ctl.core.secrets import Secret
from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.dnsverify import query
from streamverse_ctl.providers.powerdns import PowerDNSProvider

from .helpers import apply, hc, plan, rec, summary

pytestmark = pytest.mark.servers
Z = "sv.example."


def _provider(pdns: Any, tmp_path: Path, api_url: str | None = None, key: str | None = None,
              **settings: Any) -> PowerDNSProvider:
    return PowerDNSProvider("pdns", {
        "apiUrl": api_url or pdns.api_url, "apiKey": Secret(key or pdns.api_key, "env PDNS_API_KEY"), "zone": Z,
        "luaRecords": True, "nameservers": [pdns.address], "timeout": 2, **settings}, ProviderContext(tmp_path))


def _rrsets(pdns: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(rr["name"], rr["type"]): rr for rr in pdns.api("GET", f"/zones/{Z}")["rrsets"]}


def _weighted(w_us: int, w_eu: int, label: str = "www", **kw: Any) -> list[Any]:
    return [rec(Z, label, values=["192.0.2.10"], routing="weighted", set_id="us-east", weight=w_us,
                policy="www", region="us-east", **kw),
            rec(Z, label, values=["192.0.2.20"], routing="weighted", set_id="eu-west", weight=w_eu,
                policy="www", region="eu-west", **kw)]


def _shares(pdns: Any, name: str, n: int = 300) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for _ in range(n):
        counts.update(query(pdns.address, name, "A"))
    return {k: v / n for k, v in counts.items()}


def test_create_update_delete_converge_with_lua_folding(pdns: Any, tmp_path: Path) -> None:
    p = _provider(pdns, tmp_path)
    desired = [*_weighted(90, 10),
               rec(Z, "www", "AAAA", values=["2001:db8::10"], routing="weighted", set_id="us-east", weight=1),
               rec(Z, "api", values=["192.0.2.30", "192.0.2.31"], ttl=120, policy="api"),
               rec(Z, "txt", "TXT", values=['"hello world"'])]
    assert p.check(desired) == []
    apply(p, desired)
    assert plan(p, desired) == []  # the folded LUA RRset unfolds to exactly the neutral records
    lua = _rrsets(pdns)[("www.sv.example.", "LUA")]
    contents = sorted(r["content"] for r in lua["records"])
    assert contents == ["A \"pickwrandom({{10,'192.0.2.20'},{90,'192.0.2.10'}})\"",
                        "AAAA \"pickwrandom({{1,'2001:db8::10'}})\""]
    assert len(lua["comments"]) == 3 and all(c["account"] == "streamverse-ctl" for c in lua["comments"])

    desired[1] = _weighted(90, 40)[1]
    desired[3] = rec(Z, "api", values=["192.0.2.32"], ttl=120, policy="api")
    changes = apply(p, desired)
    assert summary(changes) == [("update", "dns.record/api.sv.example./A", ["values"]),
                                ("update", "dns.record/www.sv.example./A/eu-west", ["weight"])]
    assert plan(p, desired) == []
    apply(p, desired[3:])  # the weighted sets go: the LUA RRset goes
    assert ("www.sv.example.", "LUA") not in _rrsets(pdns)
    apply(p, [])
    assert plan(p, []) == []
    assert sorted(k[1] for k in _rrsets(pdns)) == ["NS", "SOA"]


def test_pickwhashed_spreads_by_client_subnet(pdns: Any, tmp_path: Path) -> None:
    p = _provider(pdns, tmp_path, weightedSelector="pickwhashed")
    desired = _weighted(75, 25)
    apply(p, desired)
    content = _rrsets(pdns)[("www.sv.example.", "LUA")]["records"][0]["content"]
    assert content.startswith('A "pickwhashed(')
    assert len(_shares(pdns, "www.sv.example.", 30)) == 1  # one client: always the same answer
    results = p.verify(desired, timeout=10)  # varies the EDNS client subnet per query
    assert all(v.ok for v in results), results


def test_wrong_api_key_is_a_clear_error_and_writes_nothing(pdns: Any, tmp_path: Path) -> None:
    bad = _provider(pdns, tmp_path, key="definitely-wrong-key")
    with pytest.raises(ProviderError) as err:
        bad.read(["dns.record"])
    assert "rejected the API key" in str(err.value) and "definitely-wrong-key" not in str(err.value)
    changes = [Change("create", r.type, r.name, "pdns", None, dict(r.spec)) for r in _weighted(50, 50)]
    bad._rrsets = {}
    with pytest.raises(ProviderError):
        bad.apply(changes)
    assert ("www.sv.example.", "LUA") not in _rrsets(pdns)
    with pytest.raises(PermanentError, match="secret reference"):
        PowerDNSProvider("pdns", {"apiUrl": pdns.api_url, "apiKey": "plain", "zone": Z}, ProviderContext(tmp_path))


def test_5xx_absorbed_and_server_down_is_clear(pdns: Any, tmp_path: Path, fault_proxy: Any) -> None:
    proxy = fault_proxy(pdns.api_port)
    p = _provider(pdns, tmp_path, api_url=proxy.url, retries=4)
    proxy.http_errors(3, status=503)
    desired = _weighted(50, 50)
    apply(p, desired)
    assert proxy.injected == 3
    assert plan(p, desired) == []
    proxy.set_mode("reset")
    proxy.drop_connections()
    desired2 = _weighted(60, 40)
    with pytest.raises(ProviderError) as err:
        apply(p, desired2)
    assert "cannot reach" in str(err.value) and proxy.url in str(err.value)
    proxy.set_mode("pass")
    assert summary(plan(p, desired2)) == [("update", "dns.record/www.sv.example./A/eu-west", ["weight"]),
                                          ("update", "dns.record/www.sv.example./A/us-east", ["weight"])]


def test_features_refused_at_plan_time_by_settings(pdns: Any, tmp_path: Path) -> None:
    plain = _provider(pdns, tmp_path, luaRecords=False)
    problems = plain.check(_weighted(50, 50))
    assert len(problems) == 2 and all("'pdns' (powerdns)" in m and "luaRecords" in m for m in problems)
    assert "TrafficPolicy/www" in problems[0]
    lua = _provider(pdns, tmp_path)
    geo = [rec(Z, "geo", values=["192.0.2.40"], routing="geo", set_id="eu", geo={"continent": "EU"}, policy="geo")]
    [msg] = lua.check(geo)
    assert "dns.routing.geo" in msg and "geoipBackend" in msg and "TrafficPolicy/geo" in msg
    assert _provider(pdns, tmp_path, geoipBackend=True).check(geo) == []
    lat = [rec(Z, "l", routing="latency", set_id="us", latency_region="us-east-1", policy="lat")]
    assert "dns.routing.latency" in lua.check(lat)[0]
    assert "TCP" in lua.check([hc("www/us-east", protocol="TCP", path=None)])[0]


def test_geo_round_trips_when_the_backend_is_declared(pdns: Any, tmp_path: Path) -> None:
    p = _provider(pdns, tmp_path, geoipBackend=True)
    desired = [rec(Z, "geo", values=["192.0.2.40"], routing="geo", set_id="eu", geo={"continent": "EU"}),
               rec(Z, "geo", values=["192.0.2.41"], routing="geo", set_id="us", geo={"country": "US"}),
               rec(Z, "geo", values=["192.0.2.42"], routing="geo", set_id="default", geo={"default": True})]
    apply(p, desired)
    assert plan(p, desired) == []
    content = _rrsets(pdns)[("geo.sv.example.", "LUA")]["records"][0]["content"]
    assert "continent('EU')" in content and "country('US')" in content


def test_health_checked_answers_follow_the_servers_own_checks(pdns: Any, tmp_path: Path,
                                                              health_endpoint: Any) -> None:
    p = _provider(pdns, tmp_path)
    port = health_endpoint.port
    desired = [
        hc("www/us-east", "127.0.0.1", port=port, path="/us-east", region="us-east"),
        hc("www/eu-west", "127.0.0.1", port=port, path="/eu-west", region="eu-west"),
        *_weighted(50, 50, health_check=None),
        rec(Z, "fo", values=["192.0.2.60"], routing="failover", set_id="us-east", failover="PRIMARY",
            health_check="www/us-east", policy="www", region="us-east"),
        rec(Z, "fo", values=["192.0.2.61"], routing="failover", set_id="eu-west", failover="SECONDARY",
            policy="www", region="eu-west"),
    ]
    desired[2:4] = [
        rec(Z, "www", values=["192.0.2.10"], routing="weighted", set_id="us-east", weight=50,
            health_check="www/us-east", policy="www", region="us-east"),
        rec(Z, "www", values=["192.0.2.20"], routing="weighted", set_id="eu-west", weight=50,
            health_check="www/eu-west", policy="www", region="eu-west"),
    ]
    assert p.check(desired) == []
    apply(p, desired)
    assert plan(p, desired) == []
    assert all(v.ok for v in p.verify(desired, timeout=10))

    health_endpoint.set("/us-east", False)  # PowerDNS's own checks (1 s interval) move traffic
    results = p.verify(desired, timeout=10)
    assert all(v.ok for v in results), results
    assert query(pdns.address, "fo.sv.example.", "A") == {"192.0.2.61"}
    assert set(_shares(pdns, "www.sv.example.", 50)) == {"192.0.2.20"}
    assert plan(p, desired) == []  # the zone itself did not change
    assert p.region_health() == {"us-east": False, "eu-west": True}

    # a health check's target changes: the LUA code embedding its URL is regenerated
    desired[1] = hc("www/eu-west", "127.0.0.1", port=port, path="/eu-west-v2", region="eu-west")
    changes = apply(p, desired)
    assert summary(changes) == [("update", "dns.healthcheck/www/eu-west", ["path"])]
    assert "/eu-west-v2" in str(_rrsets(pdns)[("www.sv.example.", "LUA")]["records"])
    assert plan(p, desired) == []
    health_endpoint.set("/us-east", True)
    time.sleep(0.1)
