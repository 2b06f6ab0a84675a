"""A DR drill: run a failover runbook as a game day and measure how long recovery took.

:class:`DrillRecorder` is an event sink of the runbook run. At every event it reads what DNS
actually serves for the watched policy (the provider's records, not the plan) and which regions are
healthy, so the timeline shows the share of user traffic still sent to an unhealthy region.

- **Recovery time**: from the drill's start (the injected failure, or the run's start) to the end of
  the first step after which no traffic is served to an unhealthy region and none is served until
  the run ends. Steps end only after their own verification (``wait_until``, ``dns.verify``), so
  this is the time until the last answer was moved *and* verified.
- **Traffic lost**: the share sent to unhealthy regions, integrated over time between samples
  (step-wise: each sample holds until the next), as seconds of the whole platform's traffic, a
  percentage of the drill's window, and requests at the CapacityModel's peak demand when known.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .probes import dns_weights

if TYPE_CHECKING:
    from ..engine.workspace import Workspace

SAMPLED = {"run.start", "step.start", "step.done", "step.fail", "step.skip", "step.reuse", "step.wait",
           "approval", "run.finish"}


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the drill started
    event: str
    step: str
    text: str
    weights: dict[str, int]
    unhealthy: list[str]
    lost_share: float  # share of the policy's traffic served to unhealthy regions (0..1)


@dataclass
class DrillReport:
    runbook: str
    params: dict[str, Any]
    platform: str
    policy: str
    started_at: str
    injected: list[str]
    status: str
    run_id: str
    target_seconds: float
    recovery_seconds: float | None
    lost_full_traffic_seconds: float
    window_seconds: float
    demand_rps: float | None
    samples: list[Sample] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recovered(self) -> bool:
        return self.recovery_seconds is not None

    @property
    def target_met(self) -> bool:
        return self.recovery_seconds is not None and self.recovery_seconds <= self.target_seconds

    @property
    def lost_percent(self) -> float:
        return 100.0 * self.lost_full_traffic_seconds / self.window_seconds if self.window_seconds else 0.0

    @property
    def lost_requests(self) -> float | None:
        return None if self.demand_rps is None else self.demand_rps * self.lost_full_traffic_seconds

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(recovered=self.recovered, target_met=self.target_met, lost_percent=round(self.lost_percent, 3),
                   lost_requests=None if self.lost_requests is None else round(self.lost_requests))
        return out


def lost_share(weights: Mapping[str, int], unhealthy: Sequence[str]) -> float:
    total = sum(max(0, w) for w in weights.values())
    if not total:
        return 0.0
    return sum(max(0, w) for r, w in weights.items() if r in unhealthy) / total


def recovery_time(samples: Sequence[Sample], succeeded: bool) -> float | None:
    """The end of the first step after which no sample serves an unhealthy region (None: never)."""
    if not succeeded or not samples or samples[-1].lost_share > 0:
        return None
    clean_from = len(samples)
    while clean_from > 0 and samples[clean_from - 1].lost_share == 0:
        clean_from -= 1
    if clean_from == 0:
        return 0.0  # nothing was ever served to an unhealthy region
    for s in samples[clean_from:]:
        if s.event in ("step.done", "run.finish"):
            return s.t
    return samples[-1].t


def integrate(samples: Sequence[Sample], end: float) -> float:
    """Seconds of full traffic served to unhealthy regions: each sample's share holds until the next.

    The first sample's share also holds from the drill's start (t=0) to that sample: nothing moves
    traffic before the runbook runs.
    """
    lost = samples[0].lost_share * samples[0].t if samples else 0.0
    for a, b in zip(samples, [*samples[1:], None], strict=True):
        until = b.t if b is not None else end
        lost += a.lost_share * max(0.0, until - a.t)
    return lost


class DrillRecorder:
    """Event sink: samples served weights and health at each run event."""

    def __init__(self, policy: str, started: float | None = None) -> None:
        self.policy = policy
        self.started = started if started is not None else time.monotonic()
        self.samples: list[Sample] = []
        self.ws: Workspace | None = None
        self.run_id = ""

    def bind(self, ws: Workspace) -> DrillRecorder:
        self.ws = ws
        return self

    def sample(self, event: str = "drill.start", step: str = "", text: str = "") -> Sample:
        assert self.ws is not None, "bind() the recorder to the run's workspace first"
        weights = dns_weights(self.ws, self.policy)
        unhealthy = sorted(r for r, ok in self.ws.health().items() if not ok)
        s = Sample(round(time.monotonic() - self.started, 3), event, step, text, weights, unhealthy,
                   round(lost_share(weights, unhealthy), 6))
        self.samples.append(s)
        return s

    def __call__(self, event: dict[str, Any]) -> None:
        name = str(event.get("event", ""))
        if event.get("run_id"):
            self.run_id = str(event["run_id"])
        if name not in SAMPLED or self.ws is None:
            return
        text = str(event.get("title") or event.get("text") or event.get("reason") or event.get("error")
                   or event.get("status") or "")
        self.sample(name, str(event.get("step", "")), text)

    def report(self, *, runbook: str, params: Mapping[str, Any], platform: str, started_at: str,
               injected: Sequence[str], status: str, target_seconds: float, demand_rps: float | None,
               steps: Sequence[Mapping[str, Any]]) -> DrillReport:
        end = self.samples[-1].t if self.samples else 0.0
        return DrillReport(
            runbook=runbook, params=dict(params), platform=platform, policy=self.policy, started_at=started_at,
            injected=list(injected), status=status, run_id=self.run_id, target_seconds=target_seconds,
            recovery_seconds=recovery_time(self.samples, status == "done"),
            lost_full_traffic_seconds=round(integrate(self.samples, end), 3), window_seconds=end,
            demand_rps=demand_rps, samples=list(self.samples),
            steps=sorted((dict(s) for s in steps), key=lambda s: str(s.get("started_at") or "~")),
        )


def markdown(r: DrillReport) -> str:
    """The drill report as Markdown: summary, timeline, steps."""

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    rec = "not recovered" if r.recovery_seconds is None else f"{r.recovery_seconds:.1f} s"
    verdict = "met" if r.target_met else "missed"
    lost = (f"{r.lost_full_traffic_seconds:.1f} s of all traffic ({r.lost_percent:.2f} % of the "
            f"{r.window_seconds:.1f} s window)")
    if r.lost_requests is not None:
        lost += f", about {r.lost_requests:,.0f} requests at {r.demand_rps:,.0f} req/s"
    params = ", ".join(f"{k}={v}" for k, v in r.params.items()) or "none"
    injected = ", ".join(r.injected) + " down at +0.0 s" if r.injected else "none (run only)"
    lines = [
        f"# DR drill: {r.runbook}",
        "",
        "| | |",
        "|---|---|",
        f"| runbook | `{cell(r.runbook)}` (run `{cell(r.run_id)}`) |",
        f"| parameters | {cell(params)} |",
        f"| platform | {cell(r.platform)} |",
        f"| started | {cell(r.started_at)} |",
        f"| failure injected | {cell(injected)} |",
        f"| result | {cell(r.status)} |",
        f"| recovery time | {rec} (target {r.target_seconds:g} s: {verdict}) |",
        f"| traffic lost | {cell(lost)} |",
        f"| watched policy | `{cell(r.policy)}` |",
        "",
        "Recovery time runs from the start to the end of the first step after which DNS served no answer",
        "pointing at an unhealthy region; a step ends only after its own verification.",
        "",
        "## Timeline",
        "",
        "| t+ (s) | event | step | detail | weights served | unhealthy | to unhealthy |",
        "|---:|---|---|---|---|---|---:|",
    ]
    for s in r.samples:
        weights = " ".join(f"{k}={v}" for k, v in s.weights.items())
        lines.append(f"| {s.t:.1f} | {s.event} | {cell(s.step)} | {cell(s.text)[:120]} | {weights} | "
                     f"{', '.join(s.unhealthy) or '-'} | {100 * s.lost_share:.1f} % |")
    lines += ["", "## Steps (journal)", "", "| step | status | started | finished |", "|---|---|---|---|"]
    for st in r.steps:
        lines.append(f"| {cell(st.get('item'))} | {cell(st.get('status'))} | {cell(st.get('started_at') or '-')} | "
                     f"{cell(st.get('finished_at') or '-')} |")
    return "\n".join(lines) + "\n"
