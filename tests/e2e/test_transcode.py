"""`streamverse ctl transcode jobs`: the ladder drives real transcoding.

The smoke test runs Debian's ffmpeg (CPU encoders) on a 4-second generated clip along a small test
ladder and checks what a player relies on: the master playlist's BANDWIDTH and RESOLUTION per rung
are the ladder's, each rendition really has that resolution and codec, segments are the ladder's
length, and the DASH manifest lists every rung.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import yaml

from tests.servers.hls import TEST_LADDER, HlsContent, HlsOrigin, make_clip, parse_master, parse_media

from .test_cli import CLI, no_traceback

ROOT = Path(__file__).resolve().parents[2]
MPD_NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


def _probe(path: Path) -> dict[str, object]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name,width,height", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True, timeout=60)
    stream: dict[str, object] = json.loads(out.stdout)["streams"][0]
    return stream


def _use_ladder(cli: CLI, ladder: dict[str, object]) -> None:
    media = cli.inventory.parent / "base" / "media.yaml"
    media.write_text(yaml.safe_dump({"apiVersion": "streamverse.io/v1", "kind": "EncodingLadder",
                                     "metadata": {"name": "main"}, "spec": ladder}), encoding="utf-8")


def test_run_transcodes_a_generated_clip_along_the_ladder(cli: CLI, tmp_path: Path) -> None:
    _use_ladder(cli, TEST_LADDER)
    clip = make_clip(tmp_path / "upload.mp4")
    out = cli.ok("transcode", "jobs", "clip42", "--run", str(clip), "--out", str(tmp_path / "www"))
    video_dir = tmp_path / "www" / "videos" / "clip42"
    assert f"master playlist {video_dir / 'master.m3u8'}" in out.stderr

    variants = parse_master((video_dir / "master.m3u8").read_text())
    rungs = TEST_LADDER["rungs"]
    assert isinstance(rungs, list)
    assert [v["uri"] for v in variants] == [f"{r['name']}/index.m3u8" for r in rungs]
    for variant, rung in zip(variants, rungs, strict=True):
        # the clip has audio: BANDWIDTH is the rung's video bitrate plus the 128 kb/s AAC track
        assert int(variant["BANDWIDTH"]) == (rung["bitrateKbps"] + 128) * 1000, variant
        assert variant["RESOLUTION"] == f"{rung['width']}x{rung['height']}", variant
        segments = parse_media((video_dir / variant["uri"]).read_text())
        assert [round(d) for d, _ in segments] == [2, 2]  # the ladder's segmentSeconds on a 4 s clip
        first = video_dir / rung["name"] / segments[0][1]
        media = first if first.suffix == ".ts" else video_dir / rung["name"] / "init.mp4"
        probed = _probe(media) if first.suffix == ".ts" else _probe_fmp4(media, first, tmp_path)
        assert probed["codec_name"] == rung["codec"] and (probed["width"], probed["height"]) == (
            rung["width"], rung["height"]), probed
        # the rate control keeps the rendition within what BANDWIDTH promises (a peak, RFC 8216 4.3.4.2)
        for duration, uri in segments:
            bits = (video_dir / rung["name"] / uri).stat().st_size * 8
            assert bits / duration <= int(variant["BANDWIDTH"]) * 1.1, (uri, bits / duration)

    mpd = ET.parse(video_dir / "dash" / "manifest.mpd").getroot()
    reps = mpd.findall(".//d:AdaptationSet[@contentType='video']/d:Representation", MPD_NS)
    assert sorted((int(r.get("width", 0)), int(r.get("height", 0))) for r in reps) == sorted(
        (r["width"], r["height"]) for r in rungs)
    assert mpd.findall(".//d:AdaptationSet[@contentType='audio']", MPD_NS)
    assert {r.get("codecs", "")[:4] for r in reps} == {"avc1", "hvc1"}  # one adaptation set per codec
    assert len(list((video_dir / "dash").glob("chunk-stream*.m4s"))) >= len(reps)


def _probe_fmp4(init: Path, segment: Path, tmp_path: Path) -> dict[str, object]:
    joined = tmp_path / f"{segment.parent.name}.mp4"
    joined.write_bytes(init.read_bytes() + segment.read_bytes())
    return _probe(joined)


def test_jobs_for_production_use_the_pools_gpus_and_the_ladders_segments(tmp_path: Path) -> None:
    cli = CLI(ROOT / "inventories" / "production", tmp_path / "state", tmp_path)
    doc = json.loads(cli.ok("transcode", "jobs", "clip42", "--region", "ap-pacific", "-o", "json").stdout)
    assert doc["pool"] == "transcode-ap-pacific" and doc["segment_seconds"] == 6
    assert [r["rung"] for r in doc["rungs"]] == ["4k", "1080p", "720p", "480p", "360p"]
    by_rung = {r["rung"]: r["command"] for r in doc["rungs"]}
    hd = by_rung["1080p"]
    assert hd[hd.index("-hls_time") + 1] == "6" and hd[hd.index("-b:v") + 1] == "5000k"
    assert hd[hd.index("-c:v") + 1] == "h264_nvenc" and "scale=1920:1080" in hd
    assert by_rung["4k"][by_rung["4k"].index("-c:v") + 1] == "hevc_nvenc"
    assert "BANDWIDTH=5128000,AVERAGE-BANDWIDTH=5128000,RESOLUTION=1920x1080" in doc["master_playlist"]

    jobs = list(yaml.safe_load_all(cli.ok("transcode", "jobs", "clip42", "--region", "ap-pacific",
                                          "--manifests").stdout))
    assert [j["metadata"]["name"] for j in jobs] == [
        "transcode-clip42-4k", "transcode-clip42-1080p", "transcode-clip42-720p", "transcode-clip42-480p",
        "transcode-clip42-360p", "package-clip42"]
    rung_pod = jobs[1]["spec"]["template"]["spec"]
    assert jobs[1]["apiVersion"] == "batch/v1" and rung_pod["restartPolicy"] == "Never"
    assert rung_pod["nodeSelector"] == {"streamverse.io/gpu": "nvidia-l4"}  # the pool's gpuType
    assert rung_pod["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    assert rung_pod["containers"][0]["image"] == "registry.streamverse.example/transcode-worker:2026.11"
    assert rung_pod["containers"][0]["args"] == by_rung["1080p"]
    package_pod = jobs[-1]["spec"]["template"]["spec"]
    assert "resources" not in package_pod["containers"][0]  # remuxing needs no GPU
    assert package_pod["containers"][0]["env"][0]["value"] == doc["master_playlist"]


def test_bad_video_name_and_unknown_pool_are_clear_errors(cli: CLI) -> None:
    out = cli("transcode", "jobs", "Clip_42")
    assert out.returncode == 1 and "video 'Clip_42' must be lowercase" in out.stderr
    no_traceback(out)
    out = cli("transcode", "jobs", "clip42", "--pool", "nope")
    assert out.returncode == 1 and "no TranscodePool 'nope'" in out.stderr
    no_traceback(out)
    out = cli("transcode", "jobs", "clip42", "--run", str(cli.cwd / "missing.mp4"), "--out", str(cli.cwd))
    assert out.returncode == 1 and "no such file" in out.stderr
    no_traceback(out)


def test_hls_origin_serves_the_content_with_player_mime_types(hls_content: HlsContent, hls_origin: HlsOrigin
                                                              ) -> None:
    with httpx.Client(base_url=hls_origin.url) as client:
        master = client.get(hls_content.master_path)
        assert master.status_code == 200
        assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
        variants = parse_master(master.text)
        assert len(variants) == len(TEST_LADDER["rungs"])  # type: ignore[arg-type]
        base = f"/videos/{hls_content.video}"
        seg = parse_media(client.get(f"{base}/{variants[0]['uri']}").text)[0][1]
        ts = client.get(f"{base}/{variants[0]['uri'].rsplit('/', 1)[0]}/{seg}")
        assert ts.headers["content-type"] == "video/mp2t" and ts.content[:1] == b"\x47"  # TS sync byte
        assert client.get(f"{base}/dash/manifest.mpd").headers["content-type"] == "application/dash+xml"
        assert client.get(f"{base}/dash/init-stream0.m4s").headers["content-type"] == "video/iso.segment"
    assert hls_origin.requests[hls_content.master_path] >= 1


def test_the_jobs_commands_assume_audio_and_still_work_on_a_silent_upload(tmp_path: Path) -> None:
    """A Job cannot look at the upload first: its commands map audio optionally, so a silent source
    still gives every rung and the DASH manifest (a regression: packaging required an audio track)."""
    from streamverse_ctl.compiler import transcode_jobs as tj
    from streamverse_ctl.inventory import models as m
    from streamverse_ctl.providers import ffmpeg

    silent = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x180:rate=30", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", str(silent)],
                   check=True, timeout=120)
    ladder = m.EncodingLadderSpec.model_validate({**TEST_LADDER, "rungs": TEST_LADDER["rungs"][1:2]})  # type: ignore[index]
    jobs = tj.build("silent", "test", ladder, str(silent), str(tmp_path / "videos" / "silent"), audio=True)
    report = ffmpeg.run(jobs, timeout=300)
    mpd = ET.parse(report.video_dir / "dash" / "manifest.mpd").getroot()
    assert len(mpd.findall(".//d:Representation", MPD_NS)) == 1
    assert (report.video_dir / "180p" / "index.m3u8").is_file()
