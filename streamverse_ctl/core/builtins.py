"""The built-in entries of every registry, as lazy ``module:attribute`` targets."""

from __future__ import annotations

BUILTIN_PROVIDERS = {
    "sim": "streamverse_ctl.providers.sim.provider:SimProvider",
    "route53": "streamverse_ctl.providers.route53:Route53Provider",
    "rfc2136": "streamverse_ctl.providers.rfc2136:RFC2136Provider",
    "powerdns": "streamverse_ctl.providers.powerdns:PowerDNSProvider",
}

BUILTIN_KINDS = {
    "Inventory": "streamverse_ctl.inventory.models:InventorySpec",
    "Region": "streamverse_ctl.inventory.models:RegionSpec",
    "PoP": "streamverse_ctl.inventory.models:PoPSpec",
    "TrafficPolicy": "streamverse_ctl.inventory.models:TrafficPolicySpec",
    "EncodingLadder": "streamverse_ctl.inventory.models:EncodingLadderSpec",
    "TranscodePool": "streamverse_ctl.inventory.models:TranscodePoolSpec",
    "CacheWarmPolicy": "streamverse_ctl.inventory.models:CacheWarmPolicySpec",
    "FailoverPolicy": "streamverse_ctl.inventory.models:FailoverPolicySpec",
    "SLO": "streamverse_ctl.inventory.models:SLOSpec",
    "Provider": "streamverse_ctl.inventory.models:ProviderSpec",
}

BUILTIN_ACTIONS: dict[str, str] = {}  # filled by the runbook engine's module (see runbook/actions.py)


def register_all() -> None:
    from .registry import actions, kinds, providers

    for name, target in BUILTIN_PROVIDERS.items():
        providers.register_lazy(name, target)
    for name, target in BUILTIN_KINDS.items():
        kinds.register_lazy(name, target)
    for name, target in BUILTIN_ACTIONS.items():
        actions.register_lazy(name, target)
