"""The built-in entries of every registry, as lazy ``module:attribute`` targets."""

from __future__ import annotations

BUILTIN_PROVIDERS = {
    "sim": "streamverse_ctl.providers.sim.provider:SimProvider",
    "route53": "streamverse_ctl.providers.route53:Route53Provider",
    "rfc2136": "streamverse_ctl.providers.rfc2136:RFC2136Provider",
    "powerdns": "streamverse_ctl.providers.powerdns:PowerDNSProvider",
    "kubernetes": "streamverse_ctl.providers.kubernetes:KubernetesProvider",
    "nginx": "streamverse_ctl.providers.nginx.provider:NginxProvider",
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
    "CapacityModel": "streamverse_ctl.inventory.capacity:CapacityModelSpec",
    "Provider": "streamverse_ctl.inventory.models:ProviderSpec",
}

_A = "streamverse_ctl.runbook.actions"
BUILTIN_ACTIONS: dict[str, str] = {
    "dns.set_weights": f"{_A}.dns:set_weights",
    "dns.verify": f"{_A}.dns:verify",
    "dns.clear_override": f"{_A}.dns:clear_override",
    "region.drain": f"{_A}.region:drain",
    "region.serve": f"{_A}.region:serve",
    "failover.check": f"{_A}.failover:check_failover",
    "failback.check": f"{_A}.failover:check_failback",
    "failback.step": f"{_A}.failover:step_failback",
    "apply": f"{_A}.misc:apply",
    "pool.scale": f"{_A}.pool:scale",
    "pool.release": f"{_A}.pool:release",
    "cdn.warm": f"{_A}.cdn:warm",
    "cdn.set_ttl": f"{_A}.cdn:set_ttl",
    "ratelimit.set": f"{_A}.ratelimit:set_limit",
    "health.check": f"{_A}.health:check",
    "ansible.playbook": f"{_A}.ansible:playbook",
    "notify": f"{_A}.misc:notify",
    "sleep": f"{_A}.misc:sleep",
}


def register_all() -> None:
    from .registry import actions, kinds, providers

    for name, target in BUILTIN_PROVIDERS.items():
        providers.register_lazy(name, target)
    for name, target in BUILTIN_KINDS.items():
        kinds.register_lazy(name, target)
    for name, target in BUILTIN_ACTIONS.items():
        actions.register_lazy(name, target)
