#!/usr/bin/env python3
"""How fast the CLI starts: help, --version and TAB completion, against `octodns-sync --help` in the same run.

Measured, each in a fresh process, from an empty directory, round-robin (one run of every command,
then the next round, so a busy machine slows all of them alike), --repeat rounds:

- `streamverse --help`, `streamverse ctl --help`, `streamverse ctl plan --help`, `streamverse --version`
- TAB completions as bash's completion function calls them (`_STREAMVERSE_COMPLETE=complete_bash`,
  COMP_WORDS, COMP_CWORD): the verb name (`streamverse ctl pl<TAB>`), option names
  (`streamverse ctl plan --<TAB>`), kinds (`streamverse ctl get <TAB>`) and region names from the
  demo inventory (`streamverse ctl failover <TAB>`, which reads the inventory's YAML; the parse
  cache is warmed first with one `streamverse ctl validate`, as any earlier validate or plan does)
- the reference, `octodns-sync --help`: the path comes from the env var OCTODNS_SYNC (default: the
  first `octodns-sync` on PATH). octodns is not a dependency: install it into a throwaway venv,
  ``python3 -m venv /tmp/octo-venv && /tmp/octo-venv/bin/pip install 'octodns==1.*'``, then run
  ``OCTODNS_SYNC=/tmp/octo-venv/bin/octodns-sync python bench/bench_help.py``.

Target: every command's median is no slower than octodns-sync's median in the same run (without
octodns: 0.3 s). Writes bench/results/help.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FALLBACK_TARGET_SECONDS = 0.3


def _tab(line: str) -> tuple[list[str], dict[str, str]]:
    words = line.split() + ([""] if line.endswith(" ") else [])
    return [], {"_STREAMVERSE_COMPLETE": "complete_bash", "COMP_WORDS": " ".join(words),
                "COMP_CWORD": str(len(words) - 1)}


def commands(exe: str, octodns: str | None) -> list[tuple[str, list[str], dict[str, str]]]:
    out: list[tuple[str, list[str], dict[str, str]]] = []
    for words in (["--help"], ["ctl", "--help"], ["ctl", "plan", "--help"], ["--version"]):
        out.append(("streamverse " + " ".join(words), [exe, *words], {}))
    for line in ("streamverse ctl pl", "streamverse ctl plan --", "streamverse ctl get ", "streamverse ctl failover "):
        _, env = _tab(line)
        out.append((f"TAB: {line}<TAB>", [exe], env))
    if octodns:
        out.append(("octodns-sync --help", [octodns, "--help"], {}))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "help.json")
    args = ap.parse_args(argv)
    exe = str(Path(sys.executable).parent / "streamverse")
    octodns = os.environ.get("OCTODNS_SYNC") or shutil.which("octodns-sync")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMVERSE_", "_STREAMVERSE"))}
    base["STREAMVERSE_INVENTORY"] = str(REPO / "inventories" / "demo")
    cwd = tempfile.mkdtemp(prefix="sv-help-")
    # a TAB on inventory names reads the loader's parse cache: warm it as any earlier validate/plan does
    subprocess.run([exe, "ctl", "validate", "-i", base["STREAMVERSE_INVENTORY"]], env=base, cwd=cwd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cmds = commands(exe, octodns)
    times: dict[str, list[float]] = {name: [] for name, _, _ in cmds}
    for _ in range(args.repeat):
        for name, argv_, extra in cmds:
            t0 = time.perf_counter()
            done = subprocess.run(argv_, env={**base, **extra}, cwd=cwd, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            times[name].append(time.perf_counter() - t0)
            if done.returncode != 0:
                print(f"{name} failed ({done.returncode}): {done.stderr[-500:]}", file=sys.stderr)
                return 1
    ref = statistics.median(times["octodns-sync --help"]) if octodns else None
    target = ref if ref is not None else FALLBACK_TARGET_SECONDS
    results = []
    for name, _, _ in cmds:
        best, median = min(times[name]), statistics.median(times[name])
        row: dict[str, object] = {"name": name, "seconds": round(best, 3), "median_s": round(median, 3)}
        if ref is not None:
            row["vs_octodns"] = round(median / ref, 2)
        row["meets_target"] = median <= target
        results.append(row)
        vs = f"   {median / ref:.2f}x octodns-sync" if ref is not None else ""
        print(f"  {name:<44} best {best:.3f} s   median {median:.3f} s{vs}")
    if ref is None:
        print(f"  (octodns-sync not found: set OCTODNS_SYNC; target {FALLBACK_TARGET_SECONDS} s instead)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "help", "at": datetime.now(UTC).isoformat(timespec="seconds"), "repeat": args.repeat,
        "load_average": os.getloadavg()[0],
        "targets": {"seconds": round(target, 3), "reference": "octodns-sync --help median" if ref else "fixed"},
        "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
