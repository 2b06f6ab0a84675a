"""``streamverse ctl transcode``: what the encoding ladder makes of a video (compiler/transcode_jobs.py).

``transcode jobs VIDEO`` shows the ffmpeg command per rung, the master playlist and the Kubernetes
Jobs that run them on the TranscodePool's GPU nodes; ``--manifests`` prints only the Jobs, ready
for ``kubectl apply -f -``; ``--run SRC --out DIR`` runs the same commands here with the local
ffmpeg (CPU encoders) and writes DIR/videos/VIDEO/.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, VarOpt

if TYPE_CHECKING:
    from ..compiler.transcode_jobs import TranscodeJobs
    from ..inventory.model import Inventory

app = typer.Typer(help="Transcoding: the encoding ladder's ffmpeg commands and Kubernetes Jobs.",
                  no_args_is_help=True)


class JobsOutput(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


def _pick(inv: Inventory, ladder: str | None, pool: str | None, region: str | None
          ) -> tuple[str, object, str | None, object | None]:
    from ..core.errors import PermanentError
    from ..inventory import models as m

    pools = inv.specs("TranscodePool", m.TranscodePoolSpec)
    ladders = inv.specs("EncodingLadder", m.EncodingLadderSpec)
    chosen: str | None = pool
    if pool is not None and pool not in pools:
        raise PermanentError(f"no TranscodePool '{pool}' (known: {', '.join(sorted(pools)) or 'none'})")
    if chosen is None and region is not None:
        chosen = next((n for n, s in sorted(pools.items()) if s.region == region), None)
        if chosen is None:
            raise PermanentError(f"no TranscodePool in region '{region}'")
    name = ladder or (pools[chosen].ladder if chosen else None)
    if name is None:
        name = "main" if "main" in ladders else (next(iter(ladders)) if len(ladders) == 1 else None)
    if name is None or name not in ladders:
        raise PermanentError(f"no EncodingLadder '{name or '?'}' (known: {', '.join(sorted(ladders)) or 'none'}); "
                             "name one with --ladder")
    if chosen is None:
        chosen = next((n for n, s in sorted(pools.items()) if s.ladder == name), None)
    return name, ladders[name], chosen, pools.get(chosen) if chosen else None


def _provider_settings(inv: Inventory) -> dict[str, object]:
    from fnmatch import fnmatch

    from ..inventory import models as m

    for _name, spec in sorted(inv.specs("Provider", m.ProviderSpec).items()):
        if spec.type == "kubernetes" and any(fnmatch("transcode.job", t) or fnmatch("transcode.pool", t)
                                             for t in spec.serves.types):
            return dict(spec.settings)
    return {}


def _table(jobs: TranscodeJobs) -> None:
    import shlex

    from .common import console, simple_table

    pool = f", pool {jobs.pool}" if jobs.pool else ""
    simple_table(f"{jobs.video}: ladder {jobs.ladder}{pool}, {jobs.segment_seconds} s segments -> {jobs.video_dir}",
                 ["rung", "resolution", "codec", "kbps", "BANDWIDTH", "segments", "playlist"],
                 [[r.rung.name, f"{r.rung.width}x{r.rung.height}", r.rung.codec, str(r.rung.bitrate_kbps),
                   str(r.bandwidth), r.segment_type, r.playlist] for r in jobs.rungs])
    lines = []  # plain text: ffmpeg's -map 0:v:0 must not become emoji or markup
    for r in jobs.rungs:
        lines += [f"\n# rung {r.rung.name}", shlex.join(r.argv)]
    if jobs.master_playlist:
        lines += ["\n# master.m3u8", jobs.master_playlist.rstrip()]
    if jobs.package_argv:
        lines += ["\n# DASH packaging (after every rung)", shlex.join(jobs.package_argv)]
    if jobs.jobs:
        lines.append(f"\n{len(jobs.jobs)} Kubernetes Jobs: --manifests prints them for kubectl apply -f -")
    console().file.write("\n".join(lines) + "\n")


@app.command("jobs")
def jobs_command(
    video: Annotated[str, typer.Argument(metavar="VIDEO", help="Video id: names the output directory and the Jobs.")],
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    var: VarOpt = None,
    ladder: Annotated[str | None, typer.Option("--ladder", metavar="NAME",
                      help="EncodingLadder (default: the pool's, else 'main', else the only one).")] = None,
    pool: Annotated[str | None, typer.Option("--pool", metavar="NAME",
                    help="TranscodePool whose GPU nodes run the Jobs (default: the first using the ladder).")] = None,
    region: Annotated[str | None, typer.Option("--region", metavar="REGION",
                      help="Use the TranscodePool of this region.")] = None,
    source: Annotated[str | None, typer.Option("--source", metavar="SOURCE",
                      help="URL or path the Jobs' ffmpeg reads (default: /media/uploads/VIDEO/source.mp4 on the media "
                           "volume).")] = None,
    manifests: Annotated[bool, typer.Option("--manifests",
                         help="Print only the Kubernetes Jobs, as YAML documents for kubectl apply -f -.")] = False,
    run: Annotated[Path | None, typer.Option("--run", metavar="SRC",
                   help="Transcode SRC here with the local ffmpeg (CPU encoders) instead of showing the Jobs.")] = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR",
                   help="With --run: the document root to write into (files land in DIR/videos/VIDEO/).")] = None,
    output: Annotated[JobsOutput, typer.Option("--output", "-o", help="Output format.")] = JobsOutput.table,
) -> None:
    """The transcode jobs of VIDEO: per rung the ffmpeg command (HLS, ladder's segment length, codec,
    bitrate, resolution), the master playlist, DASH packaging and the Kubernetes Jobs.

    Example: streamverse ctl transcode jobs clip42 -i inventories/production --region eu-west -o yaml
    Example: streamverse ctl transcode jobs clip42 --run upload.mp4 --out /srv/origin
    """
    import sys

    import yaml

    from ..compiler import transcode_jobs as tj
    from ..core.errors import PermanentError
    from ..inventory import load_inventory
    from .common import Output, emit, err_console, parse_vars

    if (run is None) != (out is None):
        raise typer.BadParameter("--run SRC and --out DIR go together", param_hint="--run / --out")
    inv = load_inventory(inventory, parse_vars(var))
    name, spec, pool_name, pool_spec = _pick(inv, ladder, pool, region)
    from ..inventory import models as m

    assert isinstance(spec, m.EncodingLadderSpec)
    assert pool_spec is None or isinstance(pool_spec, m.TranscodePoolSpec)
    problems = tj.name_problems(video, spec)
    if problems:
        raise PermanentError("; ".join(problems))
    if run is not None and out is not None:
        from ..providers import ffmpeg

        if not run.is_file():
            raise PermanentError(f"--run {run}: no such file")
        local_dir = (out / "videos" / video).resolve()
        plan = tj.build(video, name, spec, str(run.resolve()), str(local_dir), encoder="cpu",
                        audio=ffmpeg.has_audio(str(run)), pool=pool_name)
        report = ffmpeg.run(plan)
        for step, seconds in report.seconds.items():
            err_console().print(f"ffmpeg {step}: {seconds:.1f} s", highlight=False)
        made = [f"master playlist {report.video_dir / tj.MASTER}"] if plan.master_playlist else []
        made += [f"DASH {report.video_dir / tj.DASH_MANIFEST}"] if plan.package_argv else []
        err_console().print(f"wrote {len(report.files)} files under {report.video_dir} ({', '.join(made)})",
                            highlight=False)
        return
    video_dir = f"{tj.MEDIA_MOUNT}/videos/{video}"
    settings = tj.JobSettings.from_provider(_provider_settings(inv), pool_spec)
    plan = tj.build(video, name, spec, source or f"{tj.MEDIA_MOUNT}/uploads/{video}/source.mp4", video_dir,
                    encoder="gpu" if settings.gpu_type else "cpu", pool=pool_name, job=settings)
    if manifests:
        sys.stdout.write(yaml.safe_dump_all(plan.jobs, sort_keys=False, default_flow_style=False))
        return
    emit(plan.as_dict(), Output(output.value), lambda: _table(plan))
