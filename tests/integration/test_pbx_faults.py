"""PBX faults on the real test PBX: Asterisk killed mid-call, CDR-recovered names, event
times that arrive late, doctor on a running install."""

from __future__ import annotations

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
