"""`streamverse ctl probe playback` and the `probe.playback` runbook gate on real parts.

Two Debian nginx caches (PoPs a1 at 127.0.0.2 and b1 at 127.0.0.1, the same port, as real PoPs
differ by address) in front of the HLS origin of tests/servers/hls.py, serving the real ffmpeg
output; BIND answers the PoP names (and a CNAME to one of them) as the authoritative server; b1
sits behind the fault proxy, which injects the delay of a slow PoP.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.query
import dns.tsigkeyring
import dns.update
import pytest

from tests.servers.bind import BindServer
from tests.servers.faultproxy import FaultProxy
from tests.servers.hls import HlsContent, HlsOrigin
from tests.servers.inventory import _demo_with_dns
from tests.servers.process import ChildServer, free_port, require_binary, tcp_ready

from .test_cli import CLI, no_traceback

ZONE = "sv.example."
NGINX_CONF = """daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/client;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    proxy_cache_path {prefix}/cache levels=1:2 keys_zone=edge:10m use_temp_path=off;
    server {{
        listen {listen}{ssl};
{tls}        add_header X-Cache-Status $upstream_cache_status always;
        location / {{
            proxy_pass http://127.0.0.1:{origin_port};
            proxy_cache edge;
            proxy_cache_valid 200 206 10m;
        }}
    }}
}}
"""
POPS = """apiVersion: streamverse.io/v1
kind: PoP
metadata: {name: a1, labels: {tier: core, region: us-east}}
spec: {region: us-east, city: New York, country: US, cacheTb: 1, capacityGbps: 1}
---
apiVersion: streamverse.io/v1
kind: PoP
metadata: {name: b1, labels: {tier: core, region: eu-west}}
spec: {region: eu-west, city: London, country: GB, cacheTb: 1, capacityGbps: 1}
"""


def nginx_pop(prefix: Path, listen: str, origin_port: int, cert: Path | None = None) -> ChildServer:
    (prefix / "tmp").mkdir(parents=True)
    tls = (f"        ssl_certificate {cert};\n        ssl_certificate_key {cert.with_suffix('.key')};\n"
           if cert else "")
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=prefix, listen=listen, origin_port=origin_port,
                                                         ssl=" ssl" if cert else "", tls=tls))
    server = ChildServer("nginx", prefix)
    host, _, port = listen.rpartition(":")
    server.spawn([require_binary("nginx", "nginx"), "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                  "-e", "stderr"], lambda: tcp_ready(int(port), host))
    return server


@dataclass
class Edge:
    port: int  # every PoP's HTTP port
    proxy: FaultProxy  # in front of b1
    bind: BindServer
    cli: CLI

    def probe(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli("probe", "playback", "--nameserver", self.bind.address, "--scheme", "http", "--port",
                        str(self.port), "--video", "clip42", *args)


def _add_records(bind: BindServer, records: list[tuple[str, str, str]]) -> None:
    keyring = dns.tsigkeyring.from_text({bind.key_name: bind.secret})
    update = dns.update.Update(ZONE, keyring=keyring, keyalgorithm=bind.algorithm)
    for name, rtype, value in records:
        update.replace(name, 60, rtype, value)
    host, port = bind.address.split(":")
    response = dns.query.tcp(update, host, port=int(port), timeout=5)
    assert response.rcode() == 0, response


@pytest.fixture
def edge(bind: BindServer, hls_origin: HlsOrigin, fault_proxy: Any, demo_copy: Path, tmp_path: Path
         ) -> Iterator[Edge]:
    # nginx's workers run as nobody when started as root: prefixes they can reach (pytest's tmp is 0700)
    root = Path(tempfile.mkdtemp(prefix="sv-probe-pops-"))
    os.chmod(root, 0o755)
    hidden = free_port()
    servers = [nginx_pop(root / "b1", f"127.0.0.1:{hidden}", hls_origin.port)]
    proxy: FaultProxy = fault_proxy(hidden)  # b1 as clients reach it: 127.0.0.1:<proxy port>
    try:
        servers.append(nginx_pop(root / "a1", f"127.0.0.2:{proxy.port}", hls_origin.port))
        _add_records(bind, [("a1.pop", "A", "127.0.0.2"), ("b1.pop", "A", "127.0.0.1"),
                            ("play", "CNAME", "a1.pop")])
        _demo_with_dns(demo_copy, "bind", "rfc2136", ZONE,
                       f'{{server: "{bind.address}", zone: {ZONE}, tsigKeyName: {bind.key_name}, '
                       'tsigSecret: {fromEnv: TSIG_SECRET}}')
        (demo_copy / "pops.yaml").write_text(POPS)
        yield Edge(proxy.port, proxy, bind, CLI(demo_copy, tmp_path / "state", tmp_path))
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(root, ignore_errors=True)


def _plays(out: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    no_traceback(out)
    return {p["pop"] or p["host"]: p for p in json.loads(out.stdout)["plays"]}


def _metric(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"no sample {name}{labels} in:\n{text}")


def test_plays_through_both_pops_pass_and_metrics_feed_the_startup_sli(edge: Edge, hls_content: HlsContent,
                                                                       promtool: str, tmp_path: Path) -> None:
    metrics = tmp_path / "textfile" / "playback.prom"
    out = edge.probe("--all", "-o", "json", "--metrics-file", str(metrics))
    assert out.returncode == 0, out.stdout + out.stderr
    plays = _plays(out)
    assert sorted(plays) == ["a1", "b1"]
    assert plays["a1"]["address"] == "127.0.0.2" and plays["b1"]["address"] == "127.0.0.1"  # from BIND
    for p in plays.values():
        assert p["verdict"] == "pass" and p["startup_seconds"] < 1.0
        assert [(f["what"], f["status"]) for f in p["fetches"]] == [("master", 200), ("media", 200),
                                                                    ("segment", 200)]
        assert p["fetches"][0]["path"] == "/videos/clip42/master.m3u8"
        assert p["fetches"][1]["path"] == "/videos/clip42/360p/index.m3u8"  # the first variant listed
        assert p["fetches"][2]["path"] == "/videos/clip42/360p/seg_00000.ts"
        assert p["fetches"][2]["bytes"] == (hls_content.video_dir / "360p" / "seg_00000.ts").stat().st_size
        assert all(p[f"{k}_seconds"] is not None for k in ("dns", "connect", "first_byte", "first_segment"))
        assert p["startup_seconds"] >= p["dns_seconds"] + p["first_segment_seconds"]
    assert {f["cache"] for p in plays.values() for f in p["fetches"]} == {"MISS"}  # cold caches
    assert json.loads(out.stdout)["regions"] == {"us-east": True, "eu-west": True}

    again = _plays(edge.probe("--pop", "b1", "-o", "json", "--metrics-file", str(metrics)))
    assert [f["cache"] for f in again["b1"]["fetches"]] == ["HIT", "HIT", "HIT"]

    text = metrics.read_text()
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # the series the SLO's startup SLI reads: bucket le=startupSeconds over count, by region
    name = "streamverse_playback_startup_seconds"
    assert _metric(text, f"{name}_bucket", pop="b1", region="eu-west", le="1.0") == 2  # counts accumulate
    assert _metric(text, f"{name}_count", pop="b1", region="eu-west") == 2
    assert _metric(text, f"{name}_count", pop="a1", region="us-east") == 1
    assert _metric(text, "streamverse_playback_probe_success", pop="b1", region="eu-west") == 1


def test_a_delay_at_one_pop_fails_the_probe_and_the_runbook_gate(edge: Edge, promtool: str, tmp_path: Path) -> None:
    metrics = tmp_path / "playback.prom"
    warm = edge.probe("--all", "-o", "json", "--metrics-file", str(metrics))
    assert warm.returncode == 0, warm.stdout + warm.stderr
    before = metrics.read_text()
    edge.proxy.set_mode("latency", latency=0.25)  # each chunk through b1 waits 0.25 s each way
    out = edge.probe("--all", "-o", "json", "--metrics-file", str(metrics))
    assert out.returncode == 1, out.stdout + out.stderr
    plays = _plays(out)
    assert plays["a1"]["verdict"] == "pass"
    assert plays["b1"]["verdict"] == "slow" and plays["b1"]["startup_seconds"] > 1.0
    assert plays["b1"]["first_byte_seconds"] >= 0.5
    assert json.loads(out.stdout)["pops"] == {"a1": True, "b1": False}
    assert "1 of 2 play(s) did not start within 1 s" in out.stderr
    text = metrics.read_text()
    name = "streamverse_playback_startup_seconds"
    assert _metric(text, f"{name}_bucket", pop="b1", region="eu-west", le="1.0") == 1  # the slow play: a bad event
    assert _metric(text, f"{name}_count", pop="b1", region="eu-west") == 2
    assert _metric(text, "streamverse_playback_probe_success", pop="b1", region="eu-west") == 0

    _slo_rules_see(promtool, tmp_path, before, text, {"us-east": 0, "eu-west": 1})

    table = edge.probe("--pop", "b1")
    assert table.returncode == 1 and "slow" in table.stdout

    from streamverse_ctl.core.errors import TemporaryError
    from streamverse_ctl.engine.workspace import Workspace
    from streamverse_ctl.runbook.actions.probe import playback
    from streamverse_ctl.runbook.context import ActionContext
    from streamverse_ctl.runbook.events import Events

    ws = Workspace(edge.cli.inventory, state_dir=edge.cli.state)
    try:
        ctx = ActionContext(ws, "viral-content", "run-x", "startup", False, frozenset(), Events(), Path("."),
                            edge.cli.state / "artifacts")
        common: dict[str, Any] = {"video": "clip42", "scheme": "http", "port": edge.port}  # nameserver: the provider's
        assert playback(ctx, pops=["a1"], **common)["pops"] == {"a1": True}
        with pytest.raises(TemporaryError, match=r"1 of 1 play\(s\) did not start within 1 s: b1 \d"):
            playback(ctx, pops="b1", **common)
        edge.proxy.set_mode("pass")
        assert playback(ctx, pops="b1", **common)["pops"] == {"b1": True}  # the retry after the fault passes
    finally:
        ws.close()


def test_a_steered_name_is_followed_through_its_cname_and_errors_are_results(edge: Edge) -> None:
    out = edge.probe("--host", "play.sv.example", "-o", "json")
    assert out.returncode == 0, out.stdout + out.stderr
    play = _plays(out)["play.sv.example"]
    assert play["address"] == "127.0.0.2" and play["verdict"] == "pass"

    missing = edge.probe("--host", "nope.sv.example", "-o", "json")
    assert missing.returncode == 1
    assert "NXDOMAIN" in _plays(missing)["nope.sv.example"]["error"]
    wrong_video = edge.cli("probe", "playback", "--nameserver", edge.bind.address, "--scheme", "http", "--port",
                           str(edge.port), "--video", "nope", "--pop", "a1", "-o", "json")
    assert wrong_video.returncode == 1
    assert _plays(wrong_video)["a1"]["error"] == "master /videos/nope/master.m3u8: HTTP 404"
    unknown = edge.probe("--pop", "zz9")
    assert unknown.returncode == 1 and "no PoP zz9 in the inventory" in unknown.stderr
    no_traceback(unknown)


def test_metrics_addr_keeps_probing_and_serves_metrics(edge: Edge) -> None:
    import time

    import httpx

    port = free_port()
    cmd = edge.cli.cmd("probe", "playback", "--nameserver", edge.bind.address, "--scheme", "http", "--port",
                       str(edge.port), "--video", "clip42", "--pop", "a1", "--metrics-addr", f"127.0.0.1:{port}",
                       "--interval", "0.2")
    proc = subprocess.Popen(cmd, cwd=edge.cli.cwd, env=edge.cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    try:
        deadline, plays = time.monotonic() + 60, 0.0
        while time.monotonic() < deadline and plays < 2:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                plays = _metric(text, "streamverse_playback_startup_seconds_count", pop="a1", region="us-east")
            except (httpx.HTTPError, AssertionError):
                pass
            time.sleep(0.2)
        assert plays >= 2, proc.stderr.read() if proc.poll() is not None and proc.stderr else "no rounds"
        assert _metric(text, "streamverse_playback_probe_success", pop="a1", region="us-east") == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _slo_rules_see(promtool: str, tmp_path: Path, before: str, after: str, ratios: dict[str, float]) -> None:
    """The SLO's startup SLI (``slo rules``), evaluated by promtool on the probe's series as Prometheus would
    scrape them (``before`` for 5 minutes, then ``after``), gives the expected error ratio per region."""
    import yaml
    from prometheus_client.parser import text_string_to_metric_families

    from streamverse_ctl.compiler import slo_rules
    from streamverse_ctl.inventory import models as m

    def samples(text: str) -> dict[str, float]:
        out = {}
        for family in text_string_to_metric_families(text):
            if family.name == "streamverse_playback_startup_seconds":
                for s in family.samples:
                    if s.name.endswith(("_bucket", "_count")):
                        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                        out[f"{s.name}{{{labels}}}"] = s.value
        return out

    old, new = samples(before), samples(after)
    series = [{"series": k, "values": f"{old.get(k, 0):g}+0x5 {v:g}+0x5"} for k, v in sorted(new.items())]
    (tmp_path / "rules.yml").write_text(slo_rules.to_yaml(slo_rules.slo_rule_file("platform", m.SLOSpec())))
    expected = [{"labels": f'slo:sli_error:ratio_rate5m{{region="{r}", sli="startup", slo="platform"}}',
                 "value": v} for r, v in sorted(ratios.items())]
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [{"expr": 'slo:sli_error:ratio_rate5m{sli="startup"}', "eval_time": "10m",
                              "exp_samples": expected}]}]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_https_pop_is_verified_for_its_name_not_its_address(edge: Edge, hls_origin: HlsOrigin) -> None:
    root = Path(tempfile.mkdtemp(prefix="sv-probe-tls-"))
    os.chmod(root, 0o755)
    cert = root / "c1.pem"
    subprocess.run([require_binary("openssl", "openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(cert.with_suffix(".key")), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=c1.pop.sv.example", "-addext", "subjectAltName=DNS:c1.pop.sv.example"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(cert.with_suffix(".key"), 0o644)  # nginx's workers read it as nobody
    port = free_port()
    server = nginx_pop(root / "c1", f"127.0.0.3:{port}", hls_origin.port, cert=cert)
    try:
        _add_records(edge.bind, [("c1.pop", "A", "127.0.0.3")])
        args = ["probe", "playback", "--nameserver", edge.bind.address, "--host", "c1.pop.sv.example", "--port",
                str(port), "--video", "clip42", "-o", "json"]
        out = edge.cli(*args, "--ca-file", str(cert))
        assert out.returncode == 0, out.stdout + out.stderr
        play = _plays(out)["c1.pop.sv.example"]
        assert play["verdict"] == "pass" and play["address"] == "127.0.0.3" and play["connect_seconds"] > 0
        untrusted = edge.cli(*args)  # the system's CAs do not know this certificate
        assert untrusted.returncode == 1
        assert "CERTIFICATE_VERIFY_FAILED" in _plays(untrusted)["c1.pop.sv.example"]["error"]
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


GATE = """name: playback-gate
description: Viewers start within the SLO through the given PoP.
parameters:
  through: {{type: string, required: true, description: PoP to play through}}
steps:
  - id: startup
    name: "{{{{ params.through }}}} starts playback within the SLO"
    action: probe.playback
    with: {{pops: ["{{{{ params.through }}}}"], video: clip42, scheme: http, port: {port}}}
    retries: {{attempts: 2, delay: 0.1}}
"""


def test_a_runbook_step_gated_on_playback_fails_on_a_slow_pop_and_passes_on_a_fast_one(edge: Edge,
                                                                                        tmp_path: Path) -> None:
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "playback-gate.yaml").write_text(GATE.format(port=edge.port))
    assert edge.cli("runbook", "validate", "--runbooks", str(books), inv=False).returncode == 0
    ok = edge.cli("runbook", "run", "playback-gate", "-s", "through=a1", "--runbooks", str(books), "-o", "json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert '"event":"step.note"' in ok.stdout and "a1: pass, startup" in ok.stdout
    edge.proxy.set_mode("latency", latency=0.25)
    slow = edge.cli("runbook", "run", "playback-gate", "-s", "through=b1", "--runbooks", str(books), "-o", "json")
    assert slow.returncode == 1, slow.stdout + slow.stderr
    no_traceback(slow)
    assert "1 of 1 play(s) did not start within 1 s: b1" in slow.stdout + slow.stderr
