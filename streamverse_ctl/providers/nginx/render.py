"""A PoP's state <-> its nginx configuration.

The state a PoP's config carries (its ``cdn.pop`` spec, cache policies, warm sets, per-IP limits) is
written into the config itself as a ``# streamverse-state:`` JSON line, beside a digest over the whole
text: reading the config back gives the deployed state, and an edit made on the host (the digest no
longer matches) is drift the next plan shows and apply reverts.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ...core.errors import PermanentError

PLACEHOLDER = "@@STREAMVERSE-DIGEST@@"
DIGEST_LINE = re.compile(r"^# streamverse-digest: ([0-9a-f]{64})$", re.M)
STATE_LINE = re.compile(r"^# streamverse-state: (.*)$", re.M)
SAFE_PATTERN = re.compile(r"^[A-Za-z0-9_./*?~%+=,:@-]+$")  # no quote, brace, semicolon, space or $


@dataclass
class PopState:
    """What streamverse deployed on one PoP."""

    pop: dict[str, Any] | None = None  # the cdn.pop spec (None: nothing deployed)
    cache_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # resource name -> spec
    warm_sets: dict[str, dict[str, Any]] = field(default_factory=dict)  # resource name -> spec
    rate_limits: dict[str, int] = field(default_factory=dict)  # scope -> req/s per client IP
    edited: str = ""  # why the config on the host is not what was deployed ("" : it is)

    def as_json(self) -> dict[str, Any]:
        return {"pop": self.pop, "cache_policies": self.cache_policies, "warm_sets": self.warm_sets,
                "rate_limits": self.rate_limits}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PopState:
        return cls(data.get("pop"), dict(data.get("cache_policies") or {}), dict(data.get("warm_sets") or {}),
                   {str(k): int(v) for k, v in (data.get("rate_limits") or {}).items()})

    def ttl_rules(self) -> dict[str, int]:
        """Pattern -> TTL over every cache policy on the PoP (the longest TTL wins a pattern two give)."""
        out: dict[str, int] = {}
        for spec in self.cache_policies.values():
            for pattern, ttl in (spec.get("ttl_overrides") or {}).items():
                out[pattern] = max(int(ttl), out.get(pattern, 0))
        return out

    def titles(self) -> list[str]:
        return sorted({t for spec in self.warm_sets.values() for t in spec.get("titles") or []})


def unsafe_pattern(pattern: str) -> str | None:
    """Why a TTL path glob cannot go into an nginx config (None: it can)."""
    if not SAFE_PATTERN.match(pattern):
        return f"TTL pattern {pattern!r} may hold only letters, digits and _ . / * ? ~ % + = , : @ -"
    return None


def glob_regex(pattern: str) -> str:
    """A path glob as an anchored nginx regex (``*`` any characters, ``?`` one)."""
    body = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return body + "$" if pattern.startswith("*") else "^" + body + "$"


def _is_prefix(pattern: str) -> bool:
    return pattern.startswith("/") and pattern.endswith("/*") and not any(c in pattern[:-1] for c in "*?")


def zone_name(scope: str) -> str:
    return "rl_" + re.sub(r"[^A-Za-z0-9_]", "_", scope)


def locations(ttl_rules: Mapping[str, int], rate_limits: Mapping[str, int], video_path: str) -> list[dict[str, Any]]:
    """The PoP's cache locations, specific before generic.

    A glob ``/a/b/*`` is a ``^~`` prefix location (nginx prefers the longest matching prefix over every
    regex); other path globs are regex locations, tried in order before the suffix globs (``*.ts``) that
    come last. A ``video:ID`` rate limit applies in the video's prefix location (made if no TTL rule has it).
    """
    prefix: dict[str, dict[str, Any]] = {}
    for pattern, ttl in sorted(ttl_rules.items()):
        if _is_prefix(pattern):
            prefix[pattern[:-1]] = {"ttl": ttl, "limit": None, "comment": f"{pattern}: {ttl} s"}
    for scope, rps in sorted(rate_limits.items()):
        if scope.startswith("video:"):
            path = video_path.format(video=scope.split(":", 1)[1])
            loc = prefix.setdefault(path, {"ttl": None, "limit": None, "comment": f"{path}*"})
            loc["limit"] = {"name": zone_name(scope), "burst": rps * 2}
            loc["comment"] += f", at most {rps} req/s per client IP"
    out = [{"match": f"^~ {path}", **loc} for path, loc in sorted(prefix.items(), key=lambda kv: -len(kv[0]))]
    regex = [(p, t) for p, t in sorted(ttl_rules.items()) if not _is_prefix(p)]
    # path globs before suffix globs; longer (more specific) first within each group
    regex.sort(key=lambda pt: (pt[0].startswith("*"), -len(pt[0]), pt[0]))
    out += [{"match": f'~ "{glob_regex(p)}"', "ttl": t, "limit": None, "comment": f"{p}: {t} s"} for p, t in regex]
    return out


def _template(path: str) -> jinja2.Template:
    """The compiled template, compiled again when the file changes (a template rollout in one process)."""
    st = Path(path).stat()
    return _compiled(path, st.st_mtime_ns, st.st_size)


@cache
def _compiled(path: str, mtime_ns: int, size: int) -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(path).parent)), trim_blocks=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    return env.get_template(Path(path).name)


def digest_of(text_with_placeholder: str) -> str:
    return hashlib.sha256(text_with_placeholder.encode()).hexdigest()


def render(template: Path, state: PopState, host: Mapping[str, Any], *, provider: str, pop: str,
           origin_scheme: str, origin_servers: list[str], admin_allow: list[str], video_path: str) -> str:
    """The PoP's nginx.conf for ``state`` on ``host`` (its Ansible host vars), digest filled in."""
    spec = state.pop or {}
    limits = dict(state.rate_limits)
    zones = [{"name": zone_name(s), "rps": r, "scope": s} for s, r in sorted(limits.items())]
    glob = limits.get("global")
    cache_gb = max(1, int(float(spec.get("cache_tb", 0.01)) * 1024))
    variables = {
        "provider": provider, "pop": pop, "region": spec.get("region", "?"), "digest": PLACEHOLDER,
        "serving": spec.get("serving", True) is not False,
        "state_json": json.dumps(state.as_json(), sort_keys=True, separators=(",", ":")),
        "prefix": host["nginx_prefix"], "listen": host.get("listen", "80"),
        "foreground": bool(host.get("nginx_foreground", False)),
        "cache_max_size": host.get("cache_max_size", f"{cache_gb}g"), "origin_scheme": origin_scheme,
        "origin_servers": origin_servers, "admin_allow": admin_allow, "default_valid": "10m",
        "zones": zones, "global_limit": {"name": zone_name("global"), "burst": glob * 2} if glob else None,
        "locations": locations(state.ttl_rules(), limits, video_path),
    }
    try:
        text = _template(str(template)).render(**variables)
    except jinja2.TemplateError as exc:
        raise PermanentError(f"nginx provider '{provider}': template {template}: {exc}") from exc
    return text.replace(PLACEHOLDER, digest_of(text))


def parse(text: str) -> PopState | None:
    """The state a deployed config carries (None: not a config streamverse wrote)."""
    found, state_line = DIGEST_LINE.search(text), STATE_LINE.search(text)
    if not found or not state_line:
        return None
    try:
        state = PopState.from_json(json.loads(state_line.group(1)))
    except (ValueError, TypeError, AttributeError):
        return PopState(edited="its streamverse-state line is not valid JSON")
    recorded = found.group(1)
    actual = digest_of(text.replace(recorded, PLACEHOLDER))
    if actual != recorded:
        state.edited = f"nginx.conf was edited on the host (digest {actual[:12]}, deployed {recorded[:12]})"
    return state


def cache_file(path: str) -> str:
    """Where nginx keeps the object of URL path ``path`` under the cache directory (``levels=1:2``,
    ``proxy_cache_key $uri``): ``<last hex digit>/<the two before>/<md5 of the key>``."""
    md5 = hashlib.md5(path.encode()).hexdigest()  # nginx names cache files so (not security)
    return f"{md5[-1]}/{md5[-3:-1]}/{md5}"


def config_digest(text: str) -> str | None:
    found = DIGEST_LINE.search(text)
    return found.group(1) if found else None
