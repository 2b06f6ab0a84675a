"""Typed ``Provider.spec.settings`` of each built-in provider type (pydantic v2, camelCase keys).

``validate`` checks every Provider document's ``settings`` against its type's model (unknown keys are
errors, with a "did you mean" for a near miss) and ``schema`` exports the same models, so the two
agree. Each provider class names its model in ``settings_model`` (a plugin provider may declare
one too); the models live here, in the inventory layer, so validating an inventory never imports a
provider module and its client library (boto3, dnspython, httpx, kubernetes).

Secrets (``tsigSecret``, ``apiKey``, ``token``) are typed as references, ``{fromEnv: NAME}`` or
``{fromFile: PATH}``; they are resolved only when a provider connects.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class SecretRef(BaseModel):
    """A secret reference: exactly one of ``fromEnv`` (an environment variable) or ``fromFile``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False, json_schema_extra={
        "oneOf": [{"required": ["fromEnv"]}, {"required": ["fromFile"]}]})  # what _exactly_one checks
    from_env: str | None = Field(None, alias="fromEnv", min_length=1)
    from_file: str | None = Field(None, alias="fromFile", min_length=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.from_env is None) == (self.from_file is None):
            raise ValueError("a secret reference is {fromEnv: NAME} or {fromFile: PATH}")
        return self


class ProviderSettings(BaseModel):
    """Settings every provider takes (the engine's policy)."""

    # camelCase only: the providers read camelCase keys, so a snake_case spelling must not pass
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid",
                              str_strip_whitespace=True)
    concurrency: int | None = Field(None, ge=1, le=64, description="changes or batches in flight at once")
    retries: int | None = Field(None, ge=1, le=20, description="attempts for a retryable error")


Seconds = float


class SimSettings(ProviderSettings):
    """The sim stands in for other providers (tests, rehearsals), so it takes their keys too: only its
    own are typed. Secret-named keys must still be references (checked for every provider)."""

    model_config = ConfigDict(extra="allow")
    path: str | None = Field(None, description="the sim's SQLite file (default <state dir>/sim.db)")


class Route53Settings(ProviderSettings):
    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["hostedZoneId"]}, {"required": ["zone"]}]})
    hosted_zone_id: str | None = Field(None, description="the hosted zone id (Z123...); or zone")
    zone: str | None = Field(None, description="the zone name, looked up with ListHostedZonesByName")
    region: str = Field("us-east-1", description="AWS region of the API client")
    endpoint_url: str | None = Field(None, pattern=r"^https?://\S+$", description="API endpoint (e.g. moto)")
    profile: str | None = None
    owner_id: str | None = Field(None, description="who owns records in a shared zone (default streamverse)")
    wait_insync: bool = False
    insync_timeout: Seconds = Field(300, gt=0)
    max_attempts: int = Field(8, ge=1, le=50)
    connect_timeout: Seconds = Field(5, gt=0)
    read_timeout: Seconds = Field(60, gt=0)
    page_size: int = Field(300, ge=1, le=300, description="ListResourceRecordSets page size (AWS maximum 300)")

    @model_validator(mode="after")
    def _zone_given(self) -> Route53Settings:
        if not self.hosted_zone_id and not self.zone:
            raise ValueError("route53 needs hostedZoneId or zone")
        return self


class RFC2136Settings(ProviderSettings):
    server: str = Field(description="primary to read (AXFR) and update, host:port")
    zone: str
    tsig_key_name: str
    tsig_secret: SecretRef
    tsig_algorithm: str = "hmac-sha256"
    nameservers: list[str] | None = None
    owner_id: str | None = None
    batch_size: int = Field(500, ge=1)
    timeout: Seconds = Field(5, gt=0)
    probe_timeout: Seconds = Field(2, gt=0)


class PowerDNSSettings(ProviderSettings):
    api_url: str = Field(pattern=r"^https?://\S+$")
    api_key: SecretRef
    server_id: str = "localhost"
    zone: str
    create_zone: bool = False
    lua_records: bool = False
    geoip_backend: bool = False
    weighted_selector: Literal["pickwrandom", "pickwhashed"] = "pickwrandom"
    nameservers: list[str] | None = None
    owner_id: str | None = None
    timeout: Seconds = Field(10, gt=0)
    batch_size: int = Field(500, ge=1)


class KubernetesSettings(ProviderSettings):
    kubeconfig: str | None = None
    contexts: dict[str, str] | None = Field(None, description="region -> kube context")
    context: str | None = None
    namespace: str | None = None
    server: str | dict[str, str] | None = Field(None, description="API URL, or context -> URL")
    token: SecretRef | None = None
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    image: str | None = None
    gpu_node_label: str | None = None
    timeout: Seconds = Field(10, gt=0)


class AwsClientSettings(ProviderSettings):
    region: str = Field("us-east-1", description="AWS region of the API client")
    endpoint_url: str | None = Field(None, pattern=r"^https?://\S+$", description="API endpoint (e.g. moto)")
    profile: str | None = None
    owner_id: str | None = Field(None, description="who owns the objects in a shared account (default streamverse)")
    max_attempts: int = Field(8, ge=1, le=50)
    connect_timeout: Seconds = Field(5, gt=0)
    read_timeout: Seconds = Field(60, gt=0)


class CloudFrontSettings(AwsClientSettings):
    wait_deployed: bool = Field(False, description="wait until every changed distribution is Deployed")
    deploy_timeout: Seconds = Field(1200, gt=0, description="seconds to wait for Deployed")
    invalidation_timeout: Seconds = Field(900, gt=0, description="seconds to wait for an invalidation")
    poll_interval: Seconds = Field(5, gt=0, description="seconds between status polls")
    max_cache_behaviors: int = Field(25, ge=1, description="cache behaviours per distribution (the account quota)")


class AutoScalingSettings(AwsClientSettings):
    regions: dict[str, str] | None = Field(None, description="region -> AWS region (default: each Region's "
                                           "cloudRegion)")
    image_id: str = Field("ami-00000000000000000", description="AMI of new launch templates")
    instance_types: dict[str, str] = Field(default_factory=dict, description="GPU type -> EC2 instance type, "
                                           "e.g. {nvidia-l4: g6.xlarge}")
    availability_zones: dict[str, list[str]] | None = Field(None, description="AWS region -> zones (default: "
                                                            "<region>a)")
    subnets: dict[str, list[str]] | None = Field(None, description="region -> subnet ids (VPCZoneIdentifier)")
    sqs_endpoint_url: str | None = Field(None, pattern=r"^https?://\S+$",
                                         description="SQS endpoint for queue depths (default: endpointUrl)")


class PrometheusRulesSettings(ProviderSettings):
    """The ``prometheus`` rules provider: the SLO rule files in a directory Prometheus loads."""

    rules_dir: str = Field(description="directory of the rule files (Prometheus' rule_files must include "
                                       "DIR/*.rules.yml)")
    url: str = Field(pattern=r"^https?://\S+$", description="Prometheus base URL: reload and /api/v1/rules")
    reload_url: str | None = Field(None, pattern=r"^https?://\S+$",
                                   description="POSTed after writing (default <url>/-/reload; needs "
                                               "--web.enable-lifecycle)")
    promtool: str = Field("promtool", description="promtool, to check the files before they are swapped in")
    timeout: Seconds = Field(10, gt=0)


class NginxOrigin(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid")
    scheme: Literal["http", "https"] = "https"
    port: int = Field(443, ge=1, le=65535)
    endpoints: list[str] | None = Field(None, description="origin addresses (default: the PoP's Region endpoints)")


class NginxSettings(ProviderSettings):
    """The PoP fleet: each PoP is a host of an Ansible inventory (host name = PoP name) running nginx."""

    ansible_inventory: str = Field(description="Ansible inventory of the PoP hosts (host vars: nginxPrefix ...)")
    origin: NginxOrigin = Field(default_factory=NginxOrigin)
    master_path: str = Field("/videos/{title}/master.m3u8", description="a title's HLS master playlist path")
    video_path: str = Field("/videos/{video}/", description="the path prefix of a video's objects")
    warm_concurrency: int = Field(16, ge=1, le=256, description="requests in flight per PoP while warming")
    warm_method: Literal["HEAD", "GET"] = Field("HEAD", description="how segments are warmed (HEAD: the PoP "
                                                "fetches the object, its bytes are not pulled to this tool)")
    timeout: Seconds = Field(10, gt=0)
    hit_ratio_lines: int = Field(5000, ge=10, description="recent cache-log lines the hit ratio is taken over")
    admin_allow: list[Annotated[str, Field(pattern=r"^([0-9A-Fa-f:.]+(/[0-9]{1,3})?|all)$")]] = Field(
        ["127.0.0.1"], min_length=1, description="addresses (or CIDRs) allowed to read /_streamverse/* from a PoP")
    template: str | None = Field(None, description="PoP config template (default templates/pop-edge.conf.j2)")
    playbook: str | None = Field(None, description="deploy playbook (default runbooks/playbooks/pop-deploy.yml)")


BUILTIN_SETTINGS: dict[str, type[ProviderSettings]] = {
    "sim": SimSettings,
    "route53": Route53Settings,
    "rfc2136": RFC2136Settings,
    "powerdns": PowerDNSSettings,
    "kubernetes": KubernetesSettings,
    "cloudfront": CloudFrontSettings,
    "autoscaling": AutoScalingSettings,
    "prometheus": PrometheusRulesSettings,
    "nginx": NginxSettings,
}


def settings_model(provider_type: str) -> type[BaseModel] | None:
    """The settings model of a provider type: a built-in's from here (no provider module is imported),
    a plugin's from its class's ``settings_model`` attribute; None when it declares none."""
    if provider_type in BUILTIN_SETTINGS:
        return BUILTIN_SETTINGS[provider_type]
    from ..core.errors import PermanentError
    from ..core.registry import providers

    if provider_type not in providers:
        return None
    try:
        cls: Any = providers.get(provider_type)
    except PermanentError:
        return None
    model = getattr(cls, "settings_model", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def known_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]
