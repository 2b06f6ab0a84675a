"""State identity in the providers (issue 9 §2), through the installed CLI: the `foreign-state` guardrail.

Two "machines" are two working directories, each with its own copy of the inventory and its own
local state directory (no backend configured: a fresh CI runner). They drive one platform: a
named sim provider whose database both point at, or a real PowerDNS. Every write leaves the
writing state's lineage in the provider's ownership markers; a run whose state has another
lineage is refused before it writes anything (exit 3), until it is pointed at the owning state or
takes over with `--force foreign-state` (audited).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from streamverse_ctl.providers.sim.store import SimStore
from tests.servers.inventory import demo_on_powerdns

from .test_cli import CLI, WWW_US_EAST, no_traceback

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
WWW = "www.streamverse.example."


def machine(root: Path, name: str, providers: str | None = None) -> CLI:
    home = root / name
    for inv in ("base", "demo"):
        shutil.copytree(REPO / "inventories" / inv, home / "inventories" / inv)
    if providers is not None:
        (home / "inventories" / "demo" / "providers.yaml").write_text(providers)
    return CLI(home / "inventories" / "demo", home / "state", home)


def lineage(cli: CLI) -> str:
    info = cli.json("state", "info")
    assert isinstance(info, dict)
    return str(info["lineage"])


def audit(cli: CLI, n: int = 30) -> list[dict[str, Any]]:
    data = cli.json("state", "audit", "-n", str(n))
    assert isinstance(data, list)
    return data


@pytest.fixture
def on_one_sim(tmp_path: Path) -> tuple[CLI, CLI, SimStore]:
    """Laptop and CI runner, separate state directories, one simulated platform."""
    sim_db = tmp_path / "platform" / "sim.db"
    providers = f"""\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: platform}}
spec:
  type: sim
  serves: {{types: ["*"]}}
  settings: {{path: "{sim_db}"}}
"""
    laptop, ci = machine(tmp_path, "laptop", providers), machine(tmp_path, "ci", providers)
    store = SimStore(sim_db)
    yield laptop, ci, store  # type: ignore[misc]
    store.close()


def sim_weight(store: SimStore, region: str = "us-east") -> int:
    spec = store.get("dns.record", WWW_US_EAST.split("/", 1)[1].replace("us-east", region))
    assert spec is not None
    return int(spec["weight"])


def sim_owner(store: SimStore, rid: str) -> str:
    rtype, name = rid.split("/", 1)
    row = store.db.execute("SELECT owner FROM resources WHERE type=? AND name=?", (rtype, name)).fetchone()
    return str(row["owner"])


def test_a_ci_runner_with_its_own_state_never_reverts_the_laptops_override(on_one_sim) -> None:  # type: ignore[no-untyped-def]
    laptop, ci, store = on_one_sim
    laptop.ok("apply", "--auto-approve")
    a = lineage(laptop)
    assert sim_owner(store, WWW_US_EAST) == a  # every write leaves the writing state's lineage
    laptop.ok("dns", "set-weights", "www", "us-east=0", "us-west=50", "-m", "incident", "--yes")
    assert sim_weight(store) == 0

    b = lineage(ci)
    assert b != a
    plan = ci.json("plan")
    assert isinstance(plan, dict)
    assert any(c["id"] == WWW_US_EAST for c in plan["changes"])  # it would put 30 back...
    [refusal] = [r for r in plan["refusals"] if r["name"] == "foreign-state"]
    assert a in refusal["message"] and "--state-url" in refusal["message"]  # ...but names the owner
    out = ci("apply", "--auto-approve")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "foreign-state" in out.stderr and a in out.stderr and "STREAMVERSE_STATE_URL" in out.stderr
    assert "--force foreign-state" in out.stderr
    no_traceback(out)
    assert sim_weight(store) == 0 and sim_weight(store, "us-west") == 50  # nothing written
    assert sim_owner(store, WWW_US_EAST) == a
    assert any(e["action"] == "apply" and e["result"] == "refused" for e in audit(ci))

    # taking over is explicit and audited; the written resources' markers name the CI runner's state
    ci.ok("apply", "--auto-approve", "--force", "foreign-state")
    assert sim_weight(store) == 30 and sim_owner(store, WWW_US_EAST) == b
    [takeover] = [e for e in audit(ci) if e["action"] == "state.takeover"]
    assert takeover["target"] == a and WWW_US_EAST in takeover["detail"]["resources"]
    assert takeover["detail"]["lineage"] == b

    # now the laptop is the stranger: its override is not re-applied behind the CI runner's back
    out = laptop("apply", "--auto-approve")
    assert out.returncode == 3 and "foreign-state" in out.stderr and b in out.stderr, out.stdout + out.stderr
    assert sim_weight(store) == 30


def test_resources_marked_before_lineages_are_adopted_silently(on_one_sim) -> None:  # type: ignore[no-untyped-def]
    laptop, ci, store = on_one_sim
    laptop.ok("apply", "--auto-approve")
    with store.tx() as db:  # as an apply of a version that wrote no lineage left them
        db.execute("UPDATE resources SET owner=''")
        store.put(db, "dns.record", WWW_US_EAST.split("/", 1)[1], {
            **(store.get("dns.record", WWW_US_EAST.split("/", 1)[1]) or {}), "weight": 5})  # drift
    out = ci.ok("apply", "--auto-approve")  # a change to write, no owner named: no refusal
    assert "foreign-state" not in out.stdout + out.stderr
    assert sim_weight(store) == 30 and sim_owner(store, WWW_US_EAST) == lineage(ci)
    assert sim_owner(store, "dns.record/" + WWW_US_EAST.split("/", 1)[1].replace("us-east", "eu-west")) == ""


def test_one_shared_state_is_one_owner(on_one_sim) -> None:  # type: ignore[no-untyped-def]
    """Pointed at the laptop's state (as --state-url would), the CI runner plans no change and is not refused."""
    laptop, ci, store = on_one_sim
    laptop.ok("apply", "--auto-approve")
    laptop.ok("dns", "set-weights", "www", "us-east=0", "-m", "incident", "--yes")
    ci.env["STREAMVERSE_STATE_DIR"] = laptop.env["STREAMVERSE_STATE_DIR"]
    plan = ci.json("plan")
    assert isinstance(plan, dict) and plan["changes"] == [] and plan["refusals"] == []
    assert sim_weight(store) == 0


# ----- a real PowerDNS --------------------------------------------------------------------------
@pytest.fixture
def on_powerdns(pdns, tmp_path: Path) -> tuple[CLI, CLI]:  # type: ignore[no-untyped-def]
    pair = []
    for name in ("laptop", "ci"):
        cli = machine(tmp_path, name)
        regions = cli.inventory.parent / "base" / "regions.yaml"
        regions.write_text(regions.read_text().replace("198.51.100.", "127.0.100."))
        demo_on_powerdns(cli.inventory, pdns, "sv.example.", patches="""\
    - target: {kind: TrafficPolicy, name: www}
      merge: {spec: {healthCheck: null}}
""")
        cli.env["PDNS_API_KEY"] = pdns.api_key
        pair.append(cli)
    return pair[0], pair[1]


def pdns_comments(pdns: Any) -> list[str]:
    rrsets = pdns.api("GET", "/zones/sv.example.")["rrsets"]
    lua = next(r for r in rrsets if r["name"] == "www.sv.example." and r["type"] == "LUA")
    return [c["content"] for c in lua["comments"]]


def pdns_lua(pdns: Any) -> str:
    rrsets = pdns.api("GET", "/zones/sv.example.")["rrsets"]
    lua = next(r for r in rrsets if r["name"] == "www.sv.example." and r["type"] == "LUA")
    return json.dumps(lua["records"])


def test_powerdns_foreign_state_refused_then_taken_over(pdns, on_powerdns) -> None:  # type: ignore[no-untyped-def]
    laptop, ci = on_powerdns
    laptop.ok("apply", "--yes")
    a, b = lineage(laptop), lineage(ci)
    assert all(f"lineage={a}" in c for c in pdns_comments(pdns))  # the marker names the laptop's state
    laptop.ok("dns", "set-weights", "www", "us-east=0", "us-west=50", "-m", "incident", "--yes")
    served = pdns_lua(pdns)

    out = ci("apply", "--yes")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "foreign-state" in out.stderr and a in out.stderr and "--state-url" in out.stderr
    no_traceback(out)
    assert pdns_lua(pdns) == served  # nothing written on the server: us-east still gets nothing
    assert all(f"lineage={a}" in c for c in pdns_comments(pdns))

    out = ci.ok("apply", "--yes", "--force", "foreign-state")
    assert all(f"lineage={b}" in c for c in pdns_comments(pdns))
    assert any(e["action"] == "state.takeover" and e["target"] == a for e in audit(ci))
    out = laptop("dns", "set-weights", "www", "us-east=0", "-m", "again", "--yes")
    assert out.returncode == 3 and "foreign-state" in out.stderr and b in out.stderr, out.stdout + out.stderr


def test_env_state_url_points_the_runner_at_the_owner(pdns, on_powerdns) -> None:  # type: ignore[no-untyped-def]
    laptop, ci = on_powerdns
    laptop.ok("apply", "--yes")
    laptop.ok("dns", "set-weights", "www", "us-east=0", "us-west=50", "-m", "incident", "--yes")
    del ci.env["STREAMVERSE_STATE_DIR"]
    ci.env["STREAMVERSE_STATE_URL"] = laptop.env["STREAMVERSE_STATE_DIR"]
    assert ci("plan", "--detailed-exitcode").returncode == 0
    assert os.path.isdir(laptop.env["STREAMVERSE_STATE_DIR"])


# ----- Route 53 (a real moto server) ------------------------------------------------------------
def test_route53_foreign_state_refused(moto, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import boto3

    from tests.servers.inventory import demo_on_route53

    client = boto3.client("route53", endpoint_url=moto.url, region_name="us-east-1")
    zone_id = client.create_hosted_zone(Name="sv.example.", CallerReference="foreign")["HostedZone"]["Id"]

    def weights() -> dict[str, int]:
        pages = client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
        return {rr["SetIdentifier"]: rr["Weight"] for p in pages for rr in p["ResourceRecordSets"]
                if rr["Name"] == "www.sv.example." and "Weight" in rr}

    def registry() -> list[str]:
        pages = client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
        return [v["Value"] for p in pages for rr in p["ResourceRecordSets"] if "._svctl." in rr["Name"]
                for v in rr["ResourceRecords"]]

    laptop, ci = machine(tmp_path, "laptop"), machine(tmp_path, "ci")
    for cli in (laptop, ci):
        demo_on_route53(cli.inventory, "sv.example.")
        cli.env["AWS_ENDPOINT_URL_ROUTE_53"] = moto.url
    laptop.ok("apply", "--yes")
    a = lineage(laptop)
    assert registry() and all(f"_lineage={a}" in v for v in registry())  # every shard names the laptop's state
    from streamverse_ctl.engine.workspace import Workspace

    monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", moto.url)  # read back in process, as a plan does
    ws = Workspace(laptop.inventory, state_dir=laptop.state)
    try:
        read = [r for r in ws.read_actual(["route53"]) if r.managed]
    finally:
        ws.close()
    assert {r.type for r in read} == {"dns.record", "dns.healthcheck"} and {r.owner for r in read} == {a}
    laptop.ok("dns", "set-weights", "www", "us-east=0", "us-west=50", "-m", "incident", "--yes")
    before = weights()
    assert before["us-east"] == 0

    out = ci("apply", "--yes")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "foreign-state" in out.stderr and a in out.stderr and "--state-url" in out.stderr
    no_traceback(out)
    assert weights() == before  # nothing written to Route 53


# ----- Kubernetes (the kmock emulator) -----------------------------------------------------------
def test_kubernetes_foreign_state_refused(kube, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from kubernetes import client as k8s

    providers = f"""\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: k8s}}
spec:
  type: kubernetes
  serves: {{types: ["transcode.*"]}}
  settings: {{server: "{kube.url}", namespace: {kube.namespace}}}
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: sim}}
spec:
  type: sim
  serves: {{types: ["platform.*", "cdn.*", "dns.*"]}}
"""
    laptop, ci = machine(tmp_path, "laptop", providers), machine(tmp_path, "ci", providers)
    laptop.ok("apply", "--yes")
    a = lineage(laptop)
    cfg = k8s.Configuration()
    cfg.host = kube.url
    api = k8s.ApiClient(cfg)
    try:
        apps = k8s.AppsV1Api(api)
        dep = apps.read_namespaced_deployment("transcode-us-east", kube.namespace)
        assert dep.metadata.labels["streamverse.io/state-lineage"] == a and dep.spec.replicas == 4

        pools = ci.inventory / "transcode.yaml"  # the runner checked out a change of the pool's floor
        pools.write_text(pools.read_text().replace("region: us-east, gpuType: nvidia-l4, minNodes: 4",
                                                   "region: us-east, gpuType: nvidia-l4, minNodes: 6"))
        out = ci("apply", "--yes")
        assert out.returncode == 3, out.stdout + out.stderr
        assert "foreign-state" in out.stderr and a in out.stderr and "transcode.pool/transcode-us-east" in out.stderr
        no_traceback(out)
        dep = apps.read_namespaced_deployment("transcode-us-east", kube.namespace)
        assert dep.spec.replicas == 4 and dep.metadata.labels["streamverse.io/state-lineage"] == a

        ci.ok("apply", "--yes", "--force", "foreign-state")
        dep = apps.read_namespaced_deployment("transcode-us-east", kube.namespace)
        assert dep.spec.replicas == 6 and dep.metadata.labels["streamverse.io/state-lineage"] == lineage(ci)
    finally:
        api.close()
