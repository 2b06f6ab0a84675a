"""RFC 2136 provider against a real BIND 9 (TSIG-signed AXFR and UPDATE)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.update
import pytest

from streamverse_ctl.core.errors import PermanentError, ProviderError, StalePlan
from streamverse_ctl.core.resources import Change
from streamverse_ctl.core.secrets import Secret
from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.dnsverify import query
from streamverse_ctl.providers.rfc2136 import RFC2136Provider

from .helpers import apply, apply_changes, hc, plan, rec, summary

pytestmark = pytest.mark.servers
Z = "sv.example."


def _provider(bind: Any, tmp_path: Path, server: str | None = None, secret: str | None = None,
              **settings: Any) -> RFC2136Provider:
    return RFC2136Provider("bind", {
        "server": server or bind.address, "zone": Z, "tsigKeyName": bind.key_name,
        "tsigSecret": Secret(secret or bind.secret, "env TEST_TSIG"), "nameservers": [bind.address],
        "timeout": 2, **settings}, ProviderContext(tmp_path))


def _update(bind: Any) -> dns.update.UpdateMessage:
    return dns.update.UpdateMessage(Z, keyring=dns.tsig.Key(bind.key_name, bind.secret), keyname=bind.key_name)


def _send(bind: Any, upd: dns.update.UpdateMessage) -> None:
    host, port = bind.address.split(":")
    resp = dns.query.tcp(upd, host, port=int(port), timeout=2)
    assert resp.rcode() == dns.rcode.NOERROR


def _answer(bind: Any, name: str, rtype: str = "A") -> list[str]:
    return sorted(query(bind.address, name, rtype))


def _desired() -> list[Any]:
    return [
        rec(Z, "api", values=["192.0.2.30", "192.0.2.31"], ttl=120, policy="api", region="us-east"),
        rec(Z, "*.img", "CNAME", values=["cdn.example.net."]),
        rec(Z, "txt", "TXT", values=['"hello world"', '"v=spf1 -all"']),
        rec(Z, "mail", "MX", values=["10 mx1.example.net.", "20 mx2.example.net."]),
        rec(Z, "v6", "AAAA", values=["2001:db8::1"]),
    ]


def test_create_update_delete_converge_and_serve(bind: Any, tmp_path: Path) -> None:
    p = _provider(bind, tmp_path)
    desired = _desired()
    changes = apply(p, desired)
    assert len(changes) == len(desired) and {c.action for c in changes} == {"create"}
    assert plan(p, desired) == []
    assert _answer(bind, "api.sv.example.") == ["192.0.2.30", "192.0.2.31"]
    assert _answer(bind, "x.img.sv.example.", "CNAME") == ["cdn.example.net."]

    desired[0] = rec(Z, "api", values=["192.0.2.32"], ttl=60, policy="api", region="eu-west")
    changes = apply(p, desired)
    assert summary(changes) == [("update", "dns.record/api.sv.example./A", ["region", "ttl", "values"])]
    assert plan(p, desired) == []
    assert _answer(bind, "api.sv.example.") == ["192.0.2.32"]

    apply(p, desired[1:])
    assert plan(p, desired[1:]) == []
    assert _answer(bind, "api.sv.example.") == []
    results = p.verify(desired[1:], timeout=3)
    assert results and all(v.ok for v in results)


def test_unowned_records_read_unmanaged_and_untouched(bind: Any, tmp_path: Path) -> None:
    upd = _update(bind)
    upd.add("legacy", 300, "A", "198.51.100.7")
    upd.add("api", 300, "TXT", '"someone else"')
    _send(bind, upd)
    p = _provider(bind, tmp_path)
    actual = {r.id: r for r in p.read(["dns.record"])}
    assert not actual["dns.record/legacy.sv.example./A"].managed
    assert actual["dns.record/legacy.sv.example./A"].spec["values"] == ["198.51.100.7"]
    assert not actual["dns.record/sv.example./SOA"].managed
    apply(p, _desired())
    apply(p, [])  # removing all of ours: theirs stay
    assert _answer(bind, "legacy.sv.example.") == ["198.51.100.7"]
    assert _answer(bind, "api.sv.example.", "TXT") == ['"someone else"']
    assert _answer(bind, "ns1.sv.example.") == ["127.0.0.1"]


def test_change_behind_the_tools_back_shows_in_read(bind: Any, tmp_path: Path) -> None:
    p = _provider(bind, tmp_path)
    desired = _desired()
    apply(p, desired)
    upd = _update(bind)
    upd.replace("api", 120, "A", "203.0.113.66")
    _send(bind, upd)
    changes = plan(p, desired)
    assert summary(changes) == [("update", "dns.record/api.sv.example./A", ["values"])]
    assert changes[0].fields[0].before == ["203.0.113.66"]
    apply_changes(p, changes)
    assert _answer(bind, "api.sv.example.") == ["192.0.2.30", "192.0.2.31"]


def test_concurrent_change_is_detected_not_overwritten(bind: Any, tmp_path: Path) -> None:
    p = _provider(bind, tmp_path)
    changes = plan(p, _desired())  # read at serial N
    upd = _update(bind)
    upd.add("other", 300, "A", "198.51.100.1")  # someone else writes: serial N+1
    _send(bind, upd)
    with pytest.raises(StalePlan) as err:  # refused as a stale plan, as the engine's re-check would
        p.apply(changes)
    msg = str(err.value)
    assert "changed since it was read" in msg and "re-run plan" in msg and bind.address in msg
    assert _answer(bind, "api.sv.example.") == []  # nothing of the batch was written
    assert _answer(bind, "other.sv.example.") == ["198.51.100.1"]
    apply(p, _desired())  # a fresh plan applies cleanly
    assert _answer(bind, "api.sv.example.") == ["192.0.2.30", "192.0.2.31"]


def test_wrong_tsig_key_is_a_clear_error_and_writes_nothing(bind: Any, tmp_path: Path) -> None:
    wrong = base64.b64encode(b"not-the-right-key-not-the-right!").decode()
    good = _provider(bind, tmp_path)
    changes = plan(good, _desired())
    bad = _provider(bind, tmp_path, secret=wrong)
    with pytest.raises(ProviderError) as err:
        bad.read(["dns.record"])
    assert "TSIG key" in str(err.value) and bind.key_name in str(err.value) and wrong not in str(err.value)
    bad._state = good._state  # even with a snapshot, the UPDATE is refused
    with pytest.raises(ProviderError) as err:
        bad.apply(changes)
    assert "TSIG" in str(err.value) and wrong not in str(err.value)
    assert _answer(bind, "api.sv.example.") == []
    with pytest.raises(PermanentError, match="secret reference"):
        RFC2136Provider("bind", {"server": bind.address, "zone": Z, "tsigKeyName": bind.key_name,
                                 "tsigSecret": "plain-text"}, ProviderContext(tmp_path))


def test_server_down_is_a_clear_error_and_no_half_applied_batch(bind: Any, tmp_path: Path,
                                                                fault_proxy: Any) -> None:
    proxy = fault_proxy(bind.port)
    p = _provider(bind, tmp_path, server=proxy.address, retries=3, timeout=0.5)
    changes = plan(p, _desired())
    proxy.set_mode("reset")
    with pytest.raises(ProviderError) as err:
        p.apply(changes)
    assert "cannot reach" in str(err.value) and proxy.address in str(err.value)
    proxy.set_mode("blackhole")
    with pytest.raises(ProviderError) as err:
        p.read(["dns.record"])
    assert "no answer" in str(err.value)
    assert _answer(bind, "api.sv.example.") == []
    # a transient fault is retried: two resets, then the server answers
    proxy.set_mode("reset", count=2)
    assert len(plan(p, _desired())) == len(_desired())
    assert proxy.injected >= 2


def test_routing_it_cannot_serve_is_refused_at_plan_time(bind: Any, tmp_path: Path) -> None:
    p = _provider(bind, tmp_path)
    desired = [rec(Z, "w", routing="weighted", set_id="us-east", weight=50, policy="www"),
               rec(Z, "g", routing="geo", set_id="eu", geo={"continent": "EU"}, policy="geo-www"),
               rec(Z, "l", routing="latency", set_id="us", latency_region="us-east-1", policy="lat")]
    problems = p.check(desired)
    assert len(problems) == 3
    assert all("'bind' (rfc2136)" in m for m in problems)
    assert "TrafficPolicy/www" in problems[0] and "dns.routing.weighted" in problems[0]
    assert p.check(_desired()) == []


def test_failover_publishes_the_healthy_answer_and_round_trips(bind: Any, tmp_path: Path,
                                                               health_endpoint: Any) -> None:
    p = _provider(bind, tmp_path)
    desired = [
        hc("www/us-east", "127.0.0.1", port=health_endpoint.port, path="/us-east", failure_threshold=1),
        rec(Z, "www", values=["192.0.2.10"], routing="failover", set_id="us-east", failover="PRIMARY",
            health_check="www/us-east", policy="www", region="us-east"),
        rec(Z, "www", values=["192.0.2.20"], routing="failover", set_id="eu-west", failover="SECONDARY",
            policy="www", region="eu-west"),
    ]
    assert p.check(desired) == []
    apply(p, desired)
    assert plan(p, desired) == []  # the neutral PRIMARY and SECONDARY round-trip
    assert _answer(bind, "www.sv.example.") == ["192.0.2.10"]
    assert all(v.ok for v in p.verify(desired, timeout=3))

    health_endpoint.set("/us-east", False)  # the primary's region goes down
    changes = plan(p, desired)
    assert summary(changes) == [("update", "dns.record/www.sv.example./A/eu-west", ["values"])]
    apply_changes(p, changes)
    assert _answer(bind, "www.sv.example.") == ["192.0.2.20"]
    results = p.verify(desired, timeout=3)
    assert all(v.ok for v in results) and "192.0.2.20" in results[0].detail
    assert plan(p, desired) == []
    assert p.region_health() == {"us-east": False}

    health_endpoint.set("/us-east", True)  # and recovers
    apply(p, desired)
    assert _answer(bind, "www.sv.example.") == ["192.0.2.10"]

    apply(p, [])
    assert _answer(bind, "www.sv.example.") == [] and plan(p, []) == []


def test_batches_are_split_and_serial_follows(bind: Any, tmp_path: Path) -> None:
    p = _provider(bind, tmp_path, batchSize=50)
    desired = [rec(Z, f"h{i:03d}", values=[f"10.0.{i // 200}.{i % 200 + 1}"]) for i in range(300)]
    apply(p, desired)
    assert p.updates_sent >= 300 * 3 // 50  # record + marker per change, 50 RRs per message
    assert plan(p, desired) == []
    assert _answer(bind, "h299.sv.example.") == ["10.0.1.100"]
    changes = [Change("delete", r.type, r.name, "bind", dict(r.spec), None) for r in desired[:10]]
    p.apply(changes)
    assert len(plan(p, desired)) == 10
