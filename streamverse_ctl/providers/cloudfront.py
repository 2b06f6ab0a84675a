"""Amazon CloudFront provider (boto3): the backup CDN's distributions, path TTLs and purges.

Resource type ``cdn.distribution`` (compiled from ``CdnDistribution`` documents): origins (custom
origins: domain name, path, protocol, ports), the default behaviour's origin and TTL, and cache
behaviours in precedence order (``{path, ttl, origin}``: the viral video's ``/videos/<id>/*`` at
24 h before the generic ``*.ts``). TTLs use CloudFront's legacy cache settings: ``DefaultTTL`` is
the TTL, ``MinTTL`` 0, ``MaxTTL`` at least the TTL (one year by default), no query string or
cookies in the cache key.

Settings (``Provider`` document ``spec.settings``)
--------------------------------------------------
``region``/``endpointUrl``/``profile``  the API client (``endpointUrl`` e.g. a moto server; boto3 also
                   honours ``AWS_ENDPOINT_URL_CLOUDFRONT``); credentials only from the AWS environment
``ownerId``        the marker's owner (default ``streamverse``)
``waitDeployed``   after a create/update, poll until the distribution is ``Deployed`` (default false)
``deployTimeout``  seconds to wait for ``Deployed`` (default 1200; deletes always wait: CloudFront
                   deletes only a disabled, deployed distribution)
``invalidationTimeout``/``pollInterval``  the purge wait (default 900 s, polled every 5 s)
``maxCacheBehaviors``  cache behaviours allowed per distribution (default 25, CloudFront's default
                   quota): more is refused at plan time

Ownership
---------
A distribution is ours when its ``Comment`` ends with the marker ``[svctl:<ownerId>/<name>]``
(listed for free with every distribution) — it is also tagged ``streamverse:owner`` and
``streamverse:name`` at creation. Others are read with ``managed=False`` under the name
``cloudfront-<id>`` and are never changed or deleted. The spec is read from what CloudFront
holds (ListDistributions), so an edit in the console shows as drift in ``plan``. Updates merge the
managed fields into the distribution's current configuration (aliases, certificates, logging and
the like are kept) and are sent with the ``ETag`` read just before (``IfMatch``): a concurrent edit
fails with ``PreconditionFailed`` and is retried on a fresh read.

Operations for runbooks (wired by the provider-neutral CDN dispatch): :meth:`set_ttl` (a path
pattern's TTL: a cache behaviour update), :meth:`purge` (an invalidation, waited on to
``Completed`` by polling ``GetInvalidation``: moto answers ``COMPLETED``, and boto3's waiter
expects ``Completed``, so the status is compared case-insensitively) and :meth:`domain_name` (what
a TrafficPolicy target answers with).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..core.errors import PermanentError, TemporaryError
from ..core.resources import Change, Resource
from ..inventory.provider_settings import CloudFrontSettings
from .awsclient import AwsError, aws_errors, error_code, make_client, tags_dict
from .base import Provider, ProviderContext, VerifyResult

DISTRIBUTION = "cdn.distribution"
DEFAULT_OWNER = "streamverse"
MARKER = re.compile(r"\s*\[svctl:(?P<owner>[^/\]]+)/(?P<name>[^\]]+)\]$")
MAX_TTL = 31_536_000
COMMENT_MAX = 128
TEMPORARY = frozenset({"PreconditionFailed", "InvalidIfMatchVersion", "DistributionNotDisabled"})


def _summary_spec(d: Mapping[str, Any]) -> dict[str, Any]:
    """The provider-neutral spec of a distribution summary or config (they share these fields)."""
    default = d.get("DefaultCacheBehavior") or {}
    origins = []
    for o in (d.get("Origins") or {}).get("Items") or []:
        custom = o.get("CustomOriginConfig") or {}
        origins.append({
            "id": o.get("Id"), "domain_name": o.get("DomainName"), "path": o.get("OriginPath") or "",
            "protocol": custom.get("OriginProtocolPolicy", "s3" if o.get("S3OriginConfig") else ""),
            "http_port": custom.get("HTTPPort", 80), "https_port": custom.get("HTTPSPort", 443),
        })
    behaviors = [{"path": b.get("PathPattern"), "ttl": b.get("DefaultTTL"), "origin": b.get("TargetOriginId")}
                 for b in (d.get("CacheBehaviors") or {}).get("Items") or []]
    comment = str(d.get("Comment") or "")
    return {
        "comment": MARKER.sub("", comment),
        "enabled": bool(d.get("Enabled")),
        "price_class": d.get("PriceClass", "PriceClass_All"),
        "default_origin": default.get("TargetOriginId"),
        "default_ttl": default.get("DefaultTTL"),
        "origins": origins,
        "behaviors": behaviors,
    }


def _ttl_fields(ttl: int) -> dict[str, Any]:
    return {"MinTTL": 0, "DefaultTTL": int(ttl), "MaxTTL": max(int(ttl), MAX_TTL),
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}}


def _behavior(path: str | None, origin: str, ttl: int, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = dict(base or {})
    out.pop("CachePolicyId", None)  # legacy TTLs and a cache policy exclude each other
    out.update({"TargetOriginId": origin, **_ttl_fields(ttl)})
    out.setdefault("ViewerProtocolPolicy", "redirect-to-https")
    if path is not None:
        out["PathPattern"] = path
    return out


class CloudFrontProvider(Provider):
    provider_type = "cloudfront"
    settings_model: ClassVar[type[Any] | None] = CloudFrontSettings
    resource_types: ClassVar[frozenset[str]] = frozenset({DISTRIBUTION})
    max_concurrency: ClassVar[int] = 2

    def __init__(self, name: str, settings: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(name, settings, context)
        self.owner = str(self.settings.get("ownerId") or DEFAULT_OWNER)
        self.wait_deployed = bool(self.settings.get("waitDeployed", False))
        self.deploy_timeout = float(self.settings.get("deployTimeout", 1200))
        self.invalidation_timeout = float(self.settings.get("invalidationTimeout", 900))
        self.poll = float(self.settings.get("pollInterval", 5))
        self.client = make_client("cloudfront", self.settings)
        self.endpoint = self.settings.get("endpointUrl") or self.client.meta.endpoint_url
        self._ids: dict[str, dict[str, Any]] = {}  # our name -> {Id, ARN, DomainName, Status}

    # ----- plumbing ---------------------------------------------------------------------------------
    def _where(self) -> str:
        return f"cloudfront provider '{self.name}' ({self.endpoint})"

    def _call(self, op: str, **kwargs: Any) -> Any:
        with aws_errors(self._where(), op, TEMPORARY):
            return getattr(self.client, op)(**kwargs)

    def _marker(self, name: str) -> str:
        return f"[svctl:{self.owner}/{name}]"

    def _comment(self, name: str, comment: str) -> str:
        marker = self._marker(name)
        room = COMMENT_MAX - len(marker) - 1
        text = comment[:max(room, 0)].rstrip()
        return f"{text} {marker}" if text else marker

    # ----- read -------------------------------------------------------------------------------------
    def _summaries(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with aws_errors(self._where(), "list_distributions"):
            for page in self.client.get_paginator("list_distributions").paginate():
                out.extend((page.get("DistributionList") or {}).get("Items") or [])
        return out

    def _read(self, types: Sequence[str]) -> list[Resource]:
        out: list[Resource] = []
        ids: dict[str, dict[str, Any]] = {}
        for d in self._summaries():
            m = MARKER.search(str(d.get("Comment") or ""))
            ours = m is not None and m.group("owner") == self.owner and m.group("name") not in ids
            name = m.group("name") if ours and m else f"cloudfront-{str(d['Id']).lower()}"
            ids[name] = {**{k: d.get(k) for k in ("Id", "ARN", "DomainName", "Status")}, "managed": ours}
            out.append(Resource(DISTRIBUTION, name, _summary_spec(d), self.name, managed=ours))
        self._ids = ids
        return out

    def _find(self, name: str) -> dict[str, Any] | None:
        """The distribution read as ``name`` (from the last read, else a fresh one), ours or not."""
        if name not in self._ids:
            self._read([DISTRIBUTION])
        return self._ids.get(name)

    def _need(self, name: str) -> dict[str, Any]:
        found = self._find(name)
        if found is None or not found.get("managed"):
            raise PermanentError(f"{self._where()}: no distribution '{name}' managed by StreamVerse Control "
                                 f"(owner {self.owner})")
        return found

    def domain_name(self, name: str) -> str:
        """The distribution's CloudFront host name (``d123.cloudfront.net``), what DNS steers to."""
        return str(self._need(name)["DomainName"])

    # ----- apply ------------------------------------------------------------------------------------
    def _apply(self, batch: Sequence[Change]) -> None:
        for change in batch:
            if change.after is None:
                self._delete(change.name)
            elif self._find(change.name) is None:
                self._create(change.name, change.after)
            else:
                self._update(change.name, change.after, takeover=change.before is not None)

    def _config(self, name: str, spec: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        cfg: dict[str, Any] = dict(base or {})
        old_origins = {o.get("Id"): o for o in (cfg.get("Origins") or {}).get("Items") or []}
        origins = []
        for o in spec["origins"]:
            item = dict(old_origins.get(o["id"]) or {})
            item.pop("S3OriginConfig", None)
            custom = dict(item.get("CustomOriginConfig") or {})
            custom.update({"HTTPPort": int(o["http_port"]), "HTTPSPort": int(o["https_port"]),
                           "OriginProtocolPolicy": o["protocol"]})
            item.update({"Id": o["id"], "DomainName": o["domain_name"], "OriginPath": o["path"],
                         "CustomOriginConfig": custom})
            origins.append(item)
        old_behaviors = {b.get("PathPattern"): b for b in (cfg.get("CacheBehaviors") or {}).get("Items") or []}
        behaviors = [_behavior(b["path"], b["origin"], b["ttl"], old_behaviors.get(b["path"]))
                     for b in spec["behaviors"]]
        cfg.update({
            "Comment": self._comment(name, str(spec.get("comment", ""))),
            "Enabled": bool(spec["enabled"]),
            "PriceClass": spec.get("price_class", "PriceClass_All"),
            "Origins": {"Quantity": len(origins), "Items": origins},
            "DefaultCacheBehavior": _behavior(None, spec["default_origin"], spec["default_ttl"],
                                              cfg.get("DefaultCacheBehavior")),
            "CacheBehaviors": {"Quantity": len(behaviors), **({"Items": behaviors} if behaviors else {})},
        })
        cfg.setdefault("CallerReference", f"svctl-{self.owner}-{name}-{uuid.uuid4().hex[:12]}")
        return cfg

    def _create(self, name: str, spec: Mapping[str, Any]) -> None:
        tags = [{"Key": "streamverse:owner", "Value": self.owner}, {"Key": "streamverse:name", "Value": name}]
        resp = self._call("create_distribution_with_tags", DistributionConfigWithTags={
            "DistributionConfig": self._config(name, spec), "Tags": {"Items": tags}})
        d = resp["Distribution"]
        self._ids[name] = {"Id": d["Id"], "ARN": d.get("ARN"), "DomainName": d.get("DomainName"),
                           "Status": d.get("Status"), "managed": True}
        if self.wait_deployed:
            self._wait_deployed(name, str(d["Id"]))

    def _update(self, name: str, spec: Mapping[str, Any], takeover: bool) -> None:
        found = self._find(name)
        if found is None:
            raise PermanentError(f"{self._where()}: no distribution '{name}' to update")
        dist_id = str(found["Id"])
        got = self._call("get_distribution_config", Id=dist_id)
        cfg = got["DistributionConfig"]
        m = MARKER.search(str(cfg.get("Comment") or ""))
        if (m is None or m.group("owner") != self.owner) and not takeover:
            raise PermanentError(f"{self._where()}: distribution {dist_id} is not managed by StreamVerse Control; "
                                 "refusing to change it")
        self._call("update_distribution", Id=dist_id, IfMatch=got["ETag"],
                   DistributionConfig=self._config(name, spec, cfg))
        if self.wait_deployed:
            self._wait_deployed(name, dist_id)

    def _delete(self, name: str) -> None:
        found = self._find(name)
        if found is None:
            return  # already gone
        if not found.get("managed"):
            raise PermanentError(f"{self._where()}: distribution {found['Id']} is not managed by StreamVerse "
                                 "Control; refusing to delete it")
        dist_id = str(found["Id"])
        got = self._call("get_distribution_config", Id=dist_id)
        cfg = got["DistributionConfig"]
        etag = got["ETag"]
        if cfg.get("Enabled"):
            cfg["Enabled"] = False
            etag = self._call("update_distribution", Id=dist_id, IfMatch=etag, DistributionConfig=cfg)["ETag"]
        self._wait_deployed(name, dist_id)
        try:
            self._call("delete_distribution", Id=dist_id, IfMatch=etag)
        except AwsError as exc:
            if error_code(exc) != "NoSuchDistribution":
                raise
        self._ids.pop(name, None)

    def _wait_deployed(self, name: str, dist_id: str) -> None:
        deadline = time.monotonic() + self.deploy_timeout
        while True:
            status = str(self._call("get_distribution", Id=dist_id)["Distribution"].get("Status", ""))
            if status.lower() == "deployed":
                return
            if time.monotonic() >= deadline:
                raise TemporaryError(f"{self._where()}: distribution '{name}' ({dist_id}) still {status} after "
                                     f"{self.deploy_timeout:g} s", self.poll)
            time.sleep(self.poll)

    # ----- runbook operations -----------------------------------------------------------------------
    def set_ttl(self, name: str, pattern: str, ttl: int | None) -> str:
        """Set (``ttl=None``: remove) the TTL of ``pattern`` on distribution ``name``: the cache behaviour of
        that path is updated, or added before the generic ones. Says what changed, on which system."""
        if ttl is not None and not 0 <= int(ttl) <= MAX_TTL:
            raise PermanentError(f"ttl must be 0..{MAX_TTL} seconds, not {ttl}")
        dist_id = str(self._need(name)["Id"])
        got = self._call("get_distribution_config", Id=dist_id)
        cfg = got["DistributionConfig"]
        items = list((cfg.get("CacheBehaviors") or {}).get("Items") or [])
        where = f"cloudfront '{self.name}': distribution {name} ({dist_id})"
        current = next((b for b in items if b.get("PathPattern") == pattern), None)
        before = None if current is None else current.get("DefaultTTL")
        if before == ttl:
            return f"{where}: {pattern} TTL already {ttl if ttl is not None else 'unset'}; nothing changed"
        if ttl is None:
            items = [b for b in items if b.get("PathPattern") != pattern]
        elif current is not None:
            items = [_behavior(pattern, b["TargetOriginId"], int(ttl), b) if b is current else b for b in items]
        else:
            origin = (cfg.get("DefaultCacheBehavior") or {}).get("TargetOriginId")
            items.insert(0, _behavior(pattern, str(origin), int(ttl), cfg.get("DefaultCacheBehavior")))
        cfg["CacheBehaviors"] = {"Quantity": len(items), **({"Items": items} if items else {})}
        self._call("update_distribution", Id=dist_id, IfMatch=got["ETag"], DistributionConfig=cfg)
        shown = ["unset" if v is None else str(v) for v in (before, ttl)]
        return f"{where}: {pattern} TTL {shown[0]} -> {shown[1]}"

    def purge(self, name: str, paths: Sequence[str], wait: bool = True, timeout: float | None = None
              ) -> dict[str, Any]:
        """Invalidate ``paths`` (``/videos/abc/*``) on distribution ``name`` and, with ``wait``, poll until
        the invalidation is Completed (any case). Returns its id, status and the seconds it took."""
        bad = [p for p in paths if not p.startswith("/")]
        if not paths or bad:
            raise PermanentError(f"purge paths must start with '/': {', '.join(bad) or '(none given)'}")
        dist_id = str(self._need(name)["Id"])
        start = time.monotonic()
        resp = self._call("create_invalidation", DistributionId=dist_id, InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": list(paths)},
            "CallerReference": f"svctl-{uuid.uuid4().hex}"})
        inv = resp["Invalidation"]
        status = str(inv.get("Status", ""))
        limit = self.invalidation_timeout if timeout is None else float(timeout)
        while wait and status.lower() != "completed":
            if time.monotonic() - start >= limit:
                raise PermanentError(f"{self._where()}: invalidation {inv['Id']} of {name} still {status} after "
                                     f"{limit:g} s (it keeps running on CloudFront)")
            time.sleep(min(self.poll, max(0.05, limit - (time.monotonic() - start))))
            status = str(self._call("get_invalidation", DistributionId=dist_id, Id=inv["Id"])
                         ["Invalidation"].get("Status", ""))
        return {"distribution": name, "id": inv["Id"], "status": status, "paths": list(paths),
                "seconds": round(time.monotonic() - start, 3),
                "changed": f"cloudfront '{self.name}': distribution {name} ({dist_id}): invalidated "
                           f"{len(paths)} path(s) ({status})"}

    def tags(self, name: str) -> dict[str, str]:
        arn = str(self._need(name)["ARN"])
        return tags_dict(self._call("list_tags_for_resource", Resource=arn)["Tags"].get("Items"))

    # ----- checks -----------------------------------------------------------------------------------
    def check(self, desired: Sequence[Resource]) -> list[str]:
        problems = super().check(desired)
        limit = int(self.settings.get("maxCacheBehaviors", 25))
        for r in desired:
            n = len(r.spec.get("behaviors") or []) if r.type == DISTRIBUTION else 0
            if n > limit:
                problems.append(f"provider '{self.name}' (cloudfront): {r.origin or r.id} has {n} cache behaviours; "
                                f"CloudFront allows {limit} per distribution (setting maxCacheBehaviors, the "
                                "account's quota)")
        return problems

    # ----- verify -----------------------------------------------------------------------------------
    def verify(self, desired: Sequence[Resource], timeout: float = 30.0) -> list[VerifyResult]:
        start = time.monotonic()
        mine = [r for r in desired if r.type in self.resource_types]
        if not mine:
            return []
        actual = {r.id: r for r in self._read([DISTRIBUTION])}
        out = []
        for r in mine:
            cur = actual.get(r.id)
            ok = cur is not None and cur.managed and dict(cur.spec) == dict(r.spec)
            detail = "" if ok else ("missing" if cur is None else "differs")
            out.append(VerifyResult(r.id, ok, time.monotonic() - start, detail, str(self.endpoint)))
        return out
