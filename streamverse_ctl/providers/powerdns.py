"""PowerDNS Authoritative provider (httpx against the HTTP API): RRsets, LUA routing, owned comments.

Settings (``Provider`` document ``spec.settings``)
--------------------------------------------------
``apiUrl``           e.g. ``http://127.0.0.1:8081`` (required)
``apiKey``           API key: a secret reference ``{fromEnv: NAME}`` or ``{fromFile: PATH}`` (required)
``serverId``         default ``localhost``
``zone``             the zone, e.g. ``streamverse.example.`` (required)
``createZone``       create the zone (Native) if it does not exist (default false)
``luaRecords``       the server has ``enable-lua-records``: weighted, failover and health-checked
                     answers become LUA records (default false: only simple records)
``geoipBackend``     the server launches the GeoIP backend: geo routing allowed (default false)
``weightedSelector`` ``pickwrandom`` (default) or ``pickwhashed`` (stable per client subnet)
``nameservers``      DNS servers verify queries, e.g. ``["127.0.0.1:5300"]``
``ownerId``          who owns records in a shared zone (default ``streamverse``)
``timeout``          seconds per API call (default 10)
``batchSize``        RRsets per PATCH (default 500; each PATCH is one transaction)

Routing: the neutral per-``set_id`` records of one name and type are folded into one LUA record
(see :mod:`.powerdnslua`) and unfolded on read from the RRset's comments, so a converged zone
diffs clean; an edit of the LUA code behind the tool's back shows as drift (weights found in the
code are read back, anything else empties the values). Latency routing and TCP health checks are
refused at plan time; geo needs ``geoipBackend: true``.

Ownership
---------
Every owned RRset carries comments with account ``streamverse-ctl`` and a marker content
``sv=1;owner=<ownerId>;...`` (for LUA RRsets one comment per folded set, holding its routing
fields, ttl and values). RRsets without our marker read ``managed=False`` and are never written.
Health checks (``dns.healthcheck``) are markers in the TXT RRset ``_svctl-healthchecks.<zone>``;
LUA records referencing a check are regenerated when it changes. Every marker a write leaves also
holds ``lineage=<state lineage>``, the state whose apply wrote it (read back as ``Resource.owner``
for the ``foreign-state`` guardrail); a rewritten LUA RRset re-marks all of its sets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from ..core.errors import PermanentError, TemporaryError
from ..core.resources import Change, Resource
from ..core.secrets import Secret
from ..core.specs import FEATURE_FAILOVER, FEATURE_GEO, FEATURE_HEALTHCHECK, FEATURE_WEIGHTED
from ..inventory.dnsvalues import canonical_or_raw
from ..inventory.provider_settings import PowerDNSSettings
from .base import LINEAGE_FIELD, Provider, ProviderContext, VerifyResult
from .dnsrecords import (
    DEFAULT_OWNER,
    HEALTHCHECK,
    RECORD,
    absolute,
    decode_marker,
    encode_marker,
    healthcheck_spec,
    healthcheck_url,
    marker_json,
    normalize_record,
    record_name,
    record_spec,
    required_features,
    txt_quote,
    txt_unquote,
)
from .dnsverify import health_lookup, verify_resources
from .healthprobe import probe_many
from .powerdnslua import LuaError, lua_content, set_weights_in

log = logging.getLogger("streamverse.providers.powerdns")

ACCOUNT = "streamverse-ctl"
HC_LABEL = "_svctl-healthchecks"
MARKER_TTL = 300


class PowerDNSProvider(Provider):
    provider_type = "powerdns"
    settings_model: ClassVar[type[Any] | None] = PowerDNSSettings  # spec.settings, checked by validate
    resource_types: ClassVar[frozenset[str]] = frozenset({RECORD, HEALTHCHECK})
    features: ClassVar[frozenset[str]] = frozenset(
        {FEATURE_WEIGHTED, FEATURE_FAILOVER, FEATURE_GEO, FEATURE_HEALTHCHECK})

    def __init__(self, name: str, settings: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(name, settings, context)
        missing = [k for k in ("apiUrl", "apiKey", "zone") if not self.settings.get(k)]
        if missing:
            raise PermanentError(f"powerdns provider '{name}': missing setting(s) {', '.join(missing)}")
        key = self.settings["apiKey"]
        if not isinstance(key, Secret):
            raise PermanentError(f"powerdns provider '{name}': apiKey must be a secret reference "
                                 "({fromEnv: NAME} or {fromFile: PATH}), not plain text")
        self.api_url = str(self.settings["apiUrl"]).rstrip("/")
        self.zone = absolute(str(self.settings["zone"]))
        self.owner = str(self.settings.get("ownerId") or DEFAULT_OWNER)
        self.lua = bool(self.settings.get("luaRecords", False))
        self.geoip = bool(self.settings.get("geoipBackend", False))
        self.selector = str(self.settings.get("weightedSelector", "pickwrandom"))
        if self.selector not in ("pickwrandom", "pickwhashed"):
            raise PermanentError(f"powerdns provider '{name}': weightedSelector must be pickwrandom or "
                                 f"pickwhashed, not {self.selector}")
        self.batch_size = int(self.settings.get("batchSize", 500))
        self.nameservers = [str(s) for s in self.settings.get("nameservers") or []]
        server_id = str(self.settings.get("serverId", "localhost"))
        self._zone_path = f"/api/v1/servers/{server_id}/zones/{quote(self.zone, safe='')}"
        self._zones_path = f"/api/v1/servers/{server_id}/zones"
        self.http = httpx.Client(base_url=self.api_url, timeout=float(self.settings.get("timeout", 10)),
                                 headers={"X-API-Key": key.reveal(), "Accept": "application/json"})
        self._lock = threading.Lock()
        self._rrsets: dict[tuple[str, str], dict[str, Any]] | None = None  # last read: (name, type) -> rrset
        self.api_calls = 0

    @property
    def enabled_features(self) -> frozenset[str]:
        feats = set()
        if self.lua:
            feats |= {FEATURE_WEIGHTED, FEATURE_FAILOVER, FEATURE_HEALTHCHECK}
            if self.geoip:
                feats.add(FEATURE_GEO)
        return frozenset(feats)

    def _where(self) -> str:
        return f"powerdns provider '{self.name}' ({self.api_url}, zone {self.zone})"

    def close(self) -> None:
        self.http.close()

    # ----- capabilities -----------------------------------------------------------------------------
    def check(self, desired: Sequence[Resource]) -> list[str]:
        problems = super().check(desired)
        hint = {FEATURE_GEO: "needs geoipBackend: true and luaRecords: true",
                FEATURE_WEIGHTED: "needs luaRecords: true", FEATURE_FAILOVER: "needs luaRecords: true",
                FEATURE_HEALTHCHECK: "needs luaRecords: true"}
        for r in desired:
            if r.type not in self.resource_types:
                continue
            needed = set(r.requires) | (required_features(r.spec) if r.type == RECORD else set())
            for f in sorted(needed - self.enabled_features):
                if f in self.features:
                    problems.append(f"provider '{self.name}' (powerdns) does not support {f} needed by "
                                    f"{r.origin or r.id}: {hint.get(f, 'not enabled')}")
                elif f not in r.requires:  # base check already reported declared requirements
                    problems.append(f"provider '{self.name}' (powerdns) does not support {f} needed by "
                                    f"{r.origin or r.id}")
            if r.type == HEALTHCHECK and r.spec.get("protocol") == "TCP":
                problems.append(f"provider '{self.name}' (powerdns) cannot run TCP health checks "
                                f"(LUA ifurlextup is HTTP(S) only) needed by {r.origin or r.id}")
            if r.type == RECORD and absolute(str(r.spec.get("zone", ""))) != self.zone:
                problems.append(f"provider '{self.name}' (powerdns) serves zone {self.zone}, not "
                                f"{r.spec.get('zone')} (needed by {r.origin or r.id})")
            if r.type == RECORD and (r.spec.get("routing") or "simple") != "simple" and \
                    needed <= self.enabled_features:  # a refused routing is reported once, above
                try:
                    lua_content(str(r.spec["rtype"]), str(r.spec["routing"]), [normalize_record(r.spec)],
                                self.selector, lambda _n: None)
                except LuaError as exc:
                    problems.append(f"provider '{self.name}' (powerdns): {exc} (needed by {r.origin or r.id})")
        return problems

    # ----- HTTP -------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            resp = self.http.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"{self._where()}: {method} {path}: timed out", 1.0) from exc
        except httpx.TransportError as exc:
            raise TemporaryError(f"{self._where()}: {method} {path}: cannot reach the API "
                                 f"({exc.__class__.__name__})", 1.0) from exc
        self.api_calls += 1
        if resp.status_code in (401, 403):
            raise PermanentError(f"{self._where()}: the API rejected the API key (HTTP {resp.status_code})")
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TemporaryError(f"{self._where()}: {method} {path}: HTTP {resp.status_code}", 1.0)
        if resp.status_code >= 400:
            try:
                err = resp.json().get("error", resp.text)
            except ValueError:
                err = resp.text[:200]
            raise PermanentError(f"{self._where()}: {method} {path}: HTTP {resp.status_code}: {err}")
        return resp.json() if resp.content else None

    # ----- read -------------------------------------------------------------------------------------
    def _fetch(self) -> dict[tuple[str, str], dict[str, Any]]:
        try:
            data = self._request("GET", self._zone_path)
        except PermanentError as exc:
            if "HTTP 404" in str(exc) or "HTTP 422" in str(exc):
                if not self.settings.get("createZone"):
                    raise PermanentError(f"{self._where()}: zone not found on the server "
                                         "(create it, or set createZone: true)") from exc
                self._request("POST", self._zones_path, {"name": self.zone, "kind": "Native",
                                                         "nameservers": []})
                data = self._request("GET", self._zone_path)
            else:
                raise
        return {(absolute(rr["name"]), rr["type"]): rr for rr in data.get("rrsets", [])}

    def _markers(self, rr: Mapping[str, Any]) -> list[dict[str, str]]:
        out = []
        for c in rr.get("comments", []):
            if c.get("account") != ACCOUNT:
                continue
            m = decode_marker(str(c.get("content", "")))
            if m is not None and m.get("owner") == self.owner:
                out.append(m)
        return out

    def _hcs(self, rrsets: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        rr = rrsets.get((f"{HC_LABEL}.{self.zone}", "TXT"))
        out = {}
        for rec in (rr or {}).get("records", []):
            m = decode_marker(txt_unquote(rec["content"]))
            if m is None or m.get("owner") != self.owner or not m.get("name"):
                continue
            out[m["name"]] = healthcheck_spec(m.get("protocol", "HTTP"), m.get("target", ""),
                                              int(m.get("port", 80)), m.get("path"), int(m.get("interval", 30)),
                                              int(m.get("ft", 3)), m.get("policy", ""), m.get("region", ""))
        return out

    def _hc_lineages(self, rrsets: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, str]:
        """Health check name -> the state lineage its marker names ("" if none)."""
        rr = rrsets.get((f"{HC_LABEL}.{self.zone}", "TXT"))
        marks = (decode_marker(txt_unquote(rec["content"])) for rec in (rr or {}).get("records", []))
        return {m["name"]: m.get(LINEAGE_FIELD, "") for m in marks
                if m is not None and m.get("owner") == self.owner and m.get("name")}

    def _hc_url_fn(self, hcs: Mapping[str, Mapping[str, Any]]) -> Any:
        def url(name: str | None) -> str | None:
            if not name or name not in hcs or hcs[name]["protocol"] == "TCP":
                return None
            return healthcheck_url(hcs[name])
        return url

    def _sets_of(self, rr: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """rtype -> neutral routed specs kept in a LUA RRset's comments."""
        out: dict[str, list[dict[str, Any]]] = {}
        fqdn = absolute(rr["name"])
        for m in self._markers(rr):
            if not m.get("set") or not m.get("rtype"):
                continue
            spec = record_spec(self.zone, fqdn, m["rtype"], int(m.get("ttl", rr.get("ttl", 300))),
                               marker_json(m, "values") or [], routing=m.get("routing", "weighted"),
                               set_id=m["set"], weight=int(m["weight"]) if m.get("weight") else None,
                               geo=marker_json(m, "geo"), failover=m.get("failover"), health_check=m.get("hc"),
                               policy=m.get("policy"), region=m.get("region"))
            out.setdefault(m["rtype"], []).append(spec)
        return out

    def _read(self, types: Sequence[str]) -> list[Resource]:
        rrsets = self._fetch()
        with self._lock:
            self._rrsets = rrsets
        hcs = self._hcs(rrsets)
        out: list[Resource] = []
        if HEALTHCHECK in types:
            owners = self._hc_lineages(rrsets)
            out += [Resource(HEALTHCHECK, n, s, self.name, owner=owners.get(n, "")) for n, s in sorted(hcs.items())]
        if RECORD not in types:
            return out
        hc_url = self._hc_url_fn(hcs)
        for (fqdn, rtype), rr in sorted(rrsets.items()):
            if fqdn == f"{HC_LABEL}.{self.zone}":
                continue
            values = [r["content"] for r in rr.get("records", []) if not r.get("disabled")]
            if rtype != "LUA":
                values = [canonical_or_raw(rtype, v) for v in values]
            if rtype == "LUA":
                sets = self._sets_of(rr)
                marks = self._markers(rr)
                contents = {c.split(" ", 1)[0]: c for c in values}
                for inner, specs in sorted(sets.items()):
                    owners = {str(m.get("set")): m.get(LINEAGE_FIELD, "") for m in marks if m.get("rtype") == inner}
                    out += self._unfold(inner, specs, contents.pop(inner, None), int(rr["ttl"]), hc_url, owners)
                for inner, content in sorted(contents.items()):  # LUA records we do not own
                    spec = record_spec(self.zone, fqdn, "LUA", rr["ttl"], [content])
                    spec["set_id"] = inner
                    out.append(Resource(RECORD, f"{fqdn}/LUA/{inner}", spec, self.name, managed=False))
                continue
            spec = record_spec(self.zone, fqdn, rtype, rr["ttl"], values)
            markers = self._markers(rr)
            if markers:
                spec["policy"], spec["region"] = markers[0].get("policy"), markers[0].get("region")
            out.append(Resource(RECORD, record_name(spec), spec, self.name, managed=bool(markers),
                                owner=markers[0].get(LINEAGE_FIELD, "") if markers else ""))
        return out

    def _unfold(self, rtype: str, specs: list[dict[str, Any]], content: str | None, ttl: int,
                hc_url: Any, owners: Mapping[str, str]) -> list[Resource]:
        specs = sorted(specs, key=lambda s: str(s["set_id"]))
        expected = self._content(rtype, specs, hc_url)
        if content != expected:  # changed behind our back: show what we can field by field
            found = set_weights_in(content or "", specs)
            for s in specs:
                if s["routing"] == "weighted" and str(s["set_id"]) in found:
                    s["weight"] = found[str(s["set_id"])]
            if self._content(rtype, specs, hc_url) != content:
                specs[0] = {**specs[0], "values": []}
        out = []
        for s in specs:
            if ttl != s["ttl"]:
                s = {**s, "ttl": ttl}
            out.append(Resource(RECORD, record_name(s), s, self.name, owner=owners.get(str(s["set_id"]), "")))
        return out

    def _content(self, rtype: str, specs: Sequence[Mapping[str, Any]], hc_url: Any) -> str:
        return lua_content(rtype, str(specs[0]["routing"]), specs, self.selector, hc_url)

    # ----- apply ------------------------------------------------------------------------------------
    def _batches(self, changes: Sequence[Change]) -> Sequence[Sequence[Change]]:
        hcs = [c for c in changes if c.type == HEALTHCHECK]
        batches: list[list[Change]] = [hcs] if hcs else []  # one RRset holds them all: one PATCH
        groups: dict[str, list[Change]] = {}
        for c in changes:
            if c.type == RECORD:
                spec = c.after if c.after is not None else c.before
                assert spec is not None
                groups.setdefault(absolute(spec["fqdn"]), []).append(c)
        current: list[Change] = []
        for group in groups.values():
            if current and len(current) + len(group) > self.batch_size:
                batches.append(current)
                current = []
            current.extend(group)
        if current:
            batches.append(current)
        return batches

    def _comment(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {"content": encode_marker({"owner": self.owner, **fields, LINEAGE_FIELD: self.lineage}),
                "account": ACCOUNT}

    def _lua_rrset(self, fqdn: str, old: Mapping[str, Any] | None, sets_by_type: Mapping[str, list[dict[str, Any]]],
                   hc_url: Any) -> dict[str, Any]:
        """REPLACE (or DELETE) of the LUA RRset of ``fqdn`` holding every type's folded sets."""
        records, comments, ttls = [], [], []
        foreign = [r for r in (old or {}).get("records", []) if r["content"].split(" ", 1)[0] not in sets_by_type]
        for rtype, specs in sorted(sets_by_type.items()):
            if not specs:
                continue
            specs = sorted(specs, key=lambda s: str(s["set_id"]))
            records.append({"content": self._content(rtype, specs, hc_url), "disabled": False})
            for s in specs:
                ttls.append(s["ttl"])
                comments.append(self._comment({
                    "rtype": rtype, "set": s["set_id"], "routing": s["routing"], "weight": s["weight"],
                    "geo": s["geo"], "failover": s["failover"], "ttl": s["ttl"], "values": s["values"],
                    "hc": s["health_check"], "policy": s["policy"], "region": s["region"]}))
        records += foreign
        if not records:
            return {"name": fqdn, "type": "LUA", "changetype": "DELETE"}
        ttl = min(ttls) if ttls else int((old or {}).get("ttl", 300))
        return {"name": fqdn, "type": "LUA", "ttl": ttl, "changetype": "REPLACE", "records": records,
                "comments": comments}

    def _apply(self, batch: Sequence[Change]) -> None:
        with self._lock:
            known = self._rrsets
        if known is None:
            self._read([RECORD, HEALTHCHECK])
        with self._lock:
            rrsets = dict(self._rrsets or {})
        hcs = self._hcs(rrsets)
        patch: list[dict[str, Any]] = []
        changed_hcs: set[str] = set()
        hc_changes = [c for c in batch if c.type == HEALTHCHECK]
        if hc_changes:
            for c in hc_changes:
                changed_hcs.add(c.name)
                if c.after is None:
                    hcs.pop(c.name, None)
                else:
                    hcs[c.name] = dict(c.after)
            patch.append(self._hc_rrset(rrsets, hcs))
        hc_url = self._hc_url_fn(hcs)
        by_fqdn: dict[str, list[Change]] = {}
        for c in batch:
            if c.type == RECORD:
                spec = c.after if c.after is not None else c.before
                assert spec is not None
                by_fqdn.setdefault(absolute(spec["fqdn"]), []).append(c)
        if changed_hcs:  # regenerate LUA code that embeds a changed health check's URL
            for (fqdn, rtype), rr in rrsets.items():
                if rtype == "LUA" and fqdn not in by_fqdn and any(
                        s["health_check"] in changed_hcs for specs in self._sets_of(rr).values() for s in specs):
                    patch.append(self._lua_rrset(fqdn, rr, self._sets_of(rr), hc_url))
        for fqdn, changes in by_fqdn.items():
            patch += self._record_rrsets(fqdn, changes, rrsets, hc_url)
        if not patch:
            return
        self._request("PATCH", self._zone_path, {"rrsets": patch})
        with self._lock:  # keep the snapshot current for later batches
            if self._rrsets is not None:
                for rr in patch:
                    key = (absolute(rr["name"]), rr["type"])
                    if rr["changetype"] == "DELETE":
                        self._rrsets.pop(key, None)
                    else:
                        self._rrsets[key] = {k: v for k, v in rr.items() if k != "changetype"}

    def _hc_rrset(self, rrsets: Mapping[tuple[str, str], Mapping[str, Any]],
                  hcs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        name = f"{HC_LABEL}.{self.zone}"
        old = rrsets.get((name, "TXT"), {})
        keep = [r for r in old.get("records", [])
                if (m := decode_marker(txt_unquote(r["content"]))) is None or m.get("owner") != self.owner]
        records = keep + [{"content": txt_quote(encode_marker({
            "owner": self.owner, "name": n, "protocol": s["protocol"], "target": s["target"], "port": s["port"],
            "path": s.get("path"), "interval": s["interval"], "ft": s["failure_threshold"],
            "policy": s.get("policy"), "region": s.get("region"), LINEAGE_FIELD: self.lineage})), "disabled": False}
            for n, s in sorted(hcs.items())]
        if not records:
            return {"name": name, "type": "TXT", "changetype": "DELETE"}
        return {"name": name, "type": "TXT", "ttl": MARKER_TTL, "changetype": "REPLACE", "records": records}

    def _record_rrsets(self, fqdn: str, changes: Sequence[Change],
                       rrsets: Mapping[tuple[str, str], Mapping[str, Any]], hc_url: Any) -> list[dict[str, Any]]:
        out = []
        lua_old = rrsets.get((fqdn, "LUA"))
        sets = self._sets_of(lua_old) if lua_old else {}
        lua_touched = False
        for c in changes:
            spec = normalize_record(c.after if c.after is not None else c.before or {})
            if spec["routing"] == "simple" and not spec["set_id"]:
                if c.after is None:
                    out.append({"name": fqdn, "type": spec["rtype"], "changetype": "DELETE"})
                else:
                    out.append({"name": fqdn, "type": spec["rtype"], "ttl": spec["ttl"], "changetype": "REPLACE",
                                "records": [{"content": v, "disabled": False} for v in spec["values"]],
                                "comments": [self._comment({"policy": spec["policy"], "region": spec["region"]})]})
                continue
            lua_touched = True
            old_set = (c.before or {}).get("set_id")
            specs = [s for s in sets.get(spec["rtype"], []) if s["set_id"] not in (old_set, spec["set_id"])]
            if c.after is not None:
                specs.append(spec)
            sets[spec["rtype"]] = specs
        if lua_touched:
            out.append(self._lua_rrset(fqdn, lua_old, sets, hc_url))
        return out

    def region_health(self) -> Mapping[str, bool]:
        """Region -> healthy (all of its checks pass), probed by the tool like the LUA checks do."""
        checks = self._hcs(self._fetch())
        status = probe_many({n: s for n, s in checks.items() if s["protocol"] != "TCP"})
        out: dict[str, bool] = {}
        for name, spec in checks.items():
            if spec.get("region") and name in status:
                out[spec["region"]] = out.get(spec["region"], True) and status[name]
        return out

    # ----- verify -----------------------------------------------------------------------------------
    def verify(self, desired: Sequence[Resource], timeout: float = 30.0) -> list[VerifyResult]:
        """Query ``nameservers`` until answers match.

        Health-checked answers are expected per the tool's own probe of each check's URL (the
        server's LUA checks should agree once they have run).
        """
        if not self.nameservers:
            return []
        mine = [r for r in desired if r.type == RECORD]
        checks = {r.name: r.spec for r in desired if r.type == HEALTHCHECK}
        if not checks:
            checks = {n: s for n, s in self._hcs(self._fetch()).items()}
        needed = {str(r.spec["health_check"]) for r in mine if r.spec.get("health_check")}
        health = probe_many({n: checks[n] for n in needed if n in checks})
        return verify_resources(mine, self.nameservers, timeout, healthy=health_lookup(health))
