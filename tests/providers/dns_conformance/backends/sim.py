"""The sim back-end: out-of-band access is the sim's own store; served weights are its traffic shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.providers.base import ProviderContext

from .base import FOREIGN, Backend, Z, fqdn


class SimBackend(Backend):
    kind = "sim"

    def __init__(self, tmp_path: Path) -> None:
        from streamverse_ctl.providers.sim.provider import SimProvider

        self.provider = self.sim = SimProvider("sim", {}, ProviderContext(tmp_path))

    def _put(self, spec: Mapping[str, Any], managed: bool) -> None:
        from streamverse_ctl.providers.dnsrecords import record_name

        with self.sim.store.tx() as db:
            self.sim.store.put(db, "dns.record", record_name(spec), spec, managed=managed)

    def write(self, label: str, rtype: str, ttl: int, values: Sequence[str]) -> None:
        from streamverse_ctl.providers.dnsrecords import normalize_record, record_name

        spec = normalize_record({"zone": Z, "fqdn": fqdn(label), "rtype": rtype, "ttl": ttl, "values": values})
        existing = self.sim.store.get("dns.record", record_name(spec))
        if existing is not None:  # tampering with one of ours: keep everything but the values
            self._put({**existing, "ttl": ttl, "values": sorted(values)}, managed=True)
        else:
            self._put(spec, managed=False)

    def raw_foreign(self) -> Any:
        names = {f"{fqdn(lb)}/{t}" for lb, t, _, _ in FOREIGN}
        return [row for row in self.sim.store.read(["dns.record"]) if row[1] in names]

    def answers(self, label: str, rtype: str = "A") -> set[str]:
        spec = self.sim.store.get("dns.record", f"{fqdn(label)}/{rtype}")
        return set(spec["values"]) if spec else set()

    def set_weights(self, routed: Sequence[Resource], weights: Mapping[str, int]) -> None:
        for r in routed:
            spec = self.sim.store.get(r.type, r.name)
            assert spec is not None
            self._put({**spec, "weight": weights[r.spec["set_id"]]}, managed=True)

    def region_shares(self, label: str, routed: Sequence[Resource]) -> dict[str, float]:
        policy = str(routed[0].spec["policy"])
        return {k: v for k, v in self.sim.shares().get(policy, {}).items() if v}

    def failover_region(self, label: str, routed: Sequence[Resource]) -> str:
        [(region, share)] = self.region_shares(label, routed).items()
        assert share == 1.0
        return region

    def set_primary_values(self, routed: Sequence[Resource], values: Sequence[str]) -> None:
        [primary] = [r for r in routed if r.spec["failover"] == "PRIMARY"]
        spec = self.sim.store.get(primary.type, primary.name)
        assert spec is not None
        self._put({**spec, "values": sorted(values)}, managed=True)

    def write_foreign_weighted(self) -> None:
        from streamverse_ctl.providers.dnsrecords import record_spec

        for i, w in ((1, 10), (2, 20)):
            self._put(record_spec(Z, fqdn("cdn"), "A", 30, [f"198.51.100.{i}"], routing="weighted",
                                  set_id=f"r{i}", weight=w, policy="theirs", region=f"r{i}"), managed=False)

    def raw_label(self, label: str) -> Any:
        return [row for row in self.sim.store.read(["dns.record"]) if row[1].startswith(fqdn(label) + "/")]

    def edit_health_check_path(self, old: str, new: str) -> None:
        [(t, n, spec, managed)] = [row for row in self.sim.store.read(["dns.healthcheck"]) if old in str(row[2])]
        with self.sim.store.tx() as db:
            self.sim.store.put(db, t, n, {**spec, "path": spec["path"].replace(old, new)}, managed=managed)

    def write_alias(self, label: str, target: str) -> None:
        from streamverse_ctl.providers.dnsrecords import record_spec

        existing = self.sim.store.get("dns.record", f"{fqdn(label)}/A")
        if existing is not None:
            self._put({**existing, "values": [f"alias:self:{target}"]}, managed=True)
        else:
            self._put(record_spec(Z, fqdn(label), "A", 0, [f"alias:self:{target}"]), managed=False)
