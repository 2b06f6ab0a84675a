"""Pure parts of the transcode jobs and the playback probe: what users rely on without a server."""

from __future__ import annotations

import re
from pathlib import Path

from streamverse_ctl.compiler import transcode_jobs as tj
from streamverse_ctl.compiler.slo_rules import le_matcher
from streamverse_ctl.inventory import models as m
from streamverse_ctl.providers.playback import Play, Target
from streamverse_ctl.providers.playback_metrics import ProbeMetrics

LADDER = m.EncodingLadderSpec.model_validate({
    "codecs": ["h264", "av1"], "formats": ["hls", "dash"], "segmentSeconds": 4,
    "rungs": [{"name": "720p", "width": 1280, "height": 720, "bitrateKbps": 2500, "codec": "h264"},
              {"name": "720p-av1", "width": 1280, "height": 720, "bitrateKbps": 1500, "codec": "av1"}]})


def _arg(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_each_rung_gets_its_codec_bitrate_size_and_the_ladders_segment_length() -> None:
    jobs = tj.build("v1", "main", LADDER, "in.mp4", "/out/videos/v1", encoder="cpu", audio=False)
    h264, av1 = (r.argv for r in jobs.rungs)
    assert _arg(h264, "-c:v") == "libx264" and _arg(av1, "-c:v") == "libsvtav1"
    assert _arg(h264, "-b:v") == "2500k" and _arg(h264, "-maxrate") == "2500k"
    assert _arg(h264, "-vf") == "scale=1280:720" and _arg(h264, "-hls_time") == "4"
    assert _arg(h264, "-force_key_frames") == "expr:gte(t,n_forced*4)"  # rungs cut at the same instants
    assert _arg(h264, "-hls_segment_type") == "mpegts" and _arg(av1, "-hls_segment_type") == "fmp4"
    assert "-c:a" not in h264  # no audio in the source: none mapped, none counted
    assert "BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720\n720p/index.m3u8" in jobs.master_playlist
    assert _arg(jobs.package_argv, "-seg_duration") == "4"
    assert _arg(jobs.package_argv, "-adaptation_sets") == "id=0,streams=0 id=1,streams=1"  # a set per codec
    gpu = tj.build("v1", "main", LADDER, "in.mp4", "/media/videos/v1", encoder="gpu")
    assert _arg(gpu.rungs[0].argv, "-c:v") == "h264_nvenc" and gpu.rungs[0].bandwidth == 2_628_000  # + AAC


def test_jobs_without_a_pool_request_no_gpu_and_names_are_checked() -> None:
    jobs = tj.build("v1", "main", LADDER, "in.mp4", "/media/videos/v1", job=tj.JobSettings())
    pod = jobs.jobs[0]["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "resources" not in pod["containers"][0]
    assert tj.name_problems("v1", LADDER) == []
    bad = m.EncodingLadderSpec.model_validate({**LADDER.model_dump(by_alias=True), "rungs": [
        {"name": "HD 720", "width": 2, "height": 2, "bitrateKbps": 1, "codec": "h264"}]})
    assert tj.name_problems("My_Video", bad) == [
        "video 'My_Video' must be lowercase letters, digits and '-' (at most 40 characters): it names the output "
        "directory and the Kubernetes Jobs",
        "rung 'HD 720' must be lowercase letters, digits and '-' (at most 16 characters)"]


def _play(pop: str, region: str, startup: float | None, error: str = "") -> Play:
    return Play(Target(f"{pop}.pop.sv.example.", pop, region), "v1", 2.5, startup_seconds=startup, error=error)


def test_metrics_follow_the_slos_histogram_name_matchers_region_label_and_threshold(tmp_path: Path) -> None:
    spec = m.SLOSpec.model_validate({"startupSeconds": 2.5, "metrics": {
        "startup": {"histogram": 'video_start_seconds{job="synthetic"}', "regionLabel": "site"}}})
    metrics = ProbeMetrics.for_slo(spec)
    metrics.observe([_play("a1", "us-east", 0.4), _play("a1", "us-east", 3.0), _play("a1", "us-east", None, "DNS")],
                    timeout=5.0)
    text = metrics.text()
    assert 'video_start_seconds_bucket{job="synthetic",le="2.5",pop="a1",site="us-east"} 1.0' in text, text
    les = dict(re.findall(r'video_start_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)', text))
    assert les["2.5"] == "1.0" and les["+Inf"] == "3.0"  # the slow and the failed play are bad events
    # the SLO rules' bucket matcher selects the threshold's bucket as the probe writes it
    pattern = le_matcher(2.5).split("~`", 1)[1].rstrip("`")
    assert [le for le in les if re.fullmatch(pattern, le)] == ["2.5"]
    assert 'video_start_seconds_sum{job="synthetic",pop="a1",site="us-east"} 8.4' in text  # 0.4 + 3.0 + timeout

    path = tmp_path / "probe.prom"
    metrics.write(path)
    again = ProbeMetrics.for_slo(spec)
    again.load(path)
    again.observe([_play("a1", "us-east", 0.5)], timeout=5.0)
    les = dict(re.findall(r'video_start_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)', again.text()))
    assert les["2.5"] == "2.0" and les["+Inf"] == "4.0"  # carried on across runs: rate() sees no reset
    assert re.search(r'streamverse_playback_probe_plays_total\{[^}]*verdict="error"\} 1.0', again.text())


def test_the_ladders_formats_decide_what_is_published() -> None:
    hls_only = LADDER.model_copy(update={"formats": ["hls"]})
    jobs = tj.build("v1", "main", hls_only, "in.mp4", "/media/videos/v1", job=tj.JobSettings())
    assert jobs.package_argv == [] and jobs.master_playlist.startswith("#EXTM3U")
    assert "exec" not in jobs.jobs[-1]["spec"]["template"]["spec"]["containers"][0]["command"][2]
    dash_only = tj.build("v1", "main", LADDER.model_copy(update={"formats": ["dash"]}), "in.mp4", "/out")
    assert dash_only.master_playlist == "" and dash_only.package_argv[-1] == "/out/dash/manifest.mpd"


def test_the_probe_fetches_an_fmp4_renditions_init_section_before_its_first_segment() -> None:
    from streamverse_ctl.providers.playback import _first_segment, _first_variant

    media = ("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n"
             "#EXTINF:2.000000,\nseg_00000.m4s\n#EXTINF:2.000000,\nseg_00001.m4s\n#EXT-X-ENDLIST\n")
    assert _first_segment(media) == ("init.mp4", "seg_00000.m4s")
    jobs = tj.build("v1", "main", LADDER, "in.mp4", "/out", audio=False)
    assert _first_variant(jobs.master_playlist) == "720p/index.m3u8"  # the first listed: what players start with
