"""Benchmark: StreamVerse Control against octoDNS on the same zones, interleaved, median of 3.

Both tools run as a user runs them, as command-line programs (``streamverse ctl apply --yes`` /
``plan``; ``octodns-sync [--doit]``), each on its own zone with the same content: ``n`` plain A
records (``h00000`` ...). Phases, per size and backend:

* first sync     an empty zone to ``n`` records (apply, verification included for ours)
* no change      a plan against the converged zone
* 10 % change    new values for every tenth record, planned and applied

Backends: Route 53 on a local moto server, and BIND 9 over RFC 2136 (AXFR + TSIG-signed UPDATE).
The *floor* is the bare listing: a boto3 paginator / a dnspython AXFR that does nothing with the
pages (best of 3), on our zone after the first sync (it holds our ownership records too).

The rounds alternate which tool goes first. octoDNS comes from a separate virtualenv
(``--octodns-venv``, default ``/tmp/octo-venv`` with octodns, octodns-route53 and octodns-bind);
it is never installed into the project's environment.

Target (issue 11 §3): every measurement <= 0.5x octoDNS's time, or within 1.1x of the floor.

Usage: python bench/bench_dns.py [--sizes 1000,5000] [--backends route53,bind] [--rounds 3]
                                 [--out bench/results/dns.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import dns.query  # noqa: E402
import dns.tsig  # noqa: E402
import yaml  # noqa: E402

from tests.servers.bind import BindServer  # noqa: E402
from tests.servers.motoserver import MotoServer  # noqa: E402

SV = str(Path(sys.executable).parent / "streamverse")
PHASES = ("first_sync", "no_change", "change_10pct")


def records(n: int, change: bool) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        value = f"10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}"
        if change and i % 10 == 0:
            value = f"172.16.{i // 250 % 250}.{i % 250 + 1}"
        out.append((f"h{i:05d}", value))
    return out


def _doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "streamverse.io/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


class Tool:
    """One tool on one zone: write the desired content, run a phase, time it."""

    name = ""

    def __init__(self, work: Path, zone: str, env: dict[str, str]) -> None:
        self.work, self.zone, self.env = work, zone, env
        work.mkdir(parents=True, exist_ok=True)

    def write(self, content: list[tuple[str, str]]) -> None: ...

    def command(self, do_apply: bool) -> list[str]: ...

    def run(self, do_apply: bool) -> float:
        start = time.perf_counter()
        p = subprocess.run(self.command(do_apply), capture_output=True, text=True, env=self.env,
                           stdin=subprocess.DEVNULL, timeout=1800)
        seconds = time.perf_counter() - start
        if p.returncode not in (0, 2):
            raise SystemExit(f"{self.name}: {' '.join(self.command(do_apply))}: exit {p.returncode}\n"
                             f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        return seconds


class Ours(Tool):
    name = "streamverse"

    def __init__(self, work: Path, zone: str, env: dict[str, str], provider: dict[str, Any]) -> None:
        super().__init__(work, zone, env)
        self.provider = provider
        self.state = work / "state"

    def reset(self) -> None:
        import shutil

        shutil.rmtree(self.state, ignore_errors=True)
        self.state.mkdir(parents=True)

    def write(self, content: list[tuple[str, str]]) -> None:
        inv = self.work / "inv"
        inv.mkdir(exist_ok=True)
        (inv / "providers.yaml").write_text(yaml.safe_dump(_doc("Provider", "dns", self.provider), sort_keys=False))
        docs = [_doc("DnsRecord", label, {"zone": self.zone, "name": label, "type": "A", "ttl": 300,
                                          "values": [value]}) for label, value in content]
        (inv / "dns.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))

    def command(self, do_apply: bool) -> list[str]:
        base = [SV, "ctl", "apply", "--yes"] if do_apply else [SV, "ctl", "plan"]
        return [*base, "--inventory", str(self.work / "inv"), "--state-dir", str(self.state), "-o", "json"]


#: moto's ListHealthChecks answer has no IsTruncated (AWS always sends it), which octodns-route53
#: reads unconditionally: octodns-sync runs with the missing field filled in, nothing else changed
MOTO_SHIM = """\
import sys
import botocore.client
_call = botocore.client.BaseClient._make_api_call
def _patched(self, op, params):
    resp = _call(self, op, params)
    if op == "ListHealthChecks":
        resp.setdefault("IsTruncated", False)
    return resp
botocore.client.BaseClient._make_api_call = _patched
from octodns.cmds.sync import main
sys.argv[0] = "octodns-sync"
sys.exit(main())
"""


class Octo(Tool):
    name = "octodns"

    def __init__(self, work: Path, zone: str, env: dict[str, str], target: dict[str, Any], venv: Path,
                 shim: str = "", keep: dict[str, Any] | None = None) -> None:
        super().__init__(work, zone, env)
        self.keep = keep or {}  # what the zone holds besides the records (octoDNS owns the whole zone)
        self.venv = venv
        self.shim = work / "octodns_sync_shim.py" if shim else None
        if self.shim is not None:
            self.shim.write_text(shim)
        (work / "zones").mkdir(exist_ok=True)
        (work / "config.yaml").write_text(yaml.safe_dump({
            "providers": {"config": {"class": "octodns.provider.yaml.YamlProvider",
                                     "directory": str(work / "zones")},
                          "target": target},
            "zones": {zone: {"sources": ["config"], "targets": ["target"]}},
        }, sort_keys=False))

    def reset(self) -> None: ...

    def write(self, content: list[tuple[str, str]]) -> None:
        zone_doc = {**self.keep, **{label: {"type": "A", "ttl": 300, "value": value} for label, value in content}}
        (self.work / "zones" / f"{self.zone}yaml").write_text(yaml.safe_dump(zone_doc, sort_keys=True))

    def command(self, do_apply: bool) -> list[str]:
        sync = ([str(self.venv / "bin" / "python"), str(self.shim)] if self.shim
                else [str(self.venv / "bin" / "octodns-sync")])
        cmd = [*sync, "--config-file", str(self.work / "config.yaml"), "--quiet"]
        return [*cmd, "--doit", "--force"] if do_apply else cmd


class Backend:
    name = ""

    def start(self, tmp: Path, octo_venv: Path) -> tuple[Ours, Octo]: ...

    def reset(self) -> None: ...

    def floor(self) -> float: ...

    def stop(self) -> None: ...


class Route53Backend(Backend):
    name = "route53"
    OURS, OCTO = "ours.bench.example.", "octo.bench.example."

    def start(self, tmp: Path, octo_venv: Path) -> tuple[Ours, Octo]:
        self.moto = MotoServer(tmp / "moto").start()
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_ROUTE_53": self.moto.url,
               "PYTHONPATH": str(ROOT)}
        self.client = boto3.client("route53", endpoint_url=self.moto.url, region_name="us-east-1",
                                   aws_access_key_id="bench", aws_secret_access_key="bench")
        ours = Ours(tmp / "r53-ours", self.OURS, env, {
            "type": "route53", "serves": {"types": ["dns.*"], "zones": [self.OURS]},
            "settings": {"zone": self.OURS, "readTimeout": 600}})
        octo = Octo(tmp / "r53-octo", self.OCTO, env, {
            "class": "octodns_route53.Route53Provider", "access_key_id": "env/AWS_ACCESS_KEY_ID",
            "secret_access_key": "env/AWS_SECRET_ACCESS_KEY"}, octo_venv, shim=MOTO_SHIM)
        return ours, octo

    def reset(self) -> None:
        self.moto.reset()
        for zone in (self.OURS, self.OCTO):
            self.client.create_hosted_zone(Name=zone, CallerReference=f"{zone}{time.time_ns()}")

    def floor(self) -> float:
        zone_id = next(z["Id"] for z in self.client.list_hosted_zones()["HostedZones"] if z["Name"] == self.OURS)

        def listing() -> None:
            for _ in self.client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
                pass
        return best_of_3(listing)

    def stop(self) -> None:
        self.moto.stop()


class BindBackend(Backend):
    name = "bind"

    def start(self, tmp: Path, octo_venv: Path) -> tuple[Ours, Octo]:
        self.ours_bind = BindServer(tmp / "bind-ours", zone="ours.bench.example.").start()
        self.octo_bind = BindServer(tmp / "bind-octo", zone="octo.bench.example.").start()
        env = {**os.environ, "SV_BENCH_TSIG": self.ours_bind.secret, "OCTO_BENCH_TSIG": self.octo_bind.secret,
               "PYTHONPATH": str(ROOT)}
        b = self.ours_bind
        ours = Ours(tmp / "bind-ours-tool", b.zone, env, {
            "type": "rfc2136", "serves": {"types": ["dns.*"], "zones": [b.zone]},
            "settings": {"server": b.address, "zone": b.zone, "tsigKeyName": b.key_name,
                         "tsigSecret": {"fromEnv": "SV_BENCH_TSIG"}, "nameservers": [b.address],
                         "timeout": 60}})
        o = self.octo_bind
        octo = Octo(tmp / "bind-octo-tool", o.zone, env, {
            "class": "octodns_bind.Rfc2136Provider", "host": "127.0.0.1", "port": o.port,
            "key_name": o.key_name, "key_secret": "env/OCTO_BENCH_TSIG", "key_algorithm": "hmac-sha256",
            "timeout": 60}, octo_venv,
            keep={"": {"type": "NS", "ttl": 300, "value": f"ns1.{o.zone}"},  # the zone file's own
                  "ns1": {"type": "A", "ttl": 300, "value": "127.0.0.1"}})
        return ours, octo

    def reset(self) -> None:
        self.ours_bind.reset()
        self.octo_bind.reset()

    def floor(self) -> float:
        b = self.ours_bind
        key = dns.tsig.Key(b.key_name, b.secret, b.algorithm)

        def transfer() -> None:
            for _ in dns.query.xfr("127.0.0.1", b.zone, port=b.port, keyring={key.name: key}, keyname=key.name,
                                   lifetime=60):
                pass
        return best_of_3(transfer)

    def stop(self) -> None:
        self.ours_bind.stop()
        self.octo_bind.stop()


def best_of_3(fn: Callable[[], None]) -> float:
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def one_round(tool: Ours | Octo, n: int) -> dict[str, float]:
    tool.reset()
    tool.write(records(n, False))
    out = {"first_sync": tool.run(True), "no_change": tool.run(False)}
    tool.write(records(n, True))
    out["change_10pct"] = tool.run(True)
    return out


def run_backend(backend: Backend, sizes: list[int], rounds: int, tmp: Path, octo_venv: Path) -> list[dict[str, Any]]:
    ours, octo = backend.start(tmp, octo_venv)
    results = []
    try:
        for n in sizes:
            times: dict[str, dict[str, list[float]]] = {t: {p: [] for p in PHASES} for t in ("ours", "octodns")}
            floors = []
            for r in range(rounds):
                backend.reset()
                order = [("ours", ours), ("octodns", octo)] if r % 2 == 0 else [("octodns", octo), ("ours", ours)]
                for label, tool in order:
                    for phase, seconds in one_round(tool, n).items():
                        times[label][phase].append(seconds)
                    if label == "ours":
                        floors.append(backend.floor())  # our zone after the 10 % change
                print(f"  {backend.name} {n}: round {r + 1}/{rounds} done", file=sys.stderr)
            floor = min(floors)
            phases = {}
            for phase in PHASES:
                mine = statistics.median(times["ours"][phase])
                theirs = statistics.median(times["octodns"][phase])
                phases[phase] = {"ours_seconds": round(mine, 3), "octodns_seconds": round(theirs, 3),
                                 "ratio_vs_octodns": round(mine / theirs, 3),
                                 "ratio_vs_floor": round(mine / floor, 2),
                                 "target_met": mine <= 0.5 * theirs or mine <= 1.1 * floor,
                                 "runs": {k: [round(x, 3) for x in v[phase]] for k, v in times.items()}}
            results.append({"backend": backend.name, "records": n, "floor_seconds": round(floor, 3),
                            "phases": phases})
    finally:
        backend.stop()
    return results


def report(results: list[dict[str, Any]], rounds: int, octodns_version: str) -> dict[str, Any]:
    """The JSON written: one row per backend, size and phase (``bench/run`` prints ``name`` and
    ``seconds``), and the per-round times under ``details``."""
    rows = [{"name": f"{r['backend']} {r['records']} {phase}", "seconds": ph["ours_seconds"],
             "octodns_seconds": ph["octodns_seconds"], "ratio_vs_octodns": ph["ratio_vs_octodns"],
             "floor_seconds": r["floor_seconds"], "ratio_vs_floor": ph["ratio_vs_floor"],
             "meets_target": ph["target_met"]}
            for r in results for phase, ph in r["phases"].items()]
    return {"benchmark": f"streamverse ctl vs octoDNS, same zone content, interleaved, median of {rounds}",
            "octodns": octodns_version, "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "results": rows, "details": results,
            "targets": {"vs_octodns": 0.5, "vs_floor": 1.1}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--backends", default="route53,bind")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--octodns-venv", default="/tmp/octo-venv")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "dns.json"))
    args = ap.parse_args()
    venv = Path(args.octodns_venv)
    if not (venv / "bin" / "octodns-sync").exists():
        raise SystemExit(f"octodns-sync not found in {venv}: python -m venv {venv} && "
                         f"{venv}/bin/pip install octodns octodns-route53 octodns-bind")
    backends: dict[str, Callable[[], Backend]] = {"route53": Route53Backend, "bind": BindBackend}
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backends.split(","):
            results += run_backend(backends[name](), sizes, args.rounds, Path(tmp) / name, venv)
    header = (f"{'backend':<8} {'records':>7} {'phase':<13} {'ours s':>7} {'octo s':>7} {'x octo':>6} "
              f"{'floor s':>7} {'x floor':>7} target")
    print(header)
    print("-" * len(header))
    for r in results:
        for phase, ph in r["phases"].items():
            print(f"{r['backend']:<8} {r['records']:>7} {phase:<13} {ph['ours_seconds']:>7.2f} "
                  f"{ph['octodns_seconds']:>7.2f} {ph['ratio_vs_octodns']:>6.2f} {r['floor_seconds']:>7.2f} "
                  f"{ph['ratio_vs_floor']:>7.1f} {'met' if ph['target_met'] else 'MISSED'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    versions = subprocess.run([str(venv / "bin" / "python"), "-c", "import octodns; print(octodns.__version__)"],
                              capture_output=True, text=True).stdout.strip()
    out.write_text(json.dumps(report(results, args.rounds, versions), indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
