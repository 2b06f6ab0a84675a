"""Back-ends with a real DNS server on loopback: what is served is what the server answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.providers.dnsverify import query

from .base import Backend, fqdn


class DnsServerBackend(Backend):
    """A back-end with a real DNS server on loopback: answers are DNS answers."""

    serves_dns = True
    address: str

    def answers(self, label: str, rtype: str = "A") -> set[str]:
        return set(query(self.address, fqdn(label), rtype))

    def region_shares(self, label: str, routed: Sequence[Resource], n: int = 400) -> dict[str, float]:
        region = {v: str(r.spec["region"]) for r in routed for v in r.spec["values"]}
        counts: Counter[str] = Counter()
        for _ in range(n):
            for v in query(self.address, fqdn(label), str(routed[0].spec["rtype"])):
                counts[region.get(v, v)] += 1
        return {k: c / n for k, c in counts.items()}

    def failover_region(self, label: str, routed: Sequence[Resource]) -> str:
        got = self.answers(label, str(routed[0].spec["rtype"]))
        [region] = [str(r.spec["region"]) for r in routed if set(r.spec["values"]) == got] or [f"none: {got}"]
        return region
