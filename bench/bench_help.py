#!/usr/bin/env python3
"""How fast the CLI starts: `streamverse --help`, `streamverse ctl --help`, `streamverse ctl plan --help`.

Target: under 0.3 s for the first two. Each command runs --repeat times in a fresh process, from an
empty directory (plugins in ./plugins are imported by `ctl` commands and add their own import time:
the example plugin adds ~0.09 s, for pydantic); the best and the median wall times are reported.
Writes bench/results/help.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_SECONDS = 0.3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "help.json")
    args = ap.parse_args(argv)
    exe = str(Path(sys.executable).parent / "streamverse")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVERSE_")}
    results = []
    cwd = tempfile.mkdtemp(prefix="sv-help-")
    for words in (["--help"], ["ctl", "--help"], ["ctl", "plan", "--help"], ["--version"]):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run([exe, *words], env=env, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - t0)
        row: dict[str, object] = {"name": "streamverse " + " ".join(words), "seconds": round(min(times), 3),
                                  "median_s": round(statistics.median(times), 3)}
        row["meets_target"] = min(times) <= TARGET_SECONDS
        results.append(row)
        print(f"  {row['name']!s:<32} best {min(times):.3f} s   median {statistics.median(times):.3f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "help", "at": datetime.now(UTC).isoformat(timespec="seconds"),
                                    "targets": {"seconds": TARGET_SECONDS}, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
