"""Fold per-region routed records into PowerDNS LUA record code (and find weights in it again).

One LUA RRset per name holds one record per type (``A "<lua>"``, ``AAAA "<lua>"``). The code is
generated deterministically from the neutral per-``set_id`` record specs, so the provider can
regenerate it on read and compare: equal means converged, different means an edit happened
behind the tool's back.

* weighted: ``pickwrandom({{w,'a'},...})`` or ``pickwhashed`` (per EDNS client subnet). Weights
  are per REGION (per set), not per address: a set of weight W with N addresses gives each
  address W*L/N, where L is the least common multiple of every set's address count (integers, as
  the pickers need; with one address per set the code is exactly ``{W,'a'}``). So us-east 50 with
  two addresses and us-west 50 with one is ``{50,a1},{50,a2},{100,b}``: each region gets 1/2.
  Sets with weight 0 get no traffic unless all are 0 (then every set weighs the same).
* weighted with health checks: a script asks ``ifurlextup`` which health URLs are up (a sentinel
  address with an unreachable URL tells "all down" apart), keeps only the healthy sets (and sets
  without a health check) and picks among them by weight; if none is healthy all sets are used.
* failover: the PRIMARY's values while its health URL is up (or if it has no check), else the
  SECONDARY's.
* geo (needs the GeoIP backend): ``continent()``/``country()`` tests in order, then the default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

HcUrl = Callable[[str | None], str | None]  # health check name -> URL (None: no check)
SENTINEL_URL = "http://127.0.0.1:1/"
WEIGHT_ENTRY = re.compile(r"\{(\d+),'([^']*)'\}")


class LuaError(ValueError):
    """A value cannot be put into LUA code safely."""


def lua_str(value: str) -> str:
    if any(ch in value for ch in "'\"\\\n"):
        raise LuaError(f"value {value!r} cannot be used in a LUA record (quotes or backslashes)")
    return f"'{value}'"


def lua_list(values: Sequence[str]) -> str:
    return "{" + ",".join(lua_str(v) for v in values) + "}"


def _sentinel(rtype: str) -> str:
    return "::" if rtype == "AAAA" else "0.0.0.0"


def _health_table(entries: Sequence[tuple[str, str]], rtype: str) -> str:
    """``local ok`` = set of healthy addresses among (address, url) pairs."""
    pairs = ",".join(f"[{lua_str(a)}]={lua_str(u)}" for a, u in entries)
    s = lua_str(_sentinel(rtype))
    return (f"local ok={{}} for _,ip in ipairs(ifurlextup({{{{{pairs},[{s}]='{SENTINEL_URL}'}}}},"
            f"{{selector='all',backupSelector='all'}})) do ok[ip]=true end if ok[{s}] then ok={{}} end ")


def address_scale(sets: Sequence[Mapping[str, Any]]) -> int:
    """L: the least common multiple of the sets' address counts (each address weighs W*L/N)."""
    return math.lcm(*[len(s["values"]) for s in sets if s["values"]] or [1])


def weighted_code(rtype: str, sets: Sequence[Mapping[str, Any]], selector: str, hc_url: HcUrl) -> str:
    ordered = sorted(sets, key=lambda s: str(s["set_id"]))
    scale = address_scale(ordered)
    weights = [int(s.get("weight") or 0) for s in ordered]
    if weights and all(w == 0 for w in weights):
        weights = [1] * len(weights)
    entries = [(w * scale // len(s["values"]), v) for w, s in zip(weights, ordered, strict=True)
               for v in s["values"]]
    table = "{" + ",".join(f"{{{w},{lua_str(v)}}}" for w, v in entries if w > 0) + "}"
    checked = [(v, url) for s in ordered if (url := hc_url(s.get("health_check"))) for v in s["values"]]
    if not checked:
        return f"{selector}({table})"
    always = [v for s in ordered if not hc_url(s.get("health_check")) for v in s["values"]]
    return (f";local W={table} " + _health_table(checked, rtype)
            + "".join(f"ok[{lua_str(v)}]=true " for v in always)
            + "local c={} for _,e in ipairs(W) do if ok[e[2]] then c[#c+1]=e end end "
            + f"if #c==0 then c=W end return {selector}(c)")


def failover_code(rtype: str, sets: Sequence[Mapping[str, Any]], hc_url: HcUrl) -> str:
    primary = [s for s in sets if s.get("failover") == "PRIMARY"]
    secondary = [s for s in sets if s.get("failover") == "SECONDARY"]
    if not primary:
        return f"return {lua_list(secondary[0]['values'])}"
    p = primary[0]
    url = hc_url(p.get("health_check"))
    if not secondary or not url:
        return f"return {lua_list(p['values'])}"
    return (";" + _health_table([(v, url) for v in p["values"]], rtype)
            + f"local P={lua_list(p['values'])} for _,a in ipairs(P) do if ok[a] then return P end end "
            + f"return {lua_list(secondary[0]['values'])}")


def geo_code(sets: Sequence[Mapping[str, Any]]) -> str:
    parts, default = [";"], None
    for s in sorted(sets, key=lambda s: str(s["set_id"])):
        geo = s.get("geo") or {}
        if geo.get("default"):
            default = s
        elif geo.get("continent"):
            parts.append(f"if continent({lua_str(geo['continent'])}) then return {lua_list(s['values'])} end ")
        elif geo.get("country"):
            parts.append(f"if country({lua_str(geo['country'])}) then return {lua_list(s['values'])} end ")
    parts.append(f"return {lua_list(default['values']) if default else '{}'}")
    return "".join(parts)


def lua_content(rtype: str, routing: str, sets: Sequence[Mapping[str, Any]], selector: str,
                hc_url: HcUrl) -> str:
    """The LUA record content (``A "<code>"``) for one type's routed sets."""
    if routing == "weighted":
        code = weighted_code(rtype, sets, selector, hc_url)
    elif routing == "failover":
        code = failover_code(rtype, sets, hc_url)
    elif routing == "geo":
        code = geo_code(sets)
    else:
        raise LuaError(f"routing {routing} cannot be expressed as a LUA record")
    return f'{rtype} "{code}"'


def weights_in(content: str) -> dict[str, int]:
    """Value -> per-address weight as written in a weighted LUA record."""
    return {v: int(w) for w, v in WEIGHT_ENTRY.findall(content)}


def set_weights_in(content: str, sets: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """set_id -> region weight as written in a weighted LUA record (for showing drift field by field):
    the sum of its addresses' weights divided by L (only where that is a whole number)."""
    found = weights_in(content)
    scale = address_scale(sets)
    out = {}
    for s in sets:
        if s["values"] and all(v in found for v in s["values"]):
            total = sum(found[v] for v in s["values"])
            if total % scale == 0:
                out[str(s["set_id"])] = total // scale
    return out
