"""Helpers shared by the DNS providers: record specs, names, ownership markers, health specs.

Every DNS provider reads actual state back into the exact ``dns.record`` / ``dns.healthcheck``
spec shapes of :mod:`streamverse_ctl.core.specs`, so these helpers build them in one place.

Ownership markers
-----------------
A record the tool owns carries a small *marker*: a text of ``key=value`` pairs separated by
``;`` (values percent-encoded, so a marker never contains quotes, spaces or backslashes), e.g.
``sv=1;owner=prod;policy=www;region=us-east``. Where the marker lives is provider specific
(a TXT registry record, an RRset comment); the codec is shared.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from ..core.resources import Resource
from ..core.specs import FEATURE_HEALTHCHECK, ROUTING_FEATURES

RECORD = "dns.record"
HEALTHCHECK = "dns.healthcheck"
MARKER_VERSION = "1"
DEFAULT_OWNER = "streamverse"
# TXT records that hold ownership markers are named "<prefix><rtype>.<fqdn>".
REGISTRY_PREFIX = "_svctl-"

ROUTED_KEYS = ("set_id", "weight", "latency_region", "geo", "failover", "health_check")


def absolute(name: str) -> str:
    """Lower-case, absolute (trailing dot) form of a DNS name."""
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def record_name(spec: Mapping[str, Any]) -> str:
    """``<fqdn>/<rtype>`` for simple records, ``<fqdn>/<rtype>/<set_id>`` for routed ones."""
    base = f"{spec['fqdn']}/{spec['rtype']}"
    return base if spec.get("routing", "simple") == "simple" and not spec.get("set_id") else \
        f"{base}/{spec['set_id']}"


def record_spec(
    zone: str,
    fqdn: str,
    rtype: str,
    ttl: int,
    values: Iterable[str],
    *,
    routing: str = "simple",
    set_id: str | None = None,
    weight: int | None = None,
    latency_region: str | None = None,
    geo: Mapping[str, Any] | None = None,
    failover: str | None = None,
    health_check: str | None = None,
    policy: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """A complete ``DnsRecordSpec`` dict with normalised values (sorted, ttl int)."""
    return {
        "zone": absolute(zone),
        "fqdn": absolute(fqdn),
        "rtype": rtype.upper(),
        "ttl": int(ttl),
        "values": sorted(str(v) for v in values),
        "routing": routing,
        "set_id": set_id,
        "weight": None if weight is None else int(weight),
        "latency_region": latency_region,
        "geo": dict(geo) if geo else None,
        "failover": failover,
        "health_check": health_check,
        "policy": policy,
        "region": region,
    }


def normalize_record(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Fill missing optional keys so a desired spec compares with a read one."""
    return record_spec(
        spec["zone"], spec["fqdn"], spec["rtype"], spec["ttl"], spec.get("values") or [],
        routing=spec.get("routing") or "simple", set_id=spec.get("set_id"), weight=spec.get("weight"),
        latency_region=spec.get("latency_region"), geo=spec.get("geo"), failover=spec.get("failover"),
        health_check=spec.get("health_check"), policy=spec.get("policy"), region=spec.get("region"),
    )


def healthcheck_spec(
    protocol: str, target: str, port: int, path: str | None, interval: int, failure_threshold: int,
    policy: str, region: str,
) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "target": target,
        "port": int(port),
        "path": path if protocol in ("HTTP", "HTTPS") else None,
        "interval": int(interval),
        "failure_threshold": int(failure_threshold),
        "policy": policy,
        "region": region,
    }


def healthcheck_url(spec: Mapping[str, Any]) -> str:
    """``http(s)://target:port/path`` of an HTTP(S) health check (IPv6 targets bracketed)."""
    target = str(spec["target"])
    if is_ip(target) and ":" in target:
        target = f"[{target}]"
    scheme = "https" if spec["protocol"] == "HTTPS" else "http"
    path = spec.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{target}:{int(spec['port'])}{path}"


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def required_features(spec: Mapping[str, Any]) -> set[str]:
    """The provider features a record spec needs (used by providers' own ``check``)."""
    feats = set()
    routing = spec.get("routing") or "simple"
    if routing in ROUTING_FEATURES:
        feats.add(ROUTING_FEATURES[routing])
    if spec.get("health_check"):
        feats.add(FEATURE_HEALTHCHECK)
    return feats


def who(resource: Resource) -> str:
    """How a message names where a resource came from."""
    return resource.origin or resource.id


# ----- ownership markers ------------------------------------------------------------------------
def encode_marker(fields: Mapping[str, Any]) -> str:
    """``sv=1;key=value;...``; None values are left out, lists/dicts JSON-encoded."""
    parts = [f"sv={MARKER_VERSION}"]
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, list | dict):
            value = json.dumps(value, sort_keys=True, separators=(",", ":"))
        parts.append(f"{key}={quote(str(value), safe='')}")
    return ";".join(parts)


def decode_marker(text: str) -> dict[str, str] | None:
    """The fields of a marker, or None if ``text`` is not one of ours."""
    fields = _decoded(text)
    return None if fields is None else dict(fields)


@functools.lru_cache(maxsize=1 << 16)
def _decoded(text: str) -> tuple[tuple[str, str], ...] | None:
    """Parsed once per text: a registry apply looks at the same entries many times."""
    text = text.strip().strip('"')
    if not text.startswith("sv="):
        return None
    out: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if not sep:
            return None
        out[key] = unquote(value)
    return tuple(out.items()) if out.get("sv") == MARKER_VERSION else None


def marker_json(fields: Mapping[str, str], key: str) -> Any:
    raw = fields.get(key)
    return None if raw is None else json.loads(raw)


def txt_quote(text: str) -> str:
    """TXT presentation form of a text without quotes/backslashes: 255-byte chunks, each quoted."""
    chunks = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return " ".join(f'"{c}"' for c in chunks)


def txt_unquote(text: str) -> str:
    """Inverse of :func:`txt_quote` (joins the quoted chunks)."""
    text = text.strip()
    if not text.startswith('"'):
        return text
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i] == '"':
            j = i + 1
            buf = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            out.append("".join(buf))
            i = j + 1
        else:
            i += 1
    return "".join(out)


def registry_name(fqdn: str, rtype: str) -> str:
    """Name of the TXT registry record that marks ``fqdn``/``rtype`` as owned."""
    return f"{REGISTRY_PREFIX}{rtype.lower()}.{fqdn}"


def parse_registry_name(name: str) -> tuple[str, str] | None:
    """(fqdn, rtype) of a registry record name, or None if it is not one."""
    first, _, rest = name.partition(".")
    if not first.startswith(REGISTRY_PREFIX) or not rest:
        return None
    return rest, first[len(REGISTRY_PREFIX):].upper()
