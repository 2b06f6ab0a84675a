"""Amazon Route 53 provider (boto3): routed record sets and health checks.

Settings (``Provider`` document ``spec.settings``)
--------------------------------------------------
``hostedZoneId``  the hosted zone id (``Z123...``); or
``zone``          the zone name, looked up with ListHostedZonesByName (one of the two is required)
``region``        AWS region of the client (default ``us-east-1``; Route 53 is global)
``endpointUrl``   API endpoint (e.g. a moto server); otherwise boto3 honours ``AWS_ENDPOINT_URL_ROUTE_53``
``profile``       AWS profile name (credentials come only from the usual AWS env vars and files)
``ownerId``       who owns records in a shared zone (default ``streamverse``)
``waitInsync``    wait for every change batch to reach INSYNC (default false)
``insyncTimeout`` seconds to wait for INSYNC (default 300)
``maxAttempts``   botocore adaptive-retry attempts per call (default 8)
``readTimeout``   seconds to wait for an API answer (default 60); a change batch retried after a
                  timeout that had in fact been applied is recognised (batches are atomic)
``pageSize``      ListResourceRecordSets page size (default and AWS maximum: 300)
``concurrency``   change batches in flight at once (default 4)

Routing: simple, weighted, latency, geolocation and failover record sets are native (one record
set per region, ``SetIdentifier`` = ``set_id``); alias targets are written and read as a single
value ``alias:<HostedZoneId>:<DNSName>[:evaluate]`` with ``ttl`` 0 (aliases have no TTL; the zone's own
id reads as ``self``, as a ``DnsRecord`` of type ALIAS compiles). Plain values read back in the
canonical form of :mod:`streamverse_ctl.inventory.dnsvalues` (TXT joined and cut at 255 bytes). A
record's ``health_check`` is the name of an owned ``dns.healthcheck`` (resolved to its id when
applying); a health check the tool does not own reads as ``route53:<id>``.

Ownership
---------
* Records: the zone holds a compact *registry* per owner (``streamverse_ctl/providers/r53registry.py``):
  at most 256 TXT record sets ``<xx>.<ownerId>._svctl.<zone>`` listing a 12-character hash of each
  owned record set (name, type, set identifier) with its policy, region and health check name. A
  record set without an entry is read with ``managed=False`` (so the engine never deletes it);
  registry record sets (any owner's) are never returned as resources. Records and the registry
  shards they touch go out in one atomic change batch; an entry whose record set was deleted
  behind our back is dropped the next time its shard is rewritten. A 10,000-record zone has 256
  registry record sets, so a plan pages through ~2.5 % more than the records themselves. Each
  shard a write leaves names the writing state's lineage (``_lineage=…``): its record sets read
  with that ``owner``, and so do the health checks they use (checks keep no lineage of their own).
* Health checks: created with a ``CallerReference`` of ``svctl-<hash of ownerId>-z<hash of hosted
  zone id>-...`` (immutable and listed for free) and tagged ``streamverse:owner=<ownerId>``,
  ``streamverse:zone=<hosted zone id>``, ``streamverse:name=<resource name>``, ``streamverse:policy``,
  ``streamverse:region`` and ``Name``. Health checks are account-wide in Route 53, so ownership is
  scoped to the owner AND the zone: another inventory on another zone (same ownerId or not) reads
  our checks as unmanaged and never deletes them. A check with the older owner-only prefix
  (``svctl-<hash>-<hex>``) is ours only while one of our record sets in this zone uses it. A check
  is ours when its caller reference says so; its name comes from the registry entries of the
  records that use it, and only a check no record names unambiguously costs a tag lookup (10 per
  call). One of ours with neither (a crash between create and tag, a create whose answer was
  lost), and any second check of ours with the same name, reads as ``route53:<id>`` (an orphan):
  the next apply deletes it, ``verify`` reports it, and the ``change-size`` guardrail does not
  count deletes of checks no record uses.
* Creating a check is idempotent: one caller reference per name and spec for a provider's run,
  reused by every retry; the create call is never retried blindly (Route 53 returns the existing
  check for a repeated reference, moto creates another), but after a failure the checks are listed
  and one carrying the reference is used.
* Changing a health check's protocol or interval (immutable in Route 53) replaces it: a new one is
  created, records pointing at the old id are moved to the new id, then the old one is deleted.

Limits: change batches respect 1,000 ResourceRecord elements and 32,000 value characters (UPSERT
counts twice); every list call is paginated; throttling is absorbed by botocore's adaptive retry
mode and whatever still fails with throttling or 5xx becomes a TemporaryError.

Verification: Route 53 (and moto, which has no DNS server) is verified through the API: every
change batch reaches INSYNC (GetChange, once per batch) and a read-back matches the desired specs
field by field. The read-back looks up only the changed names (one ListResourceRecordSets call
each, ownership from the registry as this run wrote it) where that takes fewer calls than listing
the zone; health checks, and changes spread over the whole zone, are read with one full listing.

Re-check: a batch of record creates and deletes is its own re-check (``atomic_preconditions``):
a CREATE fails on an existing record set and a DELETE, sent exactly as the plan's read listed it,
fails on a missing or different one, so the whole batch writes nothing. A refused batch is then
explained from one listing (which record set changed or appeared since the plan) and raised as a
StalePlan. Updates stay UPSERTs, which check nothing (see ``preconditions_checked``), so a plan
with updates or health check changes is re-checked by reading the zone again under the lock.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property, partial
from typing import Any, ClassVar

import boto3
import botocore.exceptions
from botocore.config import Config

from ..core.errors import PermanentError, ProviderError, StalePlan, TemporaryError
from ..core.resources import Change, Resource, canonical_json
from ..core.specs import (
    FEATURE_ALIAS,
    FEATURE_FAILOVER,
    FEATURE_GEO,
    FEATURE_HEALTHCHECK,
    FEATURE_LATENCY,
    FEATURE_WEIGHTED,
)
from ..inventory.dnsvalues import ALIAS_SELF, canonical_or_raw
from ..inventory.provider_settings import Route53Settings
from . import r53registry as registry
from .base import BatchListener, Provider, ProviderContext, VerifyResult
from .dnsrecords import (
    DEFAULT_OWNER,
    HEALTHCHECK,
    RECORD,
    absolute,
    healthcheck_spec,
    is_ip,
    normalize_record,
    record_name,
    record_spec,
)

log = logging.getLogger("streamverse.providers.route53")

MAX_RECORDS_PER_BATCH = 1000
MAX_CHARS_PER_BATCH = 32000
REGISTRY_TTL = 300
CALLER_PREFIX = "svctl-"
TAG_OWNER = "streamverse:owner"
TAG_NAME = "streamverse:name"
TAG_POLICY = "streamverse:policy"
TAG_REGION = "streamverse:region"
TAG_ZONE = "streamverse:zone"
ORPHAN_DETAIL = ("created by StreamVerse Control (caller reference) but not in the inventory and used by no "
                 "record set: an orphan of a lost response or a crash; the next apply deletes it")
THROTTLE_CODES = {"Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestLimitExceeded",
                  "TooManyRequestsException", "ServiceUnavailable", "InternalError", "InternalFailure"}
AUTH_CODES = {"AccessDenied", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
              "AuthFailure", "ExpiredToken", "InvalidAccessKeyId"}


def _unescape(name: str) -> str:
    r"""Route 53 returns ``*`` and other specials as ``\DDD`` octal escapes."""
    if "\\" not in name:
        return name
    out, i = [], 0
    while i < len(name):
        if name[i] == "\\" and i + 4 <= len(name) and name[i + 1:i + 4].isdigit():
            out.append(chr(int(name[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def _batch_cost(changes: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[int, int]:
    """ResourceRecord elements and value characters of changes, as Route 53 counts them (UPSERT twice)."""
    total_r = total_c = 0
    for action, rrset in changes:
        values = rrset.get("ResourceRecords", [])
        mult = 2 if action == "UPSERT" else 1
        total_r += max(1, len(values)) * mult
        total_c += sum(len(v["Value"]) for v in values) * mult
    return total_r, total_c


def _batch_delta(own: tuple[int, int], costs: Mapping[str, tuple[int, int]],
                 batch: Mapping[str, tuple[int, int]]) -> tuple[int, int]:
    """What a group of record changes (``own`` cost, rewriting shards at ``costs``) adds to a batch
    that already rewrites some shards at ``batch``."""
    return (own[0] + sum(c[0] - batch.get(s, (0, 0))[0] for s, c in costs.items()),
            own[1] + sum(c[1] - batch.get(s, (0, 0))[1] for s, c in costs.items()))


def _pack(changes: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Change dicts in order, cut into batches within Route 53's limits."""
    out: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    rec = chars = 0
    for ch in changes:
        r, c = _batch_cost([(ch["Action"], ch["ResourceRecordSet"])])
        if batch and (rec + r > MAX_RECORDS_PER_BATCH or chars + c > MAX_CHARS_PER_BATCH):
            out.append(batch)
            batch, rec, chars = [], 0, 0
        batch.append(ch)
        rec, chars = rec + r, chars + c
    if batch:
        out.append(batch)
    return out


def _refused_batch(exc: BaseException) -> bool:
    """Whether Route 53 (or moto) refused a change batch as a whole: a CREATE of an existing record
    set, a DELETE of a missing or different one."""
    cause = exc.__cause__
    if isinstance(cause, botocore.exceptions.ClientError):
        return str(cause.response.get("Error", {}).get("Code", "")) in ("InvalidChangeBatch", "InvalidInput")
    return "already exists" in str(exc) or "not found" in str(exc)


def _same_rrset(got: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    keys = set(want) - {"Name", "ResourceRecords"}
    return all(got.get(k) == want.get(k) for k in keys) and \
        sorted(v["Value"] for v in got.get("ResourceRecords", [])) == \
        sorted(v["Value"] for v in want.get("ResourceRecords", []))


class Route53Provider(Provider):
    provider_type = "route53"
    settings_model: ClassVar[type[Any] | None] = Route53Settings  # spec.settings, checked by validate
    resource_types: ClassVar[frozenset[str]] = frozenset({RECORD, HEALTHCHECK})
    #: a change batch is atomic and its DELETEs (of the values the plan read) and CREATEs are its
    #: preconditions: the re-check under the lock needs no second read of the zone (but see
    #: :meth:`preconditions_checked`)
    atomic_preconditions: ClassVar[bool] = True
    features: ClassVar[frozenset[str]] = frozenset(
        {FEATURE_WEIGHTED, FEATURE_LATENCY, FEATURE_GEO, FEATURE_FAILOVER, FEATURE_HEALTHCHECK, FEATURE_ALIAS}
    )

    def __init__(self, name: str, settings: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(name, settings, context)
        if not self.settings.get("hostedZoneId") and not self.settings.get("zone"):
            raise PermanentError(f"route53 provider '{name}': set 'hostedZoneId' or 'zone'")
        self.owner = str(self.settings.get("ownerId") or DEFAULT_OWNER)
        self.page_size = min(int(self.settings.get("pageSize", 300)), 300)
        self.wait_insync = bool(self.settings.get("waitInsync", False))
        self.insync_timeout = float(self.settings.get("insyncTimeout", 300))
        self.api_calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._zone_id: str | None = self.settings.get("hostedZoneId")
        self._zone_name: str | None = absolute(self.settings["zone"]) if self.settings.get("zone") else None
        self._hc_ids: dict[str, str] | None = None  # owned health check name -> id
        self._hc_names: dict[str, str] = {}  # id -> name
        self._hc_lock = threading.Lock()
        self._change_ids: list[str] = []
        self._registry_lock = threading.Lock()
        self._shards: dict[str, dict[str, str]] | None = None  # registry shard -> key -> entry (None: not read)
        self._shard_rrsets: dict[str, dict[str, Any]] = {}  # shard -> its TXT record set as last read/written
        self._present: set[str] = set()  # registry keys of the record sets that exist
        self._as_read: dict[str, dict[str, Any]] = {}  # registry key -> the record set as last listed
        self._shard_locks: dict[str, threading.Lock] = {}
        self._claimed: dict[str, set[str]] = {}  # registry key -> shards (any owner's) that list it
        self._nonce = hashlib.sha256(f"{time.time_ns()}{id(self)}".encode()).hexdigest()[:12]
        self._tried_refs: set[str] = set()  # caller references a create was sent with (see _create_hc)
        session = boto3.session.Session(profile_name=self.settings.get("profile"))
        self.endpoint = self.settings.get("endpointUrl")
        self.client = session.client(
            "route53",
            region_name=self.settings.get("region", "us-east-1"),
            endpoint_url=self.endpoint,
            config=Config(
                retries={"mode": "adaptive", "max_attempts": int(self.settings.get("maxAttempts", 8))},
                connect_timeout=float(self.settings.get("connectTimeout", 5)),
                read_timeout=float(self.settings.get("readTimeout", 60)),
                max_pool_connections=max(10, self.concurrency * 2),
            ),
        )
        self.client.meta.events.register("before-call.route53", self._count_call)
        if not self.endpoint:
            self.endpoint = self.client.meta.endpoint_url

    # ----- plumbing ---------------------------------------------------------------------------------
    def _count_call(self, model: Any = None, **_: Any) -> None:
        with self._calls_lock:
            self.api_calls[getattr(model, "name", "?")] += 1

    def _where(self) -> str:
        return f"route53 provider '{self.name}' ({self.endpoint})"

    @contextmanager
    def _errors(self, op: str) -> Iterator[None]:
        """Turn botocore's exceptions into retryable or permanent errors that name the provider."""
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            raise self._map_error(op, exc) from exc
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError) as exc:
            raise TemporaryError(f"{self._where()}: {op}: cannot reach the API: {exc}", 1.0) from exc
        except botocore.exceptions.NoCredentialsError as exc:
            raise PermanentError(f"{self._where()}: no AWS credentials found (set AWS_ACCESS_KEY_ID/"
                                 f"AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role)") from exc

    def _call(self, op: str, **kwargs: Any) -> Any:
        with self._errors(op):
            return getattr(self.client, op)(**kwargs)

    def _map_error(self, op: str, exc: botocore.exceptions.ClientError) -> Exception:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        msg = str(err.get("Message", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        text = f"{self._where()}: {op} failed: {code}: {msg}"
        if code in THROTTLE_CODES or status >= 500 or status == 429:
            return TemporaryError(text, 1.0)
        if code in AUTH_CODES or status == 403:
            return PermanentError(f"{self._where()}: {op}: AWS rejected the credentials ({code})")
        if code == "InvalidChangeBatch":
            return PermanentError(text + " (the zone may have changed since it was read: re-run plan)")
        return PermanentError(text)

    def _paginate(self, op: str, result_key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator(op)
        with self._errors(op):
            for page in paginator.paginate(**kwargs):
                yield from page.get(result_key, [])

    @property
    def zone_id(self) -> str:
        if self._zone_id is None:
            assert self._zone_name is not None
            resp = self._call("list_hosted_zones_by_name", DNSName=self._zone_name, MaxItems="1")
            zones = [z for z in resp.get("HostedZones", []) if absolute(z["Name"]) == self._zone_name]
            if not zones:
                raise PermanentError(f"{self._where()}: hosted zone {self._zone_name} not found")
            self._zone_id = zones[0]["Id"].split("/")[-1]
        return self._zone_id

    @property
    def zone_name(self) -> str:
        if self._zone_name is None:
            resp = self._call("get_hosted_zone", Id=self.zone_id)
            self._zone_name = absolute(resp["HostedZone"]["Name"])
        return self._zone_name

    # ----- capabilities -----------------------------------------------------------------------------
    def check(self, desired: Sequence[Resource]) -> list[str]:
        problems = super().check(desired)
        for r in desired:
            if r.type == RECORD and absolute(str(r.spec.get("zone", ""))) != self.zone_name:
                problems.append(f"provider '{self.name}' (route53) serves zone {self.zone_name}, not "
                                f"{r.spec.get('zone')} (needed by {r.origin or r.id})")
        return problems

    # ----- read -------------------------------------------------------------------------------------
    def _read(self, types: Sequence[str]) -> list[Resource]:
        # One pass over the zone: the registry says which record sets are ours and names the
        # health checks they use, so health checks need no tag lookups in the steady state.
        with ThreadPoolExecutor(max_workers=1) as pool:  # independent lists: page through both at once
            listed = pool.submit(lambda: list(self._paginate("list_health_checks", "HealthChecks")))
            rows = self._scan_zone()
            all_checks = listed.result()
        claims: dict[str, list[tuple[str, str | None, str | None, bool]]] = {}
        for rr, _, entry in rows:
            if entry is not None and entry.health_check and rr.get("HealthCheckId"):
                named_by_convention = entry.health_check == entry.default_health_check()
                claims.setdefault(rr["HealthCheckId"], []).append(
                    (entry.health_check, entry.policy, entry.region, named_by_convention))
        referenced = {str(rr["HealthCheckId"]) for rr, _, _ in rows if rr.get("HealthCheckId")}
        checks = self._read_healthchecks(all_checks, claims, referenced)
        with self._hc_lock:
            hc_names = dict(self._hc_names)
        with self._registry_lock:
            shards = dict(self._shards or {})
        records = []
        for rr, fqdn, entry in rows:
            spec = self._spec_of(rr, self.zone_name, fqdn, hc_names, self.zone_id)
            owner = ""
            if entry is not None:
                spec["policy"], spec["region"] = entry.policy, entry.region
                owner = registry.lineage_of(shards.get(self._our_shard(fqdn, rr["Type"]), {}))
            records.append(Resource(RECORD, record_name(spec), spec, self.name, managed=entry is not None,
                                    owner=owner))
        # a health check belongs to the state that owns the record sets using it (checks carry no lineage)
        users = {str(r.spec["health_check"]): r.owner for r in records if r.owner and r.spec.get("health_check")}
        checks = [replace(c, owner=users[c.name]) if c.managed and c.name in users else c for c in checks]
        return (checks if HEALTHCHECK in types else []) + (records if RECORD in types else [])

    def _iter_record_sets(self) -> Iterator[dict[str, Any]]:
        """Every record set once, even where a backend repeats a page boundary (moto does)."""
        seen: set[tuple[str, str, str]] = set()
        for rr in self._paginate("list_resource_record_sets", "ResourceRecordSets", HostedZoneId=self.zone_id,
                                 PaginationConfig={"PageSize": self.page_size}):
            key = (rr["Name"], rr["Type"], rr.get("SetIdentifier", ""))
            if key in seen:
                continue
            seen.add(key)
            yield rr

    def _scan_zone(self) -> list[tuple[dict[str, Any], str, registry.Entry | None]]:
        """(record set, fqdn, registry entry or None if not ours) for every record set but registries."""
        zone = self.zone_name
        shards: dict[str, dict[str, str]] = {}  # every owner's shards, by record name
        shard_rrsets: dict[str, dict[str, Any]] = {}
        plain: list[tuple[dict[str, Any], str]] = []
        for rr in self._iter_record_sets():
            fqdn = absolute(_unescape(rr["Name"]))
            if registry.is_registry_name(fqdn, zone):
                if rr["Type"] == "TXT" and "SetIdentifier" not in rr:
                    shards[fqdn.lower()] = registry.parse_values(v["Value"] for v in rr.get("ResourceRecords", []))
                    shard_rrsets[fqdn.lower()] = {k: rr[k] for k in ("Name", "Type", "TTL", "ResourceRecords")
                                                  if k in rr}
                continue
            plain.append((rr, fqdn))
        rows: list[tuple[dict[str, Any], str, registry.Entry | None]] = []
        present: set[str] = set()
        as_read: dict[str, dict[str, Any]] = {}
        for rr, fqdn in plain:
            key = registry.key_of(fqdn, rr["Type"], rr.get("SetIdentifier"))
            present.add(key)
            as_read[key] = rr
            raw = shards.get(self._our_shard(fqdn, rr["Type"]), {}).get(key)
            entry = None if raw is None else registry.Entry.decode(raw, bool(rr.get("HealthCheckId")))
            rows.append((rr, fqdn, entry))
        claimed: dict[str, set[str]] = {}
        for shard, content in shards.items():
            for key in content:
                claimed.setdefault(key, set()).add(shard)
        with self._registry_lock:
            self._shards, self._shard_rrsets, self._present = shards, shard_rrsets, present
            self._as_read = as_read
            self._claimed = claimed
        return rows

    @cached_property
    def _registry_suffix(self) -> str:
        """``.<owner>._svctl.<zone>`` in lower case: every shard of our registry ends with it."""
        return registry.suffix(self.owner, self.zone_name).lower()

    def _our_shard(self, fqdn: str, rtype: str) -> str:
        """Record name (lower case) of our registry shard for a name and type."""
        return f"{registry.shard_of(fqdn, rtype)}{self._registry_suffix}"

    def _is_ours(self, shard: str) -> bool:
        return shard.endswith(self._registry_suffix)

    def _read_healthchecks(self, checks: Sequence[Mapping[str, Any]],
                           claims: Mapping[str, list[tuple[str, str | None, str | None, bool]]],
                           referenced: Collection[str] = ()) -> list[Resource]:
        """Health checks; ours carry our caller-reference prefix, named by the records that use them.

        Ownership is scoped to this owner AND this hosted zone (the prefix holds both), so another
        inventory on another zone never reads our checks as its own. A check with the older,
        owner-only prefix is ours only while one of our record sets in this zone uses it.

        A check of ours that no owned record names unambiguously (just created, or orphaned) is
        named by its tags; one without tags (a crash between create and tag, or a create whose
        response was lost) is read as ``route53:<id>``, managed, so the next apply deletes it. Of
        several of ours with one name, the one record sets use is kept; the others read as
        ``route53:<id>`` (duplicates are orphans too).
        """
        prefix, legacy = self._caller_prefix(), self._legacy_caller_prefix()
        ours = set()
        for hc in checks:
            ref = str(hc.get("CallerReference", ""))
            if ref.startswith(prefix) or (ref.startswith(legacy) and not ref.startswith(legacy + "z")
                                          and hc["Id"] in claims):
                ours.add(hc["Id"])
        named: dict[str, tuple[str, str, str]] = {}  # id -> (name, policy, region)
        lookup: list[str] = []
        for hc_id in sorted(ours):
            found = claims.get(hc_id, [])
            names = {c[0] for c in found}
            meta = {(c[1] or "", c[2] or "") for c in found if c[3]}
            if len(names) == 1 and len(meta) == 1:
                named[hc_id] = (names.pop(), *meta.pop())
            else:
                lookup.append(hc_id)
        groups = [lookup[i:i + 10] for i in range(0, len(lookup), 10)]

        def fetch(ids: list[str]) -> list[dict[str, Any]]:
            resp = self._call("list_tags_for_resources", ResourceType="healthcheck", ResourceIds=ids)
            return list(resp.get("ResourceTagSets", []))

        if groups:
            with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
                for sets in pool.map(fetch, groups):
                    for ts in sets:
                        t = {x["Key"]: x.get("Value", "") for x in ts.get("Tags", [])}
                        if (t.get(TAG_OWNER) == self.owner and t.get(TAG_NAME)
                                and t.get(TAG_ZONE, self.zone_id) == self.zone_id):
                            named[ts["ResourceId"]] = (t[TAG_NAME], t.get(TAG_POLICY, ""), t.get(TAG_REGION, ""))
        by_name: dict[str, list[str]] = {}
        for hc_id, (name, _, _) in named.items():
            by_name.setdefault(name, []).append(hc_id)
        for same in by_name.values():
            if len(same) > 1:  # keep the one in use (else the first), the rest are orphans
                keep = sorted(same, key=lambda i: (i not in referenced, i))[0]
                for hc_id in same:
                    if hc_id != keep:
                        del named[hc_id]
        out: list[Resource] = []
        ids: dict[str, str] = {}
        for hc in checks:
            name, policy, region = named.get(hc["Id"], (f"route53:{hc['Id']}", "", ""))
            cfg = hc.get("HealthCheckConfig", {})
            ptype = str(cfg.get("Type", ""))
            protocol = {"HTTP_STR_MATCH": "HTTP", "HTTPS_STR_MATCH": "HTTPS"}.get(ptype, ptype)
            spec = healthcheck_spec(
                protocol,
                str(cfg.get("IPAddress") or cfg.get("FullyQualifiedDomainName") or ""),
                int(cfg.get("Port") or (443 if protocol == "HTTPS" else 80)),
                cfg.get("ResourcePath"),
                int(cfg.get("RequestInterval", 30)),
                int(cfg.get("FailureThreshold", 3)),
                policy,
                region,
            )
            if hc["Id"] in ours:
                ids[name] = hc["Id"]
            out.append(Resource(HEALTHCHECK, name, spec, self.name, managed=hc["Id"] in ours))
        with self._hc_lock:
            self._hc_ids = ids
            self._hc_names = {v: k for k, v in ids.items()}
        return out

    def _caller_prefix(self) -> str:
        """Caller references of our health checks: ``svctl-<owner hash>-z<zone id hash>-`` (immutable,
        listed for free): ownership is per owner and hosted zone, not account-wide."""
        zone = hashlib.sha256(self.zone_id.encode()).hexdigest()[:8]
        return f"{self._legacy_caller_prefix()}z{zone}-"

    def _legacy_caller_prefix(self) -> str:
        """The owner-only prefix of checks created before ownership was scoped to the zone."""
        return f"{CALLER_PREFIX}{hashlib.sha256(self.owner.encode()).hexdigest()[:8]}-"

    def _hc_id(self, name: str | None) -> str | None:
        if not name:
            return None
        if name.startswith("route53:"):
            return name.split(":", 1)[1]
        with self._hc_lock:
            known = self._hc_ids
        if known is None or name not in known:
            self._read([HEALTHCHECK])
            with self._hc_lock:
                known = self._hc_ids or {}
        if name not in known:
            raise PermanentError(f"{self._where()}: health check '{name}' (owner {self.owner}) not found; "
                                 "apply dns.healthcheck resources first")
        return known[name]

    @staticmethod
    def _spec_of(rr: Mapping[str, Any], zone: str, fqdn: str, hc_names: Mapping[str, str],
                 own_zone_id: str = "") -> dict[str, Any]:
        if "AliasTarget" in rr:
            at = rr["AliasTarget"]
            target_zone = str(at["HostedZoneId"]).split("/")[-1]
            if own_zone_id and target_zone == own_zone_id.split("/")[-1]:
                target_zone = ALIAS_SELF  # a target in this zone, as a DnsRecord ALIAS says it
            value = f"alias:{target_zone}:{absolute(_unescape(at['DNSName']))}"
            values = [value + (":evaluate" if at.get("EvaluateTargetHealth") else "")]
            ttl = 0
        else:
            values = [canonical_or_raw(rr["Type"], v["Value"]) for v in rr.get("ResourceRecords", [])]
            ttl = int(rr.get("TTL", 0))
        routing, geo = "simple", None
        if "Weight" in rr:
            routing = "weighted"
        elif "Region" in rr:
            routing = "latency"
        elif "GeoLocation" in rr:
            routing = "geo"
            loc = rr["GeoLocation"]
            if loc.get("CountryCode") == "*":
                geo = {"default": True}
            elif "ContinentCode" in loc:
                geo = {"continent": loc["ContinentCode"]}
            else:
                geo = {"country": loc.get("CountryCode", "")}
                if loc.get("SubdivisionCode"):
                    geo["subdivision"] = loc["SubdivisionCode"]
        elif "Failover" in rr:
            routing = "failover"
        hc_id = rr.get("HealthCheckId")
        return record_spec(
            zone, fqdn, rr["Type"], ttl, values, routing=routing, set_id=rr.get("SetIdentifier"),
            weight=rr.get("Weight"), latency_region=rr.get("Region"), geo=geo, failover=rr.get("Failover"),
            health_check=(hc_names.get(hc_id, f"route53:{hc_id}") if hc_id else None),
        )

    # ----- apply ------------------------------------------------------------------------------------
    def apply(self, changes: Sequence[Change], *, started: BatchListener | None = None,
              finished: BatchListener | None = None) -> None:
        super().apply(changes, started=started, finished=finished)
        if any(c.type == RECORD for c in changes):
            self._tidy_registry()

    def _tidy_registry(self) -> None:
        """Drop our entries for record sets that no longer exist (deleted behind our back).

        Left alone, such an entry would make a record set someone later creates under that name
        look like ours. Runs after an apply that changed records, so a no-change run writes nothing.
        """
        with self._registry_lock:
            stale = sorted(shard for shard, content in (self._shards or {}).items()
                           if self._is_ours(shard) and any(k not in self._present for k in registry.entries(content)))
        if not stale:
            return
        with self._shards_locked(stale):
            with self._registry_lock:
                edits = {shard: ({k: v for k, v in (self._shards or {})[shard].items()
                                  if k in self._present or k == registry.LINEAGE_KEY},
                                 self._shard_rrsets.get(shard)) for shard in stale}
            changes = [ch for shard, (content, old) in edits.items() for ch in self._shard_changes(shard, content, old)]
            for batch in _pack(changes):
                self._retrying(partial(self._submit, batch, "tidy the ownership registry"), "registry tidy")
            self._remember_shards({shard: content for shard, (content, _) in edits.items()})

    # ----- apply: batching --------------------------------------------------------------------------
    def _batches(self, changes: Sequence[Change]) -> Sequence[Sequence[Change]]:
        """Health checks one by one; records packed to Route 53's limits, registry rewrites included.

        All record sets of one name and type stay in one batch; names are taken shard by shard so
        a batch rewrites as few registry shards as possible.
        """
        batches: list[list[Change]] = [[c] for c in changes if c.type == HEALTHCHECK]
        groups: dict[tuple[str, str], list[Change]] = {}
        for c in changes:
            if c.type == RECORD:
                spec = c.after if c.after is not None else c.before
                assert spec is not None
                groups.setdefault((absolute(spec["fqdn"]), str(spec["rtype"]).upper()), []).append(c)
        if not groups:
            return batches
        self._ensure_registry()
        with self._registry_lock:
            contents: dict[str, Mapping[str, str]] = dict(self._shards or {})  # apply_ops copies what it edits
        current: list[Change] = []
        rec = chars = 0
        touched: dict[str, tuple[int, int]] = {}  # shard -> cost of its rewrite in the current batch
        for _, group in sorted(groups.items(), key=lambda kv: self._our_shard(*kv[0])):
            g_rec = g_chars = 0
            for c in group:
                r, ch = self._cost(c)
                g_rec, g_chars = g_rec + r, g_chars + ch
            edited = registry.apply_ops(contents, (op for c in group for op in self._registry_ops(c)))
            costs = {shard: self._shard_cost(shard, content) for shard, content in edited.items()}
            d_rec, d_chars = _batch_delta((g_rec, g_chars), costs, touched)
            if current and (rec + d_rec > MAX_RECORDS_PER_BATCH or chars + d_chars > MAX_CHARS_PER_BATCH):
                batches.append(current)
                current, rec, chars, touched = [], 0, 0, {}
                d_rec, d_chars = _batch_delta((g_rec, g_chars), costs, touched)
            current.extend(group)
            rec, chars = rec + d_rec, chars + d_chars
            touched.update(costs)
            contents.update(edited)
        if current:
            batches.append(current)
        return batches

    def _cost(self, change: Change) -> tuple[int, int]:
        """ResourceRecord elements and value characters this change's record sets put into a batch."""
        return _batch_cost(self._route53_changes(change, resolve=False))

    def _shard_cost(self, shard: str, content: Mapping[str, str]) -> tuple[int, int]:
        with self._registry_lock:
            old = self._shard_rrsets.get(shard)
        return _batch_cost((c["Action"], c["ResourceRecordSet"]) for c in self._shard_changes(shard, content, old))

    # ----- apply: the ownership registry ------------------------------------------------------------
    def _ensure_registry(self) -> None:
        with self._registry_lock:
            known = self._shards is not None
        if not known:
            self._retrying(self._scan_zone, "read of the ownership registry")

    def _registry_ops(self, change: Change) -> list[registry.Op]:
        """(shard, key, encoded entry or None to remove) for one record change.

        Taking over a record set another owner's registry lists removes it from theirs (in the
        same atomic batch), so exactly one owner manages a record set.
        """
        before = normalize_record(change.before) if change.before is not None else None
        after = normalize_record(change.after) if change.after is not None else None

        def ident(spec: Mapping[str, Any]) -> tuple[str, str]:
            return (self._our_shard(spec["fqdn"], spec["rtype"]),
                    registry.key_of(spec["fqdn"], spec["rtype"], spec.get("set_id")))

        def entry(spec: Mapping[str, Any]) -> str:
            return registry.Entry(spec.get("policy"), spec.get("region"), spec.get("health_check")).encode()

        if after is None:
            assert before is not None
            return [(*ident(before), None), *self._lineage_ops(ident(before)[0])]
        ops: list[registry.Op] = []
        if before is not None and ident(before) != ident(after):
            ops.append((*ident(before), None))
        shard, key = ident(after)
        with self._registry_lock:
            others = sorted(self._claimed.get(key, set()) - {shard})
        ops += [(other, key, None) for other in others]
        ops.append((shard, key, entry(after)))  # an unchanged entry costs nothing: no rewrite
        ops += self._lineage_ops(*{op[0] for op in ops if self._is_ours(op[0])})
        return ops

    def _lineage_ops(self, *shards: str) -> list[registry.Op]:
        """Our shards a write touches name this state's lineage (their record sets are ours now)."""
        return [(shard, registry.LINEAGE_KEY, self.lineage) for shard in sorted(shards)] if self.lineage else []

    def _shard_rrset(self, shard: str, content: Mapping[str, str]) -> dict[str, Any]:
        return {"Name": shard, "Type": "TXT",
                "TTL": REGISTRY_TTL, "ResourceRecords": [{"Value": v} for v in registry.pack_values(content)]}

    def _shard_changes(self, shard: str, content: Mapping[str, str],
                       old: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """The change (none, UPSERT or DELETE) that takes a registry shard from ``old`` to ``content``."""
        if not registry.entries(content):  # a lineage item alone lists nothing
            return [{"Action": "DELETE", "ResourceRecordSet": dict(old)}] if old else []
        new = self._shard_rrset(shard, content)
        if old is not None and old.get("TTL") == REGISTRY_TTL and old.get("ResourceRecords") == new["ResourceRecords"]:
            return []
        return [{"Action": "UPSERT", "ResourceRecordSet": new}]

    def _remember_shards(self, contents: Mapping[str, Mapping[str, str]]) -> None:
        """Record what registry shards hold after a successful write."""
        with self._registry_lock:
            assert self._shards is not None
            for shard, content in contents.items():
                if registry.entries(content):
                    self._shards[shard] = dict(content)
                    self._shard_rrsets[shard] = self._shard_rrset(shard, content)
                else:
                    self._shards.pop(shard, None)
                    self._shard_rrsets.pop(shard, None)

    @contextmanager
    def _shards_locked(self, shards: Sequence[str]) -> Iterator[None]:
        """Batches in flight at once never rewrite the same shard concurrently (sorted: no deadlock)."""
        with self._registry_lock:
            locks = [self._shard_locks.setdefault(s, threading.Lock()) for s in sorted(shards)]
        for lock in locks:
            lock.acquire()
        try:
            yield
        finally:
            for lock in reversed(locks):
                lock.release()

    # ----- apply: record sets -----------------------------------------------------------------------
    def _rrset(self, spec: Mapping[str, Any], resolve: bool = True) -> dict[str, Any]:
        rr: dict[str, Any] = {"Name": spec["fqdn"], "Type": spec["rtype"]}
        values = list(spec.get("values") or [])
        if len(values) == 1 and values[0].startswith("alias:"):
            _, zone_id, rest = values[0].split(":", 2)
            zone_id = self.zone_id if zone_id == ALIAS_SELF else zone_id
            dns_name, _, flag = rest.partition(":")
            rr["AliasTarget"] = {"HostedZoneId": zone_id, "DNSName": dns_name,
                                 "EvaluateTargetHealth": flag == "evaluate"}
        else:
            rr["TTL"] = int(spec["ttl"])
            rr["ResourceRecords"] = [{"Value": v} for v in values]
        routing = spec.get("routing") or "simple"
        if routing != "simple" or spec.get("set_id"):
            rr["SetIdentifier"] = spec["set_id"]
        if routing == "weighted":
            rr["Weight"] = int(spec["weight"] or 0)
        elif routing == "latency":
            rr["Region"] = spec["latency_region"]
        elif routing == "failover":
            rr["Failover"] = spec["failover"]
        elif routing == "geo":
            geo = spec.get("geo") or {}
            if geo.get("default"):
                rr["GeoLocation"] = {"CountryCode": "*"}
            elif geo.get("continent"):
                rr["GeoLocation"] = {"ContinentCode": geo["continent"]}
            else:
                loc = {"CountryCode": geo.get("country", "")}
                if geo.get("subdivision"):
                    loc["SubdivisionCode"] = geo["subdivision"]
                rr["GeoLocation"] = loc
        hc = spec.get("health_check")
        if hc:
            if str(hc).startswith("route53:"):
                rr["HealthCheckId"] = str(hc).split(":", 1)[1]
            else:
                rr["HealthCheckId"] = self._hc_id(hc) if resolve else "0" * 36
        return rr

    def _route53_changes(self, change: Change, resolve: bool = True) -> list[tuple[str, dict[str, Any]]]:
        before = normalize_record(change.before) if change.before is not None else None
        after = normalize_record(change.after) if change.after is not None else None
        if change.action == "create":
            assert after is not None
            return [("CREATE", self._rrset(after, resolve))]
        if change.action == "delete":
            assert before is not None
            return [("DELETE", self._planned(before, resolve))]
        assert before is not None and after is not None
        if before["routing"] != after["routing"] or bool(before["set_id"]) != bool(after["set_id"]):
            return [("DELETE", self._planned(before, resolve)), ("CREATE", self._rrset(after, resolve))]
        return [("UPSERT", self._rrset(after, resolve))]

    def preconditions_checked(self, changes: Sequence[Change]) -> bool:
        """A batch of record creates (CREATE fails on an existing record set) and deletes (a DELETE
        must match the record set as the plan read it) is its own re-check; an update goes out as an
        UPSERT, which checks nothing, and so do health check calls: then the re-check reads again.

        Updates stay UPSERTs because the one Route 53 server that runs here, moto, cannot take a
        DELETE + CREATE pair: it deletes every record set of the zone that shares the SetIdentifier
        and refuses a CREATE whose identical twin it journaled before, whatever the batch deleted."""
        return all(c.type == RECORD and c.action in ("create", "delete") for c in changes)

    def _planned(self, before: Mapping[str, Any], resolve: bool = True) -> dict[str, Any]:
        """The record set as the read the plan was made from listed it (exactly: a DELETE must match
        it to the byte), else as ``before`` describes it."""
        key = registry.key_of(before["fqdn"], before["rtype"], before.get("set_id"))
        with self._registry_lock:
            listed = self._as_read.get(key)
        return dict(listed) if listed is not None else self._rrset(before, resolve)

    def _apply(self, batch: Sequence[Change]) -> None:
        if batch and batch[0].type == HEALTHCHECK:
            for c in batch:
                self._apply_healthcheck(c)
            return
        self._ensure_registry()
        deletes = [c for c in batch if c.action == "delete"]
        others = [c for c in batch if c.action != "delete"]
        changes = [{"Action": a, "ResourceRecordSet": rr} for c in deletes + others
                   for a, rr in self._route53_changes(c)]
        ops = [op for c in batch for op in self._registry_ops(c)]
        added = {key for _, key, fields in ops if fields is not None and key != registry.LINEAGE_KEY}
        removed = {key for _, key, fields in ops if fields is None} - added
        shards = sorted({shard for shard, _, _ in ops})
        with self._shards_locked(shards):
            with self._registry_lock:
                present = set(self._present)
                olds = {shard: self._shard_rrsets.get(shard) for shard in shards}
                rewrites = registry.apply_ops(self._shards or {}, ops)
            for shard, content in rewrites.items():  # forget record sets deleted behind our back
                if self._is_ours(shard):
                    rewrites[shard] = {k: v for k, v in content.items()
                                       if k in present or k in added or k == registry.LINEAGE_KEY}
            changes += [ch for shard, content in rewrites.items()
                        for ch in self._shard_changes(shard, content, olds[shard])]
            try:
                self._submit(changes, f"{len(batch)} record change(s)")
            except PermanentError as exc:
                # A timed-out attempt may have landed before botocore retried it: batches are atomic,
                # so if every change's effect is there, it did. Else a precondition failed: the zone
                # changed since it was planned (or the request is wrong: then the error stands).
                if not _refused_batch(exc):
                    raise
                landed, stale = self._after_refusal(changes)
                if not landed:
                    if stale:
                        raise StalePlan(
                            f"{self._where()}: the zone changed since it was planned, so this change batch "
                            f"wrote nothing ({len(batch)} change(s)):\n" + "\n".join(f"  {p}" for p in stale[:20])
                            + ("\n  …" if len(stale) > 20 else "") + f"\n({exc})\nrun plan again") from exc
                    raise
                log.info("%s: batch had already been applied by an earlier attempt", self._where())
            self._remember_shards(rewrites)
            with self._registry_lock:
                self._present = (self._present | added) - removed
                for sent in changes:  # what the zone holds now, for a later DELETE in this run
                    written: Any = sent["ResourceRecordSet"]
                    rkey = registry.key_of(absolute(written["Name"]), written["Type"], written.get("SetIdentifier"))
                    if sent["Action"] == "DELETE":
                        self._as_read.pop(rkey, None)
                    else:
                        self._as_read[rkey] = dict(written)
                for shard, key, _ in ops:
                    holders = self._claimed.setdefault(key, set())
                    if key in rewrites[shard]:
                        holders.add(shard)
                    else:
                        holders.discard(shard)

    def _read_names(self, names: Sequence[tuple[str, str]]) -> list[Resource]:
        """The record sets of these (fqdn, type) pairs, one ListResourceRecordSets call each (the
        ownership registry as this run last read or wrote it says which are ours)."""
        def lookup(name: tuple[str, str]) -> list[dict[str, Any]]:
            resp = self._call("list_resource_record_sets", HostedZoneId=self.zone_id, StartRecordName=name[0],
                              StartRecordType=name[1], MaxItems="300")
            return [rr for rr in resp.get("ResourceRecordSets", [])
                    if absolute(_unescape(rr["Name"])).lower() == name[0].lower() and rr["Type"] == name[1]]

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            found = [rr for rrs in pool.map(lambda n: self._retrying(partial(lookup, n), "verify lookup"), names)
                     for rr in rrs]
        with self._hc_lock:
            hc_names = dict(self._hc_names)
        with self._registry_lock:
            shards = dict(self._shards or {})
        out = []
        for rr in found:
            fqdn = absolute(_unescape(rr["Name"]))
            shard = shards.get(self._our_shard(fqdn, rr["Type"]), {})
            raw = shard.get(registry.key_of(fqdn, rr["Type"], rr.get("SetIdentifier")))
            entry = None if raw is None else registry.Entry.decode(raw, bool(rr.get("HealthCheckId")))
            spec = self._spec_of(rr, self.zone_name, fqdn, hc_names, self.zone_id)
            if entry is not None:
                spec["policy"], spec["region"] = entry.policy, entry.region
            out.append(Resource(RECORD, record_name(spec), spec, self.name, managed=entry is not None,
                                owner=registry.lineage_of(shard) if entry is not None else ""))
        return out

    def _after_refusal(self, changes: Sequence[Mapping[str, Any]]) -> tuple[bool, list[str]]:
        """After a refused batch, from one listing of the zone: whether every change's effect is
        already there (an earlier attempt landed), and each precondition the zone breaks (a DELETE
        of a record set that is gone or differs, a CREATE of one that exists)."""
        now = {(absolute(_unescape(rr["Name"])).lower(), rr["Type"], rr.get("SetIdentifier")): rr
               for rr in self._iter_record_sets()}

        def key_of(rr: Mapping[str, Any]) -> tuple[str, str, Any]:
            return (absolute(rr["Name"]).lower(), rr["Type"], rr.get("SetIdentifier"))

        written = {key_of(ch["ResourceRecordSet"]) for ch in changes if ch["Action"] != "DELETE"}
        landed = all(
            (key_of(rr) in written or key_of(rr) not in now) if ch["Action"] == "DELETE"
            else (key_of(rr) in now and _same_rrset(now[key_of(rr)], rr))
            for ch in changes for rr in (ch["ResourceRecordSet"],))
        if landed:
            return True, []
        deleted: set[tuple[str, str, Any]] = set()
        out = []
        for ch in changes:
            rr = ch["ResourceRecordSet"]
            key = (absolute(rr["Name"]).lower(), rr["Type"], rr.get("SetIdentifier"))
            where = f"{rr['Name']} {rr['Type']}" + (f" ({rr['SetIdentifier']})" if rr.get("SetIdentifier") else "")
            if ch["Action"] == "DELETE":
                got = now.get(key)
                if got is None:
                    out.append(f"{where}: deleted since the plan read it")
                elif not _same_rrset(got, rr):
                    out.append(f"{where}: changed since the plan read it")
                deleted.add(key)
            elif ch["Action"] == "CREATE" and key in now and key not in deleted:
                out.append(f"{where}: created by someone else since the plan read the zone")
        return False, out

    def _submit(self, changes: list[dict[str, Any]], what: str) -> None:
        if not changes:
            return
        batch = {"Comment": f"streamverse-ctl {self.owner}: {what}"[:256], "Changes": changes}
        resp = self._call("change_resource_record_sets", HostedZoneId=self.zone_id, ChangeBatch=batch)
        change_id = resp["ChangeInfo"]["Id"].split("/")[-1]
        with self._calls_lock:
            self._change_ids.append(change_id)
        if self.wait_insync:
            self._wait_insync(change_id)

    def _wait_insync(self, change_id: str) -> float:
        start = time.monotonic()
        delay = 0.5
        while True:
            status = self._call("get_change", Id=change_id)["ChangeInfo"]["Status"]
            if status == "INSYNC":
                return time.monotonic() - start
            if time.monotonic() - start > self.insync_timeout:
                raise ProviderError(f"{self._where()}: change {change_id} not INSYNC after "
                                    f"{self.insync_timeout:.0f} s (status {status})")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    # ----- apply: health checks ---------------------------------------------------------------------
    @staticmethod
    def _hc_config(spec: Mapping[str, Any]) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "Type": spec["protocol"],
            "Port": int(spec["port"]),
            "RequestInterval": int(spec["interval"]),
            "FailureThreshold": int(spec["failure_threshold"]),
        }
        target = str(spec["target"])
        cfg["IPAddress" if is_ip(target) else "FullyQualifiedDomainName"] = target
        if spec["protocol"] in ("HTTP", "HTTPS") and spec.get("path"):
            cfg["ResourcePath"] = spec["path"]
        return cfg

    def _tags(self, name: str, spec: Mapping[str, Any]) -> list[dict[str, str]]:
        return [{"Key": TAG_OWNER, "Value": self.owner}, {"Key": TAG_NAME, "Value": name},
                {"Key": TAG_POLICY, "Value": str(spec.get("policy") or "")},
                {"Key": TAG_REGION, "Value": str(spec.get("region") or "")},
                {"Key": TAG_ZONE, "Value": self.zone_id},
                {"Key": "Name", "Value": name[:255]}]

    def _create_hc(self, name: str, spec: Mapping[str, Any]) -> str:
        """Create (idempotently) and tag a health check.

        One caller reference per name and spec for this provider's run, reused by every retry. A
        create whose answer was lost may have landed: Route 53 itself returns the existing check
        for a repeated caller reference, but not every backend does (moto creates another), so the
        create call is never retried blindly: after a failure, or when this reference was tried
        before, the checks are listed and one already carrying the reference is used.
        """
        ref = self._caller_prefix() + hashlib.sha256(
            f"{self.owner}|{name}|{canonical_json(dict(spec))}|{self._nonce}".encode()).hexdigest()[:32]
        hc_id = self._find_hc_by_ref(ref) if ref in self._tried_refs else None
        delay = 0.5
        attempt = 0
        while hc_id is None:
            attempt += 1
            self._tried_refs.add(ref)
            try:
                with self._errors("create_health_check"):
                    resp = self._create_client.create_health_check(
                        CallerReference=ref, HealthCheckConfig=self._hc_config(spec))
                hc_id = str(resp["HealthCheck"]["Id"])
            except (TemporaryError, PermanentError) as exc:
                if isinstance(exc, PermanentError) and "HealthCheckAlreadyExists" not in str(exc):
                    raise
                cause = exc.__cause__
                refused = (isinstance(cause, botocore.exceptions.ClientError) and
                           str(cause.response.get("Error", {}).get("Code", "")) in THROTTLE_CODES)
                hc_id = None if refused else self._find_hc_by_ref(ref)  # throttled: it did not land
                if hc_id is None:
                    if attempt >= max(1, self.attempts) or isinstance(exc, PermanentError):
                        raise
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
        self._call("change_tags_for_resource", ResourceType="healthcheck", ResourceId=hc_id,
                   AddTags=self._tags(name, spec))
        with self._hc_lock:
            if self._hc_ids is not None:
                self._hc_ids[name] = hc_id
                self._hc_names[hc_id] = name
        return hc_id

    def _find_hc_by_ref(self, ref: str) -> str | None:
        for hc in self._paginate("list_health_checks", "HealthChecks"):
            if hc.get("CallerReference") == ref:
                return str(hc["Id"])
        return None

    @cached_property
    def _create_client(self) -> Any:
        """A client that never retries on its own (see :meth:`_create_hc`)."""
        session = boto3.session.Session(profile_name=self.settings.get("profile"))
        client = session.client(
            "route53", region_name=self.settings.get("region", "us-east-1"), endpoint_url=self.endpoint,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1},
                          connect_timeout=float(self.settings.get("connectTimeout", 5)),
                          read_timeout=float(self.settings.get("readTimeout", 60))))
        client.meta.events.register("before-call.route53", self._count_call)
        return client

    def _apply_healthcheck(self, change: Change) -> None:
        if change.action == "create":
            assert change.after is not None
            self._create_hc(change.name, change.after)
            return
        hc_id = self._hc_id(change.name)
        assert hc_id is not None
        if change.action == "delete":
            try:
                self._call("delete_health_check", HealthCheckId=hc_id)
            except PermanentError as exc:
                if "NoSuchHealthCheck" not in str(exc):
                    raise
            with self._hc_lock:
                if self._hc_ids is not None:
                    self._hc_ids.pop(change.name, None)
            return
        assert change.before is not None and change.after is not None
        before, after = change.before, change.after
        if before["protocol"] != after["protocol"] or int(before["interval"]) != int(after["interval"]):
            self._replace_hc(change.name, hc_id, after)
            return
        cfg = self._hc_config(after)
        upd: dict[str, Any] = {"HealthCheckId": hc_id, "Port": cfg["Port"],
                               "FailureThreshold": cfg["FailureThreshold"]}
        for key in ("IPAddress", "FullyQualifiedDomainName", "ResourcePath"):
            if key in cfg:
                upd[key] = cfg[key]
        resets = [k for k in ("ResourcePath", "FullyQualifiedDomainName") if k not in cfg and
                  (k != "ResourcePath" or after["protocol"] != "TCP")]
        if resets:
            upd["ResetElements"] = resets
        self._call("update_health_check", **upd)
        if (before.get("policy"), before.get("region")) != (after.get("policy"), after.get("region")):
            self._call("change_tags_for_resource", ResourceType="healthcheck", ResourceId=hc_id,
                       AddTags=self._tags(change.name, after))

    def _replace_hc(self, name: str, old_id: str, spec: Mapping[str, Any]) -> None:
        """Protocol and interval are immutable: create a new check, move records to it, delete the old."""
        new_id = self._create_hc(name, spec)
        moves = []
        for rr in self._iter_record_sets():
            if rr.get("HealthCheckId") == old_id:
                moved = dict(rr)
                moved["HealthCheckId"] = new_id
                moves.append({"Action": "UPSERT", "ResourceRecordSet": moved})
        for i in range(0, len(moves), 400):
            self._submit(moves[i:i + 400], f"move records to replaced health check {name}")
        self._call("delete_health_check", HealthCheckId=old_id)

    # ----- verify -----------------------------------------------------------------------------------
    def verify(self, desired: Sequence[Resource], timeout: float = 30.0) -> list[VerifyResult]:
        """Route 53 has no DNS server to ask here (moto has none): wait for INSYNC, then read back."""
        start = time.monotonic()
        with self._calls_lock:  # each batch is waited for once: an INSYNC change stays INSYNC
            pending, self._change_ids = list(self._change_ids), []
        for cid in pending:
            self._wait_insync(cid)
        deadline = start + timeout
        mine = [r for r in desired if r.type in self.resource_types]
        names = sorted({(absolute(str(r.spec["fqdn"])), str(r.spec["rtype"]).upper())
                        for r in mine if r.type == RECORD})
        with self._registry_lock:
            zone_pages = math.ceil((len(self._present) + len(self._shard_rrsets) + 1) / self.page_size)
            known = self._shards is not None
        # only the changed names, one lookup each, where that is fewer calls than listing the zone
        # (health checks are listed whole: an orphan or duplicate among them is not converged)
        targeted = known and not any(r.type == HEALTHCHECK for r in mine) and len(names) < zone_pages
        while True:
            actual = {r.id: r for r in (self._read_names(names) if targeted else self.read([RECORD, HEALTHCHECK]))}
            results = []
            for r in mine:
                got = actual.get(r.id)
                want = normalize_record(r.spec) if r.type == RECORD else dict(r.spec)
                ok = got is not None and dict(got.spec) == want
                detail = ("INSYNC and read back via the Route 53 API" if ok else
                          f"API read-back differs: {None if got is None else dict(got.spec)}")
                results.append(VerifyResult(r.id, ok, time.monotonic() - start, detail,
                                            server=str(self.endpoint)))
            if all(v.ok for v in results) or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        if any(r.type == HEALTHCHECK for r in mine):  # count them: an orphan or duplicate is not converged
            wanted = {r.id for r in desired if r.type == HEALTHCHECK}
            for got in actual.values():
                if got.type == HEALTHCHECK and got.managed and got.id not in wanted and got.name.startswith("route53:"):
                    results.append(VerifyResult(got.id, False, time.monotonic() - start, ORPHAN_DETAIL,
                                                server=str(self.endpoint)))
        return results
