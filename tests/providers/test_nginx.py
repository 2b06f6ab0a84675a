"""The nginx provider on a real PoP fleet: three Debian nginx caches on loopback in front of an origin nginx
serving generated HLS content, delivered through ansible-runner (``ansible_connection=local``).

One fleet per module (each apply runs the deploy playbook, seconds on a busy machine); every test starts
from the inventory applied (the ``ws`` fixture converges first) and puts back what it changes.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamverse_ctl.core.errors import StreamverseError
from streamverse_ctl.engine.apply import apply_plan
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.runbook.context import ActionContext
from streamverse_ctl.runbook.events import Events
from tests.servers.nginx import PopFleet
from tests.servers.process import start_or_fail

pytestmark = pytest.mark.servers
HERE = Path(__file__).parent
PROVIDERS = """\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: pops}}
spec:
  type: nginx
  serves: {{types: ["cdn.*"]}}
  settings: {settings}
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: sim}}
spec:
  type: sim
  serves: {{types: ["platform.*"]}}
"""
CLIP = "/videos/clip42"
CLIP_OBJECTS = 11  # master + 2 x (media playlist + 4 segments), as make_hls writes them
WARM = {"X-Streamverse-Warm": "test"}  # the test's own checks stay out of the hit-ratio log


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PopFleet]:
    f = PopFleet(tmp_path_factory.mktemp("fleet"))
    start_or_fail(f.start)
    yield f
    f.stop()


@pytest.fixture(scope="module")
def inv(fleet: PopFleet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("inv") / "pop-fleet"
    shutil.copytree(HERE / "nginx_inventory", d)
    (d / "providers.yaml").write_text(PROVIDERS.format(settings=json.dumps(fleet.settings())))
    return d


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


def _apply(ws: Workspace) -> list[str]:
    plan = ws.plan()
    if plan.changes:
        result = apply_plan(ws, plan)
        assert result.verified, [v for v in result.verify if not v.ok]
    ws.refresh()
    return sorted(f"{c.action} {c.id}" for c in plan.changes)


@pytest.fixture(scope="module")
def first_apply(inv: Path, state: Path) -> list[str]:
    ws = Workspace(inv, state_dir=state)
    try:
        return _apply(ws)
    finally:
        ws.close()


@pytest.fixture
def ws(inv: Path, state: Path, first_apply: list[str]) -> Iterator[Workspace]:
    w = Workspace(inv, state_dir=state)
    _apply(w)
    yield w
    w.close()


def _ctx(ws: Workspace, state: Path, step: str = "s", dry_run: bool = False) -> tuple[ActionContext, list[Any]]:
    seen: list[dict[str, Any]] = []
    events = Events()
    events.sinks.append(seen.append)
    return ActionContext(ws, "test", "run-1", step, dry_run, frozenset({"change-size"}), events, Path("."),
                         state / "artifacts"), seen


def _status(url: str, method: str = "HEAD") -> str:
    return httpx.request(method, url, headers=WARM).headers.get("x-cache-status", "")


def _clip_urls(base: str) -> list[str]:
    urls = [f"{base}{CLIP}/master.m3u8"]
    for rung in ("360p", "720p"):
        urls += [f"{base}{CLIP}/{rung}/index.m3u8"] + [f"{base}{CLIP}/{rung}/seg{i:05d}.ts" for i in range(4)]
    return urls


def test_first_apply_creates_each_pops_config_and_warms_it_then_nothing_is_left(
        first_apply: list[str], ws: Workspace, fleet: PopFleet) -> None:
    pops = ("pop1", "pop2", "pop3")
    assert [c for c in first_apply if "cdn." in c] == sorted([*(f"create cdn.pop/{p}" for p in pops),
                                  *(f"create cdn.cache_policy/new-releases/{p}" for p in pops),
                                  *(f"create cdn.warm_set/new-releases/{p}" for p in pops)])
    assert ws.plan().changes == []  # read back from the hosts: what was applied is what they run
    for pop in fleet.pops:
        conf = pop.conf.read_text()
        assert "# streamverse-state:" in conf and "limit_req_zone" not in conf
        digest = httpx.get(f"{pop.url}/_streamverse/digest").text
        assert f"# streamverse-digest: {digest}" in conf  # the config on disk is the one nginx serves
        # the warm set: every playlist and segment of clip42 is in this PoP's cache
        assert [_status(u) for u in _clip_urls(pop.url)] == ["HIT"] * CLIP_OBJECTS


def test_ttl_rules_answer_specific_before_generic(ws: Workspace, fleet: PopFleet) -> None:
    base = fleet.pop("pop2").url

    def ttl(path: str) -> str:
        r = httpx.get(base + path, headers=WARM)
        assert r.status_code == 200, path
        return str(r.headers["cache-control"])

    assert ttl(f"{CLIP}/720p/seg00001.ts") == "max-age=86400"  # the video's prefix beats every regex
    assert ttl(f"{CLIP}/master.m3u8") == "max-age=86400"
    assert ttl("/videos/other/720p/seg00001.ts") == "max-age=600"  # path glob before suffix glob
    assert ttl("/videos/other/360p/seg00001.ts") == "max-age=3600"  # the generic *.ts, not the origin's 60 s
    assert ttl("/videos/other/360p/index.m3u8") == "max-age=2"
    r = httpx.get(base + "/videos/other/360p/seg00001.ts", headers=WARM)
    assert r.headers["x-cache-status"] == "HIT" and r.headers["content-type"] == "video/mp2t"


def test_an_edit_on_the_host_is_drift_that_plan_shows_and_apply_reverts(
        ws: Workspace, fleet: PopFleet, inv: Path, state: Path) -> None:
    conf = fleet.pop("pop1").conf
    original = conf.read_text()
    conf.write_text(original.replace("proxy_cache_valid 200 206 3600s;", "proxy_cache_valid 200 206 7200s;"))
    w = Workspace(inv, state_dir=state)
    try:
        plan = w.plan()
        assert [(c.action, c.id) for c in plan.changes] == [("update", "cdn.pop/pop1")]
        assert [f.path for f in plan.changes[0].fields] == ["edited_outside"]
        assert "edited on the host" in str(plan.changes[0].fields[0].before)
        _apply(w)
        assert conf.read_text() == original and w.plan().changes == []
    finally:
        w.close()


def test_rate_limit_set_and_removed_on_every_pop_through_the_action(ws: Workspace, fleet: PopFleet,
                                                                    state: Path) -> None:
    from streamverse_ctl.runbook.actions.ratelimit import set_limit
    from streamverse_ctl.runbook.served import not_served

    assert not_served(ws, "cdn.rate_limit") is None  # the nginx provider limits for real: not refused as sim-only
    ctx, _ = _ctx(ws, state, dry_run=True)
    dry = set_limit(ctx, "video:clip42", 2)
    assert dry["changed"].startswith("would change: ") and "limit_req_zone" not in fleet.pop("pop1").conf.read_text()
    ctx, _ = _ctx(ws, state)
    out = set_limit(ctx, "video:clip42", 2)
    assert out["on_pops"] == [f"pops: {p}: set per-IP limit of video:clip42: none -> 2 req/s"
                              for p in ("pop1", "pop2", "pop3")]
    try:
        with httpx.Client(base_url=fleet.pop("pop3").url) as client:
            codes = [client.get(f"{CLIP}/360p/seg00000.ts").status_code for _ in range(30)]
            assert 429 in codes and set(codes) <= {200, 429}
            assert {client.get("/videos/other/360p/seg00000.ts").status_code for _ in range(30)} == {200}
        assert ws.plan().changes == []  # the limit is operational state kept in the config, not drift
    finally:
        out = set_limit(_ctx(ws, state)[0], "video:clip42", None)
    assert len(out["on_pops"]) == 3 and "2 req/s -> none" in out["on_pops"][0]
    with httpx.Client(base_url=fleet.pop("pop3").url) as client:
        assert {client.get(f"{CLIP}/360p/seg00000.ts").status_code for _ in range(30)} == {200}


def test_purge_then_miss_and_warm_again_then_hit_through_cdn_warm(ws: Workspace, fleet: PopFleet,
                                                                  state: Path) -> None:
    from streamverse_ctl.runbook.actions.cdn import warm

    out = warm(_ctx(ws, state)[0], video="clip42", remove=True)
    assert sorted(r.split(":")[1].strip() for r in out["on_pops"] if "purged" in r) == ["pop1", "pop2", "pop3"]
    assert [r for r in out["on_pops"] if "purged" in r] == [
        f"pops: {p}: purged clip42: {CLIP_OBJECTS} cached object(s) removed of {CLIP_OBJECTS}"
        for p in ("pop1", "pop2", "pop3")]
    assert "pops (nginx): 3 cdn.warm_set updated" in out["changed"]
    for pop in fleet.pops:
        assert _status(f"{pop.url}{CLIP}/720p/seg00002.ts", "GET") == "MISS"
    out = warm(_ctx(ws, state)[0], video="clip42")  # back to the inventory's warm set: warmed on every PoP
    assert [r for r in out["on_pops"] if "warmed" in r] == [
        f"pops: {p}: warmed clip42: {CLIP_OBJECTS}/{CLIP_OBJECTS} objects HIT"
        for p in ("pop1", "pop2", "pop3")]
    for pop in fleet.pops:
        assert [_status(u) for u in _clip_urls(pop.url)] == ["HIT"] * CLIP_OBJECTS
    # a warming job of PoPs (no video): each PoP fetches its warm sets again and checks them
    job = warm(_ctx(ws, state)[0], pops=["pop1"])
    assert job["changed"] == f"pops: pop1: warmed clip42: {CLIP_OBJECTS}/{CLIP_OBJECTS} objects HIT"


def test_nginx_t_failure_on_one_pop_leaves_its_old_config_serving(ws: Workspace, fleet: PopFleet, inv: Path,
                                                                  state: Path) -> None:
    from streamverse_ctl.runbook.actions.cdn import set_ttl

    pop2 = fleet.pop("pop2")
    before = pop2.conf.read_text()
    served = httpx.get(f"{pop2.url}/_streamverse/digest").text
    good = {k: dict(v) for k, v in fleet.hostvars.items()}
    broken = {k: dict(v) for k, v in good.items()}
    broken["pop2"]["cache_max_size"] = "64 MB"  # a typo in one host's vars: nginx -t rejects the max_size
    fleet.write_inventory(broken)
    w = Workspace(inv, state_dir=state)
    try:
        with pytest.raises(StreamverseError) as err:
            set_ttl(_ctx(w, state)[0], "*.ts", 1800)
        assert "pop2" in str(err.value) and "nginx -t" in str(err.value) and "previous config still serves" in str(
            err.value)
        assert pop2.conf.read_text() == before  # never swapped
        assert httpx.get(f"{pop2.url}/_streamverse/digest").text == served
        assert httpx.get(f"{pop2.url}/videos/other/360p/seg00002.ts").headers["cache-control"] == "max-age=3600"
        assert httpx.get(f"{fleet.pop('pop1').url}/videos/other/360p/seg00002.ts").headers[
            "cache-control"] == "max-age=1800"  # the other PoPs took the change
    finally:
        fleet.write_inventory(good)
        w.close()
    w = Workspace(inv, state_dir=state)
    try:
        set_ttl(_ctx(w, state)[0], "*.ts", 3600)  # the inventory's own value: the override goes
        assert w.plan().changes == []
    finally:
        w.close()


def test_hit_ratio_comes_from_the_pops_cache_log(ws: Workspace, fleet: PopFleet, state: Path) -> None:
    from streamverse_ctl.runbook.probes import functions, hit_ratios

    pop1 = fleet.pop("pop1")
    for pop in fleet.pops:
        (pop.prefix / "cache-status.log").write_text("")  # nginx appends: a fresh window
    ws.provider("pops").purge({"pop1": ["other"]})
    with httpx.Client(base_url=pop1.url) as client:  # a viewer: three warmed segments and one cold one
        statuses = [client.get(f"{CLIP}/360p/seg0000{i}.ts").headers["x-cache-status"] for i in range(3)]
        statuses.append(client.get("/videos/other/360p/seg00003.ts").headers["x-cache-status"])
    assert statuses == ["HIT", "HIT", "HIT", "MISS"]
    ws.provider("pops").warm(["pop1"])  # the warmer's own requests are not viewers' and do not count
    assert hit_ratios(ws) == {"pop1": 0.75}  # pop2, pop3: no client request yet, no ratio
    assert functions(ws)["hit_ratio"](["pop1"]) == 0.75
    from streamverse_ctl.runbook.actions.cdn import busiest_pops

    rates = ws.provider("pops").request_rates()  # type: ignore[attr-defined]
    assert rates["pop1"] == 4 / 60  # the 4 viewer requests of the last minute
    assert all(rates.get(p, 0.0) == 0.0 for p in ("pop2", "pop3"))
    assert busiest_pops(_ctx(ws, state)[0], 1) == ["pop1"]  # cdn.warm hottest: N needs no Prometheus here


def test_a_runbook_acts_on_the_pops_and_says_what_it_changed_on_which(ws: Workspace, fleet: PopFleet, inv: Path,
                                                                       state: Path) -> None:
    import os
    import subprocess

    from streamverse_ctl.runbook.actions.cdn import set_ttl
    from streamverse_ctl.runbook.actions.ratelimit import set_limit

    exe = Path(sys.executable).parent / "streamverse"
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(state), "STREAMVERSE_RUNBOOKS": str(HERE / "nginx_runbooks"),
           "COLUMNS": "250", "NO_COLOR": "1"}
    with httpx.Client(base_url=fleet.pop("pop1").url) as client:  # viewers on warmed objects: a ratio to wait on
        assert {client.get(f"{CLIP}/360p/seg0000{i}.ts").headers["x-cache-status"] for i in range(4)} == {"HIT"}
    try:
        p = subprocess.run([str(exe), "ctl", "runbook", "run", "edge-check", "--yes", "-i", str(inv)], env=env,
                           capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        for pop in ("pop1", "pop2", "pop3"):  # each step says what it changed on which PoP
            assert f"{pop}: set per-IP limit of video:other: none -> 50 req/s" in p.stdout
            assert f"{pop}: warmed clip42: {CLIP_OBJECTS}/{CLIP_OBJECTS} objects HIT" in p.stdout
        r = httpx.get(f"{fleet.pop('pop2').url}/videos/other/360p/seg00001.ts", headers=WARM)
        assert r.headers["cache-control"] == "max-age=120"
        assert "rl_video_other" in fleet.pop("pop3").conf.read_text()
    finally:
        w = Workspace(inv, state_dir=state)
        try:
            set_ttl(_ctx(w, state)[0], "/videos/other/*", None)
            set_limit(_ctx(w, state)[0], "video:other", None)
            assert w.plan().changes == [] and "rl_video_other" not in fleet.pop("pop3").conf.read_text()
        finally:
            w.close()
