"""``probe.playback``: a runbook gate on synthetic playback (providers/playback.py).

Plays ``video`` through the named PoPs (default: every PoP; or one ``host``) and fails the step
when a play starts slower than ``threshold`` seconds (default: the SLO's ``startupSeconds``) or
fails outright. The failure is temporary, so a step's ``retries`` re-probe (e.g. while caches
warm); once they are used up the step fails. It only reads, so it runs in a dry run too.

    - id: startup
      name: Viewers start within the SLO again
      action: probe.playback
      with: {pops: ["nyc1", "lhr*"], video: clip42, samples: 3, nameserver: "10.0.0.53:53", scheme: https}
      retries: {attempts: 10, delay: 30s}
"""

from __future__ import annotations

from typing import Any

from ...core.errors import TemporaryError
from ..context import ActionContext


def playback(ctx: ActionContext, pops: list[str] | str | None = None, host: str | None = None,
             video: str | None = None, samples: int = 1, threshold: float | None = None,
             nameserver: str | None = None, scheme: str = "https", port: int = 0, zone: str | None = None,
             host_template: str | None = None, timeout: float = 5.0, ca_file: str | None = None) -> dict[str, Any]:
    from ...core.errors import PermanentError
    from ...providers import playback as pb

    inv = ctx.ws.inventory
    server = nameserver or pb.inventory_nameserver(inv)
    if not server:
        raise PermanentError(f"step {ctx.step}: no nameserver to resolve the PoPs with: give 'nameserver' "
                             "(HOST[:PORT]); the inventory's DNS provider names none")
    names = [pops] if isinstance(pops, str) else [str(p) for p in pops] if pops else None
    targets = pb.targets(inv, names, host, zone, host_template or pb.DEFAULT_HOST_TEMPLATE)
    limit = float(threshold) if threshold is not None else pb.inventory_startup_seconds(inv)
    settings = pb.ProbeSettings(server, scheme, int(port), video or pb.DEFAULT_VIDEO, limit, float(timeout), ca_file)
    plays = pb.run(targets, settings, int(samples))
    for p in plays:
        ctx.note(f"{p.target.pop or p.target.host}: {p.verdict}"
                 + (f", startup {p.startup_seconds:.3f} s" if p.startup_seconds is not None else f": {p.error}"),
                 pop=p.target.pop, startup_seconds=p.startup_seconds)
    bad = [p for p in plays if not p.passed]
    summary = {"threshold_seconds": limit, "plays": [p.as_dict() for p in plays], **pb.health(plays)}
    if bad:
        worst = ", ".join(
            f"{p.target.pop or p.target.host.rstrip('.')} "
            + (f"{p.startup_seconds:.2f} s" if p.startup_seconds is not None else p.error) for p in bad[:5])
        raise TemporaryError(f"{len(bad)} of {len(plays)} play(s) did not start within {limit:g} s: {worst}")
    return summary
