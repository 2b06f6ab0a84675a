"""Route 53 health checks on a real moto server (issue 8 item 5.3): ownership is scoped to the owner
AND the hosted zone, creates stay idempotent when responses are lost, and orphans are counted by
verify."""

from __future__ import annotations

import http.client
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.route53 import Route53Provider

from .helpers import apply, hc, plan, rec

pytestmark = pytest.mark.servers
Z1, Z2 = "one.example.", "two.example."
REGIONS = ["us-east", "us-west", "eu-west", "ap-pacific", "sa-east", "me-central"]


def _client(url: str) -> Any:
    return boto3.client("route53", endpoint_url=url, region_name="us-east-1")


def _zone(url: str, name: str) -> str:
    resp = _client(url).create_hosted_zone(Name=name, CallerReference=f"test-{name}")
    return str(resp["HostedZone"]["Id"].split("/")[-1])


def _provider(url: str, tmp_path: Path, zone: str, **settings: Any) -> Route53Provider:
    return Route53Provider("r53", {"zone": zone, "endpointUrl": url, **settings}, ProviderContext(tmp_path))


def _desired(zone: str) -> list[Any]:
    """Two weighted policies over 6 regions: 12 health checks and 12 record sets."""
    out: list[Any] = []
    for n, policy in enumerate(("www", "api")):
        for i, region in enumerate(REGIONS):
            name = f"{policy}/{region}"
            out.append(hc(name, f"192.0.{n}.{i + 10}", policy=policy, region=region))
            out.append(rec(zone, policy, values=[f"192.0.{n}.{i + 10}"], routing="weighted", set_id=region,
                           weight=10 + i, health_check=name, policy=policy, region=region))
    return out


def _check_ids(url: str) -> list[str]:
    pages = _client(url).get_paginator("list_health_checks").paginate()
    return [h["Id"] for p in pages for h in p["HealthChecks"]]


def test_a_second_inventory_on_another_zone_does_not_own_the_first_ones_checks(moto: Any, tmp_path: Path) -> None:
    _zone(moto.url, Z1), _zone(moto.url, Z2)
    first = _provider(moto.url, tmp_path, Z1)
    apply(first, _desired(Z1))
    assert len(_check_ids(moto.url)) == 12
    # same ownerId (the default), same account, another zone and inventory
    second = _provider(moto.url, tmp_path, Z2)
    checks = [r for r in second.read(["dns.healthcheck"])]
    assert len(checks) == 12 and not any(r.managed for r in checks)
    desired2 = [hc("web/us-east", "192.0.9.10", policy="web"),
                rec(Z2, "web", values=["192.0.9.10"], routing="weighted", set_id="us-east", weight=1,
                    health_check="web/us-east", policy="web", region="us-east")]
    changes = plan(second, desired2)
    assert sorted((c.action, c.id) for c in changes) == [
        ("create", "dns.healthcheck/web/us-east"), ("create", "dns.record/web.two.example./A/us-east")]
    apply(second, desired2)
    assert len(_check_ids(moto.url)) == 13
    assert plan(_provider(moto.url, tmp_path, Z1), _desired(Z1)) == []  # the first still converged
    assert plan(_provider(moto.url, tmp_path, Z2), desired2) == []


def test_a_check_of_the_old_owner_only_prefix_is_not_ours_unless_our_records_use_it(moto: Any, tmp_path: Path) -> None:
    _zone(moto.url, Z1), _zone(moto.url, Z2)
    p = _provider(moto.url, tmp_path, Z1)
    legacy = _client(moto.url).create_health_check(
        CallerReference=p._legacy_caller_prefix() + "0" * 40, HealthCheckConfig={
            "Type": "HTTP", "IPAddress": "192.0.2.9", "Port": 80, "RequestInterval": 30,
            "FailureThreshold": 3})["HealthCheck"]["Id"]
    assert not any(r.managed for r in p.read(["dns.healthcheck"]))  # used by none of our records: not ours
    assert not any(r.managed for r in _provider(moto.url, tmp_path, Z2).read(["dns.healthcheck"]))
    assert legacy in _check_ids(moto.url)


class LosingProxy:
    """HTTP proxy to moto that forwards CreateHealthCheck but loses its response (``lose`` times)."""

    def __init__(self, upstream_port: int, lose: int) -> None:
        self.lose = lose
        self.lost = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                if b"CreateHealthCheckRequest" in body and owner.lost < owner.lose:
                    owner.lost += 1  # it landed at moto; the client never hears back
                    self.close_connection = True
                    return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def losing(moto: Any) -> Iterator[LosingProxy]:
    proxy = LosingProxy(moto.port, lose=11)
    yield proxy
    proxy.close()


def test_lost_create_responses_do_not_duplicate_checks_and_verify_counts_them(
        moto: Any, losing: LosingProxy, tmp_path: Path) -> None:
    _zone(moto.url, Z1)
    p = _provider(losing.url, tmp_path, Z1, maxAttempts=3)
    desired = _desired(Z1)
    apply(p, desired)
    assert losing.lost == 11  # 11 of the 12 creates lost their answer once
    assert len(_check_ids(moto.url)) == 12  # not 23
    fresh = _provider(moto.url, tmp_path, Z1)
    assert plan(fresh, desired) == []
    results = fresh.verify(desired, timeout=5)
    assert len(results) == 24 and all(v.ok for v in results)


def test_verify_counts_orphans_and_the_next_plan_deletes_them(moto: Any, tmp_path: Path) -> None:
    _zone(moto.url, Z1)
    p = _provider(moto.url, tmp_path, Z1)
    desired = _desired(Z1)
    apply(p, desired)
    c = _client(moto.url)
    orphans = [c.create_health_check(CallerReference=p._caller_prefix() + f"lost-{i}", HealthCheckConfig={
        "Type": "HTTP", "IPAddress": "192.0.2.99", "Port": 80, "RequestInterval": 30,
        "FailureThreshold": 3})["HealthCheck"]["Id"] for i in range(11)]
    fresh = _provider(moto.url, tmp_path, Z1)
    results = fresh.verify(desired, timeout=1)
    bad = sorted(v.resource_id for v in results if not v.ok)
    assert bad == sorted(f"dns.healthcheck/route53:{o}" for o in orphans)
    assert len(results) == 24 + 11 and "orphan" in next(v.detail for v in results if not v.ok)
    changes = plan(fresh, desired)
    assert sorted(ch.id for ch in changes) == sorted(f"dns.healthcheck/route53:{o}" for o in orphans)
    assert {ch.action for ch in changes} == {"delete"}


def test_a_second_check_of_ours_with_the_same_name_is_an_orphan(moto: Any, tmp_path: Path) -> None:
    _zone(moto.url, Z1)
    p = _provider(moto.url, tmp_path, Z1)
    desired = _desired(Z1)
    apply(p, desired)
    c = _client(moto.url)
    dup = c.create_health_check(CallerReference=p._caller_prefix() + "dup", HealthCheckConfig={
        "Type": "HTTP", "IPAddress": "192.0.0.10", "Port": 80, "ResourcePath": "/health", "RequestInterval": 10,
        "FailureThreshold": 3})["HealthCheck"]["Id"]
    c.change_tags_for_resource(ResourceType="healthcheck", ResourceId=dup, AddTags=p._tags("www/us-east", {
        "policy": "www", "region": "us-east"}))
    fresh = _provider(moto.url, tmp_path, Z1)
    checks = [r for r in fresh.read(["dns.healthcheck"]) if r.managed]
    assert len(checks) == 13 and len({r.id for r in checks}) == 13
    assert f"dns.healthcheck/route53:{dup}" in {r.id for r in checks}  # the one records use is kept
    assert [ch.id for ch in plan(fresh, desired)] == [f"dns.healthcheck/route53:{dup}"]
    assert not all(v.ok for v in fresh.verify(desired, timeout=1))
