"""What each back-end declares (checked against the provider by test_capabilities.py), and one
desired resource per capability, for the tests that pick back-ends by capability."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamverse_ctl.compiler import compile_inventory
from streamverse_ctl.core.resources import Resource
from streamverse_ctl.core.specs import (
    FEATURE_ALIAS,
    FEATURE_FAILOVER,
    FEATURE_GEO,
    FEATURE_HEALTHCHECK,
    FEATURE_LATENCY,
    FEATURE_WEIGHTED,
)
from streamverse_ctl.inventory import load_inventory
from tests.unit.helpers import doc, write

from ..helpers import hc, rec
from .backends import KINDS, Z

ALL = (FEATURE_WEIGHTED, FEATURE_LATENCY, FEATURE_GEO, FEATURE_FAILOVER, FEATURE_HEALTHCHECK, FEATURE_ALIAS)
DECLARED: dict[str, frozenset[str]] = {
    "sim": frozenset(ALL),
    "route53": frozenset(ALL),
    "bind": frozenset({FEATURE_FAILOVER, FEATURE_HEALTHCHECK}),
    "knot": frozenset({FEATURE_FAILOVER, FEATURE_HEALTHCHECK}),
    "pdns": frozenset(),
    "pdns-lua": frozenset({FEATURE_WEIGHTED, FEATURE_FAILOVER, FEATURE_HEALTHCHECK}),
}


def compiled_alias(tmp_path: Path, target: str = "a.sv.example.") -> Resource:
    """An apex ALIAS DnsRecord document through the compiler (an A record whose one value is
    ``alias:self:<target>``, needing dns.alias)."""
    inv = load_inventory(write(tmp_path / f"alias-{target}", {"dns.yaml": doc("DnsRecord", "apex", {
        "zone": Z, "name": "@", "type": "ALIAS", "values": [target]})}))
    [r] = [r for r in compile_inventory(inv).resources if r.type == "dns.record"]
    return r


def needing(feature: str, tmp_path: Path) -> Resource:
    """A desired resource that needs exactly ``feature``."""
    return {
        FEATURE_WEIGHTED: lambda: rec(Z, "w", routing="weighted", set_id="us-east", weight=50, policy="www",
                                      region="us-east"),
        FEATURE_LATENCY: lambda: rec(Z, "l", routing="latency", set_id="us", latency_region="us-east-1",
                                     policy="lat", region="us-east"),
        FEATURE_GEO: lambda: rec(Z, "g", routing="geo", set_id="eu", geo={"continent": "EU"}, policy="geo",
                                 region="eu-west"),
        FEATURE_FAILOVER: lambda: rec(Z, "f", routing="failover", set_id="us-east", failover="PRIMARY",
                                      policy="fo", region="us-east"),
        FEATURE_HEALTHCHECK: lambda: hc("www/us-east"),
        FEATURE_ALIAS: lambda: compiled_alias(tmp_path),
    }[feature]()


def kinds_with(feature: str) -> list[pytest.param]:  # type: ignore[valid-type]
    return [pytest.param(k, id=k) for k in KINDS if feature in DECLARED[k]]


def undeclared() -> list[pytest.param]:  # type: ignore[valid-type]
    return [pytest.param(k, f, id=f"{k}-{f}") for k in KINDS for f in ALL if f not in DECLARED[k]]


def failover(port: int, primary: str = "192.0.2.10", path: str = "/us-east") -> list[Resource]:
    """A failover pair: us-east PRIMARY with an HTTP health check on ``port``, eu-west SECONDARY."""
    return [
        hc("www/us-east", "127.0.0.1", port=port, path=path, failure_threshold=1, region="us-east"),
        rec(Z, "fo", values=[primary], routing="failover", set_id="us-east", failover="PRIMARY",
            health_check="www/us-east", policy="www", region="us-east"),
        rec(Z, "fo", values=["192.0.2.20"], routing="failover", set_id="eu-west", failover="SECONDARY",
            policy="www", region="eu-west"),
    ]
