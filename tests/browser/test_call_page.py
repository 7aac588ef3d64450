"""The dashboard's call page in real headless Chromium: the recording plays from the
transcript line clicked (a local script under the strict CSP), and marking a call as a lead
with a value changes the sources report."""

from __future__ import annotations

from functools import partial

from click.testing import CliRunner

from ctrack.cli import cli
from ctrack.store import db
from ctrack.transcription import store as transcripts
from tests.browser.test_dashboard import SHOTS, dashboard, log_in, open_page, tone_wav  # noqa: F401 (fixture)

SEGMENTS = [
    {"speaker": "business", "start": 0.0, "end": 3.0, "text": "Thanks for calling, how can we help?"},
    {"speaker": "caller", "start": 7.5, "end": 11.0, "text": "My water heater is leaking."},
    {"speaker": "business", "start": 14.0, "end": 18.0, "text": "We can come out this afternoon."},
]


async def test_clicking_a_transcript_line_plays_from_there(browser, dashboard, tmp_path, ctrack_db):  # noqa: F811
    base, records, _ = dashboard
    conn = db.connect(ctrack_db)
    call_id, recording = conn.execute(
        "SELECT id, recording FROM calls WHERE recording IS NOT NULL ORDER BY started_at DESC LIMIT 1"
    ).fetchone()
    (tmp_path / "recordings" / recording).write_bytes(tone_wav(20.0))
    db.write(
        conn,
        partial(
            transcripts.save,
            call_id=call_id,
            result={"segments": SEGMENTS, "language": "en", "duration": 20.0, "seconds_taken": 0.2},
        ),
    )
    page = await open_page(browser, base)
    await log_in(page, base)
    await page.click("nav >> text=Calls")
    await page.click(f"a.call-link[href='/dashboard/calls/{call_id}']")
    await page.wait_for_url(f"{base}/dashboard/calls/{call_id}")
    lines = page.locator("#transcript .segment")
    assert await lines.count() == 3
    assert "caller" in await lines.nth(1).text_content() and "water heater" in await lines.nth(1).text_content()
    await page.wait_for_function("document.getElementById('player').readyState >= 1")
    assert await page.evaluate("document.getElementById('player').currentTime") == 0
    await lines.nth(2).click()
    await page.wait_for_function("document.getElementById('player').currentTime >= 14")
    await lines.nth(1).click()
    await page.wait_for_function("(p => p.currentTime >= 7.5 && p.currentTime < 14)(document.getElementById('player'))")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / "dashboard-call.png", full_page=True)
    # playback is in the privacy audit, by the dashboard user
    played = conn.execute("SELECT action, actor FROM privacy_audit WHERE call_id = ?", (call_id,)).fetchall()
    assert ("play", "owner") in [tuple(r) for r in played]
    assert page.errors == [], page.errors
    assert all(url.startswith(base) for url in page.seen_requests)
    conn.close()


async def test_a_lead_with_a_value_changes_the_sources_report_and_the_google_ads_file(browser, dashboard, ctrack_db):  # noqa: F811
    base, _, _ = dashboard
    conn = db.connect(ctrack_db)
    call_id, source = conn.execute(
        """SELECT id, source FROM calls WHERE lead_status IS NULL AND disposition = 'answered' AND source IS NOT NULL
           ORDER BY started_at DESC LIMIT 1"""
    ).fetchone()
    # the call came from an ad click: once a lead, it goes to Google Ads with its value
    gclid = "Cj0KCQ-browser-lead"
    db.write(conn, lambda c: c.execute("UPDATE calls SET gclid = ? WHERE id = ?", (gclid, call_id)))
    conn.close()

    def google_ads_file() -> list[str]:
        args = ["--db", str(ctrack_db), "export", "google-ads", "--conversion-name", "Booked call"]
        result = CliRunner().invoke(cli, [*args, "--include-exported"])
        assert result.exit_code == 0, result.output
        return [line for line in result.stdout.splitlines() if line.startswith(gclid)]

    assert google_ads_file() == []  # undecided: no conversion
    page = await open_page(browser, base)
    await log_in(page, base)

    async def source_row() -> dict[str, str]:
        await page.goto(f"{base}/dashboard/")
        row = page.locator("#sources tbody tr", has=page.locator(f"td:text-is('{source}')"))
        cells = await row.locator("td").all_text_contents()
        return {
            "leads": cells[7],
            "value": cells[9],
            "kpi_leads": await page.locator("#kpi-leads").text_content(),
            "kpi_value": await page.locator("#kpi-value").text_content(),
        }

    before = await source_row()
    assert before["value"] == "0.00" and before["kpi_value"] == "0.00"
    await page.goto(f"{base}/dashboard/calls/{call_id}")
    assert await page.locator("#lead-status").text_content() == "–"
    await page.select_option("#mark-form select[name=lead_status]", "lead")
    await page.fill("#mark-form input[name=value]", "250")
    await page.fill("#mark-form input[name=tags]", "estimate, water heater")
    await page.fill("#mark-form textarea[name=note]", "booked for Friday")
    await page.click("#mark-form button[type=submit]")
    await page.wait_for_url(f"{base}/dashboard/calls/{call_id}?saved=4")
    assert await page.locator("#mark-message").text_content() == "Saved."
    assert await page.locator("#lead-status").text_content() == "lead"
    assert await page.locator("#tags").text_content() == "estimate, water heater"
    assert (await page.locator("#value").text_content()).startswith("250.00")
    changes = await page.locator("#changes tbody tr").all_text_contents()
    assert any("dashboard:owner" in c and "estimate, water heater" in c for c in changes), changes
    assert any("value" in c and "250.00" in c for c in changes), changes

    after = await source_row()
    assert int(after["leads"].replace(",", "")) == int(before["leads"].replace(",", "")) + 1
    assert int(after["kpi_leads"].replace(",", "")) == int(before["kpi_leads"].replace(",", "")) + 1
    assert (after["value"], after["kpi_value"]) == ("250.00", "250.00")
    [row] = google_ads_file()
    assert row.startswith(f"{gclid},Booked call,") and row.endswith(",250.00,USD"), row

    # a bad value is refused with the reason, and nothing changes
    await page.goto(f"{base}/dashboard/calls/{call_id}")
    await page.fill("#mark-form input[name=value]", "-3")
    await page.click("#mark-form button[type=submit]")
    assert "non-negative amount" in await page.locator("#mark-error").text_content()
    assert (await page.locator("#value").text_content()).startswith("250.00")
    page.errors.clear()  # the 400 is logged as a console error
    assert (await source_row())["value"] == "250.00"
