"""CloudFront provider against a real moto server: distributions, path TTLs, purges, drift, ownership."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from streamverse_ctl.compiler.distributions import distribution_spec
from streamverse_ctl.core.errors import PermanentError
from streamverse_ctl.core.resources import Change, Resource
from streamverse_ctl.inventory.models import CdnDistributionSpec
from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.cloudfront import CloudFrontProvider

from .helpers import plan, summary

pytestmark = pytest.mark.servers
TYPES = ("cdn.distribution",)


def _client(url: str) -> Any:
    return boto3.client("cloudfront", endpoint_url=url, region_name="us-east-1")


def _provider(url: str, tmp_path: Path, **settings: Any) -> CloudFrontProvider:
    return CloudFrontProvider("cf", {"endpointUrl": url, "pollInterval": 0.05, **settings}, ProviderContext(tmp_path))


def _dist(name: str = "backup", default_ttl: int = 3600, video_ttl: int = 86400, **extra: Any) -> Resource:
    spec = CdnDistributionSpec.model_validate({
        "origins": [{"id": "origin", "domainName": "origin.sv.example"},
                    {"id": "media", "domainName": "media.sv.example", "path": "/hls", "protocol": "http-only"}],
        "defaultTtl": default_ttl,
        "cacheBehaviors": [{"pathPattern": "/videos/viral1/*", "ttl": video_ttl, "origin": "media"},
                           {"pathPattern": "*.ts", "ttl": 3600}],
        "comment": "backup CDN", **extra})
    return Resource("cdn.distribution", name, distribution_spec(spec), origin=f"CdnDistribution/{name}")


def _apply(p: CloudFrontProvider, desired: list[Resource]) -> list[Change]:
    changes = plan(p, desired, TYPES)
    if changes:
        p.apply(changes)
    return changes


def _only(url: str) -> dict[str, Any]:
    items = _client(url).list_distributions()["DistributionList"].get("Items") or []
    assert len(items) == 1
    return dict(items[0])


def test_create_update_delete_converge(moto: Any, tmp_path: Path) -> None:
    p = _provider(moto.url, tmp_path)
    changes = _apply(p, [_dist()])
    assert [(c.action, c.id) for c in changes] == [("create", "cdn.distribution/backup")]
    assert plan(p, [_dist()], TYPES) == []  # read back field by field: converged

    real = _only(moto.url)  # what CloudFront holds, not what we sent
    assert real["Comment"] == "backup CDN [svctl:streamverse/backup]"
    behaviors = {b["PathPattern"]: b for b in real["CacheBehaviors"]["Items"]}
    assert [b["PathPattern"] for b in real["CacheBehaviors"]["Items"]] == ["/videos/viral1/*", "*.ts"]
    assert behaviors["/videos/viral1/*"]["DefaultTTL"] == 86400
    assert behaviors["/videos/viral1/*"]["TargetOriginId"] == "media"
    assert real["DefaultCacheBehavior"]["DefaultTTL"] == 3600
    media = next(o for o in real["Origins"]["Items"] if o["Id"] == "media")
    assert media["OriginPath"] == "/hls" and media["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    tags = p.tags("backup")
    assert tags == {"streamverse:owner": "streamverse", "streamverse:name": "backup"}
    assert p.domain_name("backup") == real["DomainName"]

    # the viral path's TTL 24 h -> 2 h and the default 1 h -> 10 min: an update in place
    changes = _apply(p, [_dist(default_ttl=600, video_ttl=7200)])
    assert summary(changes) == [("update", "cdn.distribution/backup", ["behaviors", "default_ttl"])]
    real = _only(moto.url)
    assert real["CacheBehaviors"]["Items"][0]["DefaultTTL"] == 7200
    assert real["DefaultCacheBehavior"]["DefaultTTL"] == 600
    assert plan(p, [_dist(default_ttl=600, video_ttl=7200)], TYPES) == []

    # gone from the inventory: disabled, waited on until deployed, then deleted
    changes = _apply(p, [])
    assert [(c.action, c.id) for c in changes] == [("delete", "cdn.distribution/backup")]
    assert not _client(moto.url).list_distributions()["DistributionList"].get("Items")


def test_console_edit_shows_as_drift_and_foreign_distributions_are_left_alone(moto: Any, tmp_path: Path) -> None:
    p = _provider(moto.url, tmp_path)
    _apply(p, [_dist()])
    cf = _client(moto.url)
    dist_id = _only(moto.url)["Id"]
    got = cf.get_distribution_config(Id=dist_id)
    cfg = got["DistributionConfig"]
    cfg["CacheBehaviors"]["Items"][0]["DefaultTTL"] = 60  # someone shortens the viral TTL in the console
    cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=cfg)
    # a distribution another team made, without the marker
    foreign = {**cfg, "CallerReference": "other-team", "Comment": "marketing site"}
    foreign_id = cf.create_distribution(DistributionConfig=foreign)["Distribution"]["Id"]

    changes = plan(p, [_dist()], TYPES)
    assert summary(changes) == [("update", "cdn.distribution/backup", ["behaviors"])]
    assert changes[0].before is not None and changes[0].before["behaviors"][0]["ttl"] == 60
    actual = {r.name: r for r in p.read(TYPES)}
    assert actual[f"cloudfront-{foreign_id.lower()}"].managed is False
    p.apply(changes)
    assert plan(p, [_dist()], TYPES) == []  # the drift is reverted, the foreign one never touched
    ids = {d["Id"] for d in cf.list_distributions()["DistributionList"]["Items"]}
    assert foreign_id in ids

    with pytest.raises(PermanentError, match="not managed by StreamVerse Control"):
        p._update(f"cloudfront-{foreign_id.lower()}", _dist().spec, takeover=False)


def test_more_cache_behaviours_than_the_quota_are_refused_at_plan_time(moto: Any, tmp_path: Path) -> None:
    p = _provider(moto.url, tmp_path, maxCacheBehaviors=2)
    problems = p.check([_dist(), _dist("big", cacheBehaviors=[{"pathPattern": f"/v{i}/*", "ttl": 60}
                                                             for i in range(3)])])
    assert problems == ["provider 'cf' (cloudfront): CdnDistribution/big has 3 cache behaviours; CloudFront allows "
                        "2 per distribution (setting maxCacheBehaviors, the account's quota)"]


def test_set_ttl_of_a_path_and_purge_waited_on_to_completed(moto: Any, tmp_path: Path) -> None:
    p = _provider(moto.url, tmp_path)
    _apply(p, [_dist(video_ttl=3600)])
    said = p.set_ttl("backup", "/videos/viral1/*", 86400)
    assert "/videos/viral1/* TTL 3600 -> 86400" in said and "distribution backup" in said
    said = p.set_ttl("backup", "/videos/viral2/*", 86400)  # a new path: added before the generic ones
    assert "TTL unset -> 86400" in said
    items = _only(moto.url)["CacheBehaviors"]["Items"]
    assert [(b["PathPattern"], b["DefaultTTL"]) for b in items] == [
        ("/videos/viral2/*", 86400), ("/videos/viral1/*", 86400), ("*.ts", 3600)]
    assert "nothing changed" in p.set_ttl("backup", "/videos/viral2/*", 86400)
    p.set_ttl("backup", "/videos/viral2/*", None)
    assert [b["PathPattern"] for b in _only(moto.url)["CacheBehaviors"]["Items"]] == ["/videos/viral1/*", "*.ts"]

    done = p.purge("backup", ["/videos/viral1/*"])
    assert done["status"].lower() == "completed"  # moto answers COMPLETED; AWS Completed
    inv = _client(moto.url).get_invalidation(DistributionId=_only(moto.url)["Id"], Id=done["id"])["Invalidation"]
    assert inv["InvalidationBatch"]["Paths"]["Items"] == ["/videos/viral1/*"]
    assert "invalidated 1 path(s)" in done["changed"]
    with pytest.raises(PermanentError, match="must start with '/'"):
        p.purge("backup", ["videos/x"])
    with pytest.raises(PermanentError, match="no distribution 'nope'"):
        p.purge("nope", ["/x"])


def test_purge_polls_until_completed(moto: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait is our own loop on GetInvalidation (boto3's waiter breaks on moto's status case).

    moto completes at once, so the first answers are made InProgress here: the only stand-in in this file."""
    p = _provider(moto.url, tmp_path)
    _apply(p, [_dist()])
    real_get = p.client.get_invalidation
    answers = iter(["InProgress", "InProgress"])

    def slow(**kw: Any) -> Any:
        resp = real_get(**kw)
        resp["Invalidation"]["Status"] = next(answers, resp["Invalidation"]["Status"])
        return resp

    real_create = p.client.create_invalidation

    def created(**kw: Any) -> Any:
        resp = real_create(**kw)
        resp["Invalidation"]["Status"] = "InProgress"
        return resp

    monkeypatch.setattr(p.client, "get_invalidation", slow)
    monkeypatch.setattr(p.client, "create_invalidation", created)
    done = p.purge("backup", ["/videos/*"])
    assert done["status"] == "COMPLETED"
    answers = iter(["InProgress"] * 1000)
    with pytest.raises(PermanentError, match="still InProgress"):
        p.purge("backup", ["/videos/*"], timeout=0.2)


BACKUP_CDN = """\
apiVersion: streamverse.io/v1
kind: CdnDistribution
metadata: {name: backup-cdn}
spec:
  origins: [{id: origin, domainName: origin.streamverse.example}]
  defaultTtl: 3600
  ttlFrom: new-releases
  comment: backup CDN
"""


def test_a_ttl_override_on_the_warm_policy_reaches_cloudfront(moto: Any, demo_copy: Path, tmp_path: Path) -> None:
    """The viral runbook's TTL 1 h -> 24 h: an override on the CacheWarmPolicy, planned and applied through
    the guardrails, changes the distribution's cache behaviour for the video's path on CloudFront."""
    from streamverse_ctl.compiler.distributions import following
    from streamverse_ctl.engine import overrides as ov
    from streamverse_ctl.engine.workspace import Workspace
    from streamverse_ctl.runbook.context import ActionContext
    from streamverse_ctl.runbook.events import Events

    (demo_copy / "backup-cdn.yaml").write_text(BACKUP_CDN)
    (demo_copy / "providers.yaml").write_text(f"""\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: cloudfront}}
spec:
  type: cloudfront
  serves: {{types: ["cdn.distribution"]}}
  settings: {{endpointUrl: "{moto.url}", waitDeployed: true, pollInterval: 0.05}}
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: sim}}
spec:
  type: sim
  serves: {{types: ["*"]}}
""")
    state = tmp_path / "state"
    state.mkdir()
    ws = Workspace(demo_copy, state_dir=state)
    ctx = ActionContext(ws, "viral-content", "run-1", "ttl", False, frozenset({"change-size"}), Events(), Path("."),
                        state / "artifacts")
    ctx.apply([])
    real = _only(moto.url)
    assert [(b["PathPattern"], b["DefaultTTL"]) for b in real["CacheBehaviors"]["Items"]] == [
        ("*.m3u8", 2), ("*.m4s", 3600), ("*.ts", 3600)]  # the policy's TTLs, on CloudFront too

    targets = ["CacheWarmPolicy/new-releases", *following({(d.kind, d.name): d.model for d in ws.inventory.documents},
                                                          "new-releases")]
    assert targets[1:] == ["CdnDistribution/backup-cdn"]
    out = ctx.apply(targets, stage=lambda: ov.stage_or_clear(
        ws, "CacheWarmPolicy", "new-releases", {"ttlOverrides": {"/videos/viral1/*": 86400}},
        "runbook viral-content (run-1): TTL of /videos/viral1/* -> 86400"))
    assert "cloudfront: 1 cdn.distribution updated" in out["changed"]
    real = _only(moto.url)
    first = real["CacheBehaviors"]["Items"][0]  # the specific path before the generic globs
    assert (first["PathPattern"], first["DefaultTTL"]) == ("/videos/viral1/*", 86400)
    out = ctx.apply(targets, stage=lambda: ov.stage_clear(ws, "CacheWarmPolicy", "new-releases", "restore"))
    assert "cloudfront: 1 cdn.distribution updated" in out["changed"]
    assert "/videos/viral1/*" not in {b["PathPattern"] for b in _only(moto.url)["CacheBehaviors"]["Items"]}
    ws.close()
