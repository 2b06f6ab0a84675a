"""An EncodingLadder -> transcode job specs: the ffmpeg command per rung and Kubernetes Jobs.

Pure data (nothing runs here): :func:`build` takes a ladder, a video and where its source and
output live, and returns :class:`TranscodeJobs`:

- one ffmpeg command per rung: scale to the rung's ``width`` x ``height``, encode with the rung's
  codec at ``bitrateKbps`` (``-b:v``, capped by ``-maxrate`` with a two-second-of-bitrate
  ``-bufsize``), a keyframe forced every ``segmentSeconds`` so all rungs cut at the same instants,
  AAC audio when the source has audio, and write an HLS VOD media playlist
  ``<rung>/index.m3u8`` with ``segmentSeconds`` segments (MPEG-TS for h264; fragmented MP4 for
  hevc and av1, which HLS carries only in fMP4);
- the master playlist ``master.m3u8`` (when the ladder's ``formats`` has ``hls``; written by us,
  not by ffmpeg, so it states exactly the ladder): one ``EXT-X-STREAM-INF`` per rung, in ladder
  order, with ``BANDWIDTH`` = the rung's bitrate plus the audio bitrate in bit/s (the ``-maxrate``
  cap, so a peak), ``AVERAGE-BANDWIDTH`` the same and ``RESOLUTION`` = ``width``x``height``;
- when ``formats`` has ``dash``, a packaging command that remuxes (``-c copy``, no second encode)
  every rung into one DASH manifest ``dash/manifest.mpd`` with ``segmentSeconds`` segments, one
  adaptation set per codec. The rungs' HLS output is made either way: DASH is remuxed from it;
- Kubernetes ``batch/v1`` Jobs: one per rung (ffmpeg on a GPU node of the TranscodePool: the
  provider's ``gpuNodeLabel`` node selector = the pool's ``gpuType``, the ``nvidia.com/gpu``
  toleration and a limit of one GPU, NVENC encoders) and one packaging Job (no GPU) that writes
  the master playlist and the DASH manifest. Kubernetes has no ordering between Jobs: create the
  packaging Job once every rung Job has succeeded.

Output layout, under ``<out>/videos/<video>/`` (the path the PoPs serve):
``master.m3u8``, ``<rung>/index.m3u8`` + ``<rung>/seg_00000.ts`` (or ``init.mp4`` and ``.m4s``),
``dash/manifest.mpd`` + its ``.m4s``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ..inventory import models as m

Encoder = Literal["cpu", "gpu"]
AUDIO_KBPS = 128
DEFAULT_IMAGE = "registry.streamverse.example/transcode-worker:stable"  # the kubernetes provider's default
DEFAULT_NAMESPACE = "streamverse"
DEFAULT_GPU_LABEL = "streamverse.io/gpu"
GPU_RESOURCE = "nvidia.com/gpu"
MEDIA_MOUNT = "/media"
MEDIA_CLAIM = "streamverse-media"
MASTER = "master.m3u8"
DASH_MANIFEST = "dash/manifest.mpd"
MP4_TAGS = {"h264": "avc1", "hevc": "hvc1", "av1": "av01"}
_K8S_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

# codec -> (CPU encoder and its options, GPU (NVENC) encoder and its options)
ENCODERS: dict[str, tuple[list[str], list[str]]] = {
    "h264": (["libx264", "-preset", "veryfast", "-profile:v", "high", "-sc_threshold", "0"],
             ["h264_nvenc", "-preset", "p4", "-profile:v", "high", "-forced-idr", "1"]),
    "hevc": (["libx265", "-preset", "fast", "-tag:v", "hvc1", "-x265-params", "scenecut=0:log-level=error"],
             ["hevc_nvenc", "-preset", "p4", "-tag:v", "hvc1", "-forced-idr", "1"]),
    # av1_nvenc needs ffmpeg 6 and an Ada (L4, L40S) or newer GPU
    "av1": (["libsvtav1", "-preset", "8"], ["av1_nvenc", "-preset", "p4", "-forced-idr", "1"]),
}


@dataclass(frozen=True)
class RungJob:
    rung: m.Rung
    segment_type: Literal["mpegts", "fmp4"]
    playlist: str  # relative to the video's directory: "<rung>/index.m3u8"
    bandwidth: int  # bit/s, as the master playlist states it
    argv: list[str]

    def as_dict(self) -> dict[str, Any]:
        r = self.rung
        return {"rung": r.name, "width": r.width, "height": r.height, "codec": r.codec,
                "bitrate_kbps": r.bitrate_kbps, "bandwidth": self.bandwidth, "segment_type": self.segment_type,
                "playlist": self.playlist, "command": self.argv}


@dataclass(frozen=True)
class TranscodeJobs:
    video: str
    ladder: str
    pool: str | None
    segment_seconds: int
    video_dir: str  # where the rung commands write (a local path or the Job's mount)
    rungs: list[RungJob]
    package_argv: list[str]
    master_playlist: str
    jobs: list[dict[str, Any]] = field(default_factory=list)  # Kubernetes manifests

    def as_dict(self) -> dict[str, Any]:
        return {"video": self.video, "ladder": self.ladder, "pool": self.pool,
                "segment_seconds": self.segment_seconds, "output": self.video_dir,
                "rungs": [r.as_dict() for r in self.rungs], "package": {"command": self.package_argv},
                "master_playlist": self.master_playlist, "jobs": self.jobs}


@dataclass(frozen=True)
class JobSettings:
    """Where the Kubernetes Jobs run (from the Provider serving ``transcode.*`` and the TranscodePool)."""
    namespace: str = DEFAULT_NAMESPACE
    image: str = DEFAULT_IMAGE
    gpu_label: str = DEFAULT_GPU_LABEL
    gpu_type: str | None = None  # the pool's gpuType; None: no GPU request
    media_claim: str = MEDIA_CLAIM

    @staticmethod
    def from_provider(settings: dict[str, Any], pool: m.TranscodePoolSpec | None) -> JobSettings:
        return JobSettings(namespace=str(settings.get("namespace") or DEFAULT_NAMESPACE),
                           image=str(settings.get("image") or DEFAULT_IMAGE),
                           gpu_label=str(settings.get("gpuNodeLabel") or DEFAULT_GPU_LABEL),
                           gpu_type=pool.gpu_type if pool else None,
                           media_claim=str(settings.get("mediaClaim") or MEDIA_CLAIM))


def name_problems(video: str, ladder: m.EncodingLadderSpec) -> list[str]:
    """Why ``video`` or a rung name cannot name files and Kubernetes Jobs (empty: all fine)."""
    out = []
    if not _K8S_NAME.match(video) or len(video) > 40:
        out.append(f"video '{video}' must be lowercase letters, digits and '-' (at most 40 characters): it "
                   "names the output directory and the Kubernetes Jobs")
    for r in ladder.rungs:
        if not _K8S_NAME.match(r.name) or len(r.name) > 16:
            out.append(f"rung '{r.name}' must be lowercase letters, digits and '-' (at most 16 characters)")
    if len({r.name for r in ladder.rungs}) != len(ladder.rungs):
        out.append("rung names repeat: each rung needs its own directory")
    return out


def bandwidth(rung: m.Rung, audio_kbps: int) -> int:
    return (rung.bitrate_kbps + audio_kbps) * 1000


def rung_argv(rung: m.Rung, seconds: int, source: str, video_dir: str, encoder: Encoder = "cpu",
              audio_kbps: int = AUDIO_KBPS) -> list[str]:
    """The ffmpeg command that encodes one rung to an HLS media playlist under ``video_dir/<rung>/``."""
    cpu, gpu = ENCODERS[rung.codec]
    enc = gpu if encoder == "gpu" else cpu
    fmp4 = rung.codec != "h264"
    rate = rung.bitrate_kbps
    out = f"{video_dir}/{rung.name}"
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", source,
            "-map", "0:v:0"]
    if audio_kbps:
        argv += ["-map", "0:a:0?"]
    argv += ["-vf", f"scale={rung.width}:{rung.height}", "-pix_fmt", "yuv420p",
             "-c:v", *enc, "-b:v", f"{rate}k", "-maxrate", f"{rate}k", "-bufsize", f"{2 * rate}k",
             "-force_key_frames", f"expr:gte(t,n_forced*{seconds})"]
    if audio_kbps:
        argv += ["-c:a", "aac", "-b:a", f"{audio_kbps}k", "-ac", "2"]
    argv += ["-f", "hls", "-hls_time", str(seconds), "-hls_playlist_type", "vod",
             "-hls_flags", "independent_segments"]
    if fmp4:
        argv += ["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
                 "-hls_segment_filename", f"{out}/seg_%05d.m4s"]
    else:
        argv += ["-hls_segment_type", "mpegts", "-hls_segment_filename", f"{out}/seg_%05d.ts"]
    return [*argv, f"{out}/index.m3u8"]


def package_argv(rungs: list[m.Rung], seconds: int, video_dir: str, audio: bool) -> list[str]:
    """Remux every rung's HLS output (no re-encode) into one DASH manifest, an adaptation set per codec."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    for r in rungs:
        argv += ["-i", f"{video_dir}/{r.name}/index.m3u8"]
    for i in range(len(rungs)):
        argv += ["-map", f"{i}:v:0"]
    for i, r in enumerate(rungs):  # MPEG-TS input carries no MP4 codec tag: name it
        argv += [f"-tag:v:{i}", MP4_TAGS[r.codec]]
    if audio:
        argv += ["-map", "0:a:0?", "-tag:a:0", "mp4a"]
    sets: dict[str, list[int]] = {}
    for i, r in enumerate(rungs):
        sets.setdefault(r.codec, []).append(i)
    spec = [f"id={n},streams={','.join(map(str, idx))}" for n, idx in enumerate(sets.values())]
    if audio:
        spec.append(f"id={len(spec)},streams=a")
    return [*argv, "-c", "copy", "-f", "dash", "-seg_duration", str(seconds), "-use_template", "1",
            "-use_timeline", "1", "-adaptation_sets", " ".join(spec), f"{video_dir}/{DASH_MANIFEST}"]


def master_playlist(rungs: list[RungJob]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in rungs:
        lines.append(f"#EXT-X-STREAM-INF:BANDWIDTH={r.bandwidth},AVERAGE-BANDWIDTH={r.bandwidth},"
                     f"RESOLUTION={r.rung.width}x{r.rung.height}")
        lines.append(r.playlist)
    return "\n".join(lines) + "\n"


def build(video: str, ladder_name: str, ladder: m.EncodingLadderSpec, source: str, video_dir: str,
          encoder: Encoder = "cpu", audio: bool = True, pool: str | None = None,
          job: JobSettings | None = None) -> TranscodeJobs:
    """The commands (and, with ``job``, the Kubernetes Jobs) that transcode ``video`` along the ladder.

    ``source`` is what ffmpeg reads (a path or URL), ``video_dir`` where the rungs are written.
    Call :func:`name_problems` first: names here become paths and Job names."""
    seconds = ladder.segment_seconds
    audio_kbps = AUDIO_KBPS if audio else 0
    rungs = [RungJob(r, "mpegts" if r.codec == "h264" else "fmp4", f"{r.name}/index.m3u8",
                     bandwidth(r, audio_kbps), rung_argv(r, seconds, source, video_dir, encoder, audio_kbps))
             for r in ladder.rungs]
    # the rungs' HLS output is always made (DASH is remuxed from it); the ladder's formats decide what
    # is published on top: the master playlist (hls) and the DASH manifest (dash)
    master = master_playlist(rungs) if "hls" in ladder.formats else ""
    package = package_argv(list(ladder.rungs), seconds, video_dir, audio) if "dash" in ladder.formats else []
    jobs = kubernetes_jobs(video, ladder_name, pool, rungs, package, master, video_dir, job) if job else []
    return TranscodeJobs(video, ladder_name, pool, seconds, video_dir, rungs, package, master, jobs)


# ---- Kubernetes ---------------------------------------------------------------------------------
def _labels(video: str, ladder: str, pool: str | None, component: str, rung: str | None = None) -> dict[str, str]:
    out = {"app.kubernetes.io/managed-by": "streamverse-ctl", "app.kubernetes.io/component": component,
           "streamverse.io/video": video, "streamverse.io/ladder": ladder}
    if pool:
        out["streamverse.io/pool"] = pool
    if rung:
        out["streamverse.io/rung"] = rung
    return out


def _job(name: str, labels: dict[str, str], settings: JobSettings, container: dict[str, Any],
         gpu: bool) -> dict[str, Any]:
    pod: dict[str, Any] = {"restartPolicy": "Never"}
    if gpu and settings.gpu_type:
        pod["nodeSelector"] = {settings.gpu_label: settings.gpu_type}
        pod["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
        container["resources"] = {"limits": {GPU_RESOURCE: "1"}}
    container["volumeMounts"] = [{"name": "media", "mountPath": MEDIA_MOUNT}]
    pod["containers"] = [container]
    pod["volumes"] = [{"name": "media", "persistentVolumeClaim": {"claimName": settings.media_claim}}]
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": settings.namespace, "labels": labels},
            "spec": {"backoffLimit": 2, "ttlSecondsAfterFinished": 86400,
                     "template": {"metadata": {"labels": dict(labels)}, "spec": pod}}}


def kubernetes_jobs(video: str, ladder: str, pool: str | None, rungs: list[RungJob], package: list[str],
                    master: str, video_dir: str, settings: JobSettings) -> list[dict[str, Any]]:
    jobs = []
    for r in rungs:
        argv = r.argv
        container: dict[str, Any] = {"name": "ffmpeg", "image": settings.image,
                     "command": ["sh", "-c", f'mkdir -p "{video_dir}/{r.rung.name}" && exec "$@"', "sh"],
                     "args": argv}
        jobs.append(_job(f"transcode-{video}-{r.rung.name}", _labels(video, ladder, pool, "transcode-job",
                                                                       r.rung.name), settings, container, True))
    steps = [f'mkdir -p "{video_dir}/dash"']
    if master:
        steps.append(f'printf "%s" "$MASTER_PLAYLIST" > "{video_dir}/{MASTER}"')
    steps.append('exec "$@"' if package else "true")
    script = " && ".join(steps)
    packager: dict[str, Any] = {"name": "package", "image": settings.image, "command": ["sh", "-c", script, "sh"],
                 "args": package, "env": [{"name": "MASTER_PLAYLIST", "value": master}]}
    jobs.append(_job(f"package-{video}", _labels(video, ladder, pool, "package-job"), settings, packager, False))
    return jobs
