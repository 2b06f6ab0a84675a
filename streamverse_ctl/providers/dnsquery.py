"""One-off DNS lookups for ``streamverse ctl dns query``, with errors in the tool's terms."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import dns.exception

from ..core.errors import ProviderError
from .dnsverify import query


@dataclass
class Lookup:
    server: str
    fqdn: str
    rtype: str
    answers: dict[str, int]  # value -> how many of the queries returned it
    queries: int


def lookup(server: str, fqdn: str, rtype: str = "A", samples: int = 1, timeout: float = 2.0) -> Lookup:
    """Ask ``server`` (HOST[:PORT]) ``samples`` times, varying the EDNS client subnet so weighted
    answers show their spread."""
    name = fqdn if fqdn.endswith(".") else fqdn + "."
    counts: Counter[str] = Counter()
    try:
        for i in range(max(1, samples)):
            ecs = f"{(i * 37) % 223 + 1}.{(i * 11) % 256}.{(i * 7) % 256}.0" if samples > 1 else None
            for value in query(server, name, rtype.upper(), timeout=timeout, ecs=ecs):
                counts[value] += 1
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        raise ProviderError(f"DNS query {name} {rtype} to {server} failed: {type(exc).__name__}: {exc}") from exc
    return Lookup(server, name, rtype.upper(), dict(counts), max(1, samples))
