"""Multi-CDN steering: a weighted TrafficPolicy between the nginx PoPs and CloudFront (a named target whose
answer is the distribution's domain name), so activating the backup CDN is ``dns set-weights`` through the
usual plan, guardrails, lock and audit. Shown on the sim platform's DNS."""

from __future__ import annotations

from pathlib import Path

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.providers.sim.model import traffic_shares
from streamverse_ctl.providers.sim.store import SimStore
from tests.e2e.test_cli import CLI

CF = "d111111abcdef8.cloudfront.net."
STEERING = f"""\
apiVersion: streamverse.io/v1
kind: TrafficPolicy
metadata: {{name: video}}
spec:
  zone: ${{zone}}
  record: video
  type: CNAME
  ttl: 60
  routing: weighted
  weights: {{us-east: 60, eu-west: 30, us-west: 10, cloudfront: 0}}
  values:
    us-east: [edge-us-east.pops.streamverse.example.]
    eu-west: [edge-eu-west.pops.streamverse.example.]
    us-west: [edge-us-west.pops.streamverse.example.]
  targets: {{cloudfront: ["{CF}"]}}
"""


def _video(state: Path) -> tuple[dict[str, tuple[int, list[str]]], dict[str, float]]:
    store = SimStore(state / "sim.db")
    rows = [Resource(t, n, s) for t, n, s, _ in store.read(["dns.record"])]
    video = [r for r in rows if r.spec.get("policy") == "video"]
    answers = {str(r.spec["region"]): (int(r.spec["weight"]), list(r.spec["values"])) for r in video}
    return answers, traffic_shares(video, store.region_health())["video"]


def test_activating_the_backup_cdn_is_a_weight_change_through_guardrails(inventories_copy: Path,
                                                                         tmp_path: Path) -> None:
    demo = inventories_copy / "demo"
    (demo / "steering.yaml").write_text(STEERING)
    cli = CLI(demo, tmp_path / "state", tmp_path)
    cli.ok("validate")
    cli.ok("apply", "--auto-approve")
    answers, shares = _video(tmp_path / "state")
    assert answers["cloudfront"] == (0, [CF])  # the backup CDN answers with the distribution's domain name
    assert shares == {"us-east": 0.6, "eu-west": 0.3, "us-west": 0.1, "cloudfront": 0.0}

    out = cli.ok("dns", "set-weights", "video", "cloudfront=50", "us-east=10", "-m", "activate the backup CDN",
                 "--auto-approve")
    answers, shares = _video(tmp_path / "state")
    assert answers["cloudfront"] == (50, [CF])
    assert shares == {"us-east": 0.1, "eu-west": 0.3, "us-west": 0.1, "cloudfront": 0.5}
    assert "cloudfront" in out.stdout

    # all of it to CloudFront leaves one serving answer: the min-regions guardrail refuses (exit 3)
    refused = cli("dns", "set-weights", "video", "us-east=0", "eu-west=0", "us-west=0", "-m", "all to CloudFront",
                  "--auto-approve")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "min-regions" in refused.stdout + refused.stderr
    assert _video(tmp_path / "state")[0]["cloudfront"] == (50, [CF])  # unchanged

    bad = cli("dns", "set-weights", "video", "akamai=10", "--auto-approve")
    assert bad.returncode == 1 and "not in policy 'video'" in bad.stdout + bad.stderr
