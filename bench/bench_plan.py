#!/usr/bin/env python3
"""Benchmark validate and plan on a production-scale inventory against the sim platform.

Generates the inventory (bench/generate_inventory.py: 6 regions, 1,000 PoPs, 10,002 DNS record sets,
100 transcode pools) in a temporary directory, then runs each stage in a fresh process and reports
its wall time (inside the process, excluding interpreter start-up), the whole command's wall time,
and the process's peak memory (ru_maxrss):

- validate:           load_inventory (read YAML, overlays, variables, both validation passes); "cold
                      cache" empties the YAML parse cache first (the first run after an edit)
- plan (empty sim):   validate + compile + read actual + diff + guardrails; every resource is a create
- plan (no changes):  the same after the sim holds everything (the everyday case)
- cli plan (no changes): `streamverse ctl plan -o json` as a user runs it

Writes bench/results/plan.json. Targets: plan under 1 s and under 200 MB peak.
    python bench/bench_plan.py [--pops N --policies N --pools N] [--repeat 3]

Larger inventories (issue 11: the engine keeps pace as inventories grow), each written to
bench/results/plan-<scale>.json:
    python bench/bench_plan.py --scale 60k    # --pops 5000 --policies 8000 --pools 300: 59,107 resources
    python bench/bench_plan.py --scale 100k   # --pops 8500 --policies 13530 --pools 500: 100,005 resources
The 100k target: a no-change plan under 2 s and 300 MB peak. "cpu_seconds" (the process's user +
system time) is reported beside wall time: on a shared machine it moves less with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_SECONDS = 1.0
TARGET_MB = 200.0
SCALES = {  # name: (pops, policies, pools, target seconds, target MB)
    "production": (1000, 1667, 100, TARGET_SECONDS, TARGET_MB),
    "60k": (5000, 8000, 300, 2.0, 300.0),
    "100k": (8500, 13530, 500, 2.0, 300.0),
}

WORKER = r"""
import json, resource, sys, time
stage, inv, state = sys.argv[1:4]
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.engine.workspace import Workspace
t0 = time.perf_counter()
extra = {}
if stage == "validate":
    extra["documents"] = len(load_inventory(inv).documents)
elif stage == "plan":
    ws = Workspace(inv, state_dir=state, platform="sim")
    plan = ws.plan()
    extra = {"changes": len(plan.changes), "resources": len(ws.compiled.resources), "safe": plan.safe}
    ws.close()
elif stage == "seed":  # make the sim hold exactly the desired state, as after an apply
    from streamverse_ctl.providers.sim.store import SimStore
    ws = Workspace(inv, state_dir=state, platform="sim")
    sim = SimStore(ws.state_dir / "sim.db")
    with sim.tx() as db:
        for r in ws.compiled.resources:
            sim.put(db, r.type, r.name, r.spec)
    extra["resources"] = len(ws.compiled.resources)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, **extra}))
"""


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str, float]:
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        cpu = usage.ru_utime + usage.ru_stime
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read()[-4000:]}")
        return wall, usage.ru_maxrss / 1024, out.read(), cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="validate/plan benchmark")
    ap.add_argument("--scale", choices=sorted(SCALES), default="production",
                    help="inventory size preset (sets --pops/--policies/--pools, the target and the output file)")
    ap.add_argument("--pops", type=int)
    ap.add_argument("--policies", type=int)
    ap.add_argument("--pools", type=int)
    ap.add_argument("--repeat", type=int, default=3, help="runs per stage; the best is reported")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    pops, policies, pools, target_s, target_mb = SCALES[args.scale]
    args.pops = pops if args.pops is None else args.pops
    args.policies = policies if args.policies is None else args.policies
    args.pools = pools if args.pools is None else args.pools
    if args.out is None:
        suffix = "" if args.scale == "production" else f"-{args.scale}"
        args.out = HERE / "results" / f"plan{suffix}.json"
    sys.path.insert(0, str(HERE))
    from generate_inventory import generate

    py = sys.executable
    exe = str(Path(py).parent / "streamverse")
    results = []
    with tempfile.TemporaryDirectory(prefix="sv-bench-") as tmp:
        inv, state = Path(tmp) / "inventory", Path(tmp) / "state"
        counts = generate(inv, args.pops, args.policies, args.pools)
        state.mkdir()  # an explicit state directory must exist (a mistyped one is refused, not created)
        cache = Path(tmp) / "parse-cache"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVERSE_")}
        env["STREAMVERSE_STATE_DIR"] = str(state)
        env["STREAMVERSE_CACHE_DIR"] = str(cache)  # the YAML parse cache: cold = emptied before each run

        def stage(name: str, cmd: list[str], inner: bool = True, cold: bool = False) -> None:
            best: dict[str, object] | None = None
            for _ in range(args.repeat):
                if cold:
                    shutil.rmtree(cache, ignore_errors=True)
                wall, peak, out, cpu = run_measured(cmd, env)
                data = json.loads(out) if inner else {}
                seconds = float(data.pop("seconds")) if inner else wall  # type: ignore[arg-type]
                row = {"name": name, "seconds": round(seconds, 3), "process_seconds": round(wall, 3),
                       "cpu_seconds": round(cpu, 3), "peak_mb": round(peak, 1), **data}
                if best is None or row["seconds"] < best["seconds"]:  # type: ignore[operator]
                    best = row
            assert best is not None
            best["meets_target"] = (best["seconds"] <= target_s  # type: ignore[operator]
                                    and best["peak_mb"] <= target_mb)  # type: ignore[operator]
            results.append(best)
            print(f"  {name:<30} {best['seconds']:>7.3f} s   (process {best['process_seconds']:.3f} s, "
                  f"cpu {best['cpu_seconds']:.3f} s, peak {best['peak_mb']:.0f} MB)", flush=True)

        print("inventory: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        stage("validate (cold cache)", [py, "-c", WORKER, "validate", str(inv), str(state)], cold=True)
        stage("validate", [py, "-c", WORKER, "validate", str(inv), str(state)])
        stage("plan (empty sim)", [py, "-c", WORKER, "plan", str(inv), str(state)])
        run_measured([py, "-c", WORKER, "seed", str(inv), str(state)], env)
        stage("plan (no changes, cold cache)", [py, "-c", WORKER, "plan", str(inv), str(state)], cold=True)
        stage("plan (no changes)", [py, "-c", WORKER, "plan", str(inv), str(state)])
        stage("cli plan (no changes)", [exe, "ctl", "plan", "-i", str(inv), "--platform", "sim", "-o", "json"],
              inner=False)
    report = {
        "benchmark": "plan", "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "scale": args.scale, "generate_args": {"pops": args.pops, "policies": args.policies, "pools": args.pools},
        "inventory": counts, "targets": {"seconds": target_s, "peak_mb": target_mb}, "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
