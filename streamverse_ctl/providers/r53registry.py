"""The Route 53 ownership registry: which record sets one owner manages, in a few TXT record sets.

Route 53 has no per-record tags, so ownership has to live in the zone. A TXT marker per record set
(external-dns's way) doubles the record sets every plan has to page through. Instead each owner
keeps at most :data:`SHARDS` TXT record sets named ``<xx>.<owner>._svctl.<zone>`` (``xx`` two hex
digits). Each holds the *entries* of the record sets whose (name, type) hashes to that shard:

* an entry is ``<key>`` or ``<key>=<policy>:<region>[:<health check>]``, where ``key`` is 12
  base32 characters of SHA-256 over ``name|TYPE|set identifier`` and the fields are
  percent-encoded (an entry never contains spaces, quotes, ``=`` or ``:`` of its own);
* the health check is stored only when it is not ``<policy>/<region>`` (the compiler's naming);
  it maps the record's ``HealthCheckId`` to the health check's name without reading tags;
* entries are sorted and packed into TXT values of at most :data:`VALUE_CHARS` characters,
  written as 255-character quoted strings.

A shard a write leaves also holds the item ``_lineage=<state lineage>``: the state whose apply last
wrote it owns every record set the shard lists (all record sets of one name and type share a
shard, so they change owner together). It is read back as ``Resource.owner`` for the
``foreign-state`` guardrail; a shard written before lineages were recorded has none.

A 10,000-record zone has 256 registry record sets instead of 10,000 markers. All record sets of
one name and type share a shard, so a change batch rewrites few shards; the records and their
registry shard go out in the same (atomic) change batch.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from .dnsrecords import absolute, txt_quote, txt_unquote

SHARDS = 256
LABEL = "_svctl"
VALUE_CHARS = 1000
LINEAGE_KEY = "_lineage"  # never an entry key: those are 12 base32 characters
_OWNER_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")


@dataclass(frozen=True)
class Entry:
    """What the registry says of one owned record set."""

    policy: str | None = None
    region: str | None = None
    health_check: str | None = None

    def encode(self) -> str:
        if not (self.policy or self.region or self.health_check):
            return ""
        fields = [quote(self.policy or "", safe=""), quote(self.region or "", safe="")]
        if self.health_check and self.health_check != self.default_health_check():
            fields.append(quote(self.health_check, safe=""))
        return ":".join(fields)

    @classmethod
    def decode(cls, text: str, has_health_check: bool) -> Entry:
        if not text:
            return cls()
        fields = [unquote(f) for f in text.split(":")]
        policy, region = [*fields, "", ""][:2]
        hc = fields[2] if len(fields) > 2 else None
        entry = cls(policy or None, region or None, hc)
        if hc is None and has_health_check:
            entry = cls(entry.policy, entry.region, entry.default_health_check())
        return entry

    def default_health_check(self) -> str | None:
        return f"{self.policy}/{self.region}" if self.policy and self.region else None


def owner_label(owner: str) -> str:
    """A DNS label for the owner id (the id itself when it is a short lower-case label)."""
    if _OWNER_LABEL.fullmatch(owner):
        return owner
    return "o-" + hashlib.sha256(owner.encode()).hexdigest()[:16]


def suffix(owner: str, zone: str) -> str:
    """``.<owner>._svctl.<zone>``: every shard of this owner's registry ends with it."""
    return f".{owner_label(owner)}.{LABEL}.{absolute(zone)}"


def is_registry_name(fqdn: str, zone: str) -> bool:
    """Whether a name belongs to some owner's registry (never a resource)."""
    return absolute(fqdn).lower().endswith(f".{LABEL}.{absolute(zone).lower()}")


def shard_of(fqdn: str, rtype: str) -> str:
    base = f"{absolute(fqdn).lower()}|{rtype.upper()}"
    return hashlib.sha256(base.encode()).hexdigest()[: len(f"{SHARDS - 1:x}")]


def key_of(fqdn: str, rtype: str, set_id: str | None) -> str:
    base = f"{absolute(fqdn).lower()}|{rtype.upper()}|{set_id or ''}"
    return base64.b32encode(hashlib.sha256(base.encode()).digest()).decode()[:12].lower()


Op = tuple[str, str, str | None]  # (shard, key, encoded entry or None to remove)


def apply_ops(contents: Mapping[str, Mapping[str, str]], ops: Iterable[Op]) -> dict[str, dict[str, str]]:
    """The shards ``ops`` touch, as they read after the ops (``contents`` is left as it is)."""
    out: dict[str, dict[str, str]] = {}
    for shard, key, fields in ops:
        content = out.setdefault(shard, dict(contents.get(shard, {})))
        if fields is None:
            content.pop(key, None)
        else:
            content[key] = fields
    return out


def entries(content: Mapping[str, str]) -> dict[str, str]:
    """A shard's entries without its lineage item."""
    return {k: v for k, v in content.items() if k != LINEAGE_KEY}


def lineage_of(content: Mapping[str, str]) -> str:
    """The state lineage a shard names ("" if none)."""
    return content.get(LINEAGE_KEY, "")


def parse_values(values: Iterable[str]) -> dict[str, str]:
    """Entries (key -> encoded fields) from a shard's TXT values."""
    out: dict[str, str] = {}
    for value in values:
        for item in txt_unquote(value).split():
            key, _, fields = item.partition("=")
            out[key] = fields
    return out


def pack_values(entries: Mapping[str, str]) -> list[str]:
    """Sorted entries packed into TXT values (presentation form) of at most VALUE_CHARS characters."""
    values: list[str] = []
    current: list[str] = []
    size = 0
    for key in sorted(entries):
        item = f"{key}={entries[key]}" if entries[key] else key
        if current and size + 1 + len(item) > VALUE_CHARS:
            values.append(txt_quote(" ".join(current)))
            current, size = [], 0
        current.append(item)
        size += len(item) + (1 if size else 0)
    if current:
        values.append(txt_quote(" ".join(current)))
    return values
