"""Inventory loader: every problem at once, each with file, line and field; overlays; variables; meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamverse_ctl.core.errors import InputError, Problem
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.inventory import models as m

from .helpers import REGIONS, doc, failover_policy, minimal, pop, region, weighted, write


def problems_of(directory: Path, **kw: object) -> list[Problem]:
    with pytest.raises(InputError) as info:
        load_inventory(directory, **kw)  # type: ignore[arg-type]
    return info.value.problems


def line_of(path: Path, needle: str) -> int:
    for i, text in enumerate(path.read_text().splitlines(), 1):
        if needle in text:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def test_minimal_inventory_loads_with_typed_specs(tmp_path: Path) -> None:
    inv = load_inventory(minimal(tmp_path / "inv"))
    regions = inv.specs("Region", m.RegionSpec)
    assert sorted(regions) == ["r1", "r2", "r3"]
    assert regions["r1"].capacity.max_rps == 1_000_000
    assert inv.get("TrafficPolicy", "www").model.weights == {"r1": 50, "r2": 30, "r3": 20}


def test_unknown_field_names_file_line_and_field(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv")
    text = (inv / "pops.yaml").read_text().replace("cacheTb: 10", "cacheTb: 10\n  cacheTB: 11", 1)
    (inv / "pops.yaml").write_text(text)
    [p] = problems_of(inv)
    assert p.file.endswith("pops.yaml")
    assert p.line == line_of(inv / "pops.yaml", "cacheTB")
    assert p.field == "spec.cacheTB"
    assert p.document == "PoP/p0"
    assert "unknown field" in p.message
    assert str(p).startswith(f"{p.file}:{p.line}: PoP/p0: spec.cacheTB:")


def test_all_problems_are_reported_at_once_across_files(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv")
    (inv / "pops.yaml").write_text((inv / "pops.yaml").read_text().replace("country: US", "country: usa"))
    (inv / "dns.yaml").write_text((inv / "dns.yaml").read_text().replace("ttl: 60", "ttl: -5"))
    problems = problems_of(inv)
    files = {Path(p.file).name for p in problems}
    assert files == {"pops.yaml", "dns.yaml"}
    assert sum(1 for p in problems if p.field == "spec.country") == 3  # one per PoP
    assert any(p.field == "spec.ttl" for p in problems)
    assert all(p.line for p in problems)


def test_duplicate_key_is_a_problem_at_the_second_key(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv", pops=0)
    write(inv, {"pops.yaml": "apiVersion: streamverse.io/v1\nkind: PoP\nmetadata: {name: p}\nspec:\n"
                             "  region: r1\n  city: A\n  country: US\n  cacheTb: 1\n  capacityGbps: 1\n"
                             "  region: r2\n"})
    problems = problems_of(inv)
    dup = [p for p in problems if "duplicate key 'region'" in p.message]
    assert dup and dup[0].line == 10 and dup[0].file.endswith("pops.yaml")


def test_duplicate_document_is_a_problem(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv", extra={"more.yaml": pop("p0", "r2")})
    [p] = problems_of(inv)
    assert "duplicate PoP 'p0'" in p.message and p.field == "metadata.name"
    # reported at one copy, naming where the other one is
    files = {Path(p.file).name, p.message.rsplit("(", 1)[1].split(":")[0].rsplit("/", 1)[-1]}
    assert files == {"more.yaml", "pops.yaml"}


def test_unknown_top_level_field_unknown_kind_and_bad_api_version(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv", extra={
        "x.yaml": "apiVersion: streamverse.io/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n---\n"
                  "apiVersion: streamverse.io/v2\nkind: PoP\nmetadata: {name: q}\nspec: {}\n---\n"
                  "apiVersion: streamverse.io/v1\nkind: PoP\nmetadata: {name: z}\nspec: {}\nstatus: {}\n"})
    problems = problems_of(inv)
    by_line = {p.line: p.message for p in problems}
    assert "unknown kind 'Widget'" in by_line[2]
    assert "apiVersion must be streamverse.io/v1" in by_line[6]
    assert "unknown top-level field 'status'" in by_line[15]


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv", extra={"broken.yaml": "apiVersion: streamverse.io/v1\nkind: PoP\n"
                                                          "metadata: {name: [unclosed\nspec: {}\n"})
    problems = problems_of(inv)
    [p] = [p for p in problems if p.file.endswith("broken.yaml")]
    assert p.message.startswith("invalid YAML") and p.line is not None


def test_missing_directory_and_empty_directory(tmp_path: Path) -> None:
    [p] = problems_of(tmp_path / "nope")
    assert "not found" in p.message
    (tmp_path / "empty").mkdir()
    assert any("no YAML files" in p.message for p in problems_of(tmp_path / "empty"))


# ----- overlays ---------------------------------------------------------------------------------
def overlay(tmp_path: Path, inventory_spec: str, files: dict[str, str] | None = None) -> Path:
    minimal(tmp_path / "base")
    write(tmp_path / "base", {"inventory.yaml": doc("Inventory", "base", {"variables": {"ttl": 60}})})
    return write(tmp_path / "over", {"inventory.yaml": inventory_spec, **(files or {})})


def test_overlay_extends_base_and_replaces_whole_documents(tmp_path: Path) -> None:
    over = overlay(tmp_path, doc("Inventory", "over", {"extends": "../base"}),
                   {"pops.yaml": doc("PoP", "p0", {"region": "r3", "city": "Replaced", "country": "GB",
                                                   "cacheTb": 5, "capacityGbps": 5})})
    inv = load_inventory(over)
    p0 = inv.get("PoP", "p0")
    assert p0 is not None and p0.model.city == "Replaced" and p0.model.region == "r3"
    assert p0.file.endswith("over/pops.yaml")
    assert inv.get("PoP", "p1") is not None  # the rest of the base is kept
    assert [p.name for p in inv.layers] == ["base", "over"]


def test_overlay_patches_merge_into_matching_documents(tmp_path: Path) -> None:
    over = overlay(tmp_path, doc("Inventory", "over", {"extends": "../base", "patches": [
        {"target": {"kind": "PoP", "name": "p*"}, "merge": {"spec": {"cacheTb": 99}}},
        {"target": {"kind": "TrafficPolicy", "name": "www"}, "merge": {"spec": {"weights": {"r3": None}}}},
    ]}))
    inv = load_inventory(over)
    assert {d.model.cache_tb for d in inv.of("PoP")} == {99}
    assert inv.get("TrafficPolicy", "www").model.weights == {"r1": 50, "r2": 30}


def test_a_patch_that_breaks_a_document_is_reported_at_the_patch(tmp_path: Path) -> None:
    over = overlay(tmp_path, doc("Inventory", "over", {"extends": "../base", "patches": [
        {"target": {"kind": "PoP", "name": "p1"}, "merge": {"spec": {"cacheTb": "lots"}}}]}))
    [p] = problems_of(over)
    assert p.document == "PoP/p1" and p.field == "spec.cacheTb"
    assert p.file.endswith("over/inventory.yaml") and p.line == line_of(over / "inventory.yaml", "cacheTb")


def test_a_patch_matching_nothing_is_a_problem(tmp_path: Path) -> None:
    over = overlay(tmp_path, doc("Inventory", "over", {"extends": "../base", "patches": [
        {"target": {"kind": "PoP", "name": "nope"}, "merge": {"spec": {"cacheTb": 1}}}]}))
    assert any("matches no document" in p.message for p in problems_of(over))


def test_overlay_cycle_is_reported_not_a_recursion_error(tmp_path: Path) -> None:
    write(tmp_path / "a", {"inventory.yaml": doc("Inventory", "a", {"extends": "../b"}), "r.yaml": REGIONS})
    write(tmp_path / "b", {"inventory.yaml": doc("Inventory", "b", {"extends": "../a"})})
    assert any("overlay cycle" in p.message for p in problems_of(tmp_path / "a"))


def test_missing_base_directory(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv", extra={"inventory.yaml": doc("Inventory", "x", {"extends": "../gone"})})
    [p] = problems_of(inv)
    assert "base inventory directory not found" in p.message and p.field == "spec.extends"


# ----- variables --------------------------------------------------------------------------------
def var_inventory(tmp_path: Path, variables: dict[str, object]) -> Path:
    policy = weighted().replace("example.test.", "${zone}").replace("ttl: 60", "ttl: ${ttl}")
    policy = policy.replace("record: www", "record: www-${suffix}")
    return minimal(tmp_path / "inv", extra={"dns.yaml": policy,
                                            "inventory.yaml": doc("Inventory", "v", {"variables": variables})})


def test_variables_substitute_with_whole_string_keeping_type(tmp_path: Path) -> None:
    inv = load_inventory(var_inventory(tmp_path, {"zone": "vars.test.", "ttl": 300, "suffix": 7}))
    www = inv.get("TrafficPolicy", "www")
    assert www.spec["ttl"] == 300 and isinstance(www.spec["ttl"], int)
    assert www.spec["zone"] == "vars.test."
    assert www.spec["record"] == "www-7"  # inside a longer string: text


def test_env_and_command_line_variables_override_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = var_inventory(tmp_path, {"zone": "vars.test.", "ttl": 300, "suffix": "a"})
    monkeypatch.setenv("STREAMVERSE_VAR_ZONE", "env.test.")
    monkeypatch.setenv("STREAMVERSE_VAR_SUFFIX", "env")
    inv = load_inventory(directory, {"suffix": "cli"})
    www = inv.get("TrafficPolicy", "www")
    assert www.model.zone == "env.test."
    assert www.model.record == "www-cli"


def test_undefined_variable_names_the_field(tmp_path: Path) -> None:
    problems = problems_of(var_inventory(tmp_path, {"zone": "vars.test.", "ttl": 300}))
    [p] = [p for p in problems if "undefined variable 'suffix'" in p.message]
    assert p.field == "spec.record" and p.document == "TrafficPolicy/www" and p.line


def test_dollar_dollar_escapes_a_literal(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv", extra={"pops.yaml": pop("p0", "r1").replace("city: P0", "city: $${notavar}")})
    assert inv_city(inv) == "${notavar}"


def inv_city(directory: Path) -> str:
    d = load_inventory(directory).get("PoP", "p0")
    assert d is not None
    return str(d.model.city)


# ----- secrets ----------------------------------------------------------------------------------
def provider_doc(settings: dict[str, object]) -> str:
    return doc("Provider", "dns", {"type": "sim", "serves": {"types": ["*"]}, "settings": settings})


@pytest.mark.parametrize("settings, bad", [
    ({"apiKey": "hunter2-plaintext"}, "apiKey"),
    ({"auth": {"password": "plain"}}, "auth.password"),
    ({"tsigSecret": "c2VjcmV0"}, "tsigSecret"),
])
def test_plain_text_secrets_in_provider_settings_are_refused(tmp_path: Path, settings: dict[str, object],
                                                             bad: str) -> None:
    [p] = problems_of(minimal(tmp_path / "inv", extra={"provider.yaml": provider_doc(settings)}))
    assert "secrets must be references" in p.message and bad in p.message
    assert p.file.endswith("provider.yaml") and p.field == "spec.settings"
    assert "hunter2" not in str(p) and "c2VjcmV0" not in str(p)  # the value itself is never echoed


def test_secret_references_are_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMVERSE_SECRETS_DIR", "/run")  # a fromFile outside the inventory root needs it
    inv = load_inventory(minimal(tmp_path / "inv", extra={"provider.yaml": provider_doc(
        {"apiKey": {"fromEnv": "SV_KEY"}, "tsigSecret": {"fromFile": "/run/secret"}, "keyName": "plain-ok"})}))
    assert inv.get("Provider", "dns") is not None


# ----- meaning ----------------------------------------------------------------------------------
def test_unknown_region_references(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv", extra={"pops.yaml": pop("p0", "mars"),
                                           "dns.yaml": weighted(weights={"r1": 1, "venus": 1})})
    problems = problems_of(inv)
    msgs = {(p.document, p.field): p.message for p in problems}
    assert "unknown region 'mars'" in msgs[("PoP/p0", "spec.region")]
    assert "unknown region 'venus'" in msgs[("TrafficPolicy/www", "spec.weights.venus")]
    assert all(p.line for p in problems)


def test_failover_secondary_self_and_unknown(tmp_path: Path) -> None:
    regions = "---\n".join([region("r1", "r1", "192.0.2.1"), region("r2", "r9", "192.0.2.2"),
                            region("r3", "r1", "192.0.2.3")])
    problems = problems_of(minimal(tmp_path / "inv", extra={"regions.yaml": regions}))
    msgs = {p.document: p.message for p in problems if p.field == "spec.failoverSecondary"}
    assert "must be another region" in msgs["Region/r1"]
    assert "unknown region 'r9'" in msgs["Region/r2"]


def test_weights_all_zero_is_refused(tmp_path: Path) -> None:
    [p] = problems_of(minimal(tmp_path / "inv", extra={"dns.yaml": weighted(weights={"r1": 0, "r2": 0})}))
    assert "weights are all zero" in p.message and p.document == "TrafficPolicy/www"


def ladder(rungs: list[dict[str, object]]) -> str:
    return doc("EncodingLadder", "main", {"codecs": ["h264"], "formats": ["hls"], "rungs": rungs})


def test_duplicate_ladder_rungs(tmp_path: Path) -> None:
    rung = {"name": "720p", "width": 1280, "height": 720, "bitrateKbps": 2500, "codec": "h264"}
    problems = problems_of(minimal(tmp_path / "inv", extra={"media.yaml": ladder([rung, dict(rung)])}))
    assert any("rung name '720p' is not unique" in p.message and p.field == "spec.rungs.1.name" for p in problems)
    assert any("two rungs encode 1280x720 h264" in p.message for p in problems)


def test_pool_min_above_max_and_unknown_ladder(tmp_path: Path) -> None:
    pool = doc("TranscodePool", "tp", {"region": "r1", "gpuType": "l4", "minNodes": 9, "maxNodes": 3,
                                       "targetQueueDepthPerNode": 4, "ladder": "main"})
    [p] = problems_of(minimal(tmp_path / "inv", extra={"pool.yaml": pool}))
    assert "minNodes (9) is above maxNodes (3)" in p.message and p.document == "TranscodePool/tp"
    ok = pool.replace("minNodes: 9", "minNodes: 1")
    [p] = problems_of(minimal(tmp_path / "inv2", extra={"pool.yaml": ok}))
    assert "unknown encoding ladder 'main'" in p.message


def test_min_regions_serving_above_region_count(tmp_path: Path) -> None:
    [p] = problems_of(minimal(tmp_path / "inv", extra={"policies.yaml": failover_policy(5)}))
    assert "minRegionsServing 5 is more than the 3 regions" in p.message


def test_demo_inventory_is_valid(demo_copy: Path) -> None:
    inv = load_inventory(demo_copy)
    assert len(inv.of("Region")) == 6 and len(inv.of("PoP")) == 12


@pytest.mark.parametrize("text, message", [
    ("&a [*a]\n", "an alias refers to a node that contains it"),
    ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)),
     "values after expanding aliases"),
    ("[" * 3000 + "]" * 3000, "nested more than 100 levels deep"),
    ("a:\n" + "".join(" " * i + "- \n" for i in range(1, 150)), "nested more than 100 levels deep"),
    ("a: 1\nb: \x07\n", "character #x0007 is not allowed in YAML text"),
])
def test_hostile_yaml_is_a_problem_not_a_crash(tmp_path: Path, text: str, message: str) -> None:
    inv = minimal(tmp_path / "inv", extra={"evil.yaml": text})
    [p] = [p for p in problems_of(inv) if p.file.endswith("evil.yaml")]
    assert message in p.message and p.line is not None
