"""PBX faults on the real test PBX: Asterisk killed mid-call, CDR-recovered names, event
times that arrive late, doctor on a running install."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from datetime import datetime

from tests.integration.conftest import CTRACK
from tests.pbx.harness import wait_until

RADIO = "15035550102"


def ts(iso: str | None) -> float:
    return datetime.fromisoformat(iso).timestamp()


def up_calls(pbx) -> list[str]:
    return [line for line in pbx.cli("core show channels concise").splitlines() if "!Up!" in line]


def test_asterisk_killed_mid_call_is_logged_once_as_ended_by_the_restart(site):
    handle = site.pbx.call_async(RADIO, caller="15035550601", name="Kim Killed", talk=12)
    try:
        wait_until(lambda: len(up_calls(site.pbx)) >= 2, timeout=10, message="the call is up")
        time.sleep(3)
        before = time.time()
        site.pbx.kill()  # SIGKILL: no Hangup, no CDR row
        after = time.time()
        assert site.call_rows("caller_number = ?", ("+15035550601",)) == []
        site.pbx.restart()
        site.wait_ami_connected(timeout=30)
        [call] = site.wait_calls("+15035550601")
    finally:
        handle.result()  # SIPp's BYE meets the new Asterisk, which knows no such call
    assert (call["source"], call["tracking_number"], call["caller_name"]) == ("Radio", "+15035550102", "Kim Killed")
    assert call["disposition"] == "answered" and call["ended_by"] == "pbx_restart"
    assert before - 1 <= ts(call["ended_at"]) <= after, call  # (shown to the second)
    assert 2 <= call["talk_seconds"] <= 5, call
    # the new process's calls are logged as usual
    assert site.pbx.call(RADIO, caller="15035550602", talk=1).answered
    [after] = site.wait_calls("+15035550602")
    assert after["ended_by"] is None and after["disposition"] == "answered"
    assert not any(r["src"] == "15035550601" for r in site.pbx.cdr_rows())  # the killed call has none
    assert ", 0 added" in site.ctrack("reconcile").stdout
    [row] = site.call_rows("caller_number = ?", ("+15035550601",))
    assert (row["origin"], row["hangup_cause"]) == ("ami", None)


NAMES = [
    'Bob "The Builder" O\\Brien',
    "Zoë O'Neil; a,b",
    "Alexander Maximilian Bartholomew Fitzgerald-Worthington the Third of Upper Snodsbury",
    "Александр Сергеевич Пушкин-Гончаров Великолепный",
    "🍕🍕 Pizza 🎉 Party 🎉 Palace 🍕🍕 Downtown 🍕 Delivery 🚚",
]


def test_calls_recovered_from_master_csv_get_the_live_caller_name(site):
    for n, name in enumerate(NAMES):
        assert site.pbx.call(RADIO, caller=f"1503555071{n}", name=name, talk=1).answered
    live = [site.wait_calls(f"+1503555071{n}")[0]["caller_name"] for n in range(len(NAMES))]
    assert live[:2] == NAMES[:2]
    assert all(full.startswith(name) for full, name in zip(NAMES, live))  # Asterisk keeps 80 bytes of a name
    assert site.stop() == 0
    try:
        for n, name in enumerate(NAMES):
            assert site.pbx.call(RADIO, caller=f"1503555072{n}", name=name, talk=1).answered
        assert f", {len(NAMES)} added" in site.ctrack("reconcile").stdout
    finally:
        site.start()
    recovered = [site.calls_of(f"+1503555072{n}")[0]["caller_name"] for n in range(len(NAMES))]
    assert recovered[:2] == live[:2]  # quotes, backslash, comma, semicolon: as the live path has them
    for name, cut in zip(live[2:], recovered[2:]):  # Asterisk cut clid at 80 bytes: as far as it goes
        assert cut and name.startswith(cut) and len(cut.encode()) >= 40, (name, cut)


def test_doctor_passes_beside_its_running_daemon_and_fails_on_a_foreign_listener(site):
    assert site.pbx.call(RADIO, caller="15035550730", talk=1).answered  # Master.csv exists
    site.wait_calls("+15035550730")
    before = site.metrics()
    out = site.ctrack("doctor", check=False)
    assert out.returncode == 0, out.stdout
    assert f"127.0.0.1:{site.pbx.fastagi_port} is served by the running ctrack daemon" in out.stdout
    assert f"127.0.0.1:{site.http_port} is served by the running ctrack daemon" in out.stdout
    after = site.metrics()
    assert after["ctrack_fastagi_probes_total"] == before["ctrack_fastagi_probes_total"] + 1
    assert after["ctrack_fastagi_failed_total"] == before["ctrack_fastagi_failed_total"]
    with socket.socket() as foreign:  # something else on the HTTP port: it answers, but is not ctrack
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        config = site.root / "foreign.ini"
        config.write_text(
            site.config_path.read_text().replace(f"listen = 127.0.0.1:{site.http_port}", f"listen = 127.0.0.1:{port}")
        )
        out = subprocess.run(
            [*CTRACK, "--config", str(config), "doctor"], capture_output=True, text=True, timeout=60, env=site.env
        )
    assert out.returncode == 1, out.stdout
    assert f"FAIL  127.0.0.1:{port} is taken by another program" in out.stdout


def _kill_ctrack_with_the_call_up(site, caller: str, talk: float):
    """A call to Radio, answered and talking, when the ctrack daemon is SIGKILLed."""
    handle = site.pbx.call_async(RADIO, caller=caller, name="Carl Crashed", talk=talk)
    wait_until(lambda: len(up_calls(site.pbx)) >= 2, timeout=10, message="the call is up")
    answered = time.time()
    time.sleep(3)
    site.stop(signal.SIGKILL)  # no drain, no flush: what ctrack knew is what it had written
    killed = time.time()
    assert site.call_rows("caller_number = ?", (f"+{caller}",)) == []
    return handle, answered, killed


def test_ctrack_and_then_asterisk_killed_mid_call_logs_the_call_once_when_ctrack_returns(site):
    handle, answered, killed = _kill_ctrack_with_the_call_up(site, "15035550800", talk=30)
    try:
        site.pbx.kill()  # Asterisk dies too while ctrack is away: no Hangup, no CDR row
        site.pbx.restart()
        site.start()
        [call] = site.wait_calls("+15035550800")
    finally:
        handle.result()  # SIPp's BYE meets the new Asterisk, which knows no such call
    assert (call["source"], call["tracking_number"], call["caller_name"]) == ("Radio", "+15035550102", "Carl Crashed")
    assert call["disposition"] == "answered" and call["ended_by"] == "ctrack_offline", call
    # the end is the last moment the killed daemon knew the call up
    assert answered - 1 <= ts(call["ended_at"]) <= killed + 1, call
    assert 1 <= call["talk_seconds"] <= 5, call
    assert site.pbx.call(RADIO, caller="15035550803", talk=1).answered  # the new process's calls: as usual
    [after] = site.wait_calls("+15035550803")
    assert after["ended_by"] is None and after["disposition"] == "answered"
    assert not any(r["src"] == "15035550800" for r in site.pbx.cdr_rows())
    assert ", 0 added" in site.ctrack("reconcile").stdout
    [row] = site.call_rows("caller_number = ?", ("+15035550800",))
    assert row["origin"] == "ami"
    assert site.metrics()["ctrack_ami_calls_in_progress"] == 0


def test_a_call_that_ends_while_ctrack_is_killed_is_logged_once_from_the_cdr(site):
    handle, _, _ = _kill_ctrack_with_the_call_up(site, "15035550801", talk=5)
    try:
        assert handle.result().answered  # the call ends normally: Asterisk writes its CDR row
    finally:
        site.start()
    [call] = site.wait_calls("+15035550801")
    time.sleep(3)  # past the restart sweep: Asterisk no longer lists the call ctrack had open
    [row] = site.call_rows("caller_number = ?", ("+15035550801",))
    assert (row["origin"], row["ended_by"]) == ("cdr", None), row  # the CDR's truth, not replaced
    assert 4 <= call["talk_seconds"] <= 7, call
    assert site.metrics()["ctrack_ami_calls_in_progress"] == 0


def test_a_call_up_across_a_ctrack_restart_gets_its_real_end(site):
    handle, answered, _ = _kill_ctrack_with_the_call_up(site, "15035550802", talk=12)
    site.start()  # back while the call is still up: Asterisk still lists it
    result = handle.result()
    ended = time.time()
    [call] = site.wait_calls("+15035550802")
    assert result.answered
    [row] = site.call_rows("caller_number = ?", ("+15035550802",))
    assert (row["origin"], row["ended_by"]) == ("ami", None), row  # its real Hangup, heard live
    assert (call["source"], call["caller_name"], call["disposition"]) == ("Radio", "Carl Crashed", "answered")
    assert abs(ts(call["ended_at"]) - ended) <= 2, call
    assert 11 <= call["talk_seconds"] <= 14, call
    assert abs(ts(call["answered_at"]) - answered) <= 2, call
