"""Ring and talk seconds stay right whether Asterisk stamps its AMI events or not
(manager.conf `timestampevents`), even when the daemon hears of a hangup 10 s late."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Site, install_site
from tests.pbx.harness import TestPBX, wait_until

RADIO = "15035550102"


@pytest.fixture(scope="module")
def plain_pbx() -> Iterator[TestPBX]:
    """A second Asterisk with Asterisk's own default, timestampevents = no."""
    pbx = TestPBX(instance=f"pytest-{os.getpid()}-plain", timestampevents=False)
    pbx.start()
    yield pbx
    pbx.stop()


@pytest.fixture(scope="module", params=["timestampevents=yes", "timestampevents=no"])
def timed_site(request, pbx, plain_pbx, tmp_path_factory, suite_database) -> Iterator[tuple[Site, bool]]:
    stamped = request.param.endswith("yes")
    chosen = pbx if stamped else plain_pbx
    site = install_site(chosen, tmp_path_factory.mktemp("times"), new_database=suite_database)
    site.start()
    yield site, stamped
    assert site.stop() == 0
    chosen.load_dialplan(None)
    chosen.load_manager(None)


def up_calls(pbx: TestPBX) -> int:
    return sum("!Up!" in line for line in pbx.cli("core show channels concise").splitlines())


def test_durations_are_asterisks_own_when_the_daemon_hears_late(timed_site):
    site, stamped = timed_site
    caller = "15035550741" if stamped else "15035550742"
    handle = site.pbx.call_async(RADIO, caller=caller, name="Late Listener", talk=6)
    wait_until(lambda: up_calls(site.pbx) >= 2, timeout=10, message="the call is up")
    assert site.process is not None
    os.kill(site.process.pid, signal.SIGSTOP)  # the daemon freezes across the hangup
    try:
        result = handle.result()
        time.sleep(10)
    finally:
        os.kill(site.process.pid, signal.SIGCONT)
    assert result.answered
    [call] = site.wait_calls(f"+{caller}")
    sip_talk = result.sip_talk_seconds()
    assert sip_talk is not None
    assert call["disposition"] == "answered"
    assert abs(call["talk_seconds"] - sip_talk) <= 1.0, (call, sip_talk)
    assert call["ring_seconds"] <= 2, call
    doctor = site.ctrack("doctor", check=False).stdout
    if stamped:
        assert "AMI events carry Asterisk's timestamps (timestampevents = yes)" in doctor, doctor
    else:
        assert "AMI events carry no timestamps (manager.conf timestampevents = no)" in doctor, doctor
