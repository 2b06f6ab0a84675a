"""The nginx provider's pure parts: rule order, the state carried in the config, HLS walking, cache-file names,
the cache-log hit ratio. (The real-server behaviour of the same is in test_nginx.py.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

from streamverse_ctl.core.builtin import builtin_dir
from streamverse_ctl.providers.nginx.cachelog import cache_log_ratio
from streamverse_ctl.providers.nginx.render import PopState, cache_file, locations, parse, render, unsafe_pattern
from streamverse_ctl.providers.nginx.warm import hls_uris

TEMPLATE = builtin_dir("templates") / "pop-edge.conf.j2"
HOST = {"nginx_prefix": "/srv/pop", "listen": "127.0.0.1:8080"}


def _render(state: PopState) -> str:
    return render(TEMPLATE, state, HOST, provider="pops", pop="nyc1", origin_scheme="http",
                  origin_servers=["10.0.0.1:80"], admin_allow=["127.0.0.1"], video_path="/videos/{video}/")


def test_locations_put_prefix_globs_first_then_path_regexes_then_suffix_globs() -> None:
    locs = locations({"*.ts": 3600, "*.m3u8": 2, "/videos/*/720p/*": 600, "/videos/clip42/*": 86400,
                      "/live/*": 4}, {"video:clip42": 20, "video:other": 5}, "/videos/{video}/")
    assert [loc["match"] for loc in locs] == [
        "^~ /videos/clip42/", "^~ /videos/other/", "^~ /live/",
        '~ "^/videos/.*/720p/.*$"', '~ ".*\\.m3u8$"', '~ ".*\\.ts$"']
    clip = locs[0]
    assert clip["ttl"] == 86400 and clip["limit"] == {"name": "rl_video_clip42", "burst": 40}
    assert locs[1]["ttl"] is None and locs[1]["limit"]["name"] == "rl_video_other"  # a limit alone makes a location


def test_unsafe_patterns_are_refused_before_they_reach_a_config() -> None:
    assert unsafe_pattern("/videos/clip42/*") is None and unsafe_pattern("*.m4s") is None
    for bad in ('/a" { return 200; } #', "/a b/*", "/a;/*", "/$host/*"):
        assert unsafe_pattern(bad) is not None, bad


def test_the_config_carries_its_state_and_an_edit_is_detected() -> None:
    policy = {"pop": "nyc1", "ttl_overrides": {"*.ts": 60}}
    state = PopState(pop={"region": "us-east"}, cache_policies={"p/nyc1": policy}, rate_limits={"global": 50})
    text = _render(state)
    back = parse(text)
    assert back is not None and back.as_json() == state.as_json() and back.edited == ""
    assert "limit_req zone=rl_global burst=100 nodelay;" in text and "proxy_cache_valid 200 206 60s;" in text
    edited = parse(text.replace("60s;", "600s;"))
    assert edited is not None and "edited on the host" in edited.edited
    assert parse("events {}\nhttp {}\n") is None  # not a config streamverse wrote


def test_cache_file_is_where_nginx_keeps_the_key(tmp_path: Path) -> None:
    md5 = hashlib.md5(b"/videos/clip42/360p/seg00001.ts").hexdigest()
    assert cache_file("/videos/clip42/360p/seg00001.ts") == f"{md5[-1]}/{md5[-3:-1]}/{md5}"


def test_hls_uris_walks_master_and_media_playlists() -> None:
    master = ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/index.m3u8\n"
              '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="audio/en.m3u8"\n'
              '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="iframes.m3u8"\n')
    playlists, media = hls_uris(master, "http://pop/videos/x/master.m3u8")
    assert playlists == ["http://pop/videos/x/360p/index.m3u8", "http://pop/videos/x/audio/en.m3u8",
                         "http://pop/videos/x/iframes.m3u8"] and media == []
    playlist = ('#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:6.0,\nseg1.m4s\n#EXTINF:6.0,\n/abs/seg2.m4s\n'
                "#EXT-X-ENDLIST\n")
    assert hls_uris(playlist, "http://pop/videos/x/360p/index.m3u8") == (
        [], ["http://pop/videos/x/360p/init.mp4", "http://pop/videos/x/360p/seg1.m4s", "http://pop/abs/seg2.m4s"])


def test_cache_log_ratio_counts_hits_over_cached_requests_only() -> None:
    log = "1.0 HIT 200 GET /a\n2.0 MISS 200 GET /b\n3.0 - 200 GET /_streamverse/digest\n4.0 STALE 200 GET /c\n"
    assert cache_log_ratio(log, 100) == 2 / 3
    assert cache_log_ratio("LF HIT 200 GET /a\n" + log, 100, partial=True) == 2 / 3  # a range starts mid-line
    assert cache_log_ratio(log, 2) == 1.0  # the last two lines only
    assert cache_log_ratio("", 100) is None
