"""Capacity planning: each formula on hand-computed numbers, the seed's orders of magnitude, the kind's validation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from streamverse_ctl.core.errors import InputError, PermanentError
from streamverse_ctl.engine import capacity as cap
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.inventory.capacity import CapacityModelSpec
from streamverse_ctl.inventory.schema import inventory_schema

REPO = Path(__file__).resolve().parents[2]


# ----- formulas, hand-computed ---------------------------------------------------------------
def test_demand_formulas() -> None:
    assert cap.peak_viewers(100_000_000, 15) == 15_000_000
    assert cap.peak_rps(15_000_000, 0.4) == 6_000_000
    # 50 % at 4000 kbps + 50 % at 1000 kbps = 2500 kbps
    assert cap.mean_bitrate_kbps({"a": 50, "b": 50}, {"a": 4000, "b": 1000}) == 2500
    # 1,000,000 viewers x 2500 kbps = 2.5e9 kbps = 2500 Gbps
    assert cap.egress_gbps(1_000_000, 2500) == 2500
    assert cap.origin_egress_gbps(2000, 0.95) == pytest.approx(100)


def test_storage_formula() -> None:
    assert cap.content_hours_per_day(600, 10) == 100  # 600 uploads x 10 min = 100 h
    assert cap.gb_per_hour(1000) == pytest.approx(0.45)  # 1 Mbps for 3600 s = 450 MB
    # 100 h/day: renditions at 2000 kbps = 90 GB/day, sources at 1000 kbps = 45 GB/day
    out = cap.storage_gb(100, 2000, 1000, {"hot": 10, "warm": 40, "cold": 100, "archive": 200},
                         {"hot": 2, "warm": 1, "cold": 1, "archive": 3})
    assert out["hot"]["gb"] == pytest.approx(90 * 10 * 2)  # 1800
    assert out["warm"]["gb"] == pytest.approx(90 * 30)  # days 10..40
    assert out["cold"]["gb"] == pytest.approx(90 * 60)  # days 40..100
    assert out["archive"]["gb"] == pytest.approx(45 * 200 * 3)
    assert out["hot"]["gb_per_year"] == pytest.approx(90 * 2 * 365)
    assert out["archive"]["gb_per_year"] == pytest.approx(45 * 3 * 365)


def test_gpu_cache_server_and_money_formulas() -> None:
    # 48 h/day; a GPU encodes rung a at 2x and b at 4x realtime: 0.75 GPU-h per hour -> 36 GPU-h/day = 1.5 GPUs
    assert cap.gpus_needed(48, {"a": 2, "b": 4}, 3) == (pytest.approx(1.5), pytest.approx(4.5))
    # 100 h/day x 30 days x 0.45 GB/h (1000 kbps) x 40 % = 540 GB
    assert cap.cache_per_pop_gb(100, 30, 1000, 40) == pytest.approx(540)
    assert cap.servers_needed(4001, 2000, 25, 20) == 3 + 2
    # 8 Gbps peak at 50 % average for 2,629,800 s = 4 Gbps x 2,629,800 s / 8 = 1,314,900 GB
    assert cap.monthly_gb(8, 50) == pytest.approx(1_314_900)
    assert cap.headroom(30, 10) == 3 and cap.headroom(5, 0) is None
    assert [cap.judge(r, 10) for r in (0.5, 3, 10, None)] == ["short", "below policy", "ok", "ok"]


def test_parse_what_if_and_every_bad_one_reported() -> None:
    got = cap.parse_what_if(["fail=us-east", "viral=launch:3", "users=x2"])
    assert [w.describe() for w in got] == ["fail=us-east", "viral=launch:3", "users=x2"]
    assert cap.parse_what_if(["users=250000000"])[0].users == 250_000_000
    with pytest.raises(PermanentError) as exc:
        cap.parse_what_if(["viral=launch", "users=2", "fail=a", "fail=b", "boom"])
    msg = str(exc.value)
    assert "'viral=launch' is not" in msg and "'boom' is not" in msg
    assert "fail= given 2 times" in msg


# ----- the default model reproduces the seed -------------------------------------------------
@pytest.fixture
def demo_ws(tmp_path: Path) -> Workspace:
    state = tmp_path / "state"
    state.mkdir()
    ws = Workspace(REPO / "inventories" / "demo", state_dir=state, platform="sim")
    yield ws
    ws.close()


def test_default_model_reproduces_the_seeds_orders_of_magnitude(demo_ws: Workspace) -> None:
    data = cap.report(demo_ws)
    assert data["model"].startswith("CapacityModel/default (")
    b = data["baseline"]
    assert b["demand"]["users"] == 100_000_000
    assert b["demand"]["rps"] == pytest.approx(6_000_000)  # the sim platform's peak demand
    assert 50 <= b["demand"]["egress_tbps"] < 100  # 50+ Tbps
    assert 100 <= b["storage"]["total"]["pb"] < 1000  # 100 PB+ after retention
    assert 10e6 <= b["cost_per_month"]["total"] <= 15e6  # $10-15 M a month
    for category in ("cdn", "transfer", "transcode", "serving", "storage"):
        assert b["cost_per_month"][category] > 0
    # the base's CapacityModel is the kind's defaults written out, plus the regional split and storage capacity
    doc = load_inventory(REPO / "inventories" / "demo").get("CapacityModel", "default")
    assert doc is not None and isinstance(doc.model, CapacityModelSpec)
    declared = doc.model.model_dump(exclude={"peak_concurrent_by_region"})
    for c in ("hot", "warm", "cold", "archive"):
        declared["storage"][c]["capacity_pb"] = None
    assert declared == CapacityModelSpec().model_dump(exclude={"peak_concurrent_by_region"})
    total = sum(doc.model.peak_concurrent_by_region.values())
    assert total == pytest.approx(CapacityModelSpec().peak_concurrent_percent)
    # 7.2 Tbps of demo PoPs cannot carry 55.5 Tbps: flagged short, and the 10x policy applied everywhere
    pop = next(h for h in b["headroom"] if h["resource"] == "pop-egress" and h["scope"] == "all PoPs")
    assert pop["status"] == "short" and pop["policy"] == 10
    assert "pop-egress all PoPs: short (0.13x vs policy 10x)" in b["shortfalls"]


def test_users_x2_doubles_demand_and_viral_drops_hit_ratio(demo_ws: Workspace) -> None:
    data = cap.report(demo_ws, cap.parse_what_if(["users=x2", "viral=unknown-video:1.5"]))
    b, w = data["baseline"], data["what_if"]
    assert w["demand"]["rps"] == pytest.approx(b["demand"]["rps"] * 3)
    # nobody warmed the video: every PoP at 95 - 15 % (the sim platform's cold viral penalty)
    assert w["demand"]["hit_ratio"] == pytest.approx(0.80)
    assert w["demand"]["origin_egress_tbps"] == pytest.approx(b["demand"]["egress_tbps"] * 3 * 0.20)
    assert w["servers"] > b["servers"]


# ----- the kind: validation, schema ----------------------------------------------------------
def _inventory_with(tmp_path: Path, text: str) -> Path:
    dst = tmp_path / "inventories"
    for name in ("base", "demo"):
        shutil.copytree(REPO / "inventories" / name, dst / name)
    (dst / "base" / "capacity.yaml").write_text(text)
    return dst / "demo"


def test_capacity_model_errors_name_file_line_and_field_all_at_once(tmp_path: Path) -> None:
    text = (REPO / "inventories/base/capacity.yaml").read_text()
    text = text.replace("  uploadsPerDay: 20000\n", "  uploadsPerDay: 20000\n  uploadzPerDay: 1\n")
    text = text.replace("renditionMix: {4k: 5,", "renditionMix: {4k: 50,")
    text = text.replace("cold: {days: 1825,", "cold: {days: 100,")
    text = text.replace("me-central: 0.75}", "me-central: -0.75}")
    with pytest.raises(InputError) as exc:
        load_inventory(_inventory_with(tmp_path, text))
    msg = str(exc.value)
    assert "inventory has 4 problems" in msg, msg
    assert "capacity.yaml:19: CapacityModel/default: spec.uploadzPerDay: unknown field 'uploadzPerDay'" in msg
    assert "capacity.yaml:15: CapacityModel/default: spec.peakConcurrentByRegion: percentages must be 0 or more" in msg
    assert "capacity.yaml:24: CapacityModel/default: spec.renditionMix: must sum to 100 (percent of viewing time), " \
           "got 145" in msg
    assert "spec.storage: days must grow hot < warm < cold (got 30, 365, 100)" in msg


def test_rung_names_are_checked_against_the_ladder(tmp_path: Path) -> None:
    text = (REPO / "inventories/base/capacity.yaml").read_text().replace("{4k: 5, 1080p: 40,", "{8k: 5, 1080p: 40,")
    state = tmp_path / "state"
    state.mkdir()
    ws = Workspace(_inventory_with(tmp_path, text), state_dir=state, platform="sim")
    try:
        with pytest.raises(InputError) as exc:
            cap.report(ws)
    finally:
        ws.close()
    msg = str(exc.value)
    assert "capacity.yaml:23: CapacityModel/default: spec.renditionMix.8k: rung '8k' is not in EncodingLadder/main" \
           in msg, msg
    assert "spec.encodeSpeed" not in msg  # encodeSpeed is fine: one problem, not a cascade


def test_schema_has_the_capacity_model_kind_and_checks_its_spec() -> None:
    import jsonschema

    schema = inventory_schema()
    assert "CapacityModel" in schema["properties"]["kind"]["enum"]
    validator = jsonschema.Draft202012Validator(schema)
    good = {"apiVersion": "streamverse.io/v1", "kind": "CapacityModel", "metadata": {"name": "default"},
            "spec": {"users": 200_000_000, "storage": {"hot": {"days": 7}}}}
    assert list(validator.iter_errors(good)) == []
    bad = {**good, "spec": {"userz": 1}}
    assert any("userz" in e.message for e in validator.iter_errors(bad))


def test_viral_keeps_the_hit_ratio_where_the_video_is_warmed(tmp_path: Path) -> None:
    demo = _inventory_with(tmp_path, (REPO / "inventories/base/capacity.yaml").read_text())
    cdn = demo / "cdn.yaml"
    cdn.write_text(cdn.read_text() + "  pinned: {launch: [nyc1]}\n")
    state = tmp_path / "state"
    state.mkdir()
    ws = Workspace(demo, state_dir=state, platform="sim")
    try:
        w = cap.report(ws, cap.parse_what_if(["viral=launch:2"]))["what_if"]
    finally:
        ws.close()
    hits = {p["pop"]: p["hit_ratio"] for p in w["pops"]}
    # warmed, segments kept 1 h (< 1 day): base - 3 %; cold elsewhere: base - 15 % (the sim platform's figures)
    assert hits["nyc1"] == pytest.approx(0.92)
    assert hits["iad1"] == pytest.approx(0.80)
    assert "1 of 12 PoPs have it warmed" in w["notes"][0]


# ----- peak concurrency by region, storage capacity ------------------------------------------
def test_viewers_by_region_set_each_regions_pop_egress(demo_ws: Workspace) -> None:
    b = cap.report(demo_ws)["baseline"]
    east = next(r for r in b["regions"] if r["region"] == "us-east")
    # base: 4.2 % of 100 M users watch from us-east = 4.2 M viewers x 3,700 kbps = 15,540 Gbps
    assert east["viewers"] == pytest.approx(4_200_000)
    assert east["user_egress_gbps"] == pytest.approx(15_540)
    # requests/s still follow the traffic policies (www 30 of 100 + api evenly over 6: 23.3 %)
    assert east["rps"] == pytest.approx(6_000_000 * (0.30 + 1 / 6) / 2)
    # nyc1 (800 Gbps) and iad1 (400) split it 2:1
    nyc1 = next(p for p in b["pops"] if p["pop"] == "nyc1")
    assert nyc1["egress_gbps"] == pytest.approx(15_540 * 800 / 1200)
    head = next(h for h in b["headroom"] if h["resource"] == "pop-egress" and h["scope"] == "us-east")
    assert head["need"] == pytest.approx(15_540) and head["capacity"] == 1200 and head["status"] == "short"
    # the regions' viewers add up to the global peak: 15 % of users
    assert sum(r["viewers"] for r in b["regions"]) == pytest.approx(15_000_000)


def test_users_egress_split_by_model_live_or_policies() -> None:
    model = CapacityModelSpec(peak_concurrent_by_region={"a": 3, "b": 1})
    demand = cap.Demand(viewers=1, rps=1, kbps=1, gbps=400)
    proj = cap.Projection({}, {}, {}, egress={"a": 100, "b": 300})
    assert cap.users_egress(model, demand, proj, None) == {"a": 300, "b": 100}
    assert cap.users_egress(CapacityModelSpec(), demand, proj, None) == {"a": 100, "b": 300}  # the policies'

    class Live:
        rps = {"a": 10.0, "b": 30.0}
        egress_gbps: dict[str, float] = {}

    assert cap.users_egress(model, demand, proj, Live()) == {"a": 100, "b": 300}  # type: ignore[arg-type]


def test_by_region_and_global_concurrency_are_exclusive_and_regions_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="give peakConcurrentPercent or peakConcurrentByRegion, not both"):
        CapacityModelSpec.model_validate({"peakConcurrentPercent": 15, "peakConcurrentByRegion": {"us-east": 5}})
    with pytest.raises(ValueError, match="at most 100"):
        CapacityModelSpec.model_validate({"peakConcurrentByRegion": {"a": 60, "b": 50}})
    text = (REPO / "inventories/base/capacity.yaml").read_text().replace("sa-east: 1.05", "sa-weast: 1.05")
    state = tmp_path / "state"
    state.mkdir()
    ws = Workspace(_inventory_with(tmp_path, text), state_dir=state, platform="sim")
    try:
        with pytest.raises(InputError) as exc:
            cap.report(ws)
    finally:
        ws.close()
    assert "capacity.yaml:15: CapacityModel/default: spec.peakConcurrentByRegion.sa-weast: unknown region " \
           "'sa-weast'" in str(exc.value), str(exc.value)


def test_declared_storage_capacity_is_checked_against_the_need(tmp_path: Path) -> None:
    text = (REPO / "inventories/base/capacity.yaml").read_text()
    text = text.replace("hot: {days: 30, copies: 2, capacityPb: 30}", "hot: {days: 30, copies: 2, capacityPb: 2}")
    text = text.replace("warm: {days: 365, capacityPb: 150}", "warm: {days: 365, capacityPb: 72.36}")
    text = text.replace("archive: {days: 1825, capacityPb: 340}", "archive: {days: 1825}")
    state = tmp_path / "state"
    state.mkdir()
    ws = Workspace(_inventory_with(tmp_path, text), state_dir=state, platform="sim")
    try:
        b = cap.report(ws)["baseline"]
    finally:
        ws.close()
    got = {h["scope"]: h for h in b["headroom"] if h["resource"] == "storage"}
    # 4,000 h/day x 0.00045 GB/h per kbps x 24,000 kbps of rungs = 43,200 GB/day of renditions
    # hot: 30 days x 2 copies = 2.592 PB; warm: 335 days = 14.472 PB
    assert got["hot"]["need"] == pytest.approx(2.592) and got["hot"]["status"] == "short"
    assert got["warm"]["need"] == pytest.approx(14.472) and got["warm"]["headroom"] == pytest.approx(5)
    assert got["warm"]["status"] == "below policy" and got["cold"]["status"] == "ok"
    assert "archive" not in got  # no capacity declared: nothing to check
    assert "storage hot: short (0.77x vs policy 10x)" in b["shortfalls"]
    assert "storage warm: below policy (5.00x vs policy 10x)" in b["shortfalls"]


def test_all_three_what_ifs_combine_and_cost_has_the_seeds_four_categories(demo_ws: Workspace) -> None:
    data = cap.report(demo_ws, cap.parse_what_if(["fail=us-east", "viral=v1:2", "users=x1.5"]))
    b, w = data["baseline"], data["what_if"]
    assert w["demand"]["rps"] == pytest.approx(6_000_000 * 1.5 * 2)  # users x1.5, the viral wave x2
    assert w["demand"]["hit_ratio"] == pytest.approx(0.80)  # nobody warmed v1
    assert w["failover"]["weights_after"]["us-east"] == 0
    assert next(r for r in w["regions"] if r["region"] == "us-east")["rps"] == 0
    assert any(r.startswith("[capacity]") for r in w["failover"]["refusals"])  # 18 M req/s fit nowhere
    assert w["what_if"] == ["fail=us-east", "viral=v1:2", "users=x1.5"]
    for s in (b, w):
        c, cats = s["cost_per_month"], s["cost_by_category"]
        assert set(cats) == {"cdn", "compute", "storage", "transfer", "total"}
        assert cats["compute"] == pytest.approx(c["transcode"] + c["serving"])
        assert cats["total"] == pytest.approx(cats["cdn"] + cats["compute"] + cats["storage"] + cats["transfer"])
    assert w["cost_by_category"]["cdn"] == pytest.approx(b["cost_by_category"]["cdn"] * 3)
