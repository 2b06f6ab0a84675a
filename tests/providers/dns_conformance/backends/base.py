"""The back-end interface of the DNS conformance suite, and the zone and foreign records it uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.providers.base import Provider

Z = "sv.example."
KINDS = ("sim", "route53", "bind", "knot", "pdns", "pdns-lua")
# the names the suite writes behind the tool's back (and expects to find unchanged afterwards)
FOREIGN = (("legacy", "A", 300, ("198.51.100.7",)), ("api", "TXT", 300, ('"someone else"',)))


def fqdn(label: str) -> str:
    return Z if label in ("", "@") else f"{label}.{Z}"


class Backend:
    """A provider and out-of-band access to the system it manages."""

    kind: str
    provider: Provider
    serves_dns = False  # a real DNS server answers queries (verify asks it)

    @property
    def capabilities(self) -> frozenset[str]:
        """What the provider declares it serves, as configured (PowerDNS: its enabled features)."""
        return frozenset(getattr(self.provider, "enabled_features", self.provider.features))

    def write(self, label: str, rtype: str, ttl: int, values: Sequence[str]) -> None:
        """Create or replace a plain record set directly on the server (not through the tool)."""
        raise NotImplementedError

    def write_foreign(self) -> None:
        for label, rtype, ttl, values in FOREIGN:
            self.write(label, rtype, ttl, values)

    def raw_foreign(self) -> Any:
        """The server's own representation of the foreign records (compared before/after)."""
        return {(lb, t): self.answers(lb, t) for lb, t, _, _ in FOREIGN}

    def answers(self, label: str, rtype: str = "A") -> set[str]:
        """The values the system serves for one plain name and type."""
        raise NotImplementedError

    def set_weights(self, routed: Sequence[Resource], weights: Mapping[str, int]) -> None:
        """Rewrite the weighted sets' weights (set_id -> weight) directly on the server."""
        raise NotImplementedError

    def region_shares(self, label: str, routed: Sequence[Resource]) -> dict[str, float]:
        """Region -> share of the answers the system gives for a weighted name."""
        raise NotImplementedError

    def failover_region(self, label: str, routed: Sequence[Resource]) -> str:
        """The region whose answer a failover name is served with right now."""
        raise NotImplementedError

    def set_primary_values(self, routed: Sequence[Resource], values: Sequence[str]) -> None:
        """Rewrite the answer of a failover pair's PRIMARY directly on the server."""
        raise NotImplementedError

    def write_foreign_weighted(self) -> None:
        """Someone else's weighted name ``cdn`` (10/20), written directly on the server."""
        raise NotImplementedError

    def raw_label(self, label: str) -> Any:
        """Everything the server holds at one name, in its own representation."""
        raise NotImplementedError

    def write_alias(self, label: str, target: str) -> None:
        """Point an A alias at ``target`` directly on the server (ours: tampered; else: foreign)."""
        raise NotImplementedError

    def edit_health_check_path(self, old: str, new: str) -> None:
        """Change a health check's path on the system, wherever the system keeps it (``old`` is a
        token unique to that path): as an operator editing the check by hand would."""
        raise NotImplementedError

    def close(self) -> None:
        self.provider.close()
