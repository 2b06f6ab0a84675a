"""The playback probe's Prometheus metrics (text exposition format, prometheus_client).

Named for the startup SLI of ``compiler/slo_rules.py``: plays are observed into the SLO
document's startup histogram (``spec.metrics.startup.histogram``, default
``streamverse_playback_startup_seconds``) with the region under ``regionLabel`` (default
``region``) and the PoP under ``pop``; equality matchers of that selector (``{job="probe"}``)
become constant labels, so the SLO's recording rules select exactly these series. The buckets
include the SLO's ``startupSeconds``, which the SLI's ``le`` matcher needs. A failed play (DNS,
connection, HTTP error) is a bad event: it counts in ``+Inf`` only (and adds the timeout to
``_sum``).

Also (last play per PoP): ``streamverse_playback_probe_phase_seconds{phase=dns|connect|
first_byte|first_segment|startup}``, ``streamverse_playback_probe_success`` (1 passed, 0 not) and
``streamverse_playback_probe_last_run_timestamp_seconds``; and the counter
``streamverse_playback_probe_plays_total{verdict=pass|slow|error}``.

Counters must not restart with each run for ``rate()`` to mean anything, so a metrics file for
node_exporter's textfile collector accumulates: :meth:`ProbeMetrics.load` reads the previous
file's counts and the new plays are added to them (the file is replaced atomically).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ..inventory import models as m
from .playback import Play

BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
PHASES = ("dns", "connect", "first_byte", "first_segment", "startup")
_EQ = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*')
LabelKey = tuple[str, ...]


@dataclass
class _Hist:
    counts: list[float]  # per bucket (not cumulative), +Inf last
    total: float = 0.0

    @property
    def count(self) -> float:
        return sum(self.counts)


@dataclass(eq=False)  # registered in a registry: hashable by identity
class ProbeMetrics(Collector):
    name: str = "streamverse_playback_startup_seconds"
    region_label: str = "region"
    const: dict[str, str] = field(default_factory=dict)
    buckets: tuple[float, ...] = BUCKETS
    hist: dict[LabelKey, _Hist] = field(default_factory=dict)
    plays: dict[tuple[str, ...], float] = field(default_factory=dict)  # labels + verdict -> count
    last: dict[LabelKey, Play] = field(default_factory=dict)

    @staticmethod
    def for_slo(spec: m.SLOSpec) -> ProbeMetrics:
        selector = spec.metrics.startup.histogram
        name, _, rest = selector.partition("{")
        const = {k: v for k, v in _EQ.findall(rest.rstrip("}"))} if rest else {}
        buckets = tuple(sorted({*BUCKETS, float(spec.startup_seconds)}))
        return ProbeMetrics(name.strip(), spec.metrics.startup.region_label, const, buckets)

    # ---- labels -----------------------------------------------------------------------------
    @property
    def label_names(self) -> list[str]:
        names = [*self.const, "pop"]
        if self.region_label:
            names.append(self.region_label)
        return names

    def _key(self, play: Play) -> LabelKey:
        key = [*self.const.values(), play.target.pop or play.target.host.rstrip(".")]
        if self.region_label:
            key.append(play.target.region)
        return tuple(key)

    # ---- observe ----------------------------------------------------------------------------
    def observe(self, plays: Iterable[Play], timeout: float) -> None:
        for p in plays:
            key = self._key(p)
            h = self.hist.setdefault(key, _Hist([0.0] * (len(self.buckets) + 1)))
            if p.error or p.startup_seconds is None:
                h.counts[-1] += 1
                h.total += timeout
            else:
                i = next((i for i, b in enumerate(self.buckets) if p.startup_seconds <= b), len(self.buckets))
                h.counts[i] += 1
                h.total += p.startup_seconds
            vkey = (*key, p.verdict)
            self.plays[vkey] = self.plays.get(vkey, 0.0) + 1
            self.last[key] = p

    # ---- exposition -------------------------------------------------------------------------
    def collect(self) -> Iterator[Metric]:
        labels = self.label_names
        hist = HistogramMetricFamily(self.name, "Synthetic playback startup: DNS query to the first segment's "
                                     "last byte (failed plays count in +Inf only)", labels=labels)
        for key, h in sorted(self.hist.items()):
            cumulative, acc = [], 0.0
            for b, c in zip([*self.buckets, math.inf], h.counts, strict=True):
                acc += c
                cumulative.append(("+Inf" if b == math.inf else _le(b), acc))
            hist.add_metric(list(key), cumulative, h.total)
        yield hist
        plays = CounterMetricFamily("streamverse_playback_probe_plays", "Synthetic plays by verdict",
                                    labels=[*labels, "verdict"])
        for vkey, n in sorted(self.plays.items()):
            plays.add_metric(list(vkey), n)
        yield plays
        phase = GaugeMetricFamily("streamverse_playback_probe_phase_seconds", "Last play: seconds per phase",
                                  labels=[*labels, "phase"])
        success = GaugeMetricFamily("streamverse_playback_probe_success", "Last play passed (1) or not (0)",
                                    labels=labels)
        stamp = GaugeMetricFamily("streamverse_playback_probe_last_run_timestamp_seconds",
                                  "When the last play started (Unix time)", labels=labels)
        for key, p in sorted(self.last.items()):
            for ph in PHASES:
                v = getattr(p, f"{ph}_seconds")
                if v is not None:
                    phase.add_metric([*key, ph], v)
            success.add_metric(list(key), 1.0 if p.passed else 0.0)
            stamp.add_metric(list(key), p.at)
        yield phase
        yield success
        yield stamp

    def registry(self) -> CollectorRegistry:
        reg = CollectorRegistry(auto_describe=False)
        reg.register(self)
        return reg

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry()).decode()

    # ---- the textfile collector's file --------------------------------------------------------
    def write(self, path: Path) -> None:
        from prometheus_client import write_to_textfile

        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), self.registry())

    def load(self, path: Path) -> None:
        """Carry on the counts of a previous run's file (a file with other buckets is started afresh)."""
        from prometheus_client.parser import text_string_to_metric_families

        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        labels = self.label_names
        wanted = [_le(b) for b in self.buckets]
        for family in text_string_to_metric_families(text):
            if family.name == self.name and family.type == "histogram":
                cum: dict[LabelKey, dict[str, float]] = {}
                sums: dict[LabelKey, float] = {}
                for s in family.samples:
                    key = tuple(s.labels.get(n, "") for n in labels)
                    if s.name.endswith("_bucket"):
                        cum.setdefault(key, {})[_norm_le(s.labels.get("le", ""))] = s.value
                    elif s.name.endswith("_sum"):
                        sums[key] = s.value
                for key, by_le in cum.items():
                    if set(by_le) != {*wanted, "+Inf"}:
                        continue
                    values = [by_le[le] for le in [*wanted, "+Inf"]]
                    per = [values[0]] + [b - a for a, b in itertools.pairwise(values)]
                    self.hist[key] = _Hist(per, sums.get(key, 0.0))
            elif family.name == "streamverse_playback_probe_plays":
                for s in family.samples:
                    if s.name.endswith("_total"):
                        vkey = (*[s.labels.get(n, "") for n in labels], s.labels.get("verdict", ""))
                        self.plays[vkey] = s.value


def _le(b: float) -> str:
    return repr(float(b))  # 1.0, 0.25: as prometheus_client writes it (slo_rules.le_matcher accepts both)


def _norm_le(text: str) -> str:
    return "+Inf" if text in ("+Inf", "Inf", "inf") else _le(float(text))
