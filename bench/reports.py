"""Report and dashboard speed on a large synthetic call log.

    .venv/bin/python bench/reports.py [--calls 1000000] [--runs 7] [--db /tmp/ctrack-bench-reports.db]

Builds (once, then reuses) a database of synthetic calls over two years in
America/New_York: 12 sources in 6 channels, business-hours peaks, repeat callers, daily
spend. The calls are inserted as the daemon would leave them, with the roll-up triggers
firing on every row (the insert rate is printed too). Then it times, on the whole two
years (every call in the period) and on the dashboard's default 30 days:
  - reports.sources_report and reports.heatmap (target < 300 ms), reports.daily_report;
  - the dashboard's main page, GET /dashboard/ logged in, served by the app in this
    process on 127.0.0.1 (target < 500 ms server-side; the figure includes the loopback
    round trip, so it is an upper bound);
  - once, the rewrite of the roll-ups that a change of [ctrack] timezone causes.
Prints a table of medians and maxima over --runs runs (after one warm-up run).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

TZ = "America/New_York"
FIRST_DAY = date(2023, 1, 1)
DAYS = 730
SOURCES = [
    ("Google Ads", "paid_search", 30),
    ("Microsoft Ads", "paid_search", 5),
    ("Google Business Profile", "gbp", 18),
    ("Local Services Ads", "lsa", 7),
    ("Yelp", "referral", 6),
    ("Angi", "referral", 3),
    ("Radio WXYZ", "radio", 8),
    ("TV spot", "tv", 4),
    ("Billboard I-95", "billboard", 4),
    ("Mailer", "print", 3),
    ("google / organic", "organic", 9),
    (None, None, 3),
]
PASSWORD = "bench password 123"


def build(path: Path, calls: int) -> None:
    from ctrack.catalog import store as catalog
    from ctrack.dashboard import users
    from ctrack.dashboard.auth import hash_password
    from ctrack.reports.rollups import ensure_timezone
    from ctrack.store import db

    if path.exists():
        path.unlink()
    conn = db.connect(path, create=True)
    db.upgrade(conn)
    ensure_timezone(conn, TZ)
    for name, channel, _ in SOURCES:
        if name and name != "google / organic":
            catalog.add_source(conn, name, channel)
    users.set_password(conn, "bench", hash_password(PASSWORD))
    rnd = random.Random(1)
    zone = ZoneInfo(TZ)
    weights = [w for *_, w in SOURCES]
    hours = [0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 1, 3, 7, 9, 10, 8, 6, 7, 9, 8, 7, 5, 3, 2, 1.5, 1, 0.6, 0.3]
    outcomes, outcome_weights = ["answered", "missed", "voicemail", "abandoned", "busy"], [72, 12, 4, 10, 2]
    per_day = calls / DAYS
    callers = 250_000
    last_seen: dict[int, float] = {}
    rows = []
    t0 = time.perf_counter()
    for d in range(DAYS):
        day = FIRST_DAY + timedelta(days=d)
        n = round(per_day * (1.25 if day.weekday() < 5 else 0.375)) if d < DAYS - 1 else calls - len(rows)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
        for hour in rnd.choices(range(24), hours, k=max(0, n)):
            start = midnight + hour * 3600 + rnd.random() * 3600
            name, channel, _ = rnd.choices(SOURCES, weights)[0]
            outcome = rnd.choices(outcomes, outcome_weights)[0]
            talk = rnd.randint(5, 900) if outcome == "answered" else 0
            caller = rnd.randrange(callers)
            first = int(start - last_seen.get(caller, -1e12) > 90 * 86400)
            last_seen[caller] = start
            rows.append(
                (
                    f"bench-{len(rows)}",
                    f"+1212{caller:07d}",
                    name,
                    channel,
                    start,
                    start + 8 if talk else None,
                    start + 8 + talk,
                    talk,
                    outcome,
                    first,
                    "lead" if outcome == "answered" and talk >= 60 else None,
                )
            )
    rows = rows[:calls]
    gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        """
        INSERT INTO calls(uniqueid, caller_number, source, channel, started_at, answered_at, ended_at,
                          talk_seconds, disposition, first_time, lead_status)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        rows,
    )
    conn.execute("COMMIT")
    insert = time.perf_counter() - t0
    conn.execute("BEGIN")
    for d in range(DAYS):
        day = (FIRST_DAY + timedelta(days=d)).isoformat()
        for name in ("Google Ads", "Microsoft Ads", "Yelp", "Local Services Ads"):
            conn.execute(
                "INSERT INTO spend(day, source_id, amount) VALUES (?, (SELECT id FROM sources WHERE name = ?), ?)",
                (day, name, round(rnd.uniform(20, 200), 2)),
            )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    print(
        f"built {len(rows):,} calls: generated in {gen:.1f} s, inserted with roll-up triggers in {insert:.1f} s "
        f"({len(rows) / insert:,.0f} calls/s)",
        file=sys.stderr,
    )


def timed(fn, runs: int) -> tuple[float, float]:
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), max(samples)


async def time_dashboard(path: Path, queries: list[str], runs: int) -> list[tuple[float, float]]:
    import aiohttp
    from aiohttp import web

    from ctrack import config as config_mod
    from ctrack.services import Services
    from ctrack.web.app import create_app

    config = config_mod.build({"ctrack.timezone": TZ})
    services = Services(config, path)
    await services.writer.start()
    runner = web.AppRunner(create_app(services), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    results = []
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies for an IP
            form = await (await http.get(f"{base}/dashboard/login")).text()
            token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            resp = await http.post(
                f"{base}/dashboard/login",
                allow_redirects=False,
                data={"user": "bench", "password": PASSWORD, "csrf": token},
            )
            assert resp.status == 303, resp.status
            for query in queries:
                samples = []
                for i in range(runs + 1):
                    t0 = time.perf_counter()
                    async with http.get(f"{base}/dashboard/?{query}") as page:
                        body = await page.text()
                        assert page.status == 200 and 'id="kpi-calls"' in body, page.status
                    if i:
                        samples.append((time.perf_counter() - t0) * 1000)
                results.append((statistics.median(samples), max(samples)))
    finally:
        await runner.cleanup()
        await services.writer.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", type=Path, default=Path("/tmp/ctrack-bench-reports.db"))
    args = parser.parse_args()

    from ctrack.core.period import Period
    from ctrack.reports import store as reports
    from ctrack.store import db

    if args.db.exists():
        conn = db.connect(args.db)
        have = (
            conn.execute("SELECT count(*) FROM calls").fetchone()[0]
            if db.schema_version(conn) == db.latest_version()
            else -1
        )
        conn.close()
    else:
        have = -1
    if have != args.calls:
        build(args.db, args.calls)
    conn = db.connect(args.db)
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    whole = Period(FIRST_DAY, last, TZ)
    month = Period(last - timedelta(days=29), last, TZ)
    in_whole = conn.execute(
        "SELECT count(*) FROM calls WHERE started_at >= ? AND started_at < ?", (whole.start_ts, whole.end_ts)
    ).fetchone()[0]
    rows = []
    for label, period in (("2 years", whole), ("30 days", month)):
        for name, target, fn in (
            ("sources report", 300, lambda p=period: reports.sources_report(conn, p)),
            ("sources report by channel", 300, lambda p=period: reports.sources_report(conn, p, "channel")),
            ("heatmap", 300, lambda p=period: reports.heatmap(conn, p)),
            ("daily report", None, lambda p=period: reports.daily_report(conn, p)),
        ):
            median, worst = timed(fn, args.runs)
            rows.append((name, label, median, worst, target))
    # The one slow path: the configured time zone changed, every call is re-bucketed (once).
    from ctrack.reports.rollups import ensure_timezone

    t0 = time.perf_counter()
    ensure_timezone(conn, "Europe/Berlin")
    rebuild = (time.perf_counter() - t0) * 1000
    ensure_timezone(conn, TZ)
    rows.append(("re-bucket after a zone change", "all", rebuild, rebuild, None))
    pages = asyncio.run(
        time_dashboard(
            args.db, [f"since={whole.first}&until={whole.last}", f"since={month.first}&until={month.last}"], args.runs
        )
    )
    rows += [("dashboard main page", "2 years", *pages[0], 500), ("dashboard main page", "30 days", *pages[1], 500)]
    conn.close()

    print(
        f"\n{args.calls:,} calls ({in_whole:,} in the 2-year period), {args.runs} runs each, SQLite, Python "
        f"{sys.version.split()[0]}\n"
    )
    print(f"| {'measure':<29} | {'period':<7} | {'median ms':>9} | {'max ms':>7} | {'target ms':>9} | ok  |")
    print(f"|{'-' * 31}|{'-' * 9}|{'-' * 11}|{'-' * 9}|{'-' * 11}|-----|")
    for name, label, median, worst, target in rows:
        ok = "-" if target is None else ("yes" if worst < target else "NO")
        print(f"| {name:<29} | {label:<7} | {median:>9.1f} | {worst:>7.1f} | {target or '-':>9} | {ok:<3} |")


if __name__ == "__main__":
    main()
