"""ctrack as a user gets it: the wheel, installed (not editable) into a clean virtualenv,
every command's happy path run from there. The editable install hides packaging defects
(a template or data file read from the source tree); this test does not."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ctrack.core.variables import ROUTE_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
OK = b"200 result=1\n"


def _run(*cmd: str | Path, cwd: Path | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/root")}
    if cwd is not None:
        env["CTRACK_CONFIG"] = str(cwd / "ctrack.ini")
    return subprocess.run([str(c) for c in cmd], cwd=cwd or "/", env=env, input=stdin, capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel built from this checkout and its dependencies."""
    top = tmp_path_factory.mktemp("wheel")
    built = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", top / "dist", ROOT)
    assert built.returncode == 0, built.stderr.decode()
    (wheel,) = (top / "dist").glob("ctrack-*.whl")
    env = top / "venv"
    made = _run(sys.executable, "-m", "venv", env)
    assert made.returncode == 0, made.stderr.decode()
    installed = _run(env / "bin" / "python", "-m", "pip", "install", "-q", wheel)
    assert installed.returncode == 0, installed.stderr.decode()
    return env


@pytest.fixture(scope="session")
def site(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder with ctrack.ini, initialised, one source and one tracking number."""
    site = tmp_path_factory.mktemp("site")
    (site / "ctrack.ini").write_text(
        f"[ctrack]\ndatabase = {site / 'ctrack.db'}\n[business]\ndefault_forward = Local/s@business-line\n"
        "[ami]\nsecret = s3cret-for-the-test\n"
    )
    for args in (
        ("init",),
        ("source", "add", "Google Ads", "--channel", "paid_search"),
        ("number", "add", "+15035550101", "--source", "Google Ads", "--record"),
    ):
        ctrack(venv, site, *args)
    return site


def ctrack(venv: Path, site: Path, *args: str) -> str:
    proc = _run(venv / "bin" / "ctrack", *args, cwd=site)
    assert proc.returncode == 0, f"ctrack {' '.join(args)}: {proc.stderr.decode()}"
    return proc.stdout.decode()


def test_the_installed_package_is_not_the_checkout(venv: Path) -> None:
    proc = _run(venv / "bin" / "python", "-c", "import ctrack; print(ctrack.__file__)")
    assert proc.stdout.decode().startswith(str(venv)), proc.stdout


def test_number_list(venv: Path, site: Path) -> None:
    assert "+15035550101" in ctrack(venv, site, "number", "list")


def test_asterisk_dialplan(venv: Path, site: Path) -> None:
    out = ctrack(venv, site, "dialplan", "render")
    assert "[ctrack-call]" in out and "AGI(agi://" in out


def test_freeswitch_dialplan(venv: Path, site: Path) -> None:
    fs = site / "freeswitch"
    fs.mkdir()
    (fs / "ctrack.ini").write_text(
        f"[ctrack]\ndatabase = {site / 'ctrack.db'}\n[pbx]\ntype = freeswitch\n"
        "[business]\ndefault_forward = user/1000\ndial_template = sofia/gateway/trunk/{number}\n"
    )
    out = ctrack(venv, fs, "dialplan", "render", "--pbx", "freeswitch")
    assert "<extension" in out and "5035550101" in out


def test_manager_user(venv: Path, site: Path) -> None:
    out = ctrack(venv, site, "dialplan", "render", "--manager")
    assert "[ctrack]" in out and "secret = s3cret-for-the-test" in out


def test_report_sources(venv: Path, site: Path) -> None:
    assert ctrack(venv, site, "report", "sources").startswith("no calls or spend ")


def test_export_google_ads(venv: Path, site: Path) -> None:
    out = ctrack(venv, site, "export", "google-ads", "--conversion-name", "Phone call")
    assert out.splitlines()[0].startswith("Parameters:TimeZone=")


def test_serve_help(venv: Path, site: Path) -> None:
    assert "Usage: ctrack serve" in ctrack(venv, site, "serve", "--help")


def test_classic_agi_script_from_the_data_files(venv: Path, site: Path) -> None:
    script = venv / "share" / "ctrack" / "agi_scripts" / "ctrack-route.agi"
    did = b"15035550101"
    env_block = (
        b"agi_request: ctrack-route.agi\nagi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1795798665.12\n"
        b"agi_callerid: 15035550123\nagi_calleridname: Ann Caller\nagi_dnid: " + did + b"\n"
        b"agi_context: ctrack-call\nagi_extension: " + did + b"\nagi_arg_1: " + did + b"\n\n"
    )
    proc = _run(venv / "bin" / "python", script, cwd=site, stdin=env_block + OK * len(ROUTE_VARIABLES))
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode()
    got = dict(re.findall(r'SET VARIABLE (\w+) "(.*)"', proc.stdout.decode()))
    assert got["CTRACK_ROUTE_STATUS"] == "ok" and got["CTRACK_SOURCE"] == "Google Ads" and got["CTRACK_RECORD"] == "1"
