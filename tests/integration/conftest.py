"""A real ctrack daemon (`ctrack serve` in a subprocess) wired to the real test PBX."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.pbx.harness import TestPBX, wait_until
from tests.support.database import dicts

CTRACK = [sys.executable, "-m", "ctrack"]
AMI_USER, AMI_SECRET = "ctrack", "ctrack-test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Site:
    """A ctrack installation for one test module: config, database, dialplan on the PBX."""

    pbx: TestPBX
    root: Path
    http_port: int
    extra_config: str = ""
    database: str | Path | None = None  # a postgresql:// URL or a file; None: root/ctrack.db
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self):
        self.log_path = self.root / "daemon.log"
        # on PostgreSQL the spool and its catalog copy go in the site's folder, not the working one
        spool = f"spool = {self.root / 'spool.db'}\n" if str(self.database).startswith("postgresql://") else ""
        self.config_path.write_text(f"""
[ctrack]
database = {self.db_path}
{spool}log_level = debug
[business]
default_forward = Local/s@business-line
ring_timeout = 4
[calls]
qualified_seconds = 5
[recording]
directory = {self.pbx.recordings_dir}
consent_prompt = hello-world
[fastagi]
listen = 127.0.0.1:{self.pbx.fastagi_port}
client_timeout = 2
[http]
listen = 127.0.0.1:{self.http_port}
[ami]
host = {self.pbx.ami_host}
port = {self.pbx.ami_port}
username = {AMI_USER}
secret = {AMI_SECRET}
reconnect_max_seconds = 2
[cdr]
master_csv = {self.pbx.cdr_csv}
{self.extra_config}
""")

    config_path = property(lambda self: self.root / "ctrack.ini")
    db_path = property(lambda self: self.root / "ctrack.db" if self.database is None else self.database)

    def ctrack(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [*CTRACK, "--config", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"ctrack {' '.join(args)} failed: {proc.stderr}")
        return proc

    @property
    def env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k != "CTRACK_CONFIG"}

    # --- the daemon ---------------------------------------------------------------
    def start(self, wait_ami: bool = True, preexec_fn=None) -> None:
        """Start `ctrack serve`; `preexec_fn` runs in the child first (e.g. to set an rlimit)."""
        assert self.process is None or self.process.poll() is not None, "daemon already running"
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [*CTRACK, "--config", str(self.config_path), "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            preexec_fn=preexec_fn,
        )
        log.close()
        wait_until(
            lambda: self.metrics() is not None or self._died(),
            timeout=20,
            message="the daemon's HTTP side did not come up",
        )
        if wait_ami:
            self.wait_ami_connected()

    def _died(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"ctrack serve exited {self.process.returncode}:\n{self.log_tail()}")
        return False

    def wait_ami_connected(self, timeout: float = 30) -> None:
        wait_until(
            lambda: (self.metrics() or {}).get("ctrack_ami_connected") == 1.0 or self._died(),
            timeout=timeout,
            message="the daemon did not connect to AMI",
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()

    def metrics(self) -> dict[str, float] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            return None
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no daemon log)"

    # --- the call log ----------------------------------------------------------------
    def calls(self) -> list[dict]:
        return json.loads(self.ctrack("calls", "--json").stdout)

    def call_rows(self, where: str = "1", params: tuple = ()) -> list[dict]:
        return dicts(self.db_path, f"SELECT * FROM calls WHERE {where} ORDER BY id", params)

    def wait_calls(self, caller: str, count: int = 1, timeout: float = 20) -> list[dict]:
        """The logged calls of one caller (E.164), once there are `count` of them."""

        def enough():
            return len(self.call_rows("caller_number = ?", (caller,))) >= count

        try:
            wait_until(enough, timeout=timeout, interval=0.2)
        except TimeoutError:
            raise AssertionError(f"{count} call(s) from {caller} not logged; daemon log:\n{self.log_tail()}") from None
        return self.calls_of(caller)

    def calls_of(self, caller: str) -> list[dict]:
        """`ctrack calls --json` objects of one caller, newest first."""
        return [c for c in self.calls() if c["caller_number"] == caller]


def install_site(
    pbx: TestPBX,
    root: Path,
    extra_config: str = "",
    agi: str = "fastagi",
    new_database: Callable[[Path], str | Path] | None = None,
) -> Site:
    """new_database: the `suite_database` fixture (tests/conftest.py), so that the site runs on
    the backend CTRACK_TEST_DB names; without it, on root/ctrack.db."""
    site = Site(pbx, root, free_port(), extra_config, new_database(root) if new_database else None)
    site.ctrack("init")
    site.ctrack("source", "add", "Google Ads", "--channel", "paid_search")
    site.ctrack("source", "add", "Radio", "--channel", "radio")
    site.ctrack("source", "add", "Billboard", "--channel", "billboard")
    site.ctrack("number", "add", "+15035550101", "--source", "Google Ads", "--record")
    site.ctrack("number", "add", "+15035550102", "--source", "Radio")
    site.ctrack("number", "add", "+15035550103", "--source", "Billboard", "--forward", "Local/s@business-noanswer")
    site.ctrack("number", "add", "+15035550104", "--source", "Billboard", "--forward", "Local/s@business-busy")
    site.ctrack("number", "add", "+15035550105", "--source", "Radio", "--whisper", "beep")
    site.ctrack(
        "number", "add", "+15035550106", "--source", "Google Ads", "--record", "--forward", "Local/s@business-noanswer"
    )
    pbx.load_dialplan(site.ctrack("dialplan", "render", "--agi", agi).stdout)
    pbx.load_manager(site.ctrack("dialplan", "render", "--manager").stdout)
    return site


@pytest.fixture(scope="module")
def site(pbx, tmp_path_factory, suite_database):
    """ctrack installed on the test PBX, daemon running; stopped (SIGTERM) after the module."""
    site = install_site(pbx, tmp_path_factory.mktemp("ctrack"), new_database=suite_database)
    site.start()
    yield site
    code = site.stop()
    assert code == 0, f"ctrack serve exited {code} on SIGTERM:\n{site.log_tail()}"
    pbx.load_dialplan(None)
    pbx.load_manager(None)
