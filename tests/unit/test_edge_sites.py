"""EdgeSite: the kind's validation, its compiled cdn.edge_site, the sim platform's load model, production's 1,000."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from streamverse_ctl.compiler import compile_inventory
from streamverse_ctl.core.errors import InputError
from streamverse_ctl.core.resources import type_rank
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.providers.sim.edges import spread_to_edges

REPO = Path(__file__).resolve().parents[2]

SITES = """\
apiVersion: streamverse.io/v1
kind: EdgeSite
metadata: {name: yonkers-nyc1}
spec: {pop: nyc1, city: Yonkers, country: US, capacityGbps: 100, cacheTb: 40}
---
apiVersion: streamverse.io/v1
kind: EdgeSite
metadata: {name: newark-nyc1}
spec: {pop: nyc1, city: Newark, country: US, capacityGbps: 50, cacheTb: 20, healthCheck: {path: /edge/healthz}}
"""


def _demo_with(tmp_path: Path, text: str) -> Path:
    import shutil

    dst = tmp_path / "inventories"
    for name in ("base", "demo"):
        shutil.copytree(REPO / "inventories" / name, dst / name)
    (dst / "demo" / "edges.yaml").write_text(text)
    return dst / "demo"


def test_every_problem_of_an_edge_site_names_file_line_and_field(tmp_path: Path) -> None:
    bad = SITES.replace("pop: nyc1, city: Yonkers", "pop: nyc2, city: Yonkers") + """\
---
apiVersion: streamverse.io/v1
kind: EdgeSite
metadata: {name: bad-site}
spec: {pop: nowhere, city: Nowhere, country: us, capacityGbps: 0, cacheTb: 4, healthCheck: {interval: 15}, colour: red}
"""
    with pytest.raises(InputError) as exc:
        load_inventory(_demo_with(tmp_path, bad))
    msg = str(exc.value)
    assert "edges.yaml:4: EdgeSite/yonkers-nyc1: spec.pop: unknown parent PoP 'nyc2' (did you mean nyc1?)" in msg, msg
    assert "edges.yaml:14: EdgeSite/bad-site: spec.pop: unknown parent PoP 'nowhere' (PoPs: " in msg
    for field in ("spec.country: String should match pattern", "spec.capacityGbps: Input should be greater than 0",
                  "spec.healthCheck.interval:", "spec.colour: unknown field 'colour'"):
        assert f"edges.yaml:14: EdgeSite/bad-site: {field}" in msg, field
    assert "inventory has 6 problems" in msg


def test_compiles_to_cdn_edge_site_in_the_parent_pops_region(tmp_path: Path) -> None:
    compiled = compile_inventory(load_inventory(_demo_with(tmp_path, SITES)))
    sites = {r.name: r for r in compiled.resources if r.type == "cdn.edge_site"}
    assert set(sites) == {"yonkers-nyc1", "newark-nyc1"}
    y = sites["yonkers-nyc1"]
    assert dict(y.spec) == {"pop": "nyc1", "region": "us-east", "city": "Yonkers", "country": "US",
                            "capacity_gbps": 100.0, "cache_tb": 40.0,
                            "health_check": {"protocol": "HTTPS", "path": "/healthz", "port": 443, "interval": 30,
                                             "failure_threshold": 3}}
    assert sites["newark-nyc1"].spec["health_check"]["path"] == "/edge/healthz"
    assert y.depends_on == ("cdn.pop/nyc1",) and y.provider == "sim"
    assert y.origin.startswith("EdgeSite/yonkers-nyc1 (")
    rank = type_rank()
    assert rank["cdn.pop"] < rank["cdn.edge_site"] < rank["dns.record"]


def test_sim_load_model_spreads_a_pop_over_its_healthy_edge_sites() -> None:
    pops = {"nyc1": {"region": "us-east", "capacity_gbps": 300}, "iad1": {"region": "us-east", "capacity_gbps": 100}}
    sites = {"a": {"pop": "nyc1", "region": "us-east", "capacity_gbps": 100},
             "b": {"pop": "nyc1", "region": "us-east", "capacity_gbps": 200}}
    # us-east 8,000 req/s: nyc1 300/400 of it = 6,000, shared 300:100:200 by nyc1, a, b
    on_pop, loads = spread_to_edges({"us-east": 8000}, pops, sites, {}, 10.0)
    by = {e.site: e for e in loads}
    assert on_pop == {"nyc1": pytest.approx(3000), "iad1": pytest.approx(2000)}
    assert by["a"].rps == pytest.approx(1000) and by["b"].rps == pytest.approx(2000)
    # 1,000 req/s x 10 Mbps = 10 Gbps of a's 100: 10 %
    assert by["a"].gbps == pytest.approx(10) and by["a"].utilization == pytest.approx(0.1)
    # b fails: its users go to nyc1 and a (300:100)
    on_pop, loads = spread_to_edges({"us-east": 8000}, pops, sites, {"b": False}, 10.0)
    by = {e.site: e for e in loads}
    assert by["b"].rps == 0 and not by["b"].healthy
    assert on_pop["nyc1"] == pytest.approx(4500) and by["a"].rps == pytest.approx(1500)


def test_production_has_1000_edge_sites_under_its_pops() -> None:
    inv = load_inventory(REPO / "inventories" / "production")
    sites = inv.of("EdgeSite")
    assert len(sites) == 1000
    pops = {d.name: d.spec for d in inv.of("PoP")}
    assert all(d.spec["pop"] in pops for d in sites)
    per_region = Counter(pops[d.spec["pop"]]["region"] for d in sites)
    assert set(per_region) == {"us-east", "us-west", "eu-west", "ap-pacific", "sa-east", "me-central"}
    assert min(per_region.values()) >= 100
    cities = {(d.spec["city"], d.spec["country"]) for d in sites}
    assert {("Yonkers", "US"), ("Kyoto", "JP"), ("Trondheim", "NO")} <= cities, sorted(cities)[:20]
    assert len(cities) >= 990  # real, distinct cities


def test_the_committed_edge_sites_are_what_the_generator_writes() -> None:
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_edge_sites.py"), "--check"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
