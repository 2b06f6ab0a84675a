"""viral-content end to end on real parts: the demo's twelve PoPs as nginx caches on loopback (Ansible
deploys), the backup CDN on CloudFront and the origin fleets on Auto Scaling (moto server), the GPU pools
on Kubernetes (the kmock emulator: no kube-apiserver runs here), DNS and regions on the sim platform.

The hit ratio the runbook waits on is measured from the PoPs' own cache-status logs (no Prometheus in
this inventory). One test: a dry run writes nothing anywhere; the real run is killed (SIGKILL) while it
waits for the hit ratio, viewers then make it recover and ``runbook resume`` finishes without repeating a
step; ``restore=true`` puts every system back.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import string
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.servers.fixtures_k8s_prom import Kube
from tests.servers.motoserver import MotoServer
from tests.servers.nginx import PopFleet
from tests.servers.process import start_or_fail

from .conftest import CLI

pytestmark = pytest.mark.servers
HERE = Path(__file__).parent
POPS = ("nyc1", "iad1", "lax1", "sea1", "lhr1", "fra1", "sin1", "nrt1", "gru1", "scl1", "dxb1", "bah1")
REGIONS = "us-east,eu-west"
WARM = {"X-Streamverse-Warm": "test"}  # the test's own checks stay out of the hit-ratio log
CLIP = "/videos/clip42"
SEG = f"{CLIP}/720p/seg00002.ts"
POOLS = ("transcode-us-east", "transcode-eu-west")


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[PopFleet]:
    f = PopFleet(tmp_path / "fleet", names=POPS)
    start_or_fail(f.start)
    yield f
    f.stop()


@pytest.fixture
def viral_inv(inventories_copy: Path, fleet: PopFleet, moto: MotoServer, kube: Kube) -> Path:
    d = inventories_copy / "viral"
    shutil.copytree(HERE / "viral_inventory", d, ignore=shutil.ignore_patterns("*.tmpl"))
    tmpl = string.Template((HERE / "viral_inventory" / "providers.yaml.tmpl").read_text())
    (d / "providers.yaml").write_text(tmpl.substitute(nginx=json.dumps(fleet.settings()), moto=moto.url,
                                                      kube=kube.url, namespace=kube.namespace))
    return d


def _aws(moto: MotoServer, service: str, region: str = "us-east-1") -> Any:
    return boto3.client(service, endpoint_url=moto.url, region_name=region)


def _desired(moto: MotoServer, group: str, region: str) -> int:
    g = _aws(moto, "autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return int(g["AutoScalingGroups"][0]["DesiredCapacity"])


def _cf_ttls(moto: MotoServer) -> dict[str, int]:
    """CloudFront's cache behaviours of the backup CDN, path -> TTL, read from the (moto) API."""
    items = _aws(moto, "cloudfront").list_distributions()["DistributionList"].get("Items") or []
    (dist,) = [d for d in items if "backup-cdn" in d["Comment"]]
    return {b["PathPattern"]: int(b["DefaultTTL"]) for b in (dist["CacheBehaviors"].get("Items") or [])}


def _replicas(kube: Kube, name: str) -> int:
    r = httpx.get(f"{kube.url}/apis/apps/v1/namespaces/{kube.namespace}/deployments/{name}")
    r.raise_for_status()
    return int(r.json()["spec"]["replicas"])


def _floor(kube: Kube, name: str) -> int:
    r = httpx.get(f"{kube.url}/apis/apps/v1/namespaces/{kube.namespace}/deployments/{name}")
    r.raise_for_status()
    return int(r.json()["metadata"]["annotations"]["streamverse.io/min-nodes"])


def _cache_control(fleet: PopFleet, pop: str, path: str = SEG) -> str:
    return str(httpx.get(fleet.pop(pop).url + path, headers=WARM).headers.get("cache-control"))


def _codes(fleet: PopFleet, pop: str, n: int = 150) -> set[int]:
    with httpx.Client(base_url=fleet.pop(pop).url) as c:  # one client IP, as fast as it can: beyond the burst (2 x rps)
        return {c.get(f"{CLIP}/360p/seg00000.ts").status_code for _ in range(n)}


def _snapshot(fleet: PopFleet, moto: MotoServer, kube: Kube) -> dict[str, Any]:
    return {"conf": {p.name: p.conf.read_text() for p in fleet.pops}, "cf": _cf_ttls(moto),
            "cached": {p.name: sum(f.is_file() for f in (p.prefix / "cache").rglob("*")) for p in fleet.pops},
            "asg": (_desired(moto, "origin-us-east", "us-east-1"), _desired(moto, "origin-eu-west", "eu-west-1")),
            "pools": [_replicas(kube, n) for n in POOLS]}


def _wait_for(store: Callable[[], Any], run_id_box: list[str], item: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = store().journal_runs("runbook", limit=1)
        if runs:
            run_id_box[:] = [runs[0]["id"]]
            if {i.item: i.status for i in store().journal_items(runs[0]["id"])}.get(item) == "done":
                return
        time.sleep(0.3)
    raise AssertionError(f"the run never finished {item}")


def test_viral_content_on_nginx_cloudfront_autoscaling_and_kubernetes(
        viral_inv: Path, fleet: PopFleet, moto: MotoServer, kube: Kube, tmp_path: Path) -> None:
    from streamverse_ctl.state.store import StateStore

    sv = CLI(tmp_path / "state", viral_inv)
    sv.env["STREAMVERSE_STATE_DIR"] = str(sv.state)

    def store() -> StateStore:
        return StateStore(sv.state)

    sv("apply", "--yes", timeout=600)  # the inventory as it is, on every system
    assert httpx.head(fleet.pop("nyc1").url + SEG, headers=WARM).headers["x-cache-status"] == "MISS"  # not warm
    assert _cache_control(fleet, "nyc1") == "max-age=3600"
    before = _snapshot(fleet, moto, kube)
    assert before["asg"] == (3, 2) and before["pools"] == [4, 4] and before["cf"] == {"*.m3u8": 2, "*.ts": 3600}

    # a dry run says what it would change and writes nothing on any system
    p = sv("runbook", "run", "viral-content", "--set", "video=clip42", "--set", f"regions={REGIONS}",
           "--set", "validate_config=false", "--dry-run", "--yes", "-o", "json", timeout=600)
    events = [json.loads(x) for x in p.stdout.splitlines()]
    dry = {e["step"]: e["outputs"] for e in events if e["event"] == "step.done"}
    assert "would" in json.dumps(dry["ttl"]) and "would" in json.dumps(dry["ratelimit"])
    assert _snapshot(fleet, moto, kube) == before
    assert _codes(fleet, "lhr1") == {200}

    # viewers on nyc1 ask for a title nobody warmed: every request a MISS, the hit ratio is 0
    with httpx.Client(base_url=fleet.pop("nyc1").url) as c:
        assert {c.get(f"/videos/other/360p/seg0000{i}.ts").headers["x-cache-status"] for i in range(4)} == {"MISS"}

    proc = sv.popen("runbook", "run", "viral-content", "--set", "video=clip42", "--set", f"regions={REGIONS}",
                    "--set", "validate_config=false", "--set", "recover_timeout=10m", "--yes", "-o", "json")
    box: list[str] = []
    try:
        _wait_for(store, box, "ratelimit")
        time.sleep(2)  # into the recover wait (polling every second, the ratio is 0)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    out, _ = proc.communicate()
    (run_id,) = box
    s = store()
    assert (s.journal_run(run_id) or {})["status"] == "running"  # nobody could mark it: the process died
    done_before = {i.item for i in s.journal_items(run_id) if i.status == "done"}
    assert {"warm", "ttl", "scale[0]", "scale[1]", "ratelimit"} <= done_before and "recover" not in done_before
    steps = {e["step"]: e["outputs"] for e in map(json.loads, out.splitlines()) if e["event"] == "step.done"}

    # each step says what it changed on which system
    assert "pops (nginx)" in steps["warm"]["changed"]
    assert [r for r in steps["warm"]["on_pops"] if "warmed" in r] == [
        f"pops: {pop}: warmed clip42: 11/11 objects HIT" for pop in sorted(POPS)]
    assert "pops (nginx): 12 cdn.cache_policy updated" in steps["ttl"]["changed"]
    assert "cloudfront: 1 cdn.distribution updated" in steps["ttl"]["changed"]
    ratelimit = steps["ratelimit"]
    assert sorted(ratelimit["on_pops"]) == sorted(f"pops: {pop}: set per-IP limit of video:clip42: none -> 20 req/s"
                                                  for pop in POPS)
    scales = [e["outputs"]["changed"] for e in map(json.loads, out.splitlines())
              if e["event"] == "step.done" and e["step"].startswith("scale")]
    assert scales == ["kubernetes: 1 transcode.pool updated; aws (autoscaling): 1 platform.origin_fleet updated"] * 2

    # ... and the systems hold it: the video HIT on every PoP with a day's TTL, CloudFront's behaviour for the
    # path at 86400, the origin groups at their surge size, the GPU pools at 12, 429 beyond 20 req/s
    for pop in fleet.pops:
        assert httpx.head(pop.url + SEG, headers=WARM).headers["x-cache-status"] == "HIT"
    assert _cache_control(fleet, "sin1") == "max-age=86400"
    assert _cache_control(fleet, "sin1", "/videos/other/360p/seg00001.ts") == "max-age=3600"
    assert _cf_ttls(moto)["/videos/clip42/*"] == 86400
    assert (_desired(moto, "origin-us-east", "us-east-1"), _desired(moto, "origin-eu-west", "eu-west-1")) == (30, 12)
    assert [_replicas(kube, n) for n in POOLS] == [12, 12] and [_floor(kube, n) for n in POOLS] == [12, 12]
    assert 429 in _codes(fleet, "fra1")

    # the wave is absorbed: viewers' requests on nyc1 HIT (the title is cached now), the ratio passes 95 %
    with httpx.Client(base_url=fleet.pop("nyc1").url) as c:
        for _ in range(25):
            for i in range(4):
                assert c.get(f"/videos/other/360p/seg0000{i}.ts").headers["x-cache-status"] == "HIT"
    p = sv("runbook", "resume", run_id, "--yes", timeout=600)
    assert "already done" in p.stdout
    s = store()
    assert (s.journal_run(run_id) or {})["status"] == "done"
    items = s.journal_items(run_id)
    assert all(i.status in ("done", "skipped") for i in items), [(i.item, i.status) for i in items]
    started = collections.Counter(a.target.split("/", 1)[1] for a in s.audit_log(1000, "runbook.step")
                                  if a.result == "started")
    for item in done_before - {"scale"}:  # (scale: the for_each's parent; its items start)
        assert started[item] == 1, (item, started)  # finished before the kill: started once, never again
    assert started["recover"] == 2  # the wait that was killed starts again

    # restore=true: every system back to the inventory
    p = sv("runbook", "run", "viral-content", "--set", "video=clip42", "--set", f"regions={REGIONS}",
           "--set", "restore=true", "--yes", "-o", "json", timeout=600)
    events = [json.loads(x) for x in p.stdout.splitlines()]
    assert events[-1]["status"] == "done"
    restored = {e["step"]: e["outputs"] for e in events if e["event"] == "step.done"}
    assert "cloudfront: 1 cdn.distribution updated" in restored["restore-ttl"]["changed"]
    assert "20 req/s -> none" in restored["restore-ratelimit"]["on_pops"][0]
    assert _cache_control(fleet, "sin1") == "max-age=3600"
    assert "/videos/clip42/*" not in _cf_ttls(moto)
    assert _codes(fleet, "fra1") == {200}
    assert (_desired(moto, "origin-us-east", "us-east-1"), _desired(moto, "origin-eu-west", "eu-west-1")) == (3, 2)
    # the pools' floor is the inventory's again; the provider never scales a busy pool down (its autoscaler
    # does, and kmock runs none), so the 12 workers stay until then, within the restored range
    assert [_floor(kube, n) for n in POOLS] == [4, 4]
    assert all(4 <= _replicas(kube, n) <= 40 for n in POOLS)
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []


def test_production_serves_its_pops_with_nginx_hosts_of_the_generated_ansible_inventory(tmp_path: Path) -> None:
    import subprocess
    import sys

    from streamverse_ctl.inventory import load_inventory
    from streamverse_ctl.providers.nginx.hosts import load_hosts

    from .conftest import REPO

    inv = load_inventory(REPO / "inventories" / "production")
    (pops,) = [d for d in inv.of("Provider") if d.name == "pops"]
    assert pops.spec["type"] == "nginx" and pops.spec["serves"]["types"] == ["cdn.pop", "cdn.cache_policy",
                                                                             "cdn.warm_set"]
    hosts = load_hosts(REPO / pops.spec["settings"]["ansibleInventory"], "pops")  # relative to the repo root
    assert set(hosts) == {d.name for d in inv.of("PoP")} and len(hosts) == 285  # every PoP is a host
    assert subprocess.run([sys.executable, str(REPO / "scripts" / "gen_pop_hosts.py"), "--check"]).returncode == 0
    sv = CLI(tmp_path / "state", REPO / "inventories" / "production")
    sv("validate")
    p = sv("plan", "--platform", "sim", "-o", "json")  # rehearsed on the sim platform: every PoP to create
    assert any(c["id"] == "cdn.pop/nyc1" for c in json.loads(p.stdout)["changes"])
