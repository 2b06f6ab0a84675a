"""Synthetic playback probe: start a video the way a player does, and time each step.

One *play* (:func:`play`):

1. **DNS**: ask the authoritative nameserver (dnspython, no recursion, CNAMEs followed) for the
   name's A record, as a client's resolver would on a cache miss;
2. **connect**: open a TCP (and TLS, SNI = the name) connection to the first address;
3. **first byte**: ``GET /videos/<video>/master.m3u8`` (``Host``: the name) until its headers;
4. the master playlist's first variant (what a player starts with, RFC 8216 6.3.1), its media
   playlist, its init section (``EXT-X-MAP``, fMP4) if any and its first segment, all on the same
   keep-alive connection;
5. **startup** = from the DNS query to the first segment's last byte: what a viewer waits
   before the first frame can show. The play *passes* when startup is within the threshold (the
   SLO document's ``startupSeconds``, 1 s by default) and every fetch answered 200.

Each fetch records the PoP's ``X-Cache-Status`` (HIT / MISS / ...), so a slow start can be told
apart as a cold cache or a slow PoP. Errors (NXDOMAIN, refused connection, 4xx/5xx, timeouts) are
results, never exceptions: a failed play is a failed play.

:func:`targets` turns the inventory into what to probe: every PoP (or the named ones) at
``{pop}.pop.{zone}`` (``host_template``), or one name; the nameserver defaults to the DNS
provider's (``nameservers[0]`` or ``server`` in its settings).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from typing import Any
from urllib.parse import urljoin, urlsplit

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import httpx

from ..core.errors import PermanentError
from ..inventory import models as m
from ..inventory.model import Inventory
from .dnsverify import parse_server

DEFAULT_VIDEO = "probe"  # a short canary video published for the probe (transcode jobs probe --run ...)
DEFAULT_HOST_TEMPLATE = "{pop}.pop.{zone}"
MASTER_PATH = "/videos/{video}/master.m3u8"


@dataclass(frozen=True)
class Target:
    host: str  # the name a player resolves (absolute, trailing dot)
    pop: str = ""  # the PoP it names ("" for a steered name)
    region: str = ""


@dataclass(frozen=True)
class ProbeSettings:
    nameserver: str  # HOST[:PORT] of the authoritative server
    scheme: str = "https"
    port: int = 0  # 0: 443 for https, 80 for http
    video: str = DEFAULT_VIDEO
    threshold: float = 1.0  # startup seconds a play must stay within
    timeout: float = 5.0  # per DNS query and per HTTP step
    ca_file: str | None = None  # https: verify the PoP's certificate against this bundle (default: the system's)

    @property
    def http_port(self) -> int:
        return self.port or (443 if self.scheme == "https" else 80)


@dataclass
class Fetch:
    what: str  # master, media, init, segment
    path: str
    status: int
    bytes: int
    seconds: float
    cache: str = ""  # X-Cache-Status


@dataclass
class Play:
    target: Target
    video: str
    threshold: float
    address: str = ""
    dns_seconds: float | None = None
    connect_seconds: float | None = None
    first_byte_seconds: float | None = None
    first_segment_seconds: float | None = None
    startup_seconds: float | None = None
    variant: str = ""
    fetches: list[Fetch] = field(default_factory=list)
    error: str = ""
    at: float = field(default_factory=time.time)

    @property
    def passed(self) -> bool:
        return not self.error and self.startup_seconds is not None and self.startup_seconds <= self.threshold

    @property
    def verdict(self) -> str:
        if self.error:
            return "error"
        return "pass" if self.passed else "slow"

    def as_dict(self) -> dict[str, Any]:
        out = {"pop": self.target.pop, "region": self.target.region, "host": self.target.host.rstrip("."),
               "address": self.address, "video": self.video, "verdict": self.verdict, "passed": self.passed,
               "threshold_seconds": self.threshold}
        for k in ("dns", "connect", "first_byte", "first_segment", "startup"):
            v = getattr(self, f"{k}_seconds")
            out[f"{k}_seconds"] = None if v is None else round(v, 4)
        out["variant"] = self.variant
        out["fetches"] = [asdict(f) | {"seconds": round(f.seconds, 4)} for f in self.fetches]
        out["error"] = self.error
        return out


# ---- DNS -----------------------------------------------------------------------------------------
def resolve(nameserver: str, fqdn: str, timeout: float) -> list[str]:
    """The A records of ``fqdn`` from an authoritative server, following CNAMEs (at most 8)."""
    host, port = parse_server(nameserver)
    name = dns.name.from_text(fqdn)
    for _ in range(8):
        q = dns.message.make_query(name, "A")
        q.flags &= ~dns.flags.RD
        resp = dns.query.udp(q, host, port=port, timeout=timeout)
        if resp.flags & dns.flags.TC:
            resp = dns.query.tcp(q, host, port=port, timeout=timeout)
        if resp.rcode() != dns.rcode.NOERROR:
            raise dns.exception.DNSException(f"{fqdn} {dns.rcode.to_text(resp.rcode())} from {nameserver}")
        current, addresses = name, []
        for _hop in range(8):  # walk the answer section's CNAME chain
            rrsets = {(r.name, r.rdtype): r for r in resp.answer}
            a = rrsets.get((current, dns.rdatatype.A))
            if a is not None:
                addresses = [rd.to_text() for rd in a]
                break
            cname = rrsets.get((current, dns.rdatatype.CNAME))
            if cname is None:
                break
            current = dns.name.from_text(next(iter(cname)).to_text(), origin=current.parent())
        if addresses:
            return addresses
        if current == name:
            raise dns.exception.DNSException(f"{fqdn} has no A record on {nameserver}")
        name = current  # the chain leaves the answer: ask for its end
    raise dns.exception.DNSException(f"{fqdn}: CNAME chain too long")


# ---- one play ------------------------------------------------------------------------------------
class _Trace:
    """httpx/httpcore trace hook: when the TCP (and TLS) connection was set up."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.connected: float | None = None

    def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if event == "connection.connect_tcp.started":
            self.started = time.perf_counter()
        elif event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.connected = time.perf_counter()


def _first_variant(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF"):
            uri = next((u for u in lines[i + 1:] if u and not u.startswith("#")), "")
            if uri:
                return uri
    raise ValueError("master playlist lists no variant (#EXT-X-STREAM-INF)")


def _first_segment(text: str) -> tuple[str | None, str]:
    """(init section URI or None, first segment URI) of a media playlist."""
    init = None
    lines = [line.strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-MAP:") and 'URI="' in line:
            init = line.split('URI="', 1)[1].split('"', 1)[0]
        if line.startswith("#EXTINF"):
            uri = next((u for u in lines[i + 1:] if u and not u.startswith("#")), "")
            if uri:
                return init, uri
    raise ValueError("media playlist lists no segment (#EXTINF)")


def play(target: Target, settings: ProbeSettings) -> Play:
    """One synthetic play of ``settings.video`` through ``target``; never raises for what it measures."""
    result = Play(target, settings.video, settings.threshold)
    t0 = time.perf_counter()
    try:
        addresses = resolve(settings.nameserver, target.host, settings.timeout)
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        result.error = f"DNS: {type(exc).__name__}: {exc}"
        return result
    result.dns_seconds = time.perf_counter() - t0
    result.address = addresses[0]
    host = target.host.rstrip(".")
    address = f"[{result.address}]" if ":" in result.address else result.address
    base = f"{settings.scheme}://{address}:{settings.http_port}"
    trace = _Trace()
    extensions: dict[str, Any] = {"trace": trace}
    if settings.scheme == "https":
        extensions["sni_hostname"] = host
    verify: ssl.SSLContext | bool = True
    if settings.scheme == "https" and settings.ca_file:
        try:
            verify = ssl.create_default_context(cafile=settings.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise PermanentError(f"cannot read the CA bundle {settings.ca_file}: {exc}") from exc
    try:
        with httpx.Client(base_url=base, headers={"Host": host, "User-Agent": "streamverse-playback-probe/1"},
                          timeout=settings.timeout, http2=False, trust_env=False, verify=verify) as client:

            def fetch(what: str, path: str) -> httpx.Response:
                t = time.perf_counter()
                with client.stream("GET", path, extensions=extensions) as resp:
                    if what == "master":
                        result.first_byte_seconds = time.perf_counter() - t
                        if trace.started is not None and trace.connected is not None:
                            result.connect_seconds = trace.connected - trace.started
                    resp.read()
                result.fetches.append(Fetch(what, path, resp.status_code, len(resp.content),
                                            time.perf_counter() - t, resp.headers.get("x-cache-status", "")))
                if resp.status_code != 200:
                    raise _Failed(f"{what} {path}: HTTP {resp.status_code}")
                return resp

            master_path = MASTER_PATH.format(video=settings.video)
            master = fetch("master", master_path)
            variant = urljoin(master_path, _first_variant(master.text))
            result.variant = variant
            media = fetch("media", urlsplit(variant).path)
            init, first = _first_segment(media.text)
            if init:
                fetch("init", urlsplit(urljoin(variant, init)).path)
            fetch("segment", urlsplit(urljoin(variant, first)).path)
            result.first_segment_seconds = result.fetches[-1].seconds
    except _Failed as exc:
        result.error = str(exc)
        return result
    except httpx.HTTPError as exc:
        result.error = f"HTTP: {type(exc).__name__}: {exc or 'no detail'} ({base}, Host {host})"
        return result
    except ValueError as exc:
        result.error = f"playlist: {exc}"
        return result
    result.startup_seconds = time.perf_counter() - t0
    return result


class _Failed(Exception):
    pass


def run(targets: Iterable[Target], settings: ProbeSettings, samples: int = 1) -> list[Play]:
    """``samples`` plays per target, one after another (each with its own DNS query and connection)."""
    return [play(t, settings) for t in targets for _ in range(max(1, samples))]


def health(plays: Iterable[Play]) -> dict[str, dict[str, bool]]:
    """As a health source: ``{"pops": {pop: all its plays passed}, "regions": {region: any PoP passed}}``."""
    pops: dict[str, bool] = {}
    regions: dict[str, bool] = {}
    for p in plays:
        key = p.target.pop or p.target.host.rstrip(".")
        pops[key] = pops.get(key, True) and p.passed
    for p in plays:
        if p.target.region:
            key = p.target.pop or p.target.host.rstrip(".")
            regions[p.target.region] = regions.get(p.target.region, False) or pops[key]
    return {"pops": pops, "regions": regions}


# ---- from the inventory --------------------------------------------------------------------------
def inventory_zone(inv: Inventory) -> str | None:
    zones = sorted({s.zone for s in inv.specs("TrafficPolicy", m.TrafficPolicySpec).values()})
    return zones[0] if zones else None


def inventory_nameserver(inv: Inventory) -> str | None:
    """The authoritative server of the inventory's DNS provider (rfc2136 ``server``, or ``nameservers``)."""
    for _name, spec in sorted(inv.specs("Provider", m.ProviderSpec).items()):
        if any(fnmatch("dns.record", t) for t in spec.serves.types):
            ns = spec.settings.get("nameservers")
            if isinstance(ns, list) and ns:
                return str(ns[0])
            if spec.settings.get("server"):
                return str(spec.settings["server"])
    return None


def inventory_startup_seconds(inv: Inventory) -> float:
    slos = inv.specs("SLO", m.SLOSpec)
    return min((s.startup_seconds for s in slos.values()), default=m.SLOSpec().startup_seconds)


def targets(inv: Inventory, pops: list[str] | None = None, host: str | None = None, zone: str | None = None,
            host_template: str = DEFAULT_HOST_TEMPLATE) -> list[Target]:
    """What to probe: ``host`` alone, else the named PoPs (globs allowed), else every PoP."""
    if host:
        return [Target(host if host.endswith(".") else host + ".")]
    known = inv.specs("PoP", m.PoPSpec)
    zone = zone or inventory_zone(inv)
    if not zone:
        raise PermanentError("no DNS zone to name the PoPs in: give --zone (the inventory has no TrafficPolicy)")
    zone = zone if zone.endswith(".") else zone + "."
    chosen = sorted(known)
    if pops:
        missing = [p for p in pops if not any(fnmatch(n, p) for n in known)]
        if missing:
            raise PermanentError(f"no PoP {', '.join(missing)} in the inventory "
                                 f"(known: {', '.join(sorted(known)) or 'none'})")
        chosen = [n for n in chosen if any(fnmatch(n, p) for p in pops)]
    out = []
    for name in chosen:
        fqdn = host_template.format(pop=name, region=known[name].region, zone=zone)
        out.append(Target(fqdn if fqdn.endswith(".") else fqdn + ".", name, known[name].region))
    return out
