"""Small inventories written to a temporary directory, for unit tests of every layer."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import yaml

API = "streamverse.io/v1"


def doc(kind: str, name: str, spec: Mapping[str, object], labels: Mapping[str, str] | None = None) -> str:
    meta: dict[str, object] = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    return yaml.safe_dump({"apiVersion": API, "kind": kind, "metadata": meta, "spec": dict(spec)},
                          sort_keys=False)


def region(name: str, secondary: str, endpoint: str, max_rps: int = 1_000_000) -> str:
    return doc("Region", name, {
        "cloudRegion": f"{name}-1", "kubeContext": f"sv-{name}",
        "capacity": {"maxRps": max_rps, "egressGbps": 100}, "failoverSecondary": secondary,
        "endpoints": [endpoint]})


REGIONS = "---\n".join([
    region("r1", "r2", "192.0.2.1"),
    region("r2", "r3", "192.0.2.2"),
    region("r3", "r1", "192.0.2.3"),
])


def weighted(name: str = "www", weights: Mapping[str, int] | None = None, health: bool = True) -> str:
    spec: dict[str, object] = {"zone": "example.test.", "record": name, "type": "A", "ttl": 60,
                               "routing": "weighted", "weights": dict(weights or {"r1": 50, "r2": 30, "r3": 20})}
    if health:
        spec["healthCheck"] = {"protocol": "HTTPS", "path": "/healthz", "port": 443, "interval": 10}
    return doc("TrafficPolicy", name, spec)


def failover_policy(min_regions: int = 2) -> str:
    return doc("FailoverPolicy", "default", {"minRegionsServing": min_regions})


def pop(name: str, region_name: str, tier: str = "core") -> str:
    return doc("PoP", name, {"region": region_name, "city": name.upper(), "country": "US", "cacheTb": 10,
                             "capacityGbps": 100}, labels={"tier": tier})


def write(directory: Path, files: Mapping[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if text.startswith("\n") else text)
    return directory


def minimal(directory: Path, extra: Mapping[str, str] | None = None, pops: int = 3,
            min_regions: int = 2) -> Path:
    """Three regions, one weighted policy, ``pops`` PoPs, a FailoverPolicy: valid as it is."""
    files = {
        "regions.yaml": REGIONS,
        "dns.yaml": weighted(),
        "policies.yaml": failover_policy(min_regions),
        "pops.yaml": "---\n".join(pop(f"p{i}", f"r{i % 3 + 1}") for i in range(pops)) if pops else "",
    }
    if not pops:
        del files["pops.yaml"]
    files.update(extra or {})
    return write(directory, files)
