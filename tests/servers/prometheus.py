"""Prometheus on a free loopback port, serving deterministic backfilled data.

The data is written as OpenMetrics (timestamps in seconds, ending with ``# EOF``), turned into
TSDB blocks with ``promtool tsdb create-blocks-from openmetrics FILE DIR`` before Prometheus
starts (blocks added to a running server appear only after ~1 min), and served with
``--storage.tsdb.retention.time=400d`` (the default 15 d would delete old backfilled blocks at
start). The samples end in the past, so an instant query at "now" is empty (nothing within the
5 min lookback): queries must be evaluated at :attr:`PromData.end`.

The values are fixed; only the time window moves: it ends on the hour at least one hour before
the fixture runs (so it is always inside retention and never overlaps the live head block).
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .process import ChildServer, free_port, require_binary, tcp_ready

STEP = 15  # seconds between samples
SAMPLES = 121  # 30 minutes


@dataclass
class PromData:
    """What the backfilled data says, for the tests' expectations."""

    end: float
    start: float
    # region -> per-instance probe_success values
    probes: dict[str, list[int]] = field(default_factory=lambda: {
        "us-east": [1, 1], "eu-west": [1, 1], "ap-pacific": [1, 0]})
    # pop -> (region, requests/s, hits/s)
    pops: dict[str, tuple[str, int, int]] = field(default_factory=lambda: {
        "nyc1": ("us-east", 100, 90), "iad1": ("us-east", 100, 70),
        "fra1": ("eu-west", 200, 150), "sin1": ("ap-pacific", 50, 10)})
    # le -> cumulative requests/s at or below (95th percentile falls in (0.25, 0.5]: 375 ms)
    buckets: dict[str, int] = field(default_factory=lambda: {
        "0.05": 50, "0.1": 80, "0.25": 90, "0.5": 100, "1.0": 100, "+Inf": 100})

    def openmetrics(self) -> str:
        times = [int(self.start) + i * STEP for i in range(SAMPLES)]
        lines = ["# HELP probe_success Blackbox probe result (1 up, 0 down).", "# TYPE probe_success gauge"]
        for region, values in self.probes.items():
            for i, v in enumerate(values):
                lines += [f'probe_success{{job="region-ingress",region="{region}",instance="ingress-{i}.{region}"}} '
                          f"{v} {t}" for t in times]
        for family, idx in (("cdn_requests", 1), ("cdn_cache_hits", 2)):
            lines += [f"# HELP {family} CDN edge requests.", f"# TYPE {family} counter"]
            for pop, row in self.pops.items():
                per_s = int(row[idx])
                lines += [f'{family}_total{{pop="{pop}",region="{row[0]}"}} {per_s * (t - times[0])} {t}'
                          for t in times]
        fam = "streamverse_api_request_duration_seconds"
        lines += [f"# HELP {fam} API request latency.", f"# TYPE {fam} histogram"]
        for t in times:
            n = t - times[0]
            for le, per_s in self.buckets.items():
                lines.append(f'{fam}_bucket{{job="api",le="{le}"}} {per_s * n} {t}')
            lines.append(f'{fam}_count{{job="api"}} {self.buckets["+Inf"] * n} {t}')
            lines.append(f'{fam}_sum{{job="api"}} {0.2 * self.buckets["+Inf"] * n} {t}')
        lines.append("# EOF")
        return "\n".join(lines) + "\n"


class PrometheusServer(ChildServer):
    def __init__(self, workdir: Path, rules_dir: Path | None = None) -> None:
        super().__init__("prometheus", workdir)
        self.port = 0
        self.rules_dir = rules_dir  # when given, rule_files loads <rules_dir>/*.rules.yml
        end = (int(time.time()) // 3600) * 3600 - 3600
        self.data = PromData(end=float(end), start=float(end - STEP * (SAMPLES - 1)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        prometheus = require_binary("prometheus", "prometheus")
        promtool = require_binary("promtool", "prometheus")
        tsdb = self.workdir / "data"
        if not tsdb.exists():
            source = self.workdir / "data.om"
            source.write_text(self.data.openmetrics())
            run = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
                                 capture_output=True, text=True, timeout=60)
            if run.returncode != 0:
                raise RuntimeError(f"promtool create-blocks-from failed:\n{run.stdout}\n{run.stderr}")
        config = self.workdir / "prometheus.yml"
        rules = f"rule_files: ['{self.rules_dir}/*.rules.yml']\n" if self.rules_dir else ""
        config.write_text("global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\nscrape_configs: []\n" + rules)
        self.port = free_port()
        self.spawn([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
                    f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=400d",
                    "--web.enable-lifecycle"], self._ready, 30)
        return self

    def _ready(self) -> bool:
        if not tcp_ready(self.port):
            return False
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as resp:
                return int(resp.status) == 200
        except OSError:
            return False
