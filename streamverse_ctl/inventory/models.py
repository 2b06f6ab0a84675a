"""Typed specs of the built-in inventory kinds (pydantic v2). YAML uses camelCase field names.

Every model forbids unknown fields, so a typo is reported (with file and line) instead of ignored.
Cross-document meaning (references, uniqueness) is checked in :mod:`.semantics`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from pydantic.alias_generators import to_camel

from ..core.secrets import plain_secrets
from .dnsvalues import RawText

DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")


def parse_duration(text: str | int | float) -> float:
    """``"10m"`` -> 600.0 seconds; plain numbers are seconds."""
    if isinstance(text, int | float):
        return float(text)
    m = DURATION.match(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a duration like 500ms, 30s, 10m or 1h")
    n, unit = int(m.group(1)), m.group(2)
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


class Spec(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              frozen=False, str_strip_whitespace=True)


# metadata.name of every kind: a DNS label (RFC 1123), as Kubernetes requires. Names become DNS
# records, Kubernetes objects and file names (artifacts, nginx.conf per PoP), so nothing else.
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
NAME_MAX_LENGTH = 63
NAME_RE = re.compile(NAME_PATTERN)
Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=NAME_MAX_LENGTH,
                            description="a DNS label: lowercase letters, digits and '-', starting and ending "
                                        "with a letter or digit, at most 63 characters")]


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid metadata.name, or None."""
    if len(name) <= NAME_MAX_LENGTH and NAME_RE.match(name):
        return None
    shown = repr(name) if len(name) <= 70 else f"{name[:60]!r}… ({len(name)} characters)"
    return (f"{shown} is not a DNS label: lowercase letters (a-z), digits and '-', starting and ending with a "
            f"letter or digit, 1 to {NAME_MAX_LENGTH} characters")


# Labels are Kubernetes-style: a key is an optional DNS-subdomain prefix and "/" and a name of at most 63
# letters, digits, "-", "_" and "."; a value is a string of at most 63 of those (or empty). No nesting.
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LABEL_KEY = rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_LABEL_NAME}$"
LABEL_VALUE = rf"^({_LABEL_NAME})?$"
LabelKey = Annotated[str, Field(pattern=LABEL_KEY, max_length=317)]
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE, max_length=63)]
Labels = dict[LabelKey, LabelValue]


def _ip_address(value: str) -> str:
    try:
        if "%" in value:  # a scoped IPv6 address (fe80::1%eth0) is not an address DNS can answer with
            raise ValueError(value)
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"'{value}' is not an IP address (IPv4 like 198.51.100.10 or IPv6 like 2001:db8::10)"
                         ) from None
    return value


_IPV4 = r"((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_H = "[0-9A-Fa-f]{1,4}"
_IPV6 = ("(" + "|".join([
    rf"({_H}:){{7}}{_H}", rf"({_H}:){{1,7}}:", rf"({_H}:){{1,6}}:{_H}", rf"({_H}:){{1,5}}(:{_H}){{1,2}}",
    rf"({_H}:){{1,4}}(:{_H}){{1,3}}", rf"({_H}:){{1,3}}(:{_H}){{1,4}}", rf"({_H}:){{1,2}}(:{_H}){{1,5}}",
    rf"{_H}:(:{_H}){{1,6}}", rf":((:{_H}){{1,7}}|:)", rf"({_H}:){{6}}{_IPV4}", rf"({_H}:){{1,5}}:{_IPV4}",
    rf"({_H}:){{1,4}}(:{_H}){{0,1}}:{_IPV4}", rf"::({_H}:){{0,5}}{_IPV4}",
]) + ")")
IPAddress = Annotated[str, AfterValidator(_ip_address), WithJsonSchema({
    "type": "string", "pattern": f"^({_IPV4}|{_IPV6})$", "description": "an IPv4 or IPv6 address"})]


class Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
class Patch(Spec):
    """A JSON merge patch (RFC 7386) applied to every document matching ``target``."""

    target: dict[str, str]  # kind, name (shell-style glob)
    merge: dict[str, Any]


class StateSettings(Spec):
    path: str = ".streamverse"
    url: str | None = None  # postgresql://USER@HOST:PORT/DB (the team backend) or sqlite:///DIR; wins over path
    password_file: str | None = None  # a file holding the PostgreSQL password (relative to this directory)


class InventorySpec(Spec):
    """Per-directory settings: overlays, variables, where state lives."""

    extends: str | None = None  # a base inventory directory, relative to this one
    variables: dict[str, str | int | float | bool] = Field(default_factory=dict)
    patches: list[Patch] = Field(default_factory=list)
    state: StateSettings | None = None
    description: str = ""


# ---------------------------------------------------------------------------------------------
class Capacity(Spec):
    max_rps: int = Field(gt=0, description="requests per second the region can serve")
    egress_gbps: float = Field(gt=0)


class RegionSpec(Spec):
    cloud_region: str = Field(description="cloud provider region, e.g. us-east-1")
    kube_context: str = Field(description="Kubernetes context of the region's cluster")
    capacity: Capacity
    failover_secondary: str = Field(description="region that takes this one's traffic first")
    endpoints: list[IPAddress] = Field(min_length=1, description="ingress IP addresses DNS answers point at")
    cloud: Literal["aws", "gcp", "azure", "onprem"] = "aws"
    backup_origin: str | None = Field(None, description=(
        "region whose origin the PoPs and CDN distributions fetch from when this region's origin is lost "
        "(the origin-failover runbook)"))


class PoPSpec(Spec):
    region: str
    city: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    cache_tb: float = Field(gt=0)
    capacity_gbps: float = Field(gt=0)
    tier: Literal["core", "edge"] = "core"
    origin_region: str | None = Field(None, description=(
        "region whose origin servers this PoP fetches from (default: its own region; cdn.set_origin "
        "overrides it to the backup origin)"))
    #: false: out of service (evacuated) — the sim spreads its users over the region's other PoPs and its
    #: edge sites; an nginx PoP answers viewers 503 (an override set by the pop-evacuation runbook)
    serving: bool = True


class HealthCheck(Spec):
    protocol: Literal["HTTP", "HTTPS", "TCP"] = "HTTPS"
    path: str | None = "/healthz"
    port: int = Field(443, ge=1, le=65535)
    interval: Literal[10, 30] = 30
    failure_threshold: int = Field(3, ge=1, le=10)

    @model_validator(mode="after")
    def _tcp_has_no_path(self) -> HealthCheck:
        if self.protocol == "TCP":
            self.path = None
        return self


class EdgeSiteSpec(Spec):
    """An edge site: a small cache in a city under a parent PoP, serving the PoP's users nearest it.

    Its region is its parent PoP's; the capacity model counts it with the PoP (egress, cache).
    """

    pop: str = Field(description="the parent PoP (metadata.name of a PoP document)")
    city: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    capacity_gbps: float = Field(gt=0)
    cache_tb: float = Field(gt=0)
    health_check: HealthCheck = Field(default_factory=HealthCheck)


class GeoMatch(Spec):
    continent: Literal["AF", "AN", "AS", "EU", "NA", "OC", "SA"] | None = None
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    subdivision: str | None = None
    default: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> GeoMatch:
        if self.default and (self.continent or self.country):
            raise ValueError("a default geo rule matches everything: give no continent or country")
        if not self.default and not (self.continent or self.country):
            raise ValueError("give continent, country or default: true")
        if self.subdivision and self.country != "US":
            raise ValueError("subdivision needs country: US")
        return self


class GeoRuleSpec(Spec):
    match: GeoMatch
    region: str


class FailoverPair(Spec):
    primary: str
    secondary: str


class TrafficPolicySpec(Spec):
    zone: str = Field(pattern=r"^([a-z0-9-]+\.)+$", description="DNS zone, absolute (trailing dot)")
    record: str = Field(description="name relative to the zone, or @ for the apex")
    type: Literal["A", "AAAA", "CNAME"] = "A"
    ttl: int = Field(60, ge=1, le=86400)
    routing: Literal["weighted", "latency", "geo", "failover"]
    weights: dict[str, Annotated[int, Field(ge=0, le=255)]] | None = None
    regions: list[str] | None = Field(None, description="latency routing: the regions answering")
    geo: list[GeoRuleSpec] | None = None
    failover: FailoverPair | None = None
    health_check: HealthCheck | None = None
    values: dict[str, list[str]] | None = Field(None, description="per-region answers; default: region endpoints")
    targets: dict[Name, list[str]] | None = Field(None, description=(
        "weighted answers that are not regions, e.g. the backup CDN: {cloudfront: [d123.cloudfront.net.]}; "
        "weights (and dns set-weights) name them like regions"))

    @model_validator(mode="after")
    def _routing_fields(self) -> TrafficPolicySpec:
        need = {"weighted": "weights", "geo": "geo", "failover": "failover"}.get(self.routing)
        if need and getattr(self, need) is None:
            raise ValueError(f"routing {self.routing} needs '{to_camel(need)}'")
        if self.routing == "weighted" and self.weights is not None and not any(self.weights.values()):
            raise ValueError("weights are all zero: at least one region must receive traffic")
        return self


class DnsRecordSpec(Spec):
    """A plain record set: one name, one type, its values (checked per type by :mod:`.dnsrecord`)."""

    zone: str = Field(pattern=r"^([a-z0-9-]+\.)+$", description="DNS zone, absolute (trailing dot)")
    name: str = Field(description="name relative to the zone, or @ for the apex")
    type: Literal["A", "AAAA", "CNAME", "ALIAS", "TXT", "MX", "SRV", "CAA", "NS", "PTR"]
    ttl: int = Field(300, ge=1, le=604800, description="seconds (an ALIAS has none: Route 53 uses the target's)")
    values: list[RawText | int | dict[str, RawText | int]] = Field(min_length=1, description=(
        "TXT: the plain text (quoted and cut at 255 bytes for you); MX '10 mail.example.com.' or "
        "{preference, exchange}; SRV '10 5 5060 sip.example.com.' or {priority, weight, port, target}; "
        "CAA '0 issue \"ca.example\"' or {flags, tag, value}; names are absolute"))
    alias_type: Literal["A", "AAAA", "CNAME"] = Field("A", description="ALIAS: the type of the target's records")
    alias_zone: str | None = Field(None, description="ALIAS: Route 53 hosted zone id of the target "
                                                     "(default: this zone)")


class Rung(Spec):
    name: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    bitrate_kbps: int = Field(gt=0)
    codec: Literal["h264", "hevc", "av1"]


class EncodingLadderSpec(Spec):
    rungs: list[Rung] = Field(min_length=1)
    codecs: list[Literal["h264", "hevc", "av1"]] = Field(min_length=1)
    formats: list[Literal["hls", "dash"]] = Field(min_length=1)
    segment_seconds: int = Field(6, ge=1, le=30)


class QueueSource(Spec):
    """Where a pool's work queue depth is measured: an SQS queue (``ApproximateNumberOfMessages``) or a
    Prometheus query answering one number. ``metric`` is the external metric a Kubernetes
    HorizontalPodAutoscaler scales the same pool on."""

    sqs_queue_url: str | None = Field(None, pattern=r"^https?://\S+$", description="the SQS queue URL")
    sqs_queue_name: str | None = Field(None, description="the SQS queue name (looked up with GetQueueUrl)")
    region: str | None = Field(None, description="AWS region of the queue (default: the pool's Region cloudRegion)")
    endpoint_url: str | None = Field(None, pattern=r"^https?://\S+$", description="SQS API endpoint (e.g. moto)")
    prometheus: str | None = Field(None, min_length=1, description="PromQL answering the queue depth")
    prometheus_url: str | None = Field(None, pattern=r"^https?://\S+$",
                                       description="Prometheus to ask (default: the SLO's prometheusUrl)")
    metric: str = Field("streamverse_transcode_queue_depth", pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$",
                        description="external metric name the Kubernetes HPA scales on (label pool=<name>)")

    @model_validator(mode="after")
    def _one_source(self) -> QueueSource:
        sqs = self.sqs_queue_url is not None or self.sqs_queue_name is not None
        if sqs == (self.prometheus is not None):
            raise ValueError("give an SQS queue (sqsQueueUrl or sqsQueueName) or a prometheus query, not both")
        if self.sqs_queue_url is not None and self.sqs_queue_name is not None:
            raise ValueError("give sqsQueueUrl or sqsQueueName, not both")
        return self


class TranscodePoolSpec(Spec):
    region: str
    gpu_type: str
    min_nodes: int = Field(ge=0)
    max_nodes: int = Field(ge=1)
    target_queue_depth_per_node: int = Field(ge=1)
    ladder: str
    queue: QueueSource | None = Field(None, description="queue-depth scaling: desired = ceil(depth / "
                                      "targetQueueDepthPerNode) within minNodes..maxNodes")

    @model_validator(mode="after")
    def _min_le_max(self) -> TranscodePoolSpec:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"minNodes ({self.min_nodes}) is above maxNodes ({self.max_nodes})")
        return self


class OriginFleetSpec(Spec):
    """A region's origin servers as an Auto Scaling group: ``nodes`` is the normal size, ``surgeNodes``
    what a viral event scales it to (``pool.scale origin_nodes``)."""

    region: str
    instance_type: str = Field(min_length=1, description="EC2 instance type, e.g. c7gn.4xlarge")
    min_nodes: int = Field(ge=0)
    max_nodes: int = Field(ge=1)
    nodes: int = Field(ge=0, description="desired size in normal operation")
    surge_nodes: int | None = Field(None, ge=1, description="size during a viral event")

    @model_validator(mode="after")
    def _within(self) -> OriginFleetSpec:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"minNodes ({self.min_nodes}) is above maxNodes ({self.max_nodes})")
        if not self.min_nodes <= self.nodes <= self.max_nodes:
            raise ValueError(f"nodes ({self.nodes}) must lie within minNodes..maxNodes "
                             f"({self.min_nodes}..{self.max_nodes})")
        return self


class CdnOrigin(Spec):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    domain_name: str = Field(min_length=1, description="origin host name, e.g. origin.streamverse.example")
    path: str = Field("", pattern=r"^(/\S*[^/])?$", description="origin path prefix, e.g. /media")
    protocol: Literal["https-only", "http-only", "match-viewer"] = "https-only"
    http_port: int = Field(80, ge=1, le=65535)
    https_port: int = Field(443, ge=1, le=65535)
    region: str | None = Field(None, description="region whose origin servers this is (cdn.set_origin switches "
                               "the distribution between the origins of a region and its backupOrigin)")


TTL_MAX = 31_536_000


class CdnCacheBehavior(Spec):
    path_pattern: str = Field(min_length=1, description="path glob, e.g. /videos/abc123/*")
    ttl: int = Field(ge=0, le=TTL_MAX, description="cache TTL of objects matching the pattern (s)")
    origin: str | None = Field(None, description="origin id (default: the distribution's defaultOrigin)")


class CdnDistributionSpec(Spec):
    """A CDN distribution (CloudFront): origins, a default TTL and path-pattern cache behaviours, checked
    in the order given (put specific patterns before generic ones)."""

    origins: list[CdnOrigin] = Field(min_length=1)
    default_origin: str | None = Field(None, description="origin id of the default behaviour (default: the first)")
    default_ttl: int = Field(3600, ge=0, le=TTL_MAX)
    cache_behaviors: list[CdnCacheBehavior] = Field(default_factory=list)
    enabled: bool = True
    comment: str = Field("", max_length=80)
    price_class: Literal["PriceClass_All", "PriceClass_200", "PriceClass_100"] = "PriceClass_All"
    ttl_from: str | None = Field(None, description=(
        "a CacheWarmPolicy whose ttlOverrides become cache behaviours too (after these, specific paths "
        "first), so a runbook's cdn.set_ttl reaches this CDN like the PoPs"))

    @model_validator(mode="after")
    def _references(self) -> CdnDistributionSpec:
        ids = [o.id for o in self.origins]
        if len(set(ids)) != len(ids):
            raise ValueError("origin ids must be unique")
        for ref in [self.default_origin, *(b.origin for b in self.cache_behaviors)]:
            if ref is not None and ref not in ids:
                raise ValueError(f"origin '{ref}' is not one of the origins ({', '.join(ids)})")
        patterns = [b.path_pattern for b in self.cache_behaviors]
        if len(set(patterns)) != len(patterns):
            raise ValueError("cache behaviour path patterns must be unique")
        return self


class PopSelector(Spec):
    names: list[str] | None = None
    regions: list[str] | None = None
    match_labels: dict[str, str] | None = None


class CacheWarmPolicySpec(Spec):
    pops: PopSelector = Field(default_factory=PopSelector)
    top_n: int = Field(0, ge=0)
    new_releases: bool = False
    titles: list[str] = Field(default_factory=list)
    pinned: dict[str, list[str]] = Field(default_factory=dict, description="title -> the only PoPs that pre-warm "
                                         "it (e.g. a viral video on the busiest PoPs)")
    ttl_overrides: dict[str, int] = Field(default_factory=dict, description="path glob -> TTL seconds")


class FailoverPolicySpec(Spec):
    shift_step_percent: int = Field(10, ge=1, le=100)
    step_interval: str = "10m"
    min_regions_serving: int = Field(2, ge=1)
    max_region_share_percent: int = Field(60, ge=1, le=100)
    mode: Literal["automatic", "manual"] = "manual"
    # automatic remediation by the controller (reconcile --apply, the lease holder)
    unhealthy_observations: int = Field(3, ge=1, le=1000, description=(
        "consecutive unhealthy observations (one per reconcile iteration) before a region is failed over"))
    cooldown: str = Field("30m", description="at most one automatic failover (or failback) per cooldown")
    auto_failback: bool = Field(False, description=(
        "fail a drained region back (gradually, with health gates) once it has been healthy for "
        "unhealthyObservations observations; otherwise failback stays a human decision"))

    @field_validator("step_interval", "cooldown")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v


# a PromQL instant-vector selector: a metric name with optional label matchers, e.g.
# streamverse_http_requests_total{code=~"5..", job="edge"}
SELECTOR_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}]*\})?$")


def _selector(value: str) -> str:
    if not SELECTOR_RE.match(value):
        raise ValueError("not a Prometheus series selector: give a metric name with optional {label matchers}, "
                         'e.g. http_requests_total{code=~"5.."}')
    return value


Selector = Annotated[str, AfterValidator(_selector), Field(description=(
    "a Prometheus series selector: metric name with optional {label matchers}"))]
LabelName = Annotated[str, Field(pattern=r"^([a-zA-Z_][a-zA-Z0-9_]*)?$", description=(
    "the metric's label that names the region ('' when it has none)"))]


class LatencySLIMetrics(Spec):
    """A latency SLI from a classic histogram: the error ratio is the share of observations slower
    than the threshold, ``1 - bucket{le=threshold} / count``. The histogram needs a bucket at the
    threshold."""
    histogram: Selector = Field(description="histogram base name (without _bucket/_count), optional {matchers}")
    region_label: LabelName = "region"


class StartupMetrics(LatencySLIMetrics):
    histogram: Selector = "streamverse_playback_startup_seconds"


class ApiLatencyMetrics(LatencySLIMetrics):
    histogram: Selector = "streamverse_api_request_duration_seconds"


class AvailabilityMetrics(Spec):
    """Availability: ``errors / total`` request rates (by default 5xx answers of all answers)."""
    errors: Selector = 'streamverse_http_requests_total{code=~"5.."}'
    total: Selector = "streamverse_http_requests_total"
    region_label: LabelName = "region"


class CdnHitRatioMetrics(Spec):
    """CDN hit ratio: the error ratio is the miss share, ``1 - hits / requests``."""
    hits: Selector = "cdn_cache_hits_total"
    requests: Selector = "cdn_requests_total"
    region_label: LabelName = "region"


class SLOMetrics(Spec):
    """The metrics each SLI is computed from (``streamverse ctl slo rules``); every one overridable."""
    startup: StartupMetrics = Field(default_factory=StartupMetrics)
    api_latency: ApiLatencyMetrics = Field(default_factory=ApiLatencyMetrics)
    availability: AvailabilityMetrics = Field(default_factory=AvailabilityMetrics)
    cdn_hit_ratio: CdnHitRatioMetrics = Field(default_factory=CdnHitRatioMetrics)


class SLOSpec(Spec):
    startup_seconds: float = Field(1.0, gt=0)
    api_p95_ms: float = Field(100, gt=0)
    availability_percent: float = Field(99.99, gt=0, le=100)
    cdn_hit_ratio_percent: float = Field(95, gt=0, le=100)
    startup_objective_percent: float = Field(
        99, gt=0, le=100, description="share of plays that must start within startupSeconds")
    api_latency_objective_percent: float = Field(
        95, gt=0, le=100, description="share of API requests that must finish within apiP95Ms (95: the p95)")
    metrics: SLOMetrics = Field(default_factory=SLOMetrics)

    @field_validator("startup_objective_percent", "api_latency_objective_percent", "availability_percent",
                     "cdn_hit_ratio_percent")
    @classmethod
    def _leaves_a_budget(cls, v: float) -> float:
        if v >= 100:
            raise ValueError(f"an objective of {v:g} % leaves no error budget: give less than 100")
        return v
    prometheus_url: str | None = Field(None, pattern=r"^https?://\S+$",
                                       description="Prometheus HTTP API base URL the SLOs are measured with")


class Serves(Spec):
    types: list[str] = Field(min_length=1, description="resource types, globs allowed (dns.*)")
    zones: list[str] | None = None
    regions: list[str] | None = None


class Guardrails(Spec):
    max_update_percent: float = Field(30, ge=0, le=100)
    max_delete_percent: float = Field(30, ge=0, le=100)
    min_existing: int = Field(10, ge=0, description="thresholds apply once a type has this many resources")
    types: dict[str, Guardrails] = Field(default_factory=dict)


class ProviderSpec(Spec):
    type: str
    serves: Serves
    settings: dict[str, Any] = Field(default_factory=dict)
    guardrails: Guardrails = Field(default_factory=Guardrails)

    @field_validator("settings")
    @classmethod
    def _no_plain_secrets(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = plain_secrets(v)
        if bad:
            raise ValueError(
                "secrets must be references ({fromEnv: NAME} or {fromFile: PATH}), "
                f"not plain text: {', '.join(bad)}"
            )
        return v

