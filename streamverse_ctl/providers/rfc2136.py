"""RFC 2136 provider (dnspython): any primary that takes TSIG-signed DNS UPDATE (BIND, Knot, PowerDNS).

Settings (``Provider`` document ``spec.settings``)
--------------------------------------------------
``server``        primary to read (AXFR) and update, ``host:port`` (required)
``zone``          the zone, e.g. ``streamverse.example.`` (required)
``tsigKeyName``   TSIG key name (required)
``tsigSecret``    TSIG secret, base64: a secret reference ``{fromEnv: NAME}`` or ``{fromFile: PATH}``
``tsigAlgorithm`` default ``hmac-sha256``
``nameservers``   servers that verify queries (default: ``[server]``)
``ownerId``       who owns records in a shared zone (default ``streamverse``)
``batchSize``     resource records per UPDATE message (default 500)
``timeout``       seconds per DNS exchange (default 5)
``probeTimeout``  seconds per health probe (default 2)

Reading is one AXFR (signed with the TSIG key), and so is verification (plus DNS queries for
what it does not show yet, and for other ``nameservers``); writing is UPDATE messages, each atomic, each
with a prerequisite that the zone's SOA is exactly the one last seen. A zone changed by anyone
else since it was read makes the update fail (nothing of that message is applied) with a stale
plan error that says to re-run plan; the tool never overwrites a concurrent change. So the
re-check of a plan under the apply lock reads the zone no second time (``atomic_preconditions``).

Routing: simple records, and failover. DNS has one answer per name and type, so for failover the
tool publishes the PRIMARY's values, or the SECONDARY's when the PRIMARY's health check fails a
probe run by the tool at read and at apply time (see :mod:`.healthprobe`). Failing over therefore
happens when someone runs plan/apply (e.g. a reconcile loop), not inside the DNS server; the
switch is the update of one record and passes the guardrails (``zero-serving`` counts a pair
whose PRIMARY is down and whose SECONDARY is healthy as served by the SECONDARY). The
PRIMARY and SECONDARY records are kept in ownership markers and read back as they were written,
so a converged zone plans no change; if the published answer is not the one that should be
published (health changed, or an edit behind the tool's back), the active set reads with the
values actually published, and plan shows the update that republishes. Weighted, latency and
geo routing are refused at plan time.

Ownership
---------
* A *registry* per owner lists what it owns: at most 256 TXT record sets
  ``<xx>.<ownerId>._svctl.<zone>`` (``xx`` from a hash of name and type), each entry the marker of
  one owned record (``sv=1;n=<fqdn>;t=<type>;owner=<ownerId>;...``; failover entries also hold the
  set's ttl, values, role and health check), eight entries to a TXT record. A name/type without
  our entry reads ``managed=False`` and is never written. Every entry a write leaves holds
  ``lineage=<state lineage>`` too (the state whose apply wrote it, read back as
  ``Resource.owner`` for the ``foreign-state`` guardrail). A shard a batch touches is rewritten
  once, in the same atomic UPDATE as the records. A 5,000-record zone holds 736 registry records
  where a marker per name made 5,000.
* Older versions wrote a TXT record ``_svctl-<rtype>.<fqdn>`` per owned name: those are read the
  same way, and the next apply that changes records moves ours into the registry (lineage kept)
  and deletes them; another owner's stay.
* Health checks (``dns.healthcheck``) are tool-side probes, kept as markers in the TXT record
  ``_svctl-healthchecks.<zone>`` (one marker per check).
"""

from __future__ import annotations

import hashlib
import logging
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.tsig
import dns.update
import dns.xfr
import dns.zone

from ..core.errors import PermanentError, StalePlan, TemporaryError
from ..core.resources import Change, Resource
from ..core.secrets import Secret
from ..core.specs import FEATURE_FAILOVER, FEATURE_HEALTHCHECK
from ..inventory.dnsvalues import canonical_or_raw
from ..inventory.provider_settings import RFC2136Settings
from .base import LINEAGE_FIELD, BatchListener, Provider, ProviderContext, VerifyResult
from .dnsrecords import (
    DEFAULT_OWNER,
    HEALTHCHECK,
    RECORD,
    absolute,
    decode_marker,
    encode_marker,
    healthcheck_spec,
    marker_json,
    normalize_record,
    parse_registry_name,
    record_name,
    record_spec,
    registry_name,
    required_features,
    txt_quote,
)
from .dnsverify import health_lookup, verify_resources
from .dnsverify import parse_server as parse_hostport
from .healthprobe import probe_many

log = logging.getLogger("streamverse.providers.rfc2136")

MARKER_TTL = 300
HC_LABEL = "_svctl-healthchecks"
REGISTRY_LABEL = "_svctl"
ENTRIES_PER_RDATA = 8  # registry entries packed into one TXT record (each entry is ~60-200 bytes)
MIGRATE_PER_UPDATE = 200  # old per-name markers moved into the registry per UPDATE message


def shard_label(fqdn: str, rtype: str) -> str:
    """Which of the 256 registry shards lists ``fqdn``/``rtype``."""
    return hashlib.sha256(f"{absolute(fqdn).lower()}|{rtype.upper()}".encode()).hexdigest()[:2]


def owner_label(owner: str) -> str:
    """An owner id as one DNS label."""
    return re.sub(r"[^a-z0-9-]", "-", owner.lower())[:63] or "x"


def pack_entries(entries: Sequence[str]) -> list[str]:
    """Registry entries as TXT texts, ``ENTRIES_PER_RDATA`` to a record, separated by a space
    (markers are percent-encoded, so an entry never holds one)."""
    ordered = sorted(entries)
    return [" ".join(ordered[i:i + ENTRIES_PER_RDATA]) for i in range(0, len(ordered), ENTRIES_PER_RDATA)]


def _lineage_of(marker_text: str) -> str:
    """The state lineage a marker names ("" if none)."""
    return (decode_marker(marker_text) or {}).get(LINEAGE_FIELD, "")


@dataclass
class ZoneState:
    """What one AXFR saw, kept so apply can build UPDATEs with exact prerequisites."""

    soa: dns.rdtypes.ANY.SOA.SOA
    rrsets: dict[tuple[str, str], tuple[int, list[str]]] = field(default_factory=dict)
    markers: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (fqdn, rtype) -> marker texts
    hc_markers: list[str] = field(default_factory=list)
    #: our registry shard (record name) -> the entries it lists
    shards: dict[str, list[str]] = field(default_factory=dict)
    #: (fqdn, rtype) -> the texts of its old per-name ``_svctl-<type>.<fqdn>`` marker record
    legacy: dict[tuple[str, str], list[str]] = field(default_factory=dict)


class RFC2136Provider(Provider):
    provider_type = "rfc2136"
    settings_model: ClassVar[type[Any] | None] = RFC2136Settings  # spec.settings, checked by validate
    resource_types: ClassVar[frozenset[str]] = frozenset({RECORD, HEALTHCHECK})
    features: ClassVar[frozenset[str]] = frozenset({FEATURE_FAILOVER, FEATURE_HEALTHCHECK})
    max_concurrency: ClassVar[int] = 1  # every UPDATE carries the SOA of the one before
    #: every UPDATE has the prerequisite "the SOA is the one the plan's AXFR saw": the re-check
    #: under the lock needs no second AXFR (a zone changed since fails with StalePlan, nothing written)
    atomic_preconditions: ClassVar[bool] = True

    def __init__(self, name: str, settings: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(name, settings, context)
        self.concurrency = 1  # not a setting: batches must run one after the other
        missing = [k for k in ("server", "zone", "tsigKeyName", "tsigSecret") if not self.settings.get(k)]
        if missing:
            raise PermanentError(f"rfc2136 provider '{name}': missing setting(s) {', '.join(missing)}")
        secret = self.settings["tsigSecret"]
        if not isinstance(secret, Secret):
            raise PermanentError(f"rfc2136 provider '{name}': tsigSecret must be a secret reference "
                                 "({fromEnv: NAME} or {fromFile: PATH}), not plain text")
        self.server = str(self.settings["server"])
        self.host, self.port = parse_hostport(self.server)
        self.zone = absolute(str(self.settings["zone"]))
        self.origin = dns.name.from_text(self.zone)
        self.owner = str(self.settings.get("ownerId") or DEFAULT_OWNER)
        self.timeout = float(self.settings.get("timeout", 5))
        self.probe_timeout = float(self.settings.get("probeTimeout", 2))
        self.batch_size = int(self.settings.get("batchSize", 500))
        self.nameservers = [str(s) for s in self.settings.get("nameservers") or [self.server]]
        algorithm = str(self.settings.get("tsigAlgorithm", "hmac-sha256"))
        self.keyname = dns.name.from_text(str(self.settings["tsigKeyName"]))
        try:
            self.key = dns.tsig.Key(self.keyname, secret.reveal(), algorithm)
        except Exception as exc:  # bad base64 or unknown algorithm; never quote the secret
            raise PermanentError(f"rfc2136 provider '{name}': TSIG key '{self.keyname}' is not usable "
                                 f"({exc.__class__.__name__}; algorithm {algorithm})") from None
        self._state: ZoneState | None = None
        self._health: dict[str, bool] = {}
        self.updates_sent = 0

    def _where(self) -> str:
        return f"rfc2136 provider '{self.name}' (server {self.server}, zone {self.zone})"

    # ----- capabilities -----------------------------------------------------------------------------
    def check(self, desired: Sequence[Resource]) -> list[str]:
        problems = super().check(desired)
        for r in desired:
            if r.type != RECORD:
                continue
            missing = sorted(f for f in required_features(r.spec) if f not in self.features and
                             f not in r.requires)
            if missing:
                problems.append(f"provider '{self.name}' (rfc2136) does not support {', '.join(missing)} "
                                f"needed by {r.origin or r.id}")
            if absolute(str(r.spec.get("zone", ""))) != self.zone:
                problems.append(f"provider '{self.name}' (rfc2136) serves zone {self.zone}, not "
                                f"{r.spec.get('zone')} (needed by {r.origin or r.id})")
        return problems

    # ----- read -------------------------------------------------------------------------------------
    def _axfr(self) -> ZoneState:
        try:
            zone = dns.zone.from_xfr(
                dns.query.xfr(self.host, self.origin, port=self.port, keyring={self.keyname: self.key},
                              keyname=self.keyname, keyalgorithm=self.key.algorithm, lifetime=self.timeout,
                              relativize=False),
                relativize=False,
            )
        except Exception as exc:
            raise self._map_error("zone transfer (AXFR)", exc) from exc
        soa_rds = zone.get_rdataset(self.origin, dns.rdatatype.SOA)
        if soa_rds is None:
            raise PermanentError(f"{self._where()}: AXFR returned no SOA")
        state = ZoneState(soa=soa_rds[0])  # type: ignore[arg-type]
        hc_name = dns.name.from_text(f"{HC_LABEL}.{self.zone}")
        suffix = f".{REGISTRY_LABEL}.{self.zone}".lower()
        mine = f".{owner_label(self.owner)}{suffix}"
        for name, node in zone.nodes.items():
            fqdn = name.to_text().lower()
            for rds in node.rdatasets:
                rtype = dns.rdatatype.to_text(rds.rdtype)
                if rds.rdtype == dns.rdatatype.TXT and name == hc_name:
                    state.hc_markers = [_txt(rd) for rd in rds]
                    continue
                if fqdn.endswith(suffix) and fqdn[:-len(suffix)].count(".") == 1:  # a registry shard, anyone's
                    if rds.rdtype == dns.rdatatype.TXT:
                        entries = [e for rd in rds for e in _txt(rd).split(" ") if e]
                        for entry in entries:
                            m = decode_marker(entry)
                            if m is not None and m.get("n") and m.get("t"):
                                state.markers.setdefault((m["n"], m["t"]), []).append(entry)
                        if fqdn.endswith(mine):
                            state.shards[fqdn] = entries
                    continue
                if rds.rdtype == dns.rdatatype.TXT and (reg := parse_registry_name(fqdn)) is not None:
                    texts = [_txt(rd) for rd in rds]  # an old per-name marker: read, migrated by the next apply
                    state.markers.setdefault((reg[0], reg[1]), []).extend(texts)
                    state.legacy[(reg[0], reg[1])] = texts
                    continue
                values = sorted(canonical_or_raw(rtype, rd.to_text()) for rd in rds)
                state.rrsets[(fqdn, rtype)] = (int(rds.ttl), values)
        return state

    def _map_error(self, what: str, exc: Exception) -> Exception:
        if isinstance(exc, PermanentError | TemporaryError):
            return exc
        if isinstance(exc, dns.tsig.PeerError | dns.message.UnknownTSIGKey | dns.tsig.BadSignature):
            return PermanentError(f"{self._where()}: {what}: the server rejected TSIG key '{self.keyname}' "
                                  f"({exc.__class__.__name__}); check tsigKeyName/tsigSecret/tsigAlgorithm")
        if isinstance(exc, dns.xfr.TransferError):
            return PermanentError(f"{self._where()}: {what} refused: {exc} (is the key allowed to transfer "
                                  "the zone?)")
        if isinstance(exc, dns.exception.Timeout | socket.timeout):
            return TemporaryError(f"{self._where()}: {what}: no answer within {self.timeout:.0f} s", 1.0)
        if isinstance(exc, ConnectionError | OSError | EOFError):
            return TemporaryError(f"{self._where()}: {what}: cannot reach the server ({exc})", 1.0)
        return PermanentError(f"{self._where()}: {what} failed: {exc.__class__.__name__}: {exc}")

    def _owned_hcs(self, state: ZoneState) -> dict[str, tuple[dict[str, Any], str]]:
        out = {}
        for text in state.hc_markers:
            m = decode_marker(text)
            if m is None or m.get("owner") != self.owner or not m.get("name"):
                continue
            spec = healthcheck_spec(m.get("protocol", "HTTP"), m.get("target", ""), int(m.get("port", 80)),
                                    m.get("path"), int(m.get("interval", 30)), int(m.get("ft", 3)),
                                    m.get("policy", ""), m.get("region", ""))
            out[m["name"]] = (spec, text)
        return out

    def _probe(self, state: ZoneState, extra: Sequence[str] = ()) -> dict[str, bool]:
        """Probe the health checks PRIMARY failover records depend on (and ``extra`` ones)."""
        checks = {n: s for n, (s, _) in self._owned_hcs(state).items()}
        needed = set(extra)
        for texts in state.markers.values():
            for m in self._our_markers(texts):
                if m.get("failover") == "PRIMARY" and m.get("hc"):
                    needed.add(m["hc"])
        self._health = probe_many({n: checks[n] for n in needed if n in checks}, self.probe_timeout)
        return self._health

    def _our_markers(self, texts: Sequence[str]) -> list[dict[str, str]]:
        out = []
        for t in texts:
            m = decode_marker(t)
            if m is not None and m.get("owner") == self.owner:
                out.append(m)
        return out

    def _failover_sets(self, fqdn: str, rtype: str,
                       markers: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
        return [record_spec(self.zone, fqdn, rtype, int(m.get("ttl", 300)), marker_json(m, "values") or [],
                            routing="failover", set_id=m.get("set"), failover=m.get("failover"),
                            health_check=m.get("hc"), policy=m.get("policy"), region=m.get("region"))
                for m in markers if m.get("set")]

    def _active(self, sets: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        """The failover set whose answer should be published now."""
        primary = [s for s in sets if s["failover"] == "PRIMARY"]
        secondary = [s for s in sets if s["failover"] == "SECONDARY"]
        if primary and (not secondary or self._health.get(primary[0]["health_check"] or "", True)):
            return primary[0]
        return secondary[0] if secondary else None

    def _read(self, types: Sequence[str]) -> list[Resource]:
        state = self._axfr()
        self._state = state
        self._probe(state)
        out: list[Resource] = []
        if HEALTHCHECK in types:
            for name, (spec, text) in sorted(self._owned_hcs(state).items()):
                out.append(Resource(HEALTHCHECK, name, spec, self.name, owner=_lineage_of(text)))
        if RECORD not in types:
            return out
        seen: set[tuple[str, str]] = set()
        for (fqdn, rtype), (ttl, values) in sorted(state.rrsets.items()):
            seen.add((fqdn, rtype))
            ours = self._our_markers(state.markers.get((fqdn, rtype), []))
            sets = self._failover_sets(fqdn, rtype, ours)
            if sets:
                out += self._read_failover(sets, ttl, values, ours)
                continue
            spec = record_spec(self.zone, fqdn, rtype, ttl, values)
            if ours:
                spec["policy"], spec["region"] = ours[0].get("policy"), ours[0].get("region")
            out.append(Resource(RECORD, record_name(spec), spec, self.name, managed=bool(ours),
                                owner=ours[0].get(LINEAGE_FIELD, "") if ours else ""))
        for (fqdn, rtype), texts in sorted(state.markers.items()):
            if (fqdn, rtype) in seen:
                continue
            ours = self._our_markers(texts)
            sets = self._failover_sets(fqdn, rtype, ours)
            if sets:  # published answer deleted behind our back: the active set reads empty
                out += self._read_failover(sets, None, [], ours)
        return out

    def _read_failover(self, sets: list[dict[str, Any]], ttl: int | None,
                       values: list[str], markers: Sequence[dict[str, str]]) -> list[Resource]:
        active = self._active(sets)
        owners = {m.get("set"): m.get(LINEAGE_FIELD, "") for m in markers}
        out = []
        for spec in sets:
            if spec is active and (ttl != spec["ttl"] or values != spec["values"]):
                spec = {**spec, "values": values, "ttl": spec["ttl"] if ttl is None else ttl}
            out.append(Resource(RECORD, record_name(spec), spec, self.name, owner=owners.get(spec["set_id"], "")))
        return out

    # ----- apply ------------------------------------------------------------------------------------
    def _batches(self, changes: Sequence[Change]) -> Sequence[Sequence[Change]]:
        batches: list[list[Change]] = []
        hcs = [c for c in changes if c.type == HEALTHCHECK]
        for i in range(0, len(hcs), self.batch_size):
            batches.append(hcs[i:i + self.batch_size])
        groups: dict[tuple[str, str], list[Change]] = {}
        for c in changes:
            if c.type == RECORD:
                spec = c.after if c.after is not None else c.before
                assert spec is not None
                groups.setdefault((absolute(spec["fqdn"]), str(spec["rtype"]).upper()), []).append(c)
        current: list[Change] = []
        size = 0
        shards: set[str] = set()  # touched by the current batch: each is rewritten once per UPDATE
        known = self._state.shards if self._state is not None else {}
        for key, group in sorted(groups.items(), key=lambda kv: self._shard(*kv[0])):
            cost = sum(2 + len((c.after or c.before or {}).get("values") or []) for c in group)
            shard = self._shard(*key)
            if shard not in shards:
                cost += 2 + len(known.get(shard, [])) // ENTRIES_PER_RDATA
            if current and size + cost > self.batch_size:
                batches.append(current)
                current, size, shards = [], 0, set()
            current.extend(group)
            size += cost
            shards.add(shard)
        if current:
            batches.append(current)
        return batches

    def _apply(self, batch: Sequence[Change]) -> None:
        if self._state is None:
            self._read([RECORD, HEALTHCHECK])
        state = self._state
        assert state is not None
        upd = dns.update.UpdateMessage(self.origin, keyring=self.key, keyname=self.keyname,
                                       keyalgorithm=self.key.algorithm)
        upd.present(self.origin, state.soa)  # the zone is exactly as we last saw it
        hc_name = dns.name.from_text(f"{HC_LABEL}.{self.zone}")
        owned_hcs = self._owned_hcs(state)
        new_hc_markers = list(state.hc_markers)
        new_markers: dict[tuple[str, str], list[str]] = {}
        new_rrsets: dict[tuple[str, str], tuple[int, list[str]] | None] = {}
        groups: dict[tuple[str, str], list[Change]] = {}
        for c in batch:
            if c.type == HEALTHCHECK:
                old = owned_hcs.get(c.name)
                if old is not None:
                    upd.delete(hc_name, _txt_rdata(old[1]))
                    new_hc_markers.remove(old[1])
                if c.after is not None:
                    text = self._hc_marker(c.name, c.after)
                    upd.add(hc_name, MARKER_TTL, _txt_rdata(text))
                    new_hc_markers.append(text)
            else:
                spec = c.after if c.after is not None else c.before
                assert spec is not None
                groups.setdefault((absolute(spec["fqdn"]), str(spec["rtype"]).upper()), []).append(c)
        failover = [c for g in groups.values() for c in g
                    if (c.after or c.before or {}).get("routing") == "failover"]
        if failover:  # publish the answer that is right now, not at plan time
            state.hc_markers = new_hc_markers
            self._probe(state, [str(c.after["health_check"]) for c in failover
                                if c.after is not None and c.after.get("health_check")])
        for (fqdn, rtype), changes in groups.items():
            self._update_group(upd, state, fqdn, rtype, changes, new_markers, new_rrsets)
        new_shards = self._registry_ops(upd, state, new_markers)
        self._send(upd, f"update of {len(batch)} change(s)")
        # keep the snapshot current for the next batch
        state.hc_markers = new_hc_markers
        self._remember(state, new_markers, new_shards)
        for key, val in new_rrsets.items():
            if val is None:
                state.rrsets.pop(key, None)
            else:
                state.rrsets[key] = val
        state.soa = self._current_soa()

    def _update_group(self, upd: dns.update.UpdateMessage, state: ZoneState, fqdn: str, rtype: str,
                      changes: Sequence[Change], new_markers: dict[tuple[str, str], list[str]],
                      new_rrsets: dict[tuple[str, str], tuple[int, list[str]] | None]) -> None:
        name = dns.name.from_text(fqdn)
        texts = list(state.markers.get((fqdn, rtype), []))
        ours = [t for t in texts if (m := decode_marker(t)) is not None and m.get("owner") == self.owner]
        routed = any((c.after or c.before or {}).get("routing") == "failover" for c in changes)
        if not routed:
            for c in changes:  # simple: one record per name/type, at most one change
                for t in ours:
                    texts.remove(t)
                ours = []
                if c.after is None:
                    upd.delete(name, dns.rdatatype.from_text(rtype))
                    new_rrsets[(fqdn, rtype)] = None
                else:
                    after = normalize_record(c.after)
                    upd.replace(name, after["ttl"], rtype, *after["values"])
                    new_rrsets[(fqdn, rtype)] = (after["ttl"], after["values"])
                    text = self._entry(fqdn, rtype, {"owner": self.owner, "policy": after["policy"],
                                                     "region": after["region"], LINEAGE_FIELD: self.lineage})
                    texts.append(text)
            new_markers[(fqdn, rtype)] = texts
            return
        sets = {s["set_id"]: s for s in self._failover_sets(fqdn, rtype, self._our_markers(ours))}
        for c in changes:
            key = (c.before or c.after or {}).get("set_id")
            sets.pop(key, None)
            if c.after is not None:
                after = normalize_record(c.after)
                sets[after["set_id"]] = after
        for t in ours:
            texts.remove(t)
        for s in sets.values():
            text = self._entry(fqdn, rtype, {
                "owner": self.owner, "set": s["set_id"], "failover": s["failover"], "ttl": s["ttl"],
                "values": s["values"], "hc": s["health_check"], "policy": s["policy"], "region": s["region"],
                LINEAGE_FIELD: self.lineage})
            texts.append(text)
        new_markers[(fqdn, rtype)] = texts
        active = self._active(list(sets.values()))
        if active is None:
            upd.delete(name, dns.rdatatype.from_text(rtype))
            new_rrsets[(fqdn, rtype)] = None
        else:
            upd.replace(name, active["ttl"], rtype, *active["values"])
            new_rrsets[(fqdn, rtype)] = (active["ttl"], list(active["values"]))

    # ----- the ownership registry -------------------------------------------------------------------
    def _entry(self, fqdn: str, rtype: str, fields: Mapping[str, Any]) -> str:
        """A registry entry: the marker of one owned name/type (``n``, ``t``) and what it holds."""
        return encode_marker({"n": fqdn, "t": rtype, **fields})

    def _is_ours(self, text: str) -> bool:
        m = decode_marker(text)
        return m is not None and m.get("owner") == self.owner

    def _shard(self, fqdn: str, rtype: str) -> str:
        return f"{shard_label(fqdn, rtype)}.{owner_label(self.owner)}.{REGISTRY_LABEL}.{self.zone}".lower()

    def _registry_ops(self, upd: dns.update.UpdateMessage, state: ZoneState,
                      new_markers: Mapping[tuple[str, str], list[str]]) -> dict[str, list[str]]:
        """Add to ``upd`` what takes the registry to ``new_markers`` (name/type -> its marker texts):
        each touched shard rewritten once, our old per-name markers of those names deleted.
        Returns the touched shards' new entries."""
        edits: dict[str, dict[tuple[str, str], list[str]]] = {}
        for (fqdn, rtype), texts in new_markers.items():
            for t in state.legacy.get((fqdn, rtype), []):
                if self._is_ours(t):
                    upd.delete(dns.name.from_text(registry_name(fqdn, rtype)), _txt_rdata(t))
            ours = [t if (decode_marker(t) or {}).get("n") else self._adopted(fqdn, rtype, t)
                    for t in texts if self._is_ours(t)]
            edits.setdefault(self._shard(fqdn, rtype), {})[(fqdn, rtype)] = ours
        out: dict[str, list[str]] = {}
        for shard, by_key in edits.items():
            old = state.shards.get(shard, [])
            entries = [e for e in old if _entry_key(e) not in by_key] + [e for es in by_key.values() for e in es]
            if sorted(entries) == sorted(old):
                continue
            name = dns.name.from_text(shard)
            if old:
                upd.delete(name, dns.rdatatype.TXT)
            for text in pack_entries(entries):
                upd.add(name, MARKER_TTL, _txt_rdata(text))
            out[shard] = entries
        return out

    def _adopted(self, fqdn: str, rtype: str, text: str) -> str:
        """An old per-name marker as a registry entry (its lineage kept)."""
        m = decode_marker(text) or {}
        return self._entry(fqdn, rtype, {k: v for k, v in m.items() if k != "sv"})

    def _remember(self, state: ZoneState, new_markers: Mapping[tuple[str, str], list[str]],
                  new_shards: Mapping[str, list[str]]) -> None:
        for key, texts in new_markers.items():
            theirs = [t for t in state.legacy.get(key, []) if not self._is_ours(t)]
            if theirs:
                state.legacy[key] = theirs
            else:
                state.legacy.pop(key, None)
            state.markers[key] = [t for t in texts if not self._is_ours(t)] + [
                e for e in new_shards.get(self._shard(*key), state.shards.get(self._shard(*key), []))
                if _entry_key(e) == key]
        for shard, entries in new_shards.items():
            if entries:
                state.shards[shard] = entries
            else:
                state.shards.pop(shard, None)

    def apply(self, changes: Sequence[Change], *, started: BatchListener | None = None,
              finished: BatchListener | None = None) -> None:
        super().apply(changes, started=started, finished=finished)
        if any(c.type == RECORD for c in changes):
            self._migrate()

    def _migrate(self) -> None:
        """Move our old per-name ``_svctl-<type>.<fqdn>`` markers into the registry (and delete them),
        ``MIGRATE_PER_UPDATE`` names per UPDATE, each with the SOA prerequisite."""
        state = self._state
        if state is None:
            return
        keys = sorted(k for k, texts in state.legacy.items() if any(self._is_ours(t) for t in texts))
        keys.sort(key=lambda k: self._shard(*k))
        for i in range(0, len(keys), MIGRATE_PER_UPDATE):
            upd = dns.update.UpdateMessage(self.origin, keyring=self.key, keyname=self.keyname,
                                           keyalgorithm=self.key.algorithm)
            upd.present(self.origin, state.soa)
            new_markers = {k: list(state.markers.get(k, [])) for k in keys[i:i + MIGRATE_PER_UPDATE]}
            new_shards = self._registry_ops(upd, state, new_markers)
            self._retrying(partial(self._send, upd, "move of ownership markers into the registry"),
                           "registry migration")
            self._remember(state, new_markers, new_shards)
            state.soa = self._current_soa()
            log.info("%s: moved %d per-name ownership marker(s) into the registry", self._where(),
                     len(new_markers))

    def _hc_marker(self, name: str, spec: Mapping[str, Any]) -> str:
        return encode_marker({"owner": self.owner, "name": name, "protocol": spec["protocol"],
                              "target": spec["target"], "port": spec["port"], "path": spec.get("path"),
                              "interval": spec["interval"], "ft": spec["failure_threshold"],
                              "policy": spec.get("policy"), "region": spec.get("region"),
                              LINEAGE_FIELD: self.lineage})

    def _send(self, upd: dns.update.UpdateMessage, what: str) -> None:
        try:
            resp = dns.query.tcp(upd, self.host, port=self.port, timeout=self.timeout)
        except Exception as exc:
            raise self._map_error(what, exc) from exc
        self.updates_sent += 1
        rcode = resp.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        text = dns.rcode.to_text(rcode)
        if rcode == dns.rcode.NXRRSET:
            self._state = None
            serial = "?"
            try:
                serial = str(self._current_soa().serial)
            except Exception:
                pass
            raise StalePlan(
                f"{self._where()}: {what} not applied: the zone changed since it was read (SOA serial "
                f"is now {serial}); nothing of this update was written: re-run plan")
        if rcode == dns.rcode.NOTAUTH:
            raise PermanentError(f"{self._where()}: {what} refused: the server rejected TSIG key "
                                 f"'{self.keyname}' (NOTAUTH)")
        if rcode == dns.rcode.REFUSED:
            raise PermanentError(f"{self._where()}: {what} refused (REFUSED): key '{self.keyname}' may "
                                 "not update this zone (check update-policy/allow-update)")
        if rcode == dns.rcode.SERVFAIL:
            raise TemporaryError(f"{self._where()}: {what} failed with SERVFAIL", 1.0)
        raise PermanentError(f"{self._where()}: {what} failed with {text}")

    def _current_soa(self) -> dns.rdtypes.ANY.SOA.SOA:
        q = dns.message.make_query(self.origin, dns.rdatatype.SOA)
        q.use_tsig(self.key)
        try:
            resp = dns.query.tcp(q, self.host, port=self.port, timeout=self.timeout)
        except Exception as exc:
            raise self._map_error("SOA query", exc) from exc
        for rrset in resp.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset[0]  # type: ignore[no-any-return]
        raise TemporaryError(f"{self._where()}: SOA query returned no SOA", 1.0)

    # ----- verify / health --------------------------------------------------------------------------
    def region_health(self) -> Mapping[str, bool]:
        """Region -> healthy (all of its checks pass), from a fresh probe of every owned check."""
        state = self._state or self._axfr()
        checks = {n: s for n, (s, _) in self._owned_hcs(state).items()}
        status = probe_many(checks, self.probe_timeout)
        out: dict[str, bool] = {}
        for name, spec in checks.items():
            if spec.get("region"):
                out[spec["region"]] = out.get(spec["region"], True) and status[name]
        return out

    def verify(self, desired: Sequence[Resource], timeout: float = 30.0) -> list[VerifyResult]:
        """One AXFR of the primary (also read for the health checks failover depends on) checks every
        changed name at once; DNS queries only for what it does not show yet, and for the other
        ``nameservers``, which may not allow a transfer."""
        state = self._axfr()
        self._state = state
        self._probe(state)
        mine = [r for r in desired if r.type == RECORD]
        served = {key: frozenset(values) for key, (_, values) in state.rrsets.items()}
        return verify_resources(mine, self.nameservers, timeout, healthy=health_lookup(self._health),
                                snapshots={s: served for s in self.nameservers if s == self.server})


def _entry_key(entry: str) -> tuple[str, str] | None:
    m = decode_marker(entry)
    return (m["n"], m["t"]) if m is not None and m.get("n") and m.get("t") else None


def _txt(rd: Any) -> str:
    return "".join(s.decode("utf-8", "replace") for s in rd.strings)


def _txt_rdata(text: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, txt_quote(text))

