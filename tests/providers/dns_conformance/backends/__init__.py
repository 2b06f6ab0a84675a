"""One back-end per DNS provider for the conformance suite: the provider, plus what a test needs to
do to the real server behind the tool's back (write foreign records, tamper with ours) and to ask
what the server serves (DNS answers, Route 53 record sets, the sim's own store and shares).

Back-ends: ``sim``; ``route53`` (moto server); ``bind`` and ``knot`` (RFC 2136, two real servers);
``pdns`` (PowerDNS without LUA: plain records only) and ``pdns-lua`` (PowerDNS with LUA records).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import FOREIGN, KINDS, Backend, Z, fqdn
from .dnsserver import DnsServerBackend
from .powerdns import PowerDNSBackend
from .rfc2136 import RFC2136Backend
from .route53 import Route53Backend
from .sim import SimBackend

__all__ = [
    "FOREIGN",
    "KINDS",
    "Backend",
    "DnsServerBackend",
    "PowerDNSBackend",
    "RFC2136Backend",
    "Route53Backend",
    "SimBackend",
    "Z",
    "fqdn",
    "make_backend",
]


def make_backend(kind: str, request: Any, tmp_path: Path) -> Backend:
    if kind == "sim":
        return SimBackend(tmp_path)
    if kind == "route53":
        return Route53Backend(request.getfixturevalue("moto"), tmp_path)
    if kind in ("bind", "knot"):
        return RFC2136Backend(kind, request.getfixturevalue(kind), tmp_path)
    if kind in ("pdns", "pdns-lua"):
        return PowerDNSBackend(kind, request.getfixturevalue("pdns"), tmp_path)
    raise ValueError(kind)
