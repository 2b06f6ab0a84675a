"""The inventory layer's built-in kinds (lazy ``module:attribute`` targets).

Declared as the ``inventory`` entry point of the ``streamverse.builtins`` group in pyproject.toml;
:func:`streamverse_ctl.core.registry.load_plugins` calls :func:`register` once per process.
"""

from __future__ import annotations

from ..core.registry import kinds

_M = "streamverse_ctl.inventory.models"
KINDS: dict[str, str] = {
    "Inventory": f"{_M}:InventorySpec",
    "Region": f"{_M}:RegionSpec",
    "PoP": f"{_M}:PoPSpec",
    "TrafficPolicy": f"{_M}:TrafficPolicySpec",
    "EncodingLadder": f"{_M}:EncodingLadderSpec",
    "TranscodePool": f"{_M}:TranscodePoolSpec",
    "CacheWarmPolicy": f"{_M}:CacheWarmPolicySpec",
    "FailoverPolicy": f"{_M}:FailoverPolicySpec",
    "SLO": f"{_M}:SLOSpec",
    "CapacityModel": "streamverse_ctl.inventory.capacity:CapacityModelSpec",
    "Provider": f"{_M}:ProviderSpec",
}


def register() -> None:
    for name, target in KINDS.items():
        kinds.register_lazy(name, target)
