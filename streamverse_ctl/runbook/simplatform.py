"""What runbook actions ask of the sim platform, declared here so the runbook layer never imports it.

The sim provider's store satisfies this protocol; :meth:`ActionContext.sim` hands it out only when the
run is on the sim platform (``require_sim`` refuses otherwise: a stand-in next to real providers would
change nothing real). An import-linter contract keeps ``streamverse_ctl.runbook`` from importing
``streamverse_ctl.providers.sim``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class SimPlatform(Protocol):
    def setting(self, key: str) -> Any: ...

    def region_health(self) -> Mapping[str, bool]: ...

    def region_loads(self) -> Mapping[str, float]:
        """Region -> requests/s the simulated demand puts on it (served DNS weights and health applied)."""

    def hit_ratios(self) -> Mapping[str, float]: ...

    def warm_pops(self, pops: list[str]) -> None: ...

    def origin_nodes(self) -> Mapping[str, int]: ...

    def set_origin_nodes(self, region: str, nodes: int | None) -> None: ...

    def rate_limits(self) -> Mapping[str, int]: ...

    def set_rate_limit(self, scope: str, rps: int | None) -> None: ...
