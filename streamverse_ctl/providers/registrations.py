"""The provider layer's built-in providers (lazy ``module:attribute`` targets: no client is imported).

Declared as the ``providers`` entry point of the ``streamverse.builtins`` group in pyproject.toml.
A provider that brings a resource type of its own registers it here too, with its stage.
"""

from __future__ import annotations

from ..core.registry import providers

PROVIDERS: dict[str, str] = {
    "sim": "streamverse_ctl.providers.sim.provider:SimProvider",
    "route53": "streamverse_ctl.providers.route53:Route53Provider",
    "rfc2136": "streamverse_ctl.providers.rfc2136:RFC2136Provider",
    "powerdns": "streamverse_ctl.providers.powerdns:PowerDNSProvider",
    "kubernetes": "streamverse_ctl.providers.kubernetes:KubernetesProvider",
    "nginx": "streamverse_ctl.providers.nginx.provider:NginxProvider",
    "cloudfront": "streamverse_ctl.providers.cloudfront:CloudFrontProvider",
    "autoscaling": "streamverse_ctl.providers.autoscaling:AutoScalingProvider",
    "prometheus": "streamverse_ctl.providers.prometheus_rules:PrometheusRulesProvider",
}


def register() -> None:
    for name, target in PROVIDERS.items():
        providers.register_lazy(name, target)
