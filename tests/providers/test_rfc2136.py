"""RFC 2136 provider against both real servers, BIND 9 and Knot (TSIG-signed AXFR and UPDATE): what the
conformance suite (tests/providers/dns_conformance/) does not cover: concurrent writers, a wrong key, a
server that is down, failover publishing and batch splitting."""

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


@pytest.fixture(params=["bind", "knot"])
def rfc(request: pytest.FixtureRequest) -> Any:
    """A fresh zone on each real RFC 2136 server in turn."""
    return request.getfixturevalue(request.param)


def _provider(rfc: Any, tmp_path: Path, server: str | None = None, secret: str | None = None,
              **settings: Any) -> RFC2136Provider:
    return RFC2136Provider("bind", {
        "server": server or rfc.address, "zone": Z, "tsigKeyName": rfc.key_name,
        "tsigSecret": Secret(secret or rfc.secret, "env TEST_TSIG"), "nameservers": [rfc.address],
        "timeout": 2, **settings}, ProviderContext(tmp_path))


def _update(rfc: Any) -> dns.update.UpdateMessage:
    return dns.update.UpdateMessage(Z, keyring=dns.tsig.Key(rfc.key_name, rfc.secret), keyname=rfc.key_name)


def _send(rfc: Any, upd: dns.update.UpdateMessage) -> None:
    host, port = rfc.address.split(":")
    resp = dns.query.tcp(upd, host, port=int(port), timeout=2)
    assert resp.rcode() == dns.rcode.NOERROR


def _answer(rfc: Any, name: str, rtype: str = "A") -> list[str]:
    return sorted(query(rfc.address, name, rtype))


def _desired() -> list[Any]:
    return [
        rec(Z, "api", values=["192.0.2.30", "192.0.2.31"], ttl=120, policy="api", region="us-east"),
        rec(Z, "*.img", "CNAME", values=["cdn.example.net."]),
        rec(Z, "txt", "TXT", values=['"hello world"', '"v=spf1 -all"']),
        rec(Z, "mail", "MX", values=["10 mx1.example.net.", "20 mx2.example.net."]),
        rec(Z, "v6", "AAAA", values=["2001:db8::1"]),
    ]


def test_concurrent_change_is_detected_not_overwritten(rfc: Any, tmp_path: Path) -> None:
    p = _provider(rfc, tmp_path)
    changes = plan(p, _desired())  # read at serial N
    upd = _update(rfc)
    upd.add("other", 300, "A", "198.51.100.1")  # someone else writes: serial N+1
    _send(rfc, upd)
    with pytest.raises(StalePlan) as err:  # refused as a stale plan, as the engine's re-check would
        p.apply(changes)
    msg = str(err.value)
    assert "changed since it was read" in msg and "re-run plan" in msg and rfc.address in msg
    assert _answer(rfc, "api.sv.example.") == []  # nothing of the batch was written
    assert _answer(rfc, "other.sv.example.") == ["198.51.100.1"]
    apply(p, _desired())  # a fresh plan applies cleanly
    assert _answer(rfc, "api.sv.example.") == ["192.0.2.30", "192.0.2.31"]


def test_wrong_tsig_key_is_a_clear_error_and_writes_nothing(rfc: Any, tmp_path: Path) -> None:
    wrong = base64.b64encode(b"not-the-right-key-not-the-right!").decode()
    good = _provider(rfc, tmp_path)
    changes = plan(good, _desired())
    bad = _provider(rfc, tmp_path, secret=wrong)
    with pytest.raises(ProviderError) as err:
        bad.read(["dns.record"])
    assert "TSIG key" in str(err.value) and rfc.key_name in str(err.value) and wrong not in str(err.value)
    bad._state = good._state  # even with a snapshot, the UPDATE is refused
    with pytest.raises(ProviderError) as err:
        bad.apply(changes)
    assert "TSIG" in str(err.value) and wrong not in str(err.value)
    assert _answer(rfc, "api.sv.example.") == []
    with pytest.raises(PermanentError, match="secret reference"):
        RFC2136Provider("bind", {"server": rfc.address, "zone": Z, "tsigKeyName": rfc.key_name,
                                 "tsigSecret": "plain-text"}, ProviderContext(tmp_path))


def test_server_down_is_a_clear_error_and_no_half_applied_batch(rfc: Any, tmp_path: Path,
                                                                fault_proxy: Any) -> None:
    proxy = fault_proxy(rfc.port)
    p = _provider(rfc, tmp_path, server=proxy.address, retries=3, timeout=0.5)
    changes = plan(p, _desired())
    proxy.set_mode("reset")
    with pytest.raises(ProviderError) as err:
        p.apply(changes)
    assert "cannot reach" in str(err.value) and proxy.address in str(err.value)
    proxy.set_mode("blackhole")
    with pytest.raises(ProviderError) as err:
        p.read(["dns.record"])
    assert "no answer" in str(err.value)
    assert _answer(rfc, "api.sv.example.") == []
    # a transient fault is retried: two resets, then the server answers
    proxy.set_mode("reset", count=2)
    assert len(plan(p, _desired())) == len(_desired())
    assert proxy.injected >= 2


def test_failover_publishes_the_healthy_answer_and_round_trips(rfc: Any, tmp_path: Path,
                                                               health_endpoint: Any) -> None:
    p = _provider(rfc, tmp_path)
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
    assert _answer(rfc, "www.sv.example.") == ["192.0.2.10"]
    assert all(v.ok for v in p.verify(desired, timeout=3))

    health_endpoint.set("/us-east", False)  # the primary's region goes down
    changes = plan(p, desired)
    assert summary(changes) == [("update", "dns.record/www.sv.example./A/eu-west", ["values"])]
    apply_changes(p, changes)
    assert _answer(rfc, "www.sv.example.") == ["192.0.2.20"]
    results = p.verify(desired, timeout=3)
    assert all(v.ok for v in results) and "192.0.2.20" in results[0].detail
    assert plan(p, desired) == []
    assert p.region_health() == {"us-east": False}

    health_endpoint.set("/us-east", True)  # and recovers
    apply(p, desired)
    assert _answer(rfc, "www.sv.example.") == ["192.0.2.10"]

    apply(p, [])
    assert _answer(rfc, "www.sv.example.") == [] and plan(p, []) == []


def test_batches_are_split_and_serial_follows(rfc: Any, tmp_path: Path) -> None:
    p = _provider(rfc, tmp_path, batchSize=50)
    desired = [rec(Z, f"h{i:03d}", values=[f"10.0.{i // 200}.{i % 200 + 1}"]) for i in range(300)]
    apply(p, desired)
    assert p.updates_sent >= 300 * 3 // 50  # record + marker per change, 50 RRs per message
    assert plan(p, desired) == []
    assert _answer(rfc, "h299.sv.example.") == ["10.0.1.100"]
    changes = [Change("delete", r.type, r.name, "bind", dict(r.spec), None) for r in desired[:10]]
    p.apply(changes)
    assert len(plan(p, desired)) == 10
