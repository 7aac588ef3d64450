"""A small call log whose report figures are worked out by hand (see test_reports.py).

Time zone America/New_York; the period 2024-03-09 … 2024-03-11 spans the spring-forward
change (2024-03-10 02:00 EST → 03:00 EDT). Every UTC time below is written out by hand from
the local time: EST = UTC-5, EDT = UTC-4.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

from ctrack.calllog.store import CallRules, save_call
from ctrack.catalog import store as catalog
from ctrack.core.model import CallRecord, Disposition
from ctrack.store import db
from ctrack.store.writer import Writer

TZ = "America/New_York"


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def call(
    uid: str,
    at_utc: str,
    source: str | None,
    caller: str | None,
    disposition: str,
    talk: int = 0,
    name: str | None = None,
    gclid: str | None = None,
    ga_client_id: str | None = None,
    tracking: str | None = None,
    recording: str | None = None,
) -> CallRecord:
    start = utc(at_utc)
    channel = {"Google Ads": "paid_search", "Radio": "radio", "Yelp": "referral"}.get(source)
    answered = start + 10 if disposition == "answered" else None
    ended = (answered + talk) if answered is not None else start + 25
    extra = {k: v for k, v in (("gclid", gclid), ("ga_client_id", ga_client_id)) if v}
    return CallRecord(
        uid,
        tracking_number=tracking,
        caller_number=caller,
        caller_name=name,
        source=source,
        channel=channel,
        started_at=start,
        answered_at=answered,
        ended_at=ended,
        disposition=Disposition(disposition),
        recording=recording,
        extra=extra,
    )


CALLS = [
    # Sat 2024-03-09 23:30 EST
    call("c1", "2024-03-10 04:30:00", "Google Ads", "+12125550001", "answered", 120, gclid="Cj0KCQjwgclidAAA1"),
    # Sun 2024-03-10 01:30 EST
    call("c2", "2024-03-10 06:30:00", "Google Ads", "+12125550002", "missed"),
    # Sun 2024-03-10 03:30 EDT: the same caller as c1, so a repeat caller
    call("c3", "2024-03-10 07:30:00", "Google Ads", "+12125550001", "answered", 30),
    # Sun 2024-03-10 23:59:59 EDT
    call("c4", "2024-03-11 03:59:59", "Radio", "+12125550004", "abandoned"),
    # Mon 2024-03-11 00:00:00 EDT
    call("c5", "2024-03-11 04:00:00", "Radio", "+12125550005", "answered", 300),
    # Mon 2024-03-11 09:15 EDT, no source
    call("c6", "2024-03-11 13:15:00", None, "+12125550006", "voicemail"),
    # Mon 2024-03-11 14:00 EDT, anonymous caller, exactly the qualifying 60 s
    call("c9", "2024-03-11 18:00:00", "Google Ads", None, "answered", 60),
    # outside the period: Fri 2024-03-08 23:59 EST and Tue 2024-03-12 00:00:30 EDT
    call("c7", "2024-03-09 04:59:00", "Google Ads", "+12125550007", "answered", 500),
    call("c8", "2024-03-12 04:00:30", "Radio", "+12125550008", "missed"),
]

SPEND = [
    ("2024-03-09", "Google Ads", 40.0),
    ("2024-03-10", "Google Ads", 60.0),
    ("2024-03-12", "Google Ads", 999.0),
    ("2024-03-11", "Radio", 25.5),
    ("2024-03-10", "Yelp", 10.0),
]


def new_db(path: db.Target) -> sqlite3.Connection:
    conn = db.connect(path, create=True)
    db.upgrade(conn)
    return conn


def add_sources(conn: sqlite3.Connection) -> None:
    catalog.add_source(conn, "Google Ads", "paid_search")
    catalog.add_source(conn, "Radio", "radio")
    catalog.add_source(conn, "Yelp", "referral")


def add_spend(conn: sqlite3.Connection) -> None:
    for day, source, amount in SPEND:
        conn.execute(
            "INSERT INTO spend(day, source_id, amount) VALUES (?, (SELECT id FROM sources WHERE name = ?), ?)",
            (day, source, amount),
        )


async def asave_calls(path: db.Target, records, rules: CallRules = CallRules(), origin: str = "ami") -> list[bool]:
    """Save records through the store writer and save_call, as the daemon does."""
    writer = Writer(path)
    await writer.start()
    try:
        return [await writer.run(lambda conn, r=r: save_call(conn, r, rules, origin)) is not None for r in records]
    finally:
        await writer.close()


def save_calls(path: db.Target, records, rules: CallRules = CallRules(), origin: str = "ami") -> list[bool]:
    return asyncio.run(asave_calls(path, records, rules, origin))


def seeded(path: db.Target) -> sqlite3.Connection:
    conn = new_db(path)
    add_sources(conn)
    add_spend(conn)
    save_calls(path, CALLS)
    return conn


async def aseeded(path: db.Target) -> sqlite3.Connection:
    conn = new_db(path)
    add_sources(conn)
    add_spend(conn)
    await asave_calls(path, CALLS)
    return conn
