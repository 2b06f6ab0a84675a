"""The Route 53 ownership registry's codec: what a shard holds must read back exactly."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from streamverse_ctl.providers import r53registry as registry

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
entries = st.builds(registry.Entry, st.none() | names, st.none() | names, st.none() | names)


@given(st.dictionaries(st.text("abcdefghijklmnopqrstuvwxyz234567", min_size=12, max_size=12), entries, max_size=80))
def test_entries_read_back_exactly_and_respect_txt_limits(shard: dict[str, registry.Entry]) -> None:
    encoded = {key: entry.encode() for key, entry in shard.items()}
    values = registry.pack_values(encoded)
    for value in values:
        assert all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', value))  # every TXT string
        assert len(value) <= registry.VALUE_CHARS + 4 * (registry.VALUE_CHARS // 255 + 1)
    read = registry.parse_values(values)
    assert read == encoded
    for key, entry in shard.items():
        back = registry.Entry.decode(read[key], has_health_check=bool(entry.health_check))
        assert back == registry.Entry(entry.policy or None, entry.region or None, entry.health_check or None)

def test_the_conventional_health_check_name_is_not_stored() -> None:
    conventional = registry.Entry("www", "us-east", "www/us-east")
    assert conventional.encode() == "www:us-east"
    assert registry.Entry.decode("www:us-east", has_health_check=True) == conventional
    assert registry.Entry.decode("www:us-east", has_health_check=False).health_check is None
    odd = registry.Entry(None, None, "www/us-east")
    assert registry.Entry.decode(odd.encode(), has_health_check=True) == odd
    assert registry.Entry().encode() == ""


def test_keys_and_shards_ignore_case_and_the_trailing_dot() -> None:
    assert registry.key_of("WWW.Example.com", "a", "us-east") == registry.key_of("www.example.com.", "A", "us-east")
    assert registry.key_of("www.example.com.", "A", "us-east") != registry.key_of("www.example.com.", "A", "eu-west")
    assert registry.shard_of("WWW.example.com", "a") == registry.shard_of("www.example.com.", "A")
    assert {len(registry.shard_of(f"h{i}.example.com.", "A")) for i in range(1000)} == {2}
    assert len({registry.shard_of(f"h{i}.example.com.", "A") for i in range(5000)}) == registry.SHARDS
    assert registry.owner_label("prod") == "prod" and registry.owner_label("Team A/B").startswith("o-")
    assert registry.is_registry_name("0a.prod._svctl.example.com.", "example.com.")
    assert not registry.is_registry_name("_svctl.www.example.com.", "example.com.")
