"""origin-failover on real nginx PoPs: the primary origin (127.0.0.1) is stopped, the PoPs serve what they
hold as STALE, the runbook points them at the backup origin (127.0.0.2, the Region's backupOrigin), new
objects come from the backup, and origin-failback returns the PoPs to the primary once it is back.

Two PoPs (tests/servers/nginx.py fleet: real nginx, deployed by the nginx provider through Ansible) in
us-west, whose origin is the fleet's origin nginx; the backup origin is a second nginx on 127.0.0.2 at the
same port (the provider's settings give one origin port, each Region its endpoints).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers.nginx import PopFleet, _common, _prefix, make_hls
from tests.servers.process import ChildServer, require_binary, start_or_fail, tcp_ready

from .conftest import CLI

pytestmark = pytest.mark.servers
BACKUP_IP = "127.0.0.2"

INVENTORY = """\
apiVersion: streamverse.io/v1
kind: Inventory
metadata: {{name: origin-loss}}
spec:
  description: Two nginx PoPs in us-west in front of the us-west origin; us-east's origin is the backup.
---
apiVersion: streamverse.io/v1
kind: Region
metadata: {{name: us-west}}
spec:
  cloudRegion: us-west-1
  kubeContext: sv-us-west
  capacity: {{maxRps: 1000, egressGbps: 10}}
  failoverSecondary: us-east
  backupOrigin: us-east
  endpoints: [127.0.0.1]
---
apiVersion: streamverse.io/v1
kind: Region
metadata: {{name: us-east}}
spec:
  cloudRegion: us-east-1
  kubeContext: sv-us-east
  capacity: {{maxRps: 1000, egressGbps: 10}}
  failoverSecondary: us-west
  endpoints: [{backup}]
---
apiVersion: streamverse.io/v1
kind: PoP
metadata: {{name: pop1, labels: {{tier: core}}}}
spec: {{region: us-west, city: Los Angeles, country: US, cacheTb: 1, capacityGbps: 10}}
---
apiVersion: streamverse.io/v1
kind: PoP
metadata: {{name: pop2, labels: {{tier: core}}}}
spec: {{region: us-west, city: San Jose, country: US, cacheTb: 1, capacityGbps: 10}}
---
# segments live 1 s on the PoPs, so a cached one is expired (served STALE) when the origin is gone
apiVersion: streamverse.io/v1
kind: CacheWarmPolicy
metadata: {{name: new-releases}}
spec:
  pops: {{matchLabels: {{tier: core}}}}
  ttlOverrides: {{"*.ts": 1, "*.m3u8": 1}}
---
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


class Backup:
    """An origin nginx on 127.0.0.2 at the fleet's origin port, serving its own content."""

    def __init__(self, port: int) -> None:
        self.port, self.prefix = port, _prefix("backup-origin")
        self.www = self.prefix / "www"
        for title in ("clip42", "backup-only"):
            make_hls(self.www, title)
        conf = self.prefix / "nginx.conf"
        conf.write_text(_common(self.prefix) + f"    server {{ listen {BACKUP_IP}:{port}; root {self.www}; "
                        "add_header X-Origin backup; }\n}\n")
        self.server = ChildServer("backup-origin", self.prefix)
        self.server.spawn([require_binary("nginx", "nginx"), "-p", str(self.prefix), "-c", str(conf), "-e", "stderr"],
                          lambda: tcp_ready(port, BACKUP_IP))

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[PopFleet, Backup]]:
    f = PopFleet(tmp_path / "fleet", names=("pop1", "pop2"))
    start_or_fail(f.start)
    assert f.content is not None
    make_hls(f.content, "primary-only")
    backup: list[Backup] = []
    start_or_fail(lambda: backup.append(Backup(f.origin_port)))
    yield f, backup[0]
    backup[0].stop()
    f.stop()


def _get(url: str) -> httpx.Response:
    return httpx.get(url, headers={"X-Streamverse-Warm": "test"}, timeout=5)


def _restart_primary(f: PopFleet) -> None:
    conf = f.origin_prefix / "nginx.conf"
    f.origin.spawn([require_binary("nginx", "nginx"), "-p", str(f.origin_prefix), "-c", str(conf), "-e", "stderr"],
                   lambda: tcp_ready(f.origin_port))


def test_pops_serve_stale_then_fail_over_to_the_backup_origin_and_back(
        fleet: tuple[PopFleet, Backup], tmp_path: Path) -> None:
    f, _backup = fleet
    settings = {**f.settings(), "origin": {"scheme": "http", "port": f.origin_port}}  # each Region's endpoints
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "inventory.yaml").write_text(INVENTORY.format(backup=BACKUP_IP, settings=json.dumps(settings)))
    sv = CLI(tmp_path / "state", inv)
    sv("apply", "--yes", timeout=300)
    pop1, pop2 = f.pop("pop1").url, f.pop("pop2").url
    seg = "/videos/clip42/360p/seg00001.ts"
    for base in (pop1, pop2):
        assert _get(base + seg).status_code == 200  # cached from the primary
        assert _get(base + seg).headers["x-cache-status"] == "HIT"
        assert "proxy_cache_use_stale error timeout" in (f.pop("pop1").conf.read_text())

    f.origin.stop()  # the primary origin is destroyed
    time.sleep(2.5)  # the segment's 1 s TTL runs out (nginx keeps whole-second times: a margin)
    for base in (pop1, pop2):
        r = _get(base + seg)
        assert (r.status_code, r.headers["x-cache-status"]) == (200, "STALE")  # stale-if-error
        assert _get(base + "/videos/primary-only/master.m3u8").status_code >= 500  # nothing to serve it from

    new = "/videos/backup-only/720p/seg00002.ts"
    p = sv("runbook", "run", "origin-failover", "-s", "region=us-west", "-s", "origin_nodes=0",
           "-s", f"check_url={pop1}{new}", "--yes", "-o", "json", timeout=300)
    events = [json.loads(line) for line in p.stdout.splitlines()]
    assert events[-1]["status"] == "done"
    switch = next(e for e in events if e["event"] == "step.done" and e["step"] == "switch")
    assert "pop1" in json.dumps(switch) and "pop2" in json.dumps(switch)  # says which PoPs it changed
    for name in ("pop1", "pop2"):
        r = _get(f.pop(name).url + new)
        assert (r.status_code, r.headers.get("x-origin")) == (200, "backup")  # a new object, from the backup
        assert _get(f.pop(name).url + "/videos/backup-only/master.m3u8").status_code == 200
        assert f"server {BACKUP_IP}:{f.origin_port};" in f.pop(name).conf.read_text()
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []

    _restart_primary(f)  # the origin is rebuilt
    back = [json.loads(line) for line in sv("runbook", "run", "origin-failback", "-s", "region=us-west",
                                             "-s", f"check_url={pop2}/videos/primary-only/master.m3u8",
                                             "--yes", "-o", "json", timeout=300).stdout.splitlines()]
    assert back[-1]["status"] == "done"
    for name in ("pop1", "pop2"):
        base = f.pop(name).url
        assert _get(base + "/videos/primary-only/360p/index.m3u8").status_code == 200  # from the primary again
        assert _get(base + "/videos/backup-only/360p/index.m3u8").status_code == 404  # not on the primary
        assert "server 127.0.0.1:" in f.pop(name).conf.read_text()
    assert sv.json("dns", "overrides") == []
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []
