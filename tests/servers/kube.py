"""The kmock KubernetesEmulator served over HTTP on 127.0.0.1, as a child process.

No kube-apiserver can be installed on the build machines, so the Kubernetes provider's tests run
against kmock (an in-memory emulator of the Kubernetes REST API). It differs from a real cluster:
no Namespace resource (any namespace name just works, so each test uses its own namespace instead
of a reset), no PUT/replace, no label selectors (ignored), no resourceVersion/uid/generation (so no
409 conflicts on patch), strategic merge acts like JSON merge, and no controllers (Deployments
never get a status; nothing is scheduled). A suite against a real cluster (KUBECONFIG) complements it.

Run as ``python -m tests.servers.kube PORT`` (the fixture does that); it prints ``ready PORT``.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from .process import ChildServer, ServerMissing, free_port, tcp_ready

REPO = Path(__file__).resolve().parents[2]


class KmockServer(ChildServer):
    def __init__(self, workdir: Path, name: str = "kmock") -> None:
        super().__init__(name, workdir)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> KmockServer:
        try:
            import kmock  # noqa: F401
        except ImportError as exc:  # pragma: no cover - install problem
            raise ServerMissing("kmock is not installed (pip install 'kmock>=0.8')") from exc
        self.port = free_port()
        self.spawn([sys.executable, "-m", "tests.servers.kube", str(self.port)], self._ready, 30,
                   env={"PYTHONPATH": str(REPO)})
        return self

    def _ready(self) -> bool:
        if not tcp_ready(self.port):
            return False
        try:
            with urllib.request.urlopen(self.url + "/version", timeout=1) as resp:
                return bool(json.loads(resp.read()))
        except (OSError, ValueError):
            return False


async def _serve(port: int) -> None:
    import asyncio
    import signal

    import kmock

    emulator = kmock.KubernetesEmulator()
    emulator.resources.load_bundled()
    async with emulator, kmock.Server(emulator, host="127.0.0.1", port=port) as server:
        print("ready", server.port, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


if __name__ == "__main__":
    import asyncio

    asyncio.run(_serve(int(sys.argv[1])))
