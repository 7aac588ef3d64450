"""The classic AGI route (agi_scripts/ctrack-route.agi) on the real test PBX, with no daemon.

The dialplan is `ctrack dialplan render --agi script`: Asterisk starts the script for every
call, inside its chroot, with the chroot's python3 and python3-phonenumbers and the pure-
Python ctrack, pyst2 ('asterisk') and six copied into the instance. The site's database
lives under the chroot so the script can read it; the script gets a ctrack.ini with the
paths as the PBX sees them. No `ctrack serve` runs: nothing listens for FastAGI. The route's
answer shows in the CDR (Master.csv: the dialplan copies CTRACK_SOURCE to the userfield)
and in what the dialplan did (the forward it dialled, the recording); `ctrack reconcile`
then logs the calls from the CDR as an admin without the daemon would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import time
import wave
from pathlib import Path

import pytest

from ctrack.core.variables import ROUTE_VARIABLES
from tests.integration.conftest import install_site
from tests.pbx.harness import wait_until

pytestmark = pytest.mark.sqlite_only("the script runs with the PBX chroot's python3, which has sqlite3 and no psycopg")

SCRIPT = Path(__file__).resolve().parents[2] / "agi_scripts" / "ctrack-route.agi"
GOOGLE, RADIO, NOANSWER = "15035550101", "15035550102", "15035550103"  # recorded / plain / never answers
# Callers 1503555 07xx are this module's: every site reconciles the instance's one Master.csv.


@pytest.fixture(scope="module")
def classic(pbx):
    """ctrack installed with the classic AGI route on the PBX; no daemon."""
    root = pbx.state_dir / f"ctrack-classic-{os.getpid()}"  # inside the chroot
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    site = install_site(pbx, root, agi="script")
    lib = pbx.install_python("ctrack", "asterisk", "six")
    shutil.copy2(SCRIPT, pbx.python_path / SCRIPT.name)  # the entry point admins install
    # the site's config with every path as the PBX sees it (the database among them)
    ini = root / "ctrack-pbx.ini"
    ini.write_text(site.config_path.read_text().replace(str(pbx.root), ""))
    pbx.install_agi(
        SCRIPT.name,
        f"""#!/bin/sh
# ctrack's classic AGI route for this test instance (tests/integration/test_classic_agi.py)
PYTHONPATH={lib}
CTRACK_CONFIG={pbx.pbx_path(ini)}
export PYTHONPATH CTRACK_CONFIG
exec {lib}/{SCRIPT.name} "$@"
""",
    )
    yield site
    pbx.load_dialplan(None)
    pbx.load_manager(None)
    shutil.rmtree(root, ignore_errors=True)


def inbound_cdr(pbx, caller: str, timeout: float = 10) -> dict:
    """The inbound channel's Master.csv row of the call from `caller` (digits as dialled)."""

    def find():
        rows = [r for r in pbx.cdr_rows() if r["src"] == caller and r["channel"].startswith("PJSIP/trunk")]
        return rows[-1] if rows else None

    try:
        return wait_until(find, timeout=timeout, message=f"a CDR row for {caller}")
    except TimeoutError:
        raise AssertionError(f"no CDR for {caller}; Asterisk log:\n{pbx.log_tail()}") from None


def logged(site, caller: str) -> dict:
    """Reconcile the CDR into the call log (no daemon) and return the call from `caller`."""
    site.ctrack("reconcile")
    [call] = site.calls_of("+" + caller)
    return call


def wav_seconds(path: str) -> float:
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def test_static_number_is_attributed_and_forwarded(classic):
    pbx = classic.pbx
    result = pbx.call(RADIO, caller="15035550701", name="Ray Radio", talk=2)
    assert result.answered, result
    row = inbound_cdr(pbx, "15035550701")
    assert row["userfield"] == "Radio", (row, pbx.log_tail())
    assert row["lastapp"] == "Dial" and row["disposition"] == "ANSWERED"
    call = logged(classic, "15035550701")
    assert (call["source"], call["channel"], call["disposition"]) == ("Radio", "radio", "answered")
    assert call["tracking_number"] == "+" + RADIO and call["caller_name"] == "Ray Radio"
    assert call["recording"] is None
    # The number's own forward target (a line that never answers): the default line would answer.
    result = pbx.call(NOANSWER, caller="15035550702", talk=8)
    assert result.status == 480, result  # NOANSWER -> Hangup(19) -> 480
    row = inbound_cdr(pbx, "15035550702")
    assert row["userfield"] == "Billboard" and row["disposition"] == "NO ANSWER"
    assert logged(classic, "15035550702")["disposition"] == "missed"


def test_recorded_number_gets_a_recording(classic):
    pbx = classic.pbx
    result = pbx.call(GOOGLE, caller="15035550703", name="Rita Record", talk=5)
    assert result.answered, result
    assert inbound_cdr(pbx, "15035550703")["userfield"] == "Google Ads"
    call = logged(classic, "15035550703")
    assert (call["source"], call["disposition"]) == ("Google Ads", "answered")
    assert call["recording"], f"no recording in {pbx.recordings_dir}: {sorted(os.listdir(pbx.recordings_dir))}"
    assert call["recording"].startswith(str(pbx.recordings_dir))
    assert call["uniqueid"] in call["recording"]  # the route's file name: ...-<call id>.wav
    # the caller talked 5 s; a consent prompt (if configured) plays before MixMonitor starts
    assert 2 <= wav_seconds(call["recording"]) <= call["talk_seconds"] + 1, call


def test_blocked_caller_gets_busy_and_is_logged_as_spam(classic):
    """The classic script reads the block list from the database on every call (callers 083x
    are tests/integration/test_spam_alerts.py's range)."""
    pbx = classic.pbx
    classic.ctrack("block", "add", "+15035550836")
    result = pbx.call(GOOGLE, caller="15035550836", talk=5)
    assert result.status == 486, result
    assert inbound_cdr(pbx, "15035550836")["userfield"] == "Google Ads"
    call = logged(classic, "15035550836")
    [row] = classic.call_rows("id = ?", (call["id"],))
    assert (row["lead_status"], row["spam_reason"], row["recording"]) == ("spam", "blocked", None)
    unblocked = pbx.call(RADIO, caller="15035550837", talk=2)
    assert unblocked.answered, unblocked


NAMES = [
    'Bob "The Builder" <666>',  # quotes (Asterisk keeps SIP's \" escapes) and a fake <number>
    "O'Neil; ${EXTEN}, |&(x) %0A\\n",  # dialplan and shell specials, a spelled-out newline
    "Zoë\u2028Line\u0085Next\tTab",  # Unicode line/paragraph separators, NEL, a tab
    "M\udcfcller \udce9t\udce9",  # Latin-1 bytes (not UTF-8) from an old trunk; Asterisk
]  # itself turns them into U+FFFD before the AGI sees them


@pytest.mark.parametrize("n, name", list(enumerate(NAMES)), ids=["quotes", "specials", "separators", "latin1"])
def test_odd_caller_names_break_nothing(classic, n, name):
    pbx = classic.pbx
    caller = f"150355507{10 + n}"
    result = pbx.call(RADIO, caller=caller, name=name, talk=1)
    assert result.answered, result
    row = inbound_cdr(pbx, caller)
    assert row["userfield"] == "Radio", (row, pbx.log_tail())  # the script routed it
    call = logged(classic, caller)
    assert call["caller_number"] == "+" + caller and call["source"] == "Radio"
    if n < 3:
        assert call["caller_name"] and ("The Builder", "O'Neil; ${EXTEN}", "Zoë")[n] in call["caller_name"], call


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_without_a_usable_database_the_call_rings_the_default_line(classic, damage):
    pbx, db = classic.pbx, classic.db_path
    caller = "15035550720" if damage == "missing" else "15035550721"
    moved = []
    for suffix in ("", "-wal", "-shm"):
        path = db.with_name(db.name + suffix)
        if path.exists():
            path.rename(path.with_name(path.name + ".away"))
            moved.append(path)
    try:
        if damage == "garbage":
            db.write_bytes(b"not a database\n" * 512)
        t0 = time.monotonic()
        # routed, this number would ring a line that never answers; unrouted, the business line answers
        result = pbx.call(NOANSWER, caller=caller, talk=2)
        assert result.answered, result
        assert time.monotonic() - t0 < 10
        row = inbound_cdr(pbx, caller)
        assert row["userfield"] == "" and row["disposition"] == "ANSWERED"
    finally:
        for suffix in ("", "-wal", "-shm"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        for path in moved:
            path.with_name(path.name + ".away").rename(path)
    call = logged(classic, caller)  # the CDR backstop still logs it, from the DID
    assert call["disposition"] == "answered" and call["recording"] is None


def _agi_seconds(events: list[dict], uniqueid: str) -> float:
    """How long the AGI application held the inbound channel: its Newexten to the next one."""
    steps = [e for e in events if e.get("Event") == "Newexten" and e.get("Uniqueid") == uniqueid]
    for i, e in enumerate(steps[:-1]):
        if e.get("Application") == "AGI":
            return float(steps[i + 1]["Timestamp"]) - float(e["Timestamp"])
    raise AssertionError(f"no AGI step for {uniqueid}")


async def test_time_per_call_inside_the_chroot(classic, ami, capsys):
    pbx = classic.pbx
    # 1. During real calls, from Asterisk's own event timestamps (fork, exec, run, replies).
    mark = len(ami.events)
    callers = [f"1503555073{n}" for n in range(5)]
    for caller in callers:
        assert (await asyncio.to_thread(pbx.call, RADIO, caller, "Tim Timing", 1)).answered
    events = ami.events[mark:]
    in_calls = []
    for caller in callers:
        new = next(e for e in events if e.get("Event") == "Newchannel" and e.get("CallerIDNum") == caller)
        in_calls.append(_agi_seconds(events, new["Uniqueid"]))
    # 2. The script alone, run as Asterisk runs it (the agi-bin wrapper, env on stdin), 20 times.
    env = (
        f"agi_request: ctrack-route.agi\nagi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1800000000.1\n"
        f"agi_callerid: 15035550123\nagi_calleridname: Tim\nagi_context: ctrack-call\n"
        f"agi_extension: {RADIO}\nagi_arg_1: {RADIO}\n\n"
    ).encode() + b"200 result=1\n" * len(ROUTE_VARIABLES)
    script = pbx.pbx_path(pbx.agi_dir / SCRIPT.name)
    code = (
        "import subprocess, sys, time\n"
        "data = sys.stdin.buffer.read()\n"
        "times = []\n"
        "for _ in range(20):\n"
        "    t = time.perf_counter()\n"
        f"    out = subprocess.run([{script!r}], input=data, capture_output=True).stdout\n"
        "    times.append(time.perf_counter() - t)\n"
        "    assert out.endswith(b'SET VARIABLE CTRACK_ROUTE_STATUS \"ok\"\\n'), out\n"
        "print(' '.join(f'{x:.4f}' for x in times))\n"
    )
    proc = await asyncio.to_thread(pbx.run_in_pbx, "python3", "-c", code, input=env, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    alone = [float(x) for x in proc.stdout.split()]
    with capsys.disabled():
        print(
            f"\nclassic AGI route inside the chroot: during {len(in_calls)} real calls "
            f"(AMI Newexten timestamps) median {statistics.median(in_calls) * 1000:.0f} ms, "
            f"max {max(in_calls) * 1000:.0f} ms; alone ({len(alone)} runs of the agi-bin wrapper) "
            f"median {statistics.median(alone) * 1000:.0f} ms, max {max(alone) * 1000:.0f} ms"
        )
    assert statistics.median(in_calls) < 1.0 and statistics.median(alone) < 1.0
