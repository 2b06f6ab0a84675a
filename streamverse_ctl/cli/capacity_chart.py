"""``capacity --chart``: load vs capacity per region (before and after the what-if) and the cost breakdown.

matplotlib is imported here only, with the headless Agg backend, so no other verb pays for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..core.errors import PermanentError

    base, after = data["baseline"], data.get("what_if")
    regions = [r["region"] for r in base["regions"]]
    fig, (ax1, ax2, ax4, ax3) = plt.subplots(1, 4, figsize=(21, 5))
    width = 0.38 if after else 0.6
    xs = range(len(regions))

    def util(s: dict[str, Any], key: str, cap: str) -> list[float]:
        by = {r["region"]: r for r in s["regions"]}
        caps = {n: sum(by[n][c] for c in cap.split("+")) for n in regions}
        return [100 * by[n][key] / caps[n] if caps[n] else 0.0 for n in regions]

    for ax, key, cap, title in ((ax1, "rps", "max_rps", "requests/s vs maxRps"),
                                (ax2, "egress_gbps", "egress_capacity_gbps", "egress vs egressGbps"),
                                (ax4, "user_egress_gbps", "pop_capacity_gbps+edge_capacity_gbps",
                                 "viewers' egress vs PoP + edge capacity")):
        ax.bar([x - (width / 2 if after else 0) for x in xs], util(base, key, cap), width, label="baseline")
        if after:
            ax.bar([x + width / 2 for x in xs], util(after, key, cap), width,
                   label="what-if " + " ".join(after["what_if"]))
        ax.axhline(100, color="red", linewidth=1)
        ax.set_xticks(list(xs), regions, rotation=30, ha="right")
        ax.set_ylabel("% of capacity")
        ax.set_title(title)
        ax.legend(fontsize=8)
    cats = ["cdn", "transfer", "transcode", "serving", "storage"]
    cost = (after or base)["cost_per_month"]
    ax3.bar(cats, [cost[c] / 1e6 for c in cats], color="tab:green")
    ax3.set_ylabel("USD million / month")
    ax3.set_title(f"monthly cost: ${cost['total'] / 1e6:,.2f}M" + (" (what-if)" if after else ""))
    fig.tight_layout()
    try:
        fig.savefig(path, format=path.suffix.lower().lstrip("."))
    except OSError as exc:
        raise PermanentError(f"--chart {path}: cannot write it: {exc.strerror or exc}") from exc
    finally:
        plt.close(fig)
