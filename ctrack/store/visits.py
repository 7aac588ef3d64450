"""DNI visits and their lease history in SQLite, and crediting pool-number calls to visits.

Writes are writer jobs (the daemon's one writer); the daemon's start, `ctrack pool stats`
and `ctrack dni visits` read on their own connections.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, Sequence

import aiosqlite

from ctrack.core.attribution import LeaseSpan, Touch, Visit, pick_visit
from ctrack.core.model import CallRecord
from ctrack.core.pools import Grant, GrantKind, Span, pool_usage
from ctrack.store.catalog import NotFound

DAY = 86400.0

_TOUCH_COLUMNS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                  "gclid", "gbraid", "wbraid", "msclkid", "fbclid")
_VISIT_COLUMNS = ("id", "site", "first_seen", "last_seen", "landing_page", "referrer", *_TOUCH_COLUMNS,
                  "ga_client_id", "source", "channel", "number", "lease_expires_at")

# Every column but the id: an AMP reader's visit id comes from their AMP client id, so when
# that visit has run out a new one starts under the same id.
UPSERT_VISIT = f"""
INSERT INTO visits({', '.join(_VISIT_COLUMNS)})
VALUES ({', '.join(':' + c for c in _VISIT_COLUMNS)})
ON CONFLICT(id) DO UPDATE SET
    {', '.join(f'{c} = excluded.{c}' for c in _VISIT_COLUMNS if c != 'id')}
"""

UPSERT_LEASE = """
INSERT INTO leases(visit_id, pool_id, number, kind, started_at, expires_at)
VALUES (:visit_id, (SELECT id FROM pools WHERE name = :pool), :number, :kind, :started_at, :expires_at)
ON CONFLICT(visit_id, pool_id, started_at) DO UPDATE SET expires_at = excluded.expires_at
"""
# A heartbeat changes only these; an UPDATE of them costs a third of the whole-row upsert.
TOUCH_VISIT = "UPDATE visits SET last_seen = ?, number = ?, lease_expires_at = ? WHERE id = ?"
RENEW_LEASE = "UPDATE leases SET expires_at = ? WHERE visit_id = ? AND started_at = ?"


def visit_row(visit: Visit, grant: Grant) -> dict[str, Any]:
    touch = visit.touch
    row = {"id": visit.id, "site": visit.site, "first_seen": visit.first_seen, "last_seen": visit.last_seen,
           "landing_page": touch.landing_page, "referrer": touch.referrer,
           "ga_client_id": visit.ga_client_id, "source": visit.source, "channel": visit.channel,
           "number": grant.number, "lease_expires_at": grant.expires_at}
    row.update({c: getattr(touch, c) for c in _TOUCH_COLUMNS})
    return row


def lease_row(grant: Grant) -> dict[str, Any]:
    return {"visit_id": grant.visit_id, "pool": grant.pool, "number": grant.number, "kind": str(grant.kind),
            "started_at": grant.started_at, "expires_at": grant.expires_at}


async def save_visits(conn: aiosqlite.Connection, visits: Sequence[tuple[Visit, Grant, bool]],
                      grants: Sequence[tuple[Grant, bool]]) -> None:
    """Writer job: visits with their current grant, then the grants themselves. The flag asks
    for the whole row (a new or changed visit, a new grant); without it only what a heartbeat
    changes is updated, and any row the database lacks (an earlier failed save) is written whole."""
    whole = [visit_row(v, g) for v, g, full in visits if full]
    touched = [(v, g) for v, g, full in visits if not full]
    if touched:
        cur = await conn.executemany(TOUCH_VISIT, [(v.last_seen, g.number, g.expires_at, v.id) for v, g in touched])
        if cur.rowcount < len(touched):
            whole += [visit_row(v, g) for v, g in touched]
    if whole:
        await conn.executemany(UPSERT_VISIT, whole)
    new = [lease_row(g) for g, full in grants if full]
    renewed = [g for g, full in grants if not full]
    if renewed:
        cur = await conn.executemany(RENEW_LEASE, [(g.expires_at, g.visit_id, g.started_at) for g in renewed])
        if cur.rowcount < len(renewed):
            new += [lease_row(g) for g in renewed]
    if new:
        await conn.executemany(UPSERT_LEASE, new)


def _visit_from_row(row: Any) -> Visit:
    touch = Touch(landing_page=row["landing_page"], referrer=row["referrer"],
                  **{c: row[c] for c in _TOUCH_COLUMNS})
    return Visit(row["id"], row["site"], row["first_seen"], row["last_seen"], touch,
                 row["source"] or "Direct", row["channel"] or "direct", row["ga_client_id"])


async def load_visit(conn: aiosqlite.Connection, visit_id: str) -> Visit | None:
    async with conn.execute(f"SELECT {', '.join(_VISIT_COLUMNS)} FROM visits WHERE id = ?", (visit_id,)) as cur:
        row = await cur.fetchone()
    return _visit_from_row(row) if row is not None else None


# --- the daemon's start ------------------------------------------------------------------

@dataclass
class SavedLeases:
    """What the lease manager needs back after a restart."""

    active: list[Grant] = field(default_factory=list)
    released: list[Grant] = field(default_factory=list)       # ended within the grace period
    last_used: dict[str, float] = field(default_factory=dict)  # number -> end of its latest lease
    visits: list[Visit] = field(default_factory=list)          # the visits holding active grants


def _grant(row: Any) -> Grant:
    return Grant(row["visit_id"], row["pool"], row["number"], GrantKind(row["kind"]),
                 row["started_at"], row["expires_at"])


def load_saved_leases(conn: sqlite3.Connection, now: float, grace: float) -> SavedLeases:
    """Grants still running at `now` (or ended within `grace`) and each number's last use."""
    saved = SavedLeases()
    conn.execute("BEGIN")
    try:
        rows = conn.execute("""
            SELECT l.visit_id, p.name AS pool, l.number, l.kind, l.started_at, l.expires_at
            FROM leases l JOIN pools p ON p.id = l.pool_id
            WHERE l.expires_at > ? ORDER BY l.started_at""", (now - grace,)).fetchall()
        for row in rows:
            (saved.active if row["expires_at"] > now else saved.released).append(_grant(row))
        saved.last_used = {r[0]: r[1] for r in conn.execute(
            "SELECT number, max(expires_at) FROM leases WHERE kind != 'fallback' AND number IS NOT NULL "
            "GROUP BY number")}
        ids = sorted({g.visit_id for g in saved.active})
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            saved.visits += [_visit_from_row(r) for r in conn.execute(
                f"SELECT {', '.join(_VISIT_COLUMNS)} FROM visits WHERE id IN ({','.join('?' * len(chunk))})",
                chunk)]
    finally:
        conn.execute("COMMIT")
    return saved


# --- calls -------------------------------------------------------------------------------

_CANDIDATES = """
SELECT l.visit_id, l.started_at, l.expires_at
FROM leases l
WHERE l.number = ? AND l.kind != 'fallback' AND l.started_at <= ? AND l.expires_at >= ?
"""


async def attribute_call(conn: aiosqlite.Connection, record: CallRecord, grace_seconds: float) -> None:
    """Credit a call to a pool number to the visit that held the number when the call came in
    (or whose lease ended within the grace period): fill the record's visit, source, channel
    and extra (keyword, landing page, gclid, GA client id); flag it when more than one visit
    could claim it. Calls to other numbers are left as they are."""
    if not record.tracking_number or record.started_at is None:
        return
    at = record.started_at
    async with conn.execute(_CANDIDATES, (record.tracking_number, at, at - grace_seconds)) as cur:
        spans = [LeaseSpan(r[0], r[1], r[2]) for r in await cur.fetchall()]
    visit_id, ambiguous = pick_visit(spans, at, record.visit_id)
    if visit_id is None:
        return
    visit = await load_visit(conn, visit_id)
    if visit is None:
        return
    record.visit_id = visit.id
    record.source = visit.source
    record.channel = visit.channel
    extra = {"keyword": visit.touch.utm_term, "landing_page": visit.touch.landing_page,
             "gclid": visit.touch.gclid, "ga_client_id": visit.ga_client_id}
    record.extra.update({k: v for k, v in extra.items() if v})
    if ambiguous:
        record.extra["visit_ambiguous"] = "1"
    else:
        record.extra.pop("visit_ambiguous", None)


# --- reports -----------------------------------------------------------------------------

def pool_stats(conn: sqlite3.Connection, pool: str, days: int, now: float, grace: float) -> dict[str, Any]:
    """`ctrack pool stats`: usage of one pool over the last `days` (or since it was created)."""
    row = conn.execute("SELECT id, site, created_at FROM pools WHERE name = ?", (pool,)).fetchone()
    if row is None:
        raise NotFound(f"unknown pool {pool!r} (see `ctrack pool list`)")
    start = max(now - days * DAY, row["created_at"])
    numbers = conn.execute("SELECT count(*) FROM numbers WHERE pool_id = ? AND state = 'active'",
                           (row["id"],)).fetchone()[0]
    spans = [Span(r["visit_id"], r["number"], GrantKind(r["kind"]), r["started_at"], r["expires_at"])
             for r in conn.execute("""
                 SELECT visit_id, number, kind, started_at, expires_at FROM leases
                 WHERE pool_id = ? AND expires_at > ? AND started_at < ?""", (row["id"], start - grace, now))]
    usage = pool_usage(spans, numbers, start, now, grace)
    leased_now = {s.number for s in spans if s.kind != GrantKind.FALLBACK and s.started_at <= now < s.expires_at}
    return {"pool": pool, "site": row["site"], "since": start, "days": round((now - start) / DAY, 2),
            "numbers": numbers, "leased_now": len(leased_now), "visits": usage.visits,
            "utilization": round(usage.utilization, 4), "pressure_visits": usage.pressure_visits,
            "pressure": round(usage.pressure, 4), "peak_visits": usage.peak_visits,
            "recommended_size": usage.recommended}


def recent_visits(conn: sqlite3.Connection, limit: int = 20, site: str | None = None) -> list[dict[str, Any]]:
    """Visits, most recently seen first, with how many calls each produced."""
    where, params = ("WHERE v.site = ?", [site]) if site else ("", [])
    rows = conn.execute(f"""
        SELECT v.id, v.site, v.first_seen, v.last_seen, v.source, v.channel, v.number, v.lease_expires_at,
               v.landing_page, v.utm_term AS keyword, v.gclid, v.ga_client_id,
               (SELECT count(*) FROM calls c WHERE c.visit_id = v.id) AS calls
        FROM visits v {where} ORDER BY v.last_seen DESC LIMIT ?""", [*params, int(limit)]).fetchall()
    return [dict(r) for r in rows]
