"""End to end: edge sites through the installed CLI on the sim platform (apply, plan, get, sim, capacity)."""

from __future__ import annotations

from typing import Any

import pytest

from .test_cli import CLI, no_traceback

SITES = """\
apiVersion: streamverse.io/v1
kind: EdgeSite
metadata: {name: yonkers-nyc1, labels: {pop: nyc1}}
spec: {pop: nyc1, city: Yonkers, country: US, capacityGbps: 100, cacheTb: 40}
---
apiVersion: streamverse.io/v1
kind: EdgeSite
metadata: {name: newark-nyc1, labels: {pop: nyc1}}
spec: {pop: nyc1, city: Newark, country: US, capacityGbps: 300, cacheTb: 20}
"""


@pytest.fixture
def edges(cli: CLI) -> CLI:
    (cli.inventory / "edges.yaml").write_text(SITES)
    cli.ok("apply", "--platform", "sim", "--auto-approve")
    return cli


def test_apply_then_plan_has_no_changes_and_get_lists_them(edges: CLI) -> None:
    out = edges("plan", "--platform", "sim", "--detailed-exitcode")
    assert out.returncode == 0 and "No changes" in out.stdout, out.stdout + out.stderr
    rows = edges.json("get", "edgesites", "--platform", "sim")
    assert isinstance(rows, list)
    by = {r["name"]: r for r in rows}
    assert set(by) == {"yonkers-nyc1", "newark-nyc1"}
    assert by["yonkers-nyc1"]["pop"] == "nyc1" and by["yonkers-nyc1"]["capacityGbps"] == 100
    assert by["yonkers-nyc1"]["status"] == "in sync"
    table = edges.ok("get", "EdgeSite", "--platform", "sim").stdout
    assert "yonkers-nyc1" in table and "Yonkers" in table
    # drift on the sim platform shows as a pending change
    edges.ok("sim", "drift", "cdn.edge_site/newark-nyc1", "capacity_gbps=1")
    out = edges("plan", "--platform", "sim", "--detailed-exitcode")
    assert out.returncode == 2 and "cdn.edge_site/newark-nyc1" in out.stdout


def _edges(cli: CLI) -> dict[str, Any]:
    rows = cli.json("sim", "edges", "--pop", "nyc1")
    assert isinstance(rows, list)
    return {r["site"]: r for r in rows}


def test_a_failed_edge_site_sends_its_users_to_its_siblings(edges: CLI) -> None:
    before = _edges(edges)
    assert before["yonkers-nyc1"]["healthy"] and before["yonkers-nyc1"]["rps"] > 0
    assert before["newark-nyc1"]["rps"] == pytest.approx(3 * before["yonkers-nyc1"]["rps"], rel=1e-3)  # 300:100
    out = edges.ok("sim", "fail-edge", "yonkers-nyc1", "--reason", "power cut")
    assert "yonkers-nyc1 is now DOWN" in out.stdout
    after = _edges(edges)
    assert not after["yonkers-nyc1"]["healthy"] and after["yonkers-nyc1"]["rps"] == 0
    assert after["newark-nyc1"]["rps"] > before["newark-nyc1"]["rps"]
    status = edges.json("sim", "status")
    assert isinstance(status, dict)
    assert status["edge_sites"]["total"] == 2 and status["edge_sites"]["down"] == ["yonkers-nyc1"]
    assert any(e["kind"] == "edge.fail" and e["detail"]["site"] == "yonkers-nyc1" for e in status["events"])
    # the capacity model counts only the sites that are up
    data = edges.json("capacity", "--platform", "sim")
    assert isinstance(data, dict)
    nyc1 = next(p for p in data["baseline"]["pops"] if p["pop"] == "nyc1")
    assert nyc1["edge_capacity_gbps"] == 300 and nyc1["edge_sites"] == 1
    assert "1 edge site(s) down, their capacity not counted: yonkers-nyc1" in data["baseline"]["notes"]
    edges.ok("sim", "heal-edge", "yonkers-nyc1")
    assert _edges(edges)["yonkers-nyc1"]["healthy"]
    data = edges.json("capacity", "--platform", "sim")
    assert isinstance(data, dict)
    assert next(p for p in data["baseline"]["pops"] if p["pop"] == "nyc1")["edge_capacity_gbps"] == 400
    out = edges("sim", "fail-edge", "yonkers-nyc")
    assert out.returncode == 1 and "no edge site 'yonkers-nyc' (did you mean yonkers-nyc1" in out.stderr
    no_traceback(out)


def test_capacity_counts_edge_sites_per_pop_and_region(edges: CLI) -> None:
    data = edges.json("capacity", "--platform", "sim")
    assert isinstance(data, dict)
    b = data["baseline"]
    nyc1 = next(p for p in b["pops"] if p["pop"] == "nyc1")
    assert nyc1["edge_sites"] == 2 and nyc1["edge_capacity_gbps"] == 400 and nyc1["edge_cache_tb"] == 60
    east = next(r for r in b["regions"] if r["region"] == "us-east")
    assert east["edge_capacity_gbps"] == 400 and east["edge_sites"] == 2
    # us-east's PoPs (nyc1 800 + iad1 400 Gbps) and nyc1's edge sites (400) serve the viewers there
    head = next(h for h in b["headroom"] if h["resource"] == "edge-egress" and h["scope"] == "us-east")
    assert head["capacity"] == 1600 and head["need"] == pytest.approx(east["user_egress_gbps"])
    # nyc1 with its edge sites (1,200 Gbps) takes 1,200 / 1,600 of us-east's viewers' egress
    assert nyc1["egress_gbps"] == pytest.approx(east["user_egress_gbps"] * 1200 / 1600)
    table = edges.ok("capacity", "--platform", "sim").stdout
    assert "edge capacity Tbps (sites)" in table and "0.4 (2)" in table


def test_status_shows_each_regions_edge_sites_and_which_are_down(edges: CLI) -> None:
    edges.ok("sim", "fail-edge", "yonkers-nyc1")
    data = edges.json("status", "--platform", "sim")
    assert isinstance(data, dict)
    by = {r["region"]: r for r in data["regions"]}
    assert by["us-east"]["edge_sites"] == {"total": 2, "down": ["yonkers-nyc1"]}  # nyc1 is in us-east
    assert by["eu-west"]["edge_sites"] == {"total": 0, "down": []}
    table = edges.ok("status", "--platform", "sim").stdout
    assert "edge sites" in table and "1/2 up" in table and "yonkers-nyc1" in table
