#!/usr/bin/env python3
"""Generate the PoP documents of ``inventories/production/pops/<region>.yaml``.

The PoPs are real metro areas (named after the nearest IATA airport/metro code, e.g. ``nyc1``)
with their ISO 3166-1 alpha-2 country code, grouped into the six StreamVerse regions:

* ``us-east``    eastern and central North America, the Caribbean and Central America
* ``us-west``    western North America, Hawaii, Alaska and Mexico
* ``eu-west``    Europe and Africa (except Egypt)
* ``ap-pacific`` East and South-East Asia and Oceania
* ``sa-east``    South America
* ``me-central`` the Middle East, Egypt, South and Central Asia and the Caucasus

Sizes follow the metro's class: ``XL`` and ``L`` metros are ``core`` PoPs (pre-warmed by the
CacheWarmPolicy), ``M`` and ``S`` are ``edge`` PoPs. A metro listed with ``n`` > 1 gets ``n``
PoPs (``lhr1``, ``lhr2``, ...). The output is deterministic; commit it with this script.

Usage::

    python scripts/gen_production_pops.py           # (re)write the files
    python scripts/gen_production_pops.py --check   # exit 1 if the committed files are stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent.parent / "inventories" / "production" / "pops"
API_VERSION = "streamverse.io/v1"

# class -> (tier, cacheTb, capacityGbps)
SIZES: dict[str, tuple[str, int, int]] = {
    "XL": ("core", 400, 3200),
    "L": ("core", 240, 1600),
    "M": ("edge", 96, 400),
    "S": ("edge", 48, 200),
}

# region -> [(code, city, ISO country, class, number of PoPs)]
Metro = tuple[str, str, str, str, int]
METROS: dict[str, list[Metro]] = {
    "us-east": [
        ("nyc", "New York", "US", "XL", 3),
        ("iad", "Ashburn", "US", "XL", 3),
        ("ord", "Chicago", "US", "XL", 2),
        ("atl", "Atlanta", "US", "XL", 2),
        ("mia", "Miami", "US", "XL", 2),
        ("dfw", "Dallas", "US", "XL", 2),
        ("bos", "Boston", "US", "L", 1),
        ("ewr", "Newark", "US", "L", 1),
        ("phl", "Philadelphia", "US", "L", 1),
        ("yyz", "Toronto", "CA", "L", 2),
        ("yul", "Montreal", "CA", "L", 1),
        ("iah", "Houston", "US", "L", 2),
        ("clt", "Charlotte", "US", "M", 1),
        ("msp", "Minneapolis", "US", "M", 1),
        ("dtw", "Detroit", "US", "M", 1),
        ("cmh", "Columbus", "US", "M", 1),
        ("pit", "Pittsburgh", "US", "S", 1),
        ("bwi", "Baltimore", "US", "S", 1),
        ("ric", "Richmond", "US", "S", 1),
        ("rdu", "Raleigh", "US", "S", 1),
        ("bna", "Nashville", "US", "M", 1),
        ("mem", "Memphis", "US", "S", 1),
        ("stl", "St. Louis", "US", "M", 1),
        ("mci", "Kansas City", "US", "M", 1),
        ("ind", "Indianapolis", "US", "S", 1),
        ("cle", "Cleveland", "US", "S", 1),
        ("cvg", "Cincinnati", "US", "S", 1),
        ("tpa", "Tampa", "US", "M", 1),
        ("mco", "Orlando", "US", "M", 1),
        ("jax", "Jacksonville", "US", "S", 1),
        ("msy", "New Orleans", "US", "S", 1),
        ("aus", "Austin", "US", "M", 1),
        ("sat", "San Antonio", "US", "S", 1),
        ("oma", "Omaha", "US", "S", 1),
        ("mke", "Milwaukee", "US", "S", 1),
        ("buf", "Buffalo", "US", "S", 1),
        ("sdf", "Louisville", "US", "S", 1),
        ("okc", "Oklahoma City", "US", "S", 1),
        ("yow", "Ottawa", "CA", "S", 1),
        ("yhz", "Halifax", "CA", "S", 1),
        ("sju", "San Juan", "PR", "M", 1),
        ("sdq", "Santo Domingo", "DO", "S", 1),
        ("kin", "Kingston", "JM", "S", 1),
        ("pty", "Panama City", "PA", "M", 1),
        ("sjo", "San José", "CR", "S", 1),
        ("gua", "Guatemala City", "GT", "S", 1),
    ],
    "us-west": [
        ("lax", "Los Angeles", "US", "XL", 3),
        ("sjc", "San Jose", "US", "XL", 2),
        ("sea", "Seattle", "US", "XL", 2),
        ("sfo", "San Francisco", "US", "L", 1),
        ("den", "Denver", "US", "L", 2),
        ("phx", "Phoenix", "US", "L", 2),
        ("las", "Las Vegas", "US", "M", 1),
        ("slc", "Salt Lake City", "US", "M", 1),
        ("pdx", "Portland", "US", "M", 1),
        ("smf", "Sacramento", "US", "M", 1),
        ("san", "San Diego", "US", "M", 1),
        ("abq", "Albuquerque", "US", "S", 1),
        ("boi", "Boise", "US", "S", 1),
        ("tus", "Tucson", "US", "S", 1),
        ("elp", "El Paso", "US", "S", 1),
        ("fat", "Fresno", "US", "S", 1),
        ("geg", "Spokane", "US", "S", 1),
        ("rno", "Reno", "US", "S", 1),
        ("hnl", "Honolulu", "US", "M", 1),
        ("anc", "Anchorage", "US", "S", 1),
        ("yvr", "Vancouver", "CA", "L", 2),
        ("yyc", "Calgary", "CA", "M", 1),
        ("yeg", "Edmonton", "CA", "S", 1),
        ("ywg", "Winnipeg", "CA", "S", 1),
        ("mex", "Mexico City", "MX", "L", 2),
        ("gdl", "Guadalajara", "MX", "M", 1),
        ("mty", "Monterrey", "MX", "M", 1),
        ("qro", "Querétaro", "MX", "S", 1),
        ("tij", "Tijuana", "MX", "S", 1),
    ],
    "eu-west": [
        ("lhr", "London", "GB", "XL", 3),
        ("fra", "Frankfurt", "DE", "XL", 3),
        ("ams", "Amsterdam", "NL", "XL", 2),
        ("cdg", "Paris", "FR", "XL", 2),
        ("mad", "Madrid", "ES", "L", 2),
        ("mxp", "Milan", "IT", "L", 2),
        ("dub", "Dublin", "IE", "L", 2),
        ("arn", "Stockholm", "SE", "L", 1),
        ("cph", "Copenhagen", "DK", "M", 1),
        ("osl", "Oslo", "NO", "M", 1),
        ("hel", "Helsinki", "FI", "M", 1),
        ("man", "Manchester", "GB", "L", 1),
        ("edi", "Edinburgh", "GB", "S", 1),
        ("bru", "Brussels", "BE", "M", 1),
        ("lux", "Luxembourg", "LU", "S", 1),
        ("zrh", "Zurich", "CH", "L", 1),
        ("gva", "Geneva", "CH", "S", 1),
        ("vie", "Vienna", "AT", "L", 1),
        ("prg", "Prague", "CZ", "M", 1),
        ("waw", "Warsaw", "PL", "L", 1),
        ("ber", "Berlin", "DE", "L", 1),
        ("muc", "Munich", "DE", "M", 1),
        ("ham", "Hamburg", "DE", "M", 1),
        ("dus", "Düsseldorf", "DE", "M", 1),
        ("mrs", "Marseille", "FR", "L", 1),
        ("lys", "Lyon", "FR", "S", 1),
        ("bcn", "Barcelona", "ES", "M", 1),
        ("lis", "Lisbon", "PT", "M", 1),
        ("opo", "Porto", "PT", "S", 1),
        ("fco", "Rome", "IT", "M", 1),
        ("ath", "Athens", "GR", "M", 1),
        ("sof", "Sofia", "BG", "S", 1),
        ("otp", "Bucharest", "RO", "M", 1),
        ("bud", "Budapest", "HU", "M", 1),
        ("zag", "Zagreb", "HR", "S", 1),
        ("beg", "Belgrade", "RS", "S", 1),
        ("ist", "Istanbul", "TR", "L", 2),
        ("kbp", "Kyiv", "UA", "S", 1),
        ("rix", "Riga", "LV", "S", 1),
        ("tll", "Tallinn", "EE", "S", 1),
        ("vno", "Vilnius", "LT", "S", 1),
        ("cmn", "Casablanca", "MA", "M", 1),
        ("tun", "Tunis", "TN", "S", 1),
        ("alg", "Algiers", "DZ", "S", 1),
        ("los", "Lagos", "NG", "L", 2),
        ("abv", "Abuja", "NG", "S", 1),
        ("acc", "Accra", "GH", "M", 1),
        ("abj", "Abidjan", "CI", "S", 1),
        ("dkr", "Dakar", "SN", "S", 1),
        ("jnb", "Johannesburg", "ZA", "L", 2),
        ("cpt", "Cape Town", "ZA", "M", 1),
        ("dur", "Durban", "ZA", "S", 1),
        ("nbo", "Nairobi", "KE", "L", 2),
        ("add", "Addis Ababa", "ET", "S", 1),
        ("dar", "Dar es Salaam", "TZ", "S", 1),
        ("ebb", "Kampala", "UG", "S", 1),
        ("kgl", "Kigali", "RW", "S", 1),
        ("lad", "Luanda", "AO", "S", 1),
        ("mru", "Port Louis", "MU", "S", 1),
    ],
    "ap-pacific": [
        ("sin", "Singapore", "SG", "XL", 3),
        ("nrt", "Tokyo", "JP", "XL", 3),
        ("kix", "Osaka", "JP", "L", 2),
        ("ngo", "Nagoya", "JP", "M", 1),
        ("fuk", "Fukuoka", "JP", "M", 1),
        ("cts", "Sapporo", "JP", "S", 1),
        ("hkg", "Hong Kong", "HK", "XL", 2),
        ("mfm", "Macau", "MO", "S", 1),
        ("tpe", "Taipei", "TW", "L", 2),
        ("icn", "Seoul", "KR", "XL", 2),
        ("pus", "Busan", "KR", "M", 1),
        ("syd", "Sydney", "AU", "XL", 2),
        ("mel", "Melbourne", "AU", "L", 2),
        ("bne", "Brisbane", "AU", "M", 1),
        ("per", "Perth", "AU", "M", 1),
        ("adl", "Adelaide", "AU", "S", 1),
        ("cbr", "Canberra", "AU", "S", 1),
        ("akl", "Auckland", "NZ", "L", 1),
        ("wlg", "Wellington", "NZ", "S", 1),
        ("chc", "Christchurch", "NZ", "S", 1),
        ("kul", "Kuala Lumpur", "MY", "L", 2),
        ("pen", "Penang", "MY", "S", 1),
        ("cgk", "Jakarta", "ID", "L", 2),
        ("sub", "Surabaya", "ID", "M", 1),
        ("dps", "Denpasar", "ID", "S", 1),
        ("bkk", "Bangkok", "TH", "L", 2),
        ("mnl", "Manila", "PH", "L", 2),
        ("ceb", "Cebu City", "PH", "S", 1),
        ("sgn", "Ho Chi Minh City", "VN", "M", 1),
        ("han", "Hanoi", "VN", "M", 1),
        ("pnh", "Phnom Penh", "KH", "S", 1),
        ("rgn", "Yangon", "MM", "S", 1),
        ("gum", "Hagåtña", "GU", "S", 1),
    ],
    "sa-east": [
        ("gru", "São Paulo", "BR", "XL", 3),
        ("gig", "Rio de Janeiro", "BR", "L", 2),
        ("bsb", "Brasília", "BR", "M", 1),
        ("cnf", "Belo Horizonte", "BR", "M", 1),
        ("poa", "Porto Alegre", "BR", "M", 1),
        ("cwb", "Curitiba", "BR", "M", 1),
        ("flp", "Florianópolis", "BR", "S", 1),
        ("ssa", "Salvador", "BR", "S", 1),
        ("rec", "Recife", "BR", "M", 1),
        ("for", "Fortaleza", "BR", "M", 1),
        ("bel", "Belém", "BR", "S", 1),
        ("mao", "Manaus", "BR", "S", 1),
        ("eze", "Buenos Aires", "AR", "L", 2),
        ("cor", "Córdoba", "AR", "S", 1),
        ("ros", "Rosario", "AR", "S", 1),
        ("scl", "Santiago", "CL", "L", 2),
        ("lim", "Lima", "PE", "L", 2),
        ("bog", "Bogotá", "CO", "L", 2),
        ("mde", "Medellín", "CO", "M", 1),
        ("uio", "Quito", "EC", "S", 1),
        ("gye", "Guayaquil", "EC", "S", 1),
        ("ccs", "Caracas", "VE", "S", 1),
        ("mvd", "Montevideo", "UY", "M", 1),
        ("asu", "Asunción", "PY", "S", 1),
        ("lpb", "La Paz", "BO", "S", 1),
        ("vvi", "Santa Cruz de la Sierra", "BO", "S", 1),
    ],
    "me-central": [
        ("dxb", "Dubai", "AE", "XL", 3),
        ("auh", "Abu Dhabi", "AE", "M", 1),
        ("bah", "Manama", "BH", "L", 1),
        ("doh", "Doha", "QA", "M", 1),
        ("kwi", "Kuwait City", "KW", "M", 1),
        ("ruh", "Riyadh", "SA", "L", 2),
        ("jed", "Jeddah", "SA", "L", 2),
        ("dmm", "Dammam", "SA", "S", 1),
        ("mct", "Muscat", "OM", "S", 1),
        ("amm", "Amman", "JO", "S", 1),
        ("bey", "Beirut", "LB", "S", 1),
        ("tlv", "Tel Aviv", "IL", "M", 1),
        ("cai", "Cairo", "EG", "L", 2),
        ("ebl", "Erbil", "IQ", "S", 1),
        ("bgw", "Baghdad", "IQ", "S", 1),
        ("bom", "Mumbai", "IN", "XL", 2),
        ("del", "New Delhi", "IN", "XL", 2),
        ("maa", "Chennai", "IN", "L", 2),
        ("blr", "Bengaluru", "IN", "L", 1),
        ("hyd", "Hyderabad", "IN", "M", 1),
        ("ccu", "Kolkata", "IN", "M", 1),
        ("khi", "Karachi", "PK", "M", 1),
        ("lhe", "Lahore", "PK", "S", 1),
        ("isb", "Islamabad", "PK", "S", 1),
        ("dac", "Dhaka", "BD", "M", 1),
        ("cmb", "Colombo", "LK", "S", 1),
        ("ktm", "Kathmandu", "NP", "S", 1),
        ("tas", "Tashkent", "UZ", "S", 1),
        ("ala", "Almaty", "KZ", "S", 1),
        ("gyd", "Baku", "AZ", "S", 1),
        ("tbs", "Tbilisi", "GE", "S", 1),
        ("evn", "Yerevan", "AM", "S", 1),
    ],
}

HEADER = """\
# GENERATED by scripts/gen_production_pops.py - edit the script, not this file.
# {region}: {count} PoPs ({core} core, {edge} edge), {gbps:,} Gbps, {tb:,} TB of cache.
"""


def pops(region: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for code, city, country, size, n in METROS[region]:
        tier, cache_tb, gbps = SIZES[size]
        for i in range(1, n + 1):
            out.append({"name": f"{code}{i}", "tier": tier, "city": city, "country": country,
                        "cacheTb": cache_tb, "capacityGbps": gbps})
    return out


def _quote(text: str) -> str:
    """A YAML flow scalar: plain when safe, double-quoted otherwise."""
    keyword = text.lower() in {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
    if not keyword and text[0].isalpha() and text.replace(" ", "").replace("-", "").replace(".", "").isalpha():
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(region: str) -> str:
    items = pops(region)
    core = sum(1 for p in items if p["tier"] == "core")
    text = HEADER.format(region=region, count=len(items), core=core, edge=len(items) - core,
                         gbps=sum(int(str(p["capacityGbps"])) for p in items),
                         tb=sum(int(str(p["cacheTb"])) for p in items))
    docs = []
    for p in items:
        docs.append(
            f"apiVersion: {API_VERSION}\n"
            "kind: PoP\n"
            f"metadata: {{name: {p['name']}, labels: {{tier: {p['tier']}, region: {region}}}}}\n"
            f"spec: {{region: {region}, city: {_quote(str(p['city']))}, country: {_quote(str(p['country']))}, "
            f"cacheTb: {p['cacheTb']}, capacityGbps: {p['capacityGbps']}}}\n"
        )
    return text + "---\n".join(docs)


def check_data() -> list[str]:
    problems = []
    seen: dict[str, str] = {}
    for region, metros in METROS.items():
        for code, _city, country, size, n in metros:
            if code in seen:
                problems.append(f"code {code} used twice ({seen[code]}, {region})")
            seen[code] = region
            if len(country) != 2 or not country.isupper():
                problems.append(f"{code}: country {country!r} is not an ISO 3166-1 alpha-2 code")
            if size not in SIZES or n < 1:
                problems.append(f"{code}: bad size {size!r} or count {n}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the generated files are out of date")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help=f"output directory (default {OUT_DIR})")
    args = ap.parse_args(argv)
    problems = check_data()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    stale = []
    for region in METROS:
        path = args.out / f"{region}.yaml"
        text = render(region)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run scripts/gen_production_pops.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    total = {r: len(pops(r)) for r in METROS}
    if not args.check:
        print(", ".join(f"{r}: {n}" for r, n in total.items()) + f"; total {sum(total.values())} PoPs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
