"""The dashboard in real headless Chromium: login, the overview's figures and charts, the
call list's filters, escaping and recording playback. Screenshots go to a temporary folder,
or to docs/screenshots/ with CTRACK_SCREENSHOTS=1 (to refresh the documentation's pictures)."""

from __future__ import annotations

import io
import math
import os
import random
import struct
import tempfile
import time
import wave
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from ctrack import config as config_mod
from ctrack.catalog import store as catalog
from ctrack.core.model import CallRecord, Disposition
from ctrack.dashboard import users
from ctrack.dashboard.auth import hash_password
from ctrack.services import Services
from ctrack.web.app import create_app
from tests.support.report_data import asave_calls, new_db

pytestmark = pytest.mark.browser

TZ = "America/New_York"
SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("CTRACK_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="ctrack-screenshots-"))
)
PASSWORD = "a long dashboard password"
HOSTILE = '<script>alert("owned")</script> =HYPERLINK("x")'
SOURCES = [
    ("Google Ads", "paid_search", 34),
    ("Google Business Profile", "gbp", 22),
    ("Yelp", "referral", 9),
    ("Radio WXYZ", "radio", 12),
    ("Billboard I-95", "billboard", 6),
    ("google / organic", "organic", 11),
    (None, None, 6),
]
CATALOG = [(name, channel) for name, channel, _ in SOURCES if name and name != "google / organic"]
POOL_NUMBERS = [f"+1503555{n:04d}" for n in range(200, 208)]


def tone_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A short 440 Hz tone: a real recording the browser can decode."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                for i in range(int(seconds * rate))
            )
        )
    return out.getvalue()


def generate(now: float) -> list[CallRecord]:
    """Thirty local days of plausible calls ending now: business-hours peaks, quieter
    weekends, repeat callers, a few recordings and one hostile caller name."""
    rnd = random.Random(20240501)
    zone = ZoneInfo(TZ)
    today = datetime.fromtimestamp(now, zone).date()
    callers = [f"+1212555{n:04d}" for n in range(350)]
    hours = [0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 1, 3, 7, 9, 10, 8, 6, 7, 9, 8, 7, 5, 3, 2, 1.5, 1, 0.6, 0.3]
    records = []
    for back in range(29, -1, -1):
        day = today - timedelta(days=back)
        count = rnd.randint(18, 30) if day.weekday() < 5 else rnd.randint(5, 10)
        for _ in range(count):
            hour = rnd.choices(range(24), hours)[0]
            local = datetime(day.year, day.month, day.day, hour, rnd.randrange(60), rnd.randrange(60), tzinfo=zone)
            start = local.timestamp()
            if start > now - 600:
                continue
            name, channel, _ = rnd.choices(SOURCES, [w for *_, w in SOURCES])[0]
            outcome = rnd.choices(["answered", "missed", "voicemail", "abandoned", "busy"], [72, 12, 4, 10, 2])[0]
            answered = start + rnd.randint(4, 20) if outcome == "answered" else None
            talk = rnd.choice([rnd.randint(8, 59), rnd.randint(60, 900)]) if answered else 0
            uid = f"b{len(records)}"
            records.append(
                CallRecord(
                    uid,
                    tracking_number="+15035550150" if name else None,
                    caller_number=rnd.choice(callers),
                    caller_name=rnd.choice([None, None, "WIRELESS CALLER", "SMITH JOHN", "ACME PLUMBING"]),
                    source=name,
                    channel=channel,
                    started_at=start,
                    answered_at=answered,
                    ended_at=(answered + talk) if answered else start + rnd.randint(5, 30),
                    disposition=Disposition(outcome),
                    recording=f"rec-{uid}.wav" if answered and rnd.random() < 0.3 else None,
                    extra={"gclid": f"Cj0KCQjw{uid}xyz"} if name == "Google Ads" else {},
                )
            )
    last = max(records, key=lambda r: r.started_at)
    last.caller_name, last.disposition, last.answered_at = HOSTILE, Disposition.ANSWERED, last.started_at + 5
    last.ended_at, last.recording = last.started_at + 125, f"rec-{last.uniqueid}.wav"
    return records


def expected(records: list[CallRecord]) -> dict[str, str]:
    """The overview's tiles, worked out from the generated records (not from the store)."""
    seen: set[str] = set()
    first = 0
    for r in sorted(records, key=lambda r: r.started_at):
        if r.caller_number not in seen:
            first += 1
            seen.add(r.caller_number)
    answered = sum(r.disposition == "answered" for r in records)
    missed = sum(r.disposition in ("missed", "busy", "failed", "voicemail") for r in records)
    leads = sum(r.answered_at is not None and r.talk_seconds >= 60 for r in records)  # the default rule
    return {
        "calls": f"{len(records):,}",
        "answered": f"{answered:,}",
        "missed": f"{missed:,}",
        "first": f"{first:,}",
        "leads": f"{leads:,}",
    }


@pytest.fixture
async def dashboard(tmp_path, ctrack_db):
    """The daemon's app with the dashboard on a loopback port; yields (base URL, records, spend)."""
    now = time.time()
    path = ctrack_db
    conn = new_db(path)
    for name, channel in CATALOG:
        catalog.add_source(conn, name, channel)
    catalog.add_pool(conn, "website", "example.test", 1800, "+15035550100")
    for number in POOL_NUMBERS:
        catalog.add_number(conn, catalog.NumberSpec(number, None, "website"))
    records = generate(now)
    await asave_calls(path, records)
    rec = tmp_path / "recordings"
    rec.mkdir()
    audio = tone_wav()
    for r in records:
        if r.recording:
            (rec / r.recording).write_bytes(audio)
    today = datetime.fromtimestamp(now, ZoneInfo(TZ)).date()
    spend = 0.0
    for back in range(30):
        day = (today - timedelta(days=back)).isoformat()
        for source, amount in (("Google Ads", 40 + back % 7 * 5), ("Yelp", 12.5)):
            conn.execute(
                "INSERT INTO spend(day, source_id, amount) VALUES (?, (SELECT id FROM sources WHERE name = ?), ?)",
                (day, source, amount),
            )
            spend += amount
    # Visitors over the last 40 minutes with 30-minute leases: those who came in the last 30
    # (i = 3…8) still hold theirs, except i = 3 and 6, who got the fallback: 4 numbers leased now.
    for i in range(9):
        started = now - 2400 + i * 250
        kind, number = ("fallback", None) if i in (3, 6) else ("lease", POOL_NUMBERS[i % 8])
        conn.execute(
            "INSERT INTO visits(id, site, first_seen, last_seen) VALUES (?, 'example.test', ?, ?)",
            (f"visit-{i:02d}-abcdefghijkl", started, started + 60),
        )
        conn.execute(
            "INSERT INTO leases(visit_id, pool_id, number, kind, started_at, expires_at) VALUES (?, 1, ?, ?, ?, ?)",
            (f"visit-{i:02d}-abcdefghijkl", number, kind, started, started + 1800),
        )
    users.set_password(conn, "owner", hash_password(PASSWORD))
    conn.close()
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[ctrack]\ntimezone = {TZ}\n[recording]\ndirectory = {rec}\n")
    services = Services(config_mod.load(ini), path)
    await services.writer.start()
    runner = web.AppRunner(create_app(services), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", records, spend
    finally:
        await runner.cleanup()
        await services.writer.close()


async def open_page(browser, base: str):
    """A page that records every request and console error, and fails on any dialog."""
    page = await browser.new_page(viewport={"width": 1366, "height": 900})
    page.seen_requests, page.errors = [], []
    page.on("request", lambda req: page.seen_requests.append(req.url))
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("dialog", lambda dialog: page.errors.append(f"dialog opened: {dialog.message}"))
    return page


async def log_in(page, base: str) -> None:
    await page.goto(f"{base}/dashboard/")
    assert page.url.startswith(f"{base}/dashboard/login")
    await page.fill("input[name=user]", "owner")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/dashboard/")


async def test_login_and_overview_figures_and_charts(browser, dashboard):
    base, records, spend = dashboard
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = await open_page(browser, base)
    await page.goto(f"{base}/dashboard/")
    await page.fill("input[name=user]", "owner")
    await page.fill("input[name=password]", "not the password")
    await page.click("button[type=submit]")
    assert await page.locator(".error").text_content() == "Wrong user name or password."
    await page.screenshot(path=SHOTS / "dashboard-login.png")
    assert page.errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    page.errors.clear()
    await page.fill("input[name=user]", "owner")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/dashboard/")

    tiles = {
        key: await page.locator(f"#kpi-{key}").text_content()
        for key in ("calls", "answered", "missed", "first", "leads", "spend", "cpl")
    }
    want = expected(records)
    leads = int(want["leads"].replace(",", ""))
    assert tiles == {**want, "spend": f"{spend:,.2f}", "cpl": f"{spend / leads:,.2f}"}
    # Charts: bars per source, two full heatmaps, the trend with a point per day and series.
    for selector in ("#sources svg", "#heatmap svg >> nth=0", "#heatmap svg >> nth=1", "#trend svg"):
        box = await page.locator(selector).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, selector
    assert await page.locator("#heatmap svg >> nth=0").locator("rect").count() == 168
    assert await page.locator("#trend svg circle").count() == 30 * 3
    table_calls = await page.locator("#sources tbody tr td:nth-child(3)").all_text_contents()
    assert sum(int(c.replace(",", "")) for c in table_calls) == len(records)
    pool = await page.locator("#pools tbody tr td").all_text_contents()
    assert pool[:4] == ["website", "example.test", "8", "4"]
    await page.screenshot(path=SHOTS / "dashboard-overview.png", full_page=True)
    await page.locator("#heatmap").screenshot(path=SHOTS / "dashboard-heatmap.png")
    assert all(url.startswith(base) for url in page.seen_requests), page.seen_requests
    assert page.errors == []


async def test_call_list_filters_escaping_and_playback(browser, dashboard):
    base, records, _ = dashboard
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = await open_page(browser, base)
    await log_in(page, base)
    await page.click("nav >> text=Calls")
    await page.wait_for_url(f"{base}/dashboard/calls?")
    newest = page.locator("table.calls tbody tr").first
    assert HOSTILE in await newest.locator(".caller-name").text_content()  # shown as text, not run

    # Playback: the recording streams from the daemon and the browser decodes it (1 s tone).
    duration = await newest.locator("audio").evaluate(
        """a => new Promise((ok, fail) => { a.addEventListener('loadedmetadata', () => ok(a.duration));
                                             a.addEventListener('error', () => fail(a.error && a.error.code));
                                             a.preload = 'metadata'; a.load(); })"""
    )
    assert abs(duration - 1.0) < 0.01
    await page.screenshot(path=SHOTS / "dashboard-calls.png", full_page=False)

    await page.select_option("select[name=disposition]", "missed")
    await page.select_option("select[name=source]", "Google Ads")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**disposition=missed**")
    badges = await page.locator("table.calls .badge").all_text_contents()
    want = [
        r for r in records if r.source == "Google Ads" and r.disposition in ("missed", "busy", "failed", "voicemail")
    ]
    assert len(badges) == min(50, len(want)) and set(badges) <= {"missed", "busy", "failed", "voicemail"}
    assert set(await page.locator("table.calls tbody tr td:nth-child(3)").all_text_contents()) == {"Google Ads"}

    await page.click("header button:has-text('Log out')")
    await page.wait_for_url(f"{base}/dashboard/login")
    await page.goto(f"{base}/dashboard/calls")
    assert page.url.startswith(f"{base}/dashboard/login?next=")
    assert all(url.startswith(base) for url in page.seen_requests)
    assert page.errors == []


async def test_logout_ends_the_session_on_the_server(browser, dashboard):
    """A cookie kept from before logging out (another tab's copy, a stolen one) opens nothing."""
    base, _, _ = dashboard
    page = await open_page(browser, base)
    await log_in(page, base)
    kept = [c for c in await page.context.cookies() if c["name"] == "ctrack_session"]
    assert len(kept) == 1
    await page.click("header button:has-text('Log out')")
    await page.wait_for_url(f"{base}/dashboard/login")
    await page.context.add_cookies(kept)  # the old cookie, put back
    await page.goto(f"{base}/dashboard/calls")
    assert page.url.startswith(f"{base}/dashboard/login?next=")
    response = await page.goto(f"{base}/dashboard/reports/sources.csv")
    assert response is not None and response.status == 401
    page.errors.clear()  # the 401 above is logged as a console error
    await log_in(page, base)  # a new login still works
    assert await page.locator("#kpi-calls").count() == 1
