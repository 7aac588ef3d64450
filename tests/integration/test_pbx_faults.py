"""PBX faults on the real test PBX: Asterisk killed mid-call, CDR-recovered names, event
times that arrive late, doctor on a running install."""

from __future__ import annotations

import time
from datetime import datetime

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
