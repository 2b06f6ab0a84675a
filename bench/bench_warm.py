"""Benchmark: warm 1,000 HLS segments on each of 12 nginx PoPs, the nginx provider vs ``curl --parallel``.

A real fleet on loopback (tests/servers/nginx.py): 12 Debian nginx caches, configured by the nginx provider
(one deploy, not timed), in front of an origin nginx serving generated HLS titles (5 titles x 2 renditions
x 100 segments = 1,000 segments + 15 playlists per PoP). Each round, with every PoP's cache purged first
(purges not timed):

* ``curl``  ``curl --parallel --parallel-max C`` GETs every object on every PoP (C = the provider's total
            concurrency, 12 x warmConcurrency), bodies to /dev/null;
* ``nginx provider``  ``NginxProvider.warm``: the same objects on the same PoPs, walked from the master
            playlists (GET), each segment warmed with HEAD (nginx fetches and caches the whole object) and
            then checked by a HEAD that must answer X-Cache-Status HIT (curl checks nothing);
* ``warmMethod GET``  the same, pulling every segment's bytes to the tool as curl does.

Reports the best round of each, the throughput ratio (provider objects/s / curl objects/s; target >= 0.5)
and the peak memory of this process (resource.getrusage; the provider warms in-process).

Usage: python bench/bench_warm.py [--pops 12] [--segments 100] [--titles 5] [--segment-kb 32] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamverse_ctl.core.resources import Change  # noqa: E402
from streamverse_ctl.providers.base import ProviderContext  # noqa: E402
from streamverse_ctl.providers.nginx.provider import NginxProvider  # noqa: E402
from streamverse_ctl.providers.nginx.warm import Warmer  # noqa: E402
from tests.servers.nginx import PopFleet, make_hls  # noqa: E402

TARGET_RATIO = 0.5


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pops", type=int, default=12)
    ap.add_argument("--titles", type=int, default=5)
    ap.add_argument("--segments", type=int, default=100, help="segments per rendition (2 renditions per title)")
    ap.add_argument("--segment-kb", type=int, default=32)
    ap.add_argument("--concurrency", type=int, default=16, help="warmConcurrency: requests in flight per PoP")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "warm.json"))
    args = ap.parse_args()
    curl = shutil.which("curl")
    if not curl:
        print("curl is not installed (apt-get install curl)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="sv-bench-warm-"))
    work.chmod(0o755)  # the origin's workers run as nobody
    content = work / "www"
    titles = [f"title{i:02d}" for i in range(args.titles)]
    per_pop = sum(make_hls(content, t, segments=args.segments, segment_bytes=args.segment_kb * 1024) for t in titles)
    segments = args.titles * 2 * args.segments
    fleet = PopFleet(work / "fleet", names=[f"pop{i:02d}" for i in range(args.pops)], content=content)
    fleet.start()
    try:
        settings = {**fleet.settings(), "warmConcurrency": args.concurrency, "timeout": 30}
        provider = NginxProvider("bench", settings, ProviderContext(work / "state"))
        pop_spec = {"region": "bench", "city": "x", "country": "US", "cache_tb": 1, "capacity_gbps": 1}
        provider.apply([Change("create", "cdn.pop", p.name, "bench", None, dict(pop_spec)) for p in fleet.pops])
        urls = asyncio.run(_urls(provider, fleet, titles))
        assert len(urls) == per_pop * args.pops, (len(urls), per_pop)
        every = {p.name: titles for p in fleet.pops}
        config = work / "curl.cfg"
        config.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in urls))
        total_conc = args.concurrency * args.pops
        runs: dict[str, list[float]] = {"curl": [], "provider": [], "provider GET": []}
        get_provider = NginxProvider("bench", {**settings, "warmMethod": "GET"}, ProviderContext(work / "state"))
        base_rss = rss_mb()
        for _ in range(args.rounds):
            provider.purge(every)
            t0 = time.perf_counter()
            subprocess.run([curl, "--parallel", "--parallel-max", str(min(total_conc, 300)), "-sS",
                            "--no-progress-meter", "--fail", "-K", str(config)], check=True)
            runs["curl"].append(time.perf_counter() - t0)
            provider.purge(every)
            t0 = time.perf_counter()
            done = provider.warm([p.name for p in fleet.pops], every)
            runs["provider"].append(time.perf_counter() - t0)
            assert len(done) == args.pops * args.titles, done[:3]  # every title verified HIT on every PoP
            provider.purge(every)
            t0 = time.perf_counter()
            done = get_provider.warm([p.name for p in fleet.pops], every)
            runs["provider GET"].append(time.perf_counter() - t0)
            assert len(done) == args.pops * args.titles, done[:3]
        peak = rss_mb()
    finally:
        fleet.stop()
        shutil.rmtree(work, ignore_errors=True)
    objects = per_pop * args.pops
    best = {k: min(v) for k, v in runs.items()}
    ratio = best["curl"] / best["provider"]
    results = [
        {"name": f"curl --parallel ({objects:,} objects, {args.pops} PoPs)", "seconds": best["curl"],
         "objects_per_s": objects / best["curl"], "rounds": runs["curl"]},
        {"name": f"nginx provider warm+verify ({segments:,} segments x {args.pops} PoPs)", "seconds": best["provider"],
         "objects_per_s": objects / best["provider"], "rounds": runs["provider"], "peak_mb": peak,
         "rss_before_warming_mb": base_rss, "throughput_ratio": ratio, "meets_target": ratio >= TARGET_RATIO},
        {"name": "nginx provider, warmMethod GET (bodies pulled too)", "seconds": best["provider GET"],
         "objects_per_s": objects / best["provider GET"], "rounds": runs["provider GET"],
         "throughput_ratio": best["curl"] / best["provider GET"]},
    ]
    out = {"benchmark": "warm", "machine": platform.platform(), "python": platform.python_version(),
           "params": vars(args), "objects_per_pop": per_pop, "targets": {"throughput_ratio": TARGET_RATIO},
           "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    for r in results:
        print(f"{r['name']}: {r['seconds']:.2f} s, {r['objects_per_s']:,.0f} objects/s")
    print(f"throughput ratio provider/curl: {ratio:.2f} (target >= {TARGET_RATIO}); peak RSS {peak:.0f} MB "
          f"({base_rss:.0f} MB before warming)")
    return 0


async def _urls(provider: NginxProvider, fleet: PopFleet, titles: list[str]) -> list[str]:
    """Every object URL of the titles on every PoP (read once through the PoPs, before the timed runs)."""
    w = Warmer(8, 30, len(fleet.pops))
    try:
        lists = await asyncio.gather(*(w.listing(p.name, p.url, provider.cfg.master_path, titles) for p in fleet.pops))
    finally:
        await w.aclose()
    return [u for per in lists for r in per for u in r.urls]


if __name__ == "__main__":
    sys.exit(main())
