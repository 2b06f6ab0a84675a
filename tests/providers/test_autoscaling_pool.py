"""The viral runbook's capacity step on Auto Scaling (moto): ``pool.scale`` raises a region's transcode pool
floor and its origin fleet to the surge size through plan, guardrails and apply; ``reset``/``pool.release``
return both to the inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamverse_ctl.core.errors import PermanentError
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.runbook.actions.pool import release, scale
from streamverse_ctl.runbook.context import ActionContext
from streamverse_ctl.runbook.events import Events

from .test_autoscaling import _aws, _group, aws_demo

pytestmark = pytest.mark.servers


def _ctx(demo: Path, state: Path, run: str = "run-1", dry_run: bool = False) -> tuple[ActionContext, list[Any]]:
    ws = Workspace(demo, state_dir=state)
    seen: list[dict[str, Any]] = []
    events = Events()
    events.sinks.append(seen.append)
    return ActionContext(ws, "viral-content", run, "scale", dry_run, frozenset(), events, Path("."),
                         state / "artifacts"), seen


def test_pool_scale_acts_on_the_auto_scaling_groups(moto: Any, demo_copy: Path, tmp_path: Path) -> None:
    aws_demo(demo_copy, moto.url)
    state = tmp_path / "state"
    state.mkdir()
    ctx, _ = _ctx(demo_copy, state)
    for _ in range(2):  # the pool's queue does not exist yet: a clear error each time, never a guessed size
        with pytest.raises(PermanentError, match=r"queue depth of TranscodePool/transcode-us-east .*NonExistent"):
            ctx.ws.compiled  # noqa: B018
    _aws(moto.url, "sqs").create_queue(QueueName="transcode-us-east")
    ctx.apply([])  # the inventory as it is: pools at their floor, the origin at its normal size
    assert _group(moto.url, "origin-us-east")["DesiredCapacity"] == 3
    assert _group(moto.url, "transcode-us-east")["DesiredCapacity"] == 2

    dry, _ = _ctx(demo_copy, state, dry_run=True)
    out = scale(dry, region="us-east", min_nodes=6, origin_nodes=30)
    assert "would change: aws (autoscaling): 1 platform.origin_fleet updated" in out["changed"]
    assert _group(moto.url, "origin-us-east")["DesiredCapacity"] == 3  # a dry run changes nothing

    out = scale(ctx, region="us-east", min_nodes=6, origin_nodes=30)
    assert "aws (autoscaling): 1 transcode.pool updated" in out["changed"]
    assert "aws (autoscaling): 1 platform.origin_fleet updated" in out["changed"]
    assert _group(moto.url, "origin-us-east")["DesiredCapacity"] == 30
    g = _group(moto.url, "transcode-us-east")
    assert (g["MinSize"], g["DesiredCapacity"]) == (6, 6)
    out = scale(ctx, region="us-east", origin_nodes=50)  # above maxNodes (40): the range grows with it
    g = _group(moto.url, "origin-us-east")
    assert (g["MaxSize"], g["DesiredCapacity"]) == (50, 50)

    out = release(ctx, scaled_by="viral-content")
    assert set(out["pools"]) == {"transcode-us-east", "origin-us-east"}
    g = _group(moto.url, "origin-us-east")
    assert (g["MaxSize"], g["DesiredCapacity"]) == (40, 3)
    assert _group(moto.url, "transcode-us-east")["MinSize"] == 2

    out = scale(ctx, region="us-east", origin_surge=True, origin_nodes=1)  # the viral runbook: the surge size
    assert out["origin"] == {"us-east": {"origin-us-east": 30}}
    assert _group(moto.url, "origin-us-east")["DesiredCapacity"] == 30
    out = scale(ctx, region="us-east", reset=True)
    assert _group(moto.url, "origin-us-east")["DesiredCapacity"] == 3
    out = scale(ctx, region="us-east", origin_nodes=1)  # a scale-out never shrinks the fleet below normal
    assert out["origin"] == {"us-east": {"origin-us-east": 3}} and out["changed"] == "nothing to change"
    assert _group(moto.url, "origin-us-east")["DesiredCapacity"] == 3
    ctx.ws.close()
