"""Benchmark: sync 1,000 / 5,000 / 10,000 records to Route 53 on a local moto server.

For each size, in a fresh hosted zone: 90 % simple A records and 10 % weighted per-region records
(4 regions per name, one health check per region and name). Three phases:

* first sync   plan (read + diff) and apply everything
* no change    read + diff only (what ``plan`` costs on a converged zone)
* 10 % change  plan and apply new values for 10 % of the simple records and new weights for
               10 % of the weighted ones

Reports wall time and API calls against the minimum possible:

* ``min`` for this ownership scheme: list pages for every record set in the zone (the records and
  the owner's registry shards, at most 256) + one health-check list page (moto never pages it) +
  change batches packed to Route 53's limits (1,000 ResourceRecord elements with UPSERT counting
  twice, 32,000 value characters), registry shard rewrites included + 2 calls per created health
  check (create, tag); health checks need no tag lookups once records name them;
* ``bare`` the same without any ownership bookkeeping (what a tool that owns the whole zone
  would need), to show what ownership costs.

After each apply the changed names are verified as the engine does (``verify_calls``, not part
of ``calls``: a read-back through the API, the changed names looked up one by one where that
is fewer calls than listing the zone).

And the *floor*: the same zone listed by a bare boto3 paginator that does nothing with the pages
(best of 3) — what the server alone costs, which no client can beat.

Usage: python bench/bench_route53.py [--sizes 1000,5000,10000] [--out bench/results/route53.json]
Starts moto_server itself on a free loopback port and stops it at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from streamverse_ctl.core.resources import Change, Resource  # noqa: E402
from streamverse_ctl.engine.plan import diff  # noqa: E402
from streamverse_ctl.providers import r53registry as registry  # noqa: E402
from streamverse_ctl.providers.base import ProviderContext  # noqa: E402
from streamverse_ctl.providers.dnsrecords import (  # noqa: E402
    healthcheck_spec,
    normalize_record,
    record_name,
    record_spec,
)
from streamverse_ctl.providers.route53 import Route53Provider  # noqa: E402
from tests.servers.motoserver import MotoServer  # noqa: E402

ZONE = "bench.example."
REGIONS = ("us-east", "us-west", "eu-west", "ap-south")
TYPES = ("dns.healthcheck", "dns.record")


def desired_state(n: int, change: bool = False) -> list[Resource]:
    """n dns.record resources (10 % weighted, 4 regions per name) and their health checks."""
    n_weighted = n // 10 // len(REGIONS) * len(REGIONS)
    out: list[Resource] = []
    for i in range(n - n_weighted):
        value = f"10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}"
        if change and i % 10 == 0:
            value = f"172.16.{i // 250 % 250}.{i % 250 + 1}"
        spec = normalize_record(record_spec(ZONE, f"h{i:05d}.{ZONE}", "A", 300, [value]))
        out.append(Resource("dns.record", record_name(spec), spec, "r53"))
    for j in range(n_weighted // len(REGIONS)):
        policy = f"svc{j:04d}"
        for k, region in enumerate(REGIONS):
            weight = 25 if not (change and j % 10 == 0) else (70 if k == 0 else 10)
            hc_name = f"{policy}/{region}"
            out.append(Resource("dns.healthcheck", hc_name, healthcheck_spec(
                "HTTPS", f"198.18.{j // 250}.{j % 250 + k}", 443, "/healthz", 30, 3, policy, region), "r53"))
            spec = normalize_record(record_spec(
                ZONE, f"{policy}.{ZONE}", "A", 60, [f"198.19.{j // 250}.{j % 250 + k}"], routing="weighted",
                set_id=region, weight=weight, health_check=hc_name, policy=policy, region=region))
            out.append(Resource("dns.record", record_name(spec), spec, "r53"))
    return out


def batches_needed(changes: list[Change], with_registry: bool) -> int:
    """Fewest ChangeResourceRecordSets calls the limits allow for these record changes."""
    elements = chars = 0
    shards: dict[str, dict[str, str]] = {}
    for c in changes:
        if c.type != "dns.record":
            continue
        spec = c.after if c.after is not None else c.before
        assert spec is not None
        values = list(spec["values"])
        mult = 2 if c.action == "update" else 1
        elements += mult * len(values)
        chars += mult * sum(len(v) for v in values)
        if with_registry and c.action != "update":
            entry = registry.Entry(spec.get("policy"), spec.get("region"), spec.get("health_check")).encode()
            shards.setdefault(registry.shard_of(spec["fqdn"], spec["rtype"]), {})[
                registry.key_of(spec["fqdn"], spec["rtype"], spec.get("set_id"))] = entry
    for content in shards.values():  # each touched shard rewritten once (an UPSERT counts twice)
        packed = registry.pack_values(content)
        elements += 2 * len(packed)
        chars += 2 * sum(len(v) for v in packed)
    if not elements:
        return 0
    return max(math.ceil(elements / 1000), math.ceil(chars / 32000))


def minimum(zone_rrsets: int, records: int, changes: list[Change]) -> dict[str, int]:
    hc_creates = sum(1 for c in changes if c.type == "dns.healthcheck" and c.action == "create")
    hc_other = sum(1 for c in changes if c.type == "dns.healthcheck" and c.action != "create")
    read_scheme = math.ceil(max(zone_rrsets, 1) / 300) + 1
    read_bare = math.ceil(max(records, 1) / 300) + 1
    scheme = read_scheme + batches_needed(changes, True) + 2 * hc_creates + hc_other
    bare = read_bare + batches_needed(changes, False) + hc_creates + hc_other
    return {"min": scheme, "bare": bare}


def count_rrsets(client: Any, zone_id: str) -> int:
    pages = client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
    return sum(len(p["ResourceRecordSets"]) for p in pages)


def floor_seconds(client: Any, zone_id: str) -> float:
    """Best of 3: list the whole zone and the health checks with a bare paginator, doing nothing else."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        count_rrsets(client, zone_id)
        client.list_health_checks()
        best = min(best, time.perf_counter() - start)
    return best


def run_size(moto: MotoServer, n: int, state_dir: Path) -> dict[str, Any]:
    moto.reset()
    client = boto3.client("route53", endpoint_url=moto.url, region_name="us-east-1")
    zone_id = client.create_hosted_zone(Name=ZONE, CallerReference=f"bench-{n}")["HostedZone"]["Id"].split("/")[-1]
    provider = Route53Provider("r53", {"hostedZoneId": zone_id, "endpointUrl": moto.url, "readTimeout": 600},
                               ProviderContext(state_dir))
    http_requests: Counter[str] = Counter()
    waits = threading.local()
    server_time = [0.0]
    lock = threading.Lock()

    def sent(**_: Any) -> None:
        http_requests.update(["n"])
        waits.t0 = time.perf_counter()

    def received(**_: Any) -> None:
        with lock:
            server_time[0] += time.perf_counter() - getattr(waits, "t0", time.perf_counter())

    provider.client.meta.events.register("before-send.route53", sent)
    provider.client.meta.events.register("response-received.route-53", received)
    result: dict[str, Any] = {"records": n, "phases": {}}

    def phase(name: str, desired: list[Resource], do_apply: bool) -> None:
        zone_rrsets = count_rrsets(client, zone_id)
        provider.api_calls.clear()
        http_requests.clear()
        server_time[0] = 0.0
        start = time.perf_counter()
        actual = provider.read(TYPES)
        changes, _ = diff(desired, actual)
        plan_s = time.perf_counter() - start
        plan_server_s = server_time[0]
        if do_apply:
            for t in TYPES:
                stage = [c for c in changes if c.type == t and c.action != "delete"]
                if stage:
                    provider.apply(stage)
        wall = time.perf_counter() - start
        calls = sum(provider.api_calls.values())
        verify_calls, verify_s = 0, 0.0
        if do_apply and changes:  # as the engine verifies: every desired record of a changed name and type
            names = {(spec["fqdn"], spec["rtype"]) for c in changes if c.type == "dns.record"
                     for spec in (c.after or c.before or {},)}
            ids = {c.id for c in changes if c.action != "delete"}
            mine = [r for r in desired if r.id in ids or (r.type == "dns.record" and
                                                          (r.spec["fqdn"], r.spec["rtype"]) in names)]
            t0 = time.perf_counter()
            verified = provider.verify(mine, 120)
            verify_s = time.perf_counter() - t0
            assert all(v.ok for v in verified), [v for v in verified if not v.ok][:3]
            verify_calls = sum(provider.api_calls.values()) - calls
        records = len([r for r in actual if r.type == "dns.record"])  # with the zone's NS and SOA
        mins = minimum(zone_rrsets, records, changes if do_apply else [])
        result["phases"][name] = {
            "changes": len(changes), "plan_seconds": round(plan_s, 3), "wall_seconds": round(wall, 3),
            "zone_record_sets": zone_rrsets,
            "floor_seconds": round(floor_seconds(client, zone_id), 3) if name == "no_change" else None,
            "plan_seconds_waiting_for_server": round(plan_server_s, 3),
            "api_calls": calls, "http_requests": sum(http_requests.values()),
            "verify_calls": verify_calls, "verify_seconds": round(verify_s, 3),
            "min_calls": mins["min"], "bare_min_calls": mins["bare"],
            "ratio": round(calls / mins["min"], 3), "ratio_vs_bare": round(calls / mins["bare"], 3),
            "calls_by_operation": dict(sorted(provider.api_calls.items())),
        }

    desired = desired_state(n)
    phase("first_sync", desired, True)
    phase("no_change", desired, False)
    assert result["phases"]["no_change"]["changes"] == 0, "not converged after the first sync"
    phase("change_10pct", desired_state(n, change=True), True)
    result["zone_record_sets"] = count_rrsets(client, zone_id)
    result["health_checks"] = len([r for r in desired if r.type == "dns.healthcheck"])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,5000,10000")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "route53.json"))
    args = ap.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with tempfile.TemporaryDirectory() as tmp:
        moto = MotoServer(Path(tmp) / "moto").start()
        try:
            results = [run_size(moto, int(s), Path(tmp)) for s in args.sizes.split(",")]
        finally:
            moto.stop()
    header = (f"{'records':>8} {'phase':<13} {'changes':>7} {'plan s':>7} {'floor s':>7} {'wall s':>8} "
              f"{'calls':>6} {'min':>5} {'ratio':>6} {'bare':>5} {'x bare':>6} {'verify':>6}")
    print(header)
    print("-" * len(header))
    for r in results:
        for name, ph in r["phases"].items():
            floor = f"{ph['floor_seconds']:>7.2f}" if ph["floor_seconds"] is not None else f"{'':>7}"
            print(f"{r['records']:>8} {name:<13} {ph['changes']:>7} {ph['plan_seconds']:>7.2f} {floor} "
                  f"{ph['wall_seconds']:>8.2f} {ph['api_calls']:>6} {ph['min_calls']:>5} {ph['ratio']:>6.2f} "
                  f"{ph['bare_min_calls']:>5} {ph['ratio_vs_bare']:>6.2f} {ph['verify_calls']:>6}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "route53 sync on moto_server", "python": platform.python_version(),
        "machine": platform.machine(), "cpus": os.cpu_count(), "results": results,
        "targets": {"no_change_plan_10000_seconds": 1.5, "api_calls_vs_minimum": 1.1},
    }, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
