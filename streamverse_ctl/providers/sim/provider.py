"""The sim platform as a provider: it owns every resource type and supports every feature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ...core.errors import TemporaryError
from ...core.gcpause import paused_gc
from ...core.resources import Change, Resource, resource_type_names, text_digest
from ...core.specs import FEATURE_ALIAS, FEATURE_HEALTHCHECK, ROUTING_FEATURES
from ...inventory.provider_settings import SimSettings
from ..base import Provider, ProviderContext, VerifyResult
from .model import traffic_shares
from .store import SimStore


def sim_path(state_dir: Path, settings: Mapping[str, Any] | None = None) -> Path:
    custom = (settings or {}).get("path")
    return Path(custom) if custom else state_dir / "sim.db"


class SimProvider(Provider):
    """Settings: ``path`` (default ``<state dir>/sim.db``)."""

    provider_type = "sim"
    settings_model: ClassVar[type[Any] | None] = SimSettings  # spec.settings, checked by validate
    resource_types: ClassVar[frozenset[str]] = frozenset()  # empty: every registered type (see serves)
    features: ClassVar[frozenset[str]] = frozenset([*ROUTING_FEATURES.values(), FEATURE_HEALTHCHECK, FEATURE_ALIAS])
    max_concurrency: ClassVar[int] = 1  # SQLite has one writer; batches are whole stages

    @classmethod
    def serves(cls, resource_type: str) -> bool:
        """The simulator stores any registered resource type, plugin types included (unless narrowed)."""
        if cls.resource_types:
            return resource_type in cls.resource_types
        return resource_type in resource_type_names()

    def __init__(self, name: str, settings: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(name, settings, context)
        self.store = SimStore(sim_path(context.state_dir, settings))

    @paused_gc()
    def _read(self, types: Sequence[str]) -> list[Resource]:
        expected = self.expected
        out = []
        for t, n, spec, managed, text, owner in self.store.iter_with_text(list(types)):
            want = expected.get(f"{t}/{n}")
            shared = want if want is not None and want == spec else spec  # see Provider.expected
            out.append(Resource(t, n, shared, self.name, managed=managed, etag=text_digest(text), owner=owner))
        return out

    def _batches(self, changes: Sequence[Change]) -> Sequence[Sequence[Change]]:
        # one transaction per change: progress is visible and a kill -9 loses at most one in flight
        return [[c] for c in changes]

    def _apply(self, batch: Sequence[Change]) -> None:
        if self.store.take_write_error():
            raise TemporaryError(f"sim platform: throttled (injected fault) writing {batch[0].id}", delay=0.05)
        self.store.write_delay()
        with self.store.tx() as db:
            for c in batch:
                if c.action == "delete":
                    self.store.delete(db, c.type, c.name)
                else:
                    assert c.after is not None
                    self.store.put(db, c.type, c.name, c.after, owner=self.lineage or "")

    def region_health(self) -> Mapping[str, bool]:
        return self.store.region_health()

    def edge_health(self) -> Mapping[str, bool]:
        """Edge site -> healthy (``sim fail-edge``)."""
        from .edges import edge_health

        return edge_health(self.store)

    def verify(self, desired: Sequence[Resource], timeout: float = 30.0) -> list[VerifyResult]:
        out = []
        for r in desired:
            actual = self.store.get(r.type, r.name)
            ok = actual == dict(r.spec)
            out.append(VerifyResult(r.id, ok, 0.0, "" if ok else "sim platform holds a different value", "sim"))
        return out

    def hit_ratios(self) -> dict[str, float]:
        """PoP -> the sim's modelled cache hit ratio (``status`` shows it when no Prometheus measures one)."""
        return self.store.hit_ratios()

    def shares(self) -> dict[str, dict[str, float]]:
        return traffic_shares([r for r in self._read(["dns.record"])], self.store.region_health())

    def close(self) -> None:
        self.store.close()
