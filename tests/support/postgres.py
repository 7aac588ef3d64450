"""A throw-away PostgreSQL cluster for the tests: Debian's postgresql (scripts/setup.sh),
initdb + pg_ctl in a temporary folder, on a free loopback port, as an unprivileged user.

The tests run as root and initdb refuses root, so the cluster belongs to the `postgres`
system user (made by the Debian package) and every server command runs through runuser.
One cluster per pytest session (tests/conftest.py); each test gets its own database.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN = Path(os.environ.get("CTRACK_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "ctrack"  # the cluster's superuser role; connections are trusted on loopback only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestPostgres:
    __test__ = False  # a helper, not a test class

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.port = 0
        self._names = itertools.count(1)
        self._as: list[str] = []

    @property
    def data(self) -> Path:
        assert self.folder is not None
        return self.folder / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
        return done

    def start(self) -> None:
        if not (BIN / "initdb").exists():
            raise RuntimeError(f"{BIN}/initdb missing: run scripts/setup.sh (Debian package postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="ctrack-pg-"))
        if os.getuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(
            str(BIN / "initdb"), "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8", "--locale=C",
            "--no-sync",
        )  # fmt: skip
        self.port = _free_port()
        self.start_server()

    def start_server(self) -> None:
        """(Re)start the server on its port, with the data it had."""
        assert self.folder is not None
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start"
        )

    def stop_server(self) -> None:
        """Stop the server as an outage would (every connection cut), keeping its data:
        fast mode, since the cluster runs without fsync and a crash could lose commits."""
        if self.folder is not None and (self.data / "postmaster.pid").exists():
            self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        if self.folder is None:
            return
        self.stop_server()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database of its own for one test; its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)
