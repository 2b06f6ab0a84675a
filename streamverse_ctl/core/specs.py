"""The spec of each provider-neutral resource type, as the compiler produces it.

Providers read actual state back into exactly these shapes so plan can compare field by field.
Names (``Resource.name``) per type:

- ``platform.region``  -> region name, e.g. ``us-east``
- ``cdn.pop``          -> PoP name, e.g. ``nyc1``
- ``transcode.ladder`` -> ladder name
- ``transcode.pool``   -> pool name
- ``cdn.cache_policy`` -> ``<CacheWarmPolicy name>/<pop>``
- ``cdn.warm_set``     -> ``<CacheWarmPolicy name>/<pop>``
- ``dns.healthcheck``  -> ``<TrafficPolicy name>/<region>``
- ``dns.record``       -> ``<fqdn>/<rtype>`` for simple records, ``<fqdn>/<rtype>/<set_id>`` for routed ones
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

Routing = Literal["simple", "weighted", "latency", "geo", "failover"]

# Features a desired resource may require of its provider (Resource.requires).
FEATURE_WEIGHTED = "dns.routing.weighted"
FEATURE_LATENCY = "dns.routing.latency"
FEATURE_GEO = "dns.routing.geo"
FEATURE_FAILOVER = "dns.routing.failover"
FEATURE_HEALTHCHECK = "dns.healthcheck"
FEATURE_ALIAS = "dns.alias"  # an alias record (Route 53 AliasTarget): a name answered with another name's records
ROUTING_FEATURES: dict[str, str] = {
    "weighted": FEATURE_WEIGHTED,
    "latency": FEATURE_LATENCY,
    "geo": FEATURE_GEO,
    "failover": FEATURE_FAILOVER,
}


class GeoRule(TypedDict, total=False):
    continent: str  # two-letter continent code (NA, SA, EU, AF, AS, OC, AN)
    country: str  # ISO 3166-1 alpha-2
    subdivision: str  # with country US: state code
    default: bool  # the catch-all location ("*")


class DnsRecordSpec(TypedDict):
    zone: str  # "streamverse.example." (absolute, trailing dot)
    fqdn: str  # "www.streamverse.example."
    rtype: str  # "A", "AAAA", "CNAME", "TXT", ...
    ttl: int
    values: list[str]  # sorted; for CNAME one absolute name
    routing: Routing
    set_id: str | None  # region name for routed records, None for simple ones
    weight: int | None  # weighted routing: 0..255
    latency_region: str | None  # latency routing: the cloud region, e.g. "us-east-1"
    geo: GeoRule | None  # geo routing: the location this answer serves
    failover: Literal["PRIMARY", "SECONDARY"] | None  # failover routing
    health_check: str | None  # name of the dns.healthcheck resource gating this answer
    policy: str | None  # TrafficPolicy name, None for records not from a policy
    region: str | None  # StreamVerse region this answer sends users to


class HealthCheckSpec(TypedDict):
    protocol: Literal["HTTP", "HTTPS", "TCP"]
    target: str  # IP address or host name probed
    port: int
    path: str | None  # HTTP(S) only
    interval: Literal[10, 30]  # seconds
    failure_threshold: int  # 1..10
    policy: str
    region: str


class RegionSpec(TypedDict):
    cloud_region: str
    kube_context: str
    max_rps: int
    egress_gbps: float
    failover_secondary: str
    serving: bool  # False when drained by a failover
    endpoints: list[str]


class PoPSpec(TypedDict):
    region: str
    city: str
    country: str
    cache_tb: float
    capacity_gbps: float


class LadderSpec(TypedDict):
    codecs: list[str]
    formats: list[str]
    segment_seconds: int
    rungs: list[dict[str, object]]  # name, width, height, bitrate_kbps, codec


class PoolSpec(TypedDict):
    region: str
    gpu: str
    min_nodes: int
    max_nodes: int
    target_queue_per_node: int
    ladder: str


class CachePolicySpec(TypedDict):
    pop: str
    ttl_overrides: dict[str, int]  # path glob -> seconds


class WarmSetSpec(TypedDict):
    pop: str
    top_n: int
    new_releases: bool
    titles: list[str]
    renditions: NotRequired[list[str]]
