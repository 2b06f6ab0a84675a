"""PostgreSQL 15 (Debian ``postgresql``) on a free loopback port: initdb + pg_ctl as the ``postgres`` user.

PostgreSQL refuses to run as root, so when the tests run as root the cluster is made and run as
``postgres`` through ``runuser``; its data directory comes from ``tempfile.mkdtemp()`` (pytest's
tmp_path lives under a root-only folder) and is chowned to that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from .process import ServerMissing, free_port, tcp_ready

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PostgresServer:
    def __init__(self) -> None:
        self.port = 0
        self.dir: Path | None = None
        self.running = False

    def _as_postgres(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def start(self) -> PostgresServer:
        initdb, pg_ctl = PG_BIN / "initdb", PG_BIN / "pg_ctl"
        if not initdb.exists() or not pg_ctl.exists():
            raise ServerMissing("PostgreSQL 15 is not installed (apt-get install postgresql); "
                                "the team-state tests need it")
        self.dir = Path(tempfile.mkdtemp(prefix="sv-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        subprocess.run(self._as_postgres([str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres"]),
                       check=True, capture_output=True)
        self.port = free_port()
        subprocess.run(self._as_postgres([str(pg_ctl), "-D", str(data), "-o",
                                          f"-p {self.port} -k {self.dir} -h 127.0.0.1",
                                          "-l", str(self.dir / "pg.log"), "-w", "start"]),
                       check=True, capture_output=True)
        if not tcp_ready(self.port):
            raise RuntimeError(f"PostgreSQL not ready on port {self.port}")
        self.running = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        name = f"sv_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.running and self.dir is not None:
            subprocess.run(self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"),
                                              "-m", "immediate", "stop"]), capture_output=True)
            self.running = False
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
