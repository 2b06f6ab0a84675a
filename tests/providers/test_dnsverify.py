"""Shared DNS verification: expectations per routing, and polling real servers until they converge."""

from __future__ import annotations

import threading
import time
from typing import Any

import dns.query
import dns.tsig
import dns.update
import pytest

from streamverse_ctl.providers.dnsverify import expectations, health_lookup, parse_server, verify_resources

from .helpers import rec

Z = "sv.example."


def test_expectations_per_routing() -> None:
    desired = [
        rec(Z, "api", values=["192.0.2.2", "192.0.2.1"]),
        rec(Z, "fo", values=["192.0.2.60"], routing="failover", set_id="p", failover="PRIMARY", health_check="hc-p"),
        rec(Z, "fo", values=["192.0.2.61"], routing="failover", set_id="s", failover="SECONDARY"),
        rec(Z, "w", values=["192.0.2.10"], routing="weighted", set_id="a", weight=3, health_check="hc-a"),
        rec(Z, "w", values=["192.0.2.20"], routing="weighted", set_id="b", weight=1),
        rec(Z, "g", values=["192.0.2.40"], routing="geo", set_id="eu", geo={"continent": "EU"}),
        rec(Z, "g", values=["192.0.2.41"], routing="geo", set_id="d", geo={"default": True}),
    ]
    exps = {(e.fqdn, e.rtype): e for e in expectations(desired)}
    assert exps[("api.sv.example.", "A")].values == {"192.0.2.1", "192.0.2.2"}
    assert exps[("fo.sv.example.", "A")].values == {"192.0.2.60"}
    assert exps[("w.sv.example.", "A")].weights == {"a": 0.75, "b": 0.25}  # per set (region; none here)
    assert len(exps[("g.sv.example.", "A")].choices) == 2
    assert exps[("fo.sv.example.", "A")].resource_ids == ["dns.record/fo.sv.example./A/p",
                                                         "dns.record/fo.sv.example./A/s"]
    down = {(e.fqdn, e.rtype): e for e in expectations(desired, health_lookup({"hc-p": False, "hc-a": False}))}
    assert down[("fo.sv.example.", "A")].values == {"192.0.2.61"}
    assert down[("w.sv.example.", "A")].weights == {"b": 1.0}


def test_parse_server() -> None:
    assert parse_server("127.0.0.1:5301") == ("127.0.0.1", 5301)
    assert parse_server("[::1]:53") == ("::1", 53)
    assert parse_server("192.0.2.1") == ("192.0.2.1", 53)


@pytest.mark.servers
def test_verify_waits_for_convergence_and_reports_seconds(bind: Any) -> None:
    desired = [rec(Z, "late", values=["192.0.2.77"])]
    host, port = bind.address.split(":")

    def publish_later() -> None:
        time.sleep(0.8)
        upd = dns.update.UpdateMessage(Z, keyring=dns.tsig.Key(bind.key_name, bind.secret), keyname=bind.key_name)
        upd.add("late", 60, "A", "192.0.2.77")
        dns.query.tcp(upd, host, port=int(port), timeout=2)

    t = threading.Thread(target=publish_later)
    t.start()
    [result] = verify_resources(desired, [bind.address], timeout=5)
    t.join()
    assert result.ok and 0.7 <= result.seconds < 3, result
    assert result.resource_id == "dns.record/late.sv.example./A" and result.server == bind.address


@pytest.mark.servers
def test_verify_gives_up_with_a_useful_detail(bind: Any) -> None:
    start = time.monotonic()
    [result] = verify_resources([rec(Z, "never", values=["192.0.2.1"])], [bind.address, "127.0.0.1:1"],
                                timeout=0.6)
    assert not result.ok and time.monotonic() - start < 5
    assert "answers []" in result.detail and "127.0.0.1:1" in result.detail


@pytest.mark.servers
def test_weighted_distribution_within_tolerance(pdns: Any) -> None:
    pdns.api("PATCH", f"/zones/{Z}", {"rrsets": [{
        "name": "w.sv.example.", "type": "LUA", "ttl": 30, "changetype": "REPLACE",
        "records": [{"content": "A \"pickwrandom({{80,'192.0.2.10'},{20,'192.0.2.20'}})\"", "disabled": False}]}]})
    good = [rec(Z, "w", values=["192.0.2.10"], routing="weighted", set_id="a", weight=80),
            rec(Z, "w", values=["192.0.2.20"], routing="weighted", set_id="b", weight=20)]
    assert all(v.ok for v in verify_resources(good, [pdns.address], timeout=5, samples=300))
    bad = [rec(Z, "w", values=["192.0.2.10"], routing="weighted", set_id="a", weight=20),
           rec(Z, "w", values=["192.0.2.20"], routing="weighted", set_id="b", weight=80)]
    results = verify_resources(bad, [pdns.address], timeout=0.3, samples=200)
    assert not any(v.ok for v in results) and "shares" in results[0].detail


def test_weighted_expectations_are_per_region_not_per_address() -> None:
    desired = [rec(Z, "w", values=["192.0.2.10", "192.0.2.11"], routing="weighted", set_id="us-east", weight=50,
                   region="us-east", policy="www"),
               rec(Z, "w", values=["192.0.2.20"], routing="weighted", set_id="us-west", weight=50,
                   region="us-west", policy="www")]
    (exp,) = expectations(desired)
    assert exp.weights == {"us-east": 0.5, "us-west": 0.5}
    assert exp.groups == {"192.0.2.10": "us-east", "192.0.2.11": "us-east", "192.0.2.20": "us-west"}


def test_regions_sharing_an_address_are_judged_together() -> None:
    desired = [rec(Z, "w", values=["127.0.0.1"], routing="weighted", set_id=r, weight=w, region=r, policy="www")
               for r, w in (("us-east", 30), ("eu-west", 20), ("ap-pacific", 50))]
    desired.append(rec(Z, "w", values=["127.0.0.1", "192.0.2.9"], routing="weighted", set_id="sa-east",
                       weight=0, region="sa-east", policy="www"))
    desired.append(rec(Z, "w", values=["192.0.2.50"], routing="weighted", set_id="me-central", weight=100,
                       region="me-central", policy="www"))
    (exp,) = expectations(desired)
    both = "ap-pacific+eu-west+sa-east+us-east"
    assert exp.weights == {both: 0.5, "me-central": 0.5}
    assert exp.groups == {"127.0.0.1": both, "192.0.2.9": both, "192.0.2.50": "me-central"}
