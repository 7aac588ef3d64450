"""DNI visits and their lease history in SQLite, and crediting pool-number calls to visits.

Writes are writer jobs (the daemon's one writer); the daemon's start, `ctrack pool stats`
and `ctrack dni visits` read on their own connections.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from ctrack.core.model import CallRecord, Pool
from ctrack.dni.attribution import PARAM_KEYS, Touch, Visit, credit_call, pick_visit
from ctrack.dni.pools import Grant, GrantKind, Leases, PoolLeases

_VISIT_COLUMNS = (
    "id",
    "site",
    "first_seen",
    "last_seen",
    "landing_page",
    "referrer",
    *PARAM_KEYS,
    "ga_client_id",
    "source",
    "channel",
    "number",
    "lease_expires_at",
    "pool_region",
)

# Each statement carries many rows: executemany would release and re-take the GIL for every
# row, and a busy event loop makes each re-take wait (a batch of thousands took seconds).
ROWS_PER_STATEMENT = 500  # x 22 columns stays under SQLite's 32766 bound values


@lru_cache(maxsize=64)
def _upsert_visits(rows: int) -> str:
    # Every column but the id: an AMP reader's visit id comes from their AMP client id, so
    # when that visit has run out a new one starts under the same id.
    marks = "(" + ", ".join("?" * len(_VISIT_COLUMNS)) + ")"
    return (
        f"INSERT INTO visits({', '.join(_VISIT_COLUMNS)}) VALUES {', '.join([marks] * rows)} "
        f"ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _VISIT_COLUMNS if c != "id")
    )


@lru_cache(maxsize=64)
def _upsert_leases(rows: int) -> str:
    marks = "(?, (SELECT id FROM pools WHERE name = ?), ?, ?, ?, ?)"
    return (
        f"INSERT INTO leases(visit_id, pool_id, number, kind, started_at, expires_at) "
        f"VALUES {', '.join([marks] * rows)} "
        f"ON CONFLICT(visit_id, pool_id, started_at) DO UPDATE SET expires_at = excluded.expires_at"
    )


# A heartbeat changes only these; updating them costs a third of the whole-row upsert.
@lru_cache(maxsize=64)
def _touch_visits(rows: int) -> str:
    return (
        "UPDATE visits SET last_seen = v.column2, number = v.column3, lease_expires_at = v.column4 "
        f"FROM (VALUES {', '.join(['(?, ?, ?, ?)'] * rows)}) AS v WHERE visits.id = v.column1"
    )


@lru_cache(maxsize=64)
def _renew_leases(rows: int) -> str:
    return (
        f"UPDATE leases SET expires_at = v.column3 FROM (VALUES {', '.join(['(?, ?, ?)'] * rows)}) AS v "
        "WHERE leases.visit_id = v.column1 AND leases.started_at = v.column2"
    )


def _visit_values(visit: Visit, grant: Grant) -> tuple:
    touch = visit.touch
    return (
        visit.id,
        visit.site,
        visit.first_seen,
        visit.last_seen,
        touch.landing_page,
        touch.referrer,
        *(getattr(touch, c) for c in PARAM_KEYS),
        visit.ga_client_id,
        visit.source,
        visit.channel,
        grant.number,
        grant.expires_at,
        visit.pool_region,
    )


def _lease_values(grant: Grant) -> tuple:
    return grant.visit_id, grant.pool, grant.number, str(grant.kind), grant.started_at, grant.expires_at


def _write(conn: sqlite3.Connection, sql: Callable[[int], str], rows: list[tuple]) -> int:
    """Run `sql` over the rows, ROWS_PER_STATEMENT at a time; the number of rows changed."""
    changed = 0
    for i in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[i : i + ROWS_PER_STATEMENT]
        cursor = conn.execute(sql(len(chunk)), [value for row in chunk for value in row])
        changed += cursor.rowcount
        cursor.close()
    return changed


def save_visits(
    conn: sqlite3.Connection, visits: Sequence[tuple[Visit, Grant, bool]], grants: Sequence[tuple[Grant, bool]]
) -> None:
    """Writer job: visits with their current grant, then the grants themselves. The flag asks
    for the whole row (a new or changed visit, a new grant); without it only what a heartbeat
    changes is updated, and any row the database lacks (an earlier failed save) is written whole."""
    whole = [_visit_values(v, g) for v, g, full in visits if full]
    touched = [(v, g) for v, g, full in visits if not full]
    if touched and _write(conn, _touch_visits, [(v.id, v.last_seen, g.number, g.expires_at) for v, g in touched]) < len(
        touched
    ):
        whole += [_visit_values(v, g) for v, g in touched]
    _write(conn, _upsert_visits, whole)
    new = [_lease_values(g) for g, full in grants if full]
    renewed = [g for g, full in grants if not full]
    if renewed and _write(conn, _renew_leases, [(g.visit_id, g.started_at, g.expires_at) for g in renewed]) < len(
        renewed
    ):
        new += [_lease_values(g) for g in renewed]
    _write(conn, _upsert_leases, new)


def spooled_visits(visits: Sequence[tuple[Visit, Grant, bool]], grants: Sequence[tuple[Grant, bool]]) -> dict[str, Any]:
    """What save_visits writes, as JSON for the local spool (store/spool.py): whole rows, so
    a replay needs nothing the database may lack and writing it twice changes nothing."""
    return {"visits": [_visit_values(v, g) for v, g, _ in visits], "leases": [_lease_values(g) for g, _ in grants]}


def replay_visits(conn: sqlite3.Connection, payload: dict[str, Any]) -> None:
    """A spooled save written once PostgreSQL is back: upserts, so replaying a save that did
    commit just before the link dropped does no harm."""
    for sql, params in upsert_statements(payload["visits"], [(*row, None) for row in payload["leases"]]):
        conn.execute(sql, params).close()


def spooled_grants(payload: dict[str, Any]) -> tuple[list[Visit], list[Grant]]:
    """The visits and grants of a spooled save, for a node restarted while the center is
    away: it keeps answering the visits it served before, with their numbers."""
    visits = [_visit_from_values(row) for row in payload["visits"]]
    return visits, [Grant(r[0], r[1], r[2], GrantKind(r[3]), r[4], r[5]) for r in payload["leases"]]


def _visit_from_row(row: Any) -> Visit:
    touch = Touch(landing_page=row["landing_page"], referrer=row["referrer"], **{c: row[c] for c in PARAM_KEYS})
    return Visit(
        row["id"],
        row["site"],
        row["first_seen"],
        row["last_seen"],
        touch,
        row["source"] or "Direct",
        row["channel"] or "direct",
        row["ga_client_id"],
        row["pool_region"],
    )


_TOUCH_END = 6 + len(PARAM_KEYS)  # landing_page, referrer, then the ad parameters, in Touch's order


def _visit_from_values(v: Sequence[Any]) -> Visit:
    """A visit from its row's values in _VISIT_COLUMNS' order (a spooled save; a row as a tuple)."""
    touch = Touch(*v[4:_TOUCH_END])
    end = _TOUCH_END
    return Visit(v[0], v[1], v[2], v[3], touch, v[end + 1] or "Direct", v[end + 2] or "direct", v[end], v[end + 5])


def load_visit(conn: sqlite3.Connection, visit_id: str) -> Visit | None:
    row = conn.execute(f"SELECT {', '.join(_VISIT_COLUMNS)} FROM visits WHERE id = ?", (visit_id,)).fetchone()
    return _visit_from_row(row) if row is not None else None


# --- the daemon's start ------------------------------------------------------------------


@dataclass
class SavedLeases:
    """What the lease manager needs back after a restart."""

    active: list[Grant] = field(default_factory=list)
    released: list[Grant] = field(default_factory=list)  # ended within the grace period
    last_used: dict[str, float] = field(default_factory=dict)  # number -> end of its latest lease
    visits: list[Visit] = field(default_factory=list)  # the visits holding active grants


def _grant(row: Any) -> Grant:
    return Grant(
        row["visit_id"], row["pool"], row["number"], GrantKind(row["kind"]), row["started_at"], row["expires_at"]
    )


def load_saved_leases(conn: sqlite3.Connection, now: float, grace: float) -> SavedLeases:
    """Grants still running at `now` (or ended within `grace`) and each number's last use."""
    saved = SavedLeases()
    conn.execute("BEGIN")
    try:
        rows = conn.execute(
            """
            SELECT l.visit_id, p.name AS pool, l.number, l.kind, l.started_at, l.expires_at
            FROM leases l JOIN pools p ON p.id = l.pool_id
            WHERE l.expires_at > ? ORDER BY l.started_at""",
            (now - grace,),
        ).fetchall()
        for row in rows:
            (saved.active if row["expires_at"] > now else saved.released).append(_grant(row))
        saved.last_used = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT number, max(expires_at) FROM leases WHERE kind != 'fallback' AND number IS NOT NULL "
                "GROUP BY number"
            )
        }
        ids = sorted({g.visit_id for g in saved.active})
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            saved.visits += [
                _visit_from_row(r)
                for r in conn.execute(
                    f"SELECT {', '.join(_VISIT_COLUMNS)} FROM visits WHERE id IN ({','.join('?' * len(chunk))})", chunk
                )
            ]
    finally:
        conn.execute("COMMIT")
    return saved


# --- leases shared by several nodes (PostgreSQL) -------------------------------------------


# The batch of lease requests a node serves in one transaction runs two round trips of
# statements (PostgreSQL's pipeline): the reads under the sites' locks, then the writes and
# the commit. Rows travel as one JSON document per statement (json_to_recordset): the
# statement's text is the same whatever the batch size, so psycopg converts it and the
# server plans it once, and one string is all the driver adapts (many placeholders were
# converted anew each time, a few milliseconds for a few hundred; arrays cost a dump per value).
Statement = tuple[str, Sequence[Any]]


def lock_sites(sites: Sequence[str]) -> Statement:
    """Hold the sites' lease locks until the transaction ends: the nodes that lease for one
    site take turns, so each reads every grant the others committed. The locks are taken
    in one order on every node (a batch may serve several sites)."""
    return (
        "SELECT pg_advisory_xact_lock(h) FROM "
        "(SELECT DISTINCT hashtext('ctrack-dni:' || s) AS h FROM unnest(CAST(? AS text[])) AS s ORDER BY h) AS o",
        (list(sites),),
    )


PRIVACY_KEY: Statement = ("SELECT key FROM privacy_key WHERE id = 1", ())


def visits_by_id(visit_ids: Sequence[str]) -> Statement:
    return f"SELECT {', '.join(_VISIT_COLUMNS)} FROM visits WHERE id = ANY(CAST(? AS text[]))", (list(visit_ids),)


def visits_from(rows: Sequence[Sequence[Any]]) -> dict[str, Visit]:
    return {row[0]: _visit_from_values(row) for row in rows}


_F8 = "double precision"
_VISIT_TYPES = {"first_seen": _F8, "last_seen": _F8, "lease_expires_at": _F8}
_VISIT_RECORD = ", ".join(f"{c} {_VISIT_TYPES.get(c, 'text')}" for c in _VISIT_COLUMNS)
_UPSERT_VISITS = (
    f"INSERT INTO visits({', '.join(_VISIT_COLUMNS)}) SELECT {', '.join(_VISIT_COLUMNS)} FROM json_to_recordset(?) "
    f"AS u({_VISIT_RECORD}) "
    "ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _VISIT_COLUMNS if c != "id")
)
_LEASE = ("visit_id", "pool", "number", "kind", "started_at", "expires_at", "client")
# A write that does not know the client (a save from memory, replayed) keeps the one known.
_UPSERT_LEASES = (
    "INSERT INTO leases(visit_id, pool_id, number, kind, started_at, expires_at, client) "
    "SELECT u.visit_id, p.id, u.number, u.kind, u.started_at, u.expires_at, u.client FROM json_to_recordset(?) "
    f"AS u(visit_id text, pool text, number text, kind text, started_at {_F8}, expires_at {_F8}, client text) "
    "JOIN pools p ON p.name = u.pool "
    "ON CONFLICT(visit_id, pool_id, started_at) DO UPDATE SET expires_at = excluded.expires_at, "
    "client = COALESCE(excluded.client, leases.client)"
)


def _recordset(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    return [orjson.dumps([dict(zip(names, row, strict=True)) for row in rows]).decode()]


def upsert_statements(visits: Sequence[Sequence[Any]], leases: Sequence[Sequence[Any]]) -> list[Statement]:
    """Writes of whole visit rows (as _visit_values; an upsert finds each row by its key,
    where an UPDATE joined to the batch may scan the table) and lease rows (as
    _lease_values, then the client), one statement per kind, visits first."""
    statements: list[Statement] = []
    if visits:
        statements.append((_UPSERT_VISITS, _recordset(_VISIT_COLUMNS, visits)))
    if leases:
        statements.append((_UPSERT_LEASES, _recordset(_LEASE, leases)))
    return statements


def batch_writes(visits: Sequence[tuple[Visit, Grant]], grants: Sequence[tuple[Grant, str | None]]) -> list[Statement]:
    """A batch's writes: each visit with its current grant, each grant with the client that
    asked for it (leases.client, the lease cap)."""
    return upsert_statements(
        [_visit_values(v, g) for v, g in visits], [(*_lease_values(g), client) for g, client in grants]
    )


@lru_cache(maxsize=65536)  # a visitor's heartbeats come from one client: one HMAC, not one each
def hashed_client(key: bytes, client: str) -> str:
    """The client (an address or /64, dni/clients.py) as leases.client keeps it: keyed with
    the database's privacy key, so every node computes the same value and none stores the address."""
    return hmac.new(key, b"dni-client\0" + client.encode(), hashlib.sha256).hexdigest()[:32]


# Other visits' fallback grants hold no number: they change nothing a visit can be given.
_POOL_GRANTS = """
SELECT visit_id, number, kind, started_at, expires_at, client FROM leases
WHERE pool_id = (SELECT id FROM pools WHERE name = ?) AND expires_at > ? AND kind != 'fallback'
ORDER BY expires_at
"""

_LAST_USED = """
SELECT n.number, (SELECT max(l.expires_at) FROM leases l WHERE l.number = n.number AND l.kind != 'fallback')
FROM unnest(CAST(? AS text[])) AS n(number)
"""

_VERSION = "SELECT version FROM lease_versions WHERE pool_id = (SELECT id FROM pools WHERE name = ?)"


def whole_pool(pool: str, numbers: Sequence[str], now: float, grace: float) -> list[Statement]:
    """A pool read whole: its version first (the rows read next are at least as new), its
    numbered grants running at `now` or ended within `grace`, each number's last use."""
    return [(_VERSION, (pool,)), (_POOL_GRANTS, (pool, now - grace)), (_LAST_USED, (list(numbers),))]


def pool_from(pool: Pool, numbers: Sequence[str], rows: Sequence[Sequence[Any]], now: float) -> tuple[PoolLeases, int]:
    """whole_pool's rows as the pool's leases, ready for the pure lease rules (the running
    grants least recently renewed first, as in memory; the free numbers least recently
    used first), and the version they are at."""
    version_rows, grant_rows, used_rows = rows
    leases = PoolLeases(pool, numbers, {r[0]: r[1] for r in used_rows if r[1] is not None})
    for r in grant_rows:
        grant = Grant(r[0], pool.name, r[1], GrantKind(r[2]), r[3], r[4])
        if grant.expires_at > now:
            leases.restore(grant, r[5])
        elif grant.number is not None:
            leases.note_released(grant.number, grant.visit_id, grant.expires_at)
    return leases, version_rows[0][0] if version_rows else 0


# One statement, one snapshot: the pool's version and every row written after `version`.
_CHANGED = """
SELECT v.version, l.visit_id, l.number, l.kind, l.started_at, l.expires_at, l.client
FROM lease_versions v LEFT JOIN leases l ON l.pool_id = v.pool_id AND l.version > ?
WHERE v.pool_id = (SELECT id FROM pools WHERE name = ?) ORDER BY l.version
"""


def changes(pool: str, version: int) -> Statement:
    """The rows of `pool` written since `version`, by any node."""
    return _CHANGED, (version, pool)


def apply_changes(leases: PoolLeases, rows: Sequence[Any], version: int) -> int:
    """Bring `leases` (as the database held it at `version`) up to date with `changes`'
    rows; the version it is at now."""
    for r in rows:
        version = max(version, r[0])
        if r[1] is not None:
            leases.apply(Grant(r[1], leases.pool.name, r[2], GrantKind(r[3]), r[4], r[5]), r[6])
    return version


_VISIT_GRANTS = """
SELECT l.visit_id, p.name, l.number, l.kind, l.started_at, l.expires_at, l.client
FROM leases l JOIN pools p ON p.id = l.pool_id
WHERE l.visit_id = ANY(CAST(? AS text[])) AND p.name = ANY(CAST(? AS text[])) AND l.expires_at > ?
"""


def visit_grants(visit_ids: Sequence[str], pools: Sequence[str], now: float) -> Statement:
    """The visits' running grants in these pools, with their own fallbacks (which a copy
    of a pool lacks: see _POOL_GRANTS)."""
    return _VISIT_GRANTS, (list(visit_ids), list(pools), now)


def apply_visit_grants(leases: Leases, rows: Sequence[Any]) -> None:
    for r in rows:
        if r[1] in leases.pools:
            leases.pools[r[1]].apply(Grant(r[0], r[1], r[2], GrantKind(r[3]), r[4], r[5]), r[6])


# --- calls -------------------------------------------------------------------------------

_CANDIDATES = """
SELECT l.visit_id, p.name, l.number, l.kind, l.started_at, l.expires_at, p.region
FROM leases l JOIN pools p ON p.id = l.pool_id
WHERE l.number = ? AND l.kind != 'fallback' AND l.started_at <= ? AND l.expires_at >= ?
"""


def attribute_call(conn: sqlite3.Connection, record: CallRecord, grace_seconds: float) -> None:
    """Credit a call to a pool number to the visit that held the number when the call came in
    (or whose lease ended within the grace period): fill the record's visit, source, channel
    and extra (keyword, landing page, gclid, GA client id, the number's pool region); flag it when more than one visit
    could claim it. Calls to other numbers are left as they are."""
    if not record.tracking_number or record.started_at is None:
        return
    at = record.started_at
    rows = conn.execute(_CANDIDATES, (record.tracking_number, at, at - grace_seconds)).fetchall()
    visit_id, ambiguous = pick_visit(
        [Grant(r[0], r[1], r[2], GrantKind(r[3]), r[4], r[5]) for r in rows], at, record.visit_id
    )
    if visit_id is None:
        return
    visit = load_visit(conn, visit_id)
    if visit is None:
        return
    region = next((r[6] for r in sorted(rows, key=lambda r: r[4], reverse=True) if r[0] == visit_id), None)
    credit_call(record, visit, ambiguous, region)


# --- reads for reports and the CLI --------------------------------------------------------


def pool_grants(conn: sqlite3.Connection, pool_id: int, pool: str, since: float, until: float) -> list[Grant]:
    """The pool's grants that overlap [since, until)."""
    return [
        Grant(r[0], pool, r[1], GrantKind(r[2]), r[3], r[4])
        for r in conn.execute(
            "SELECT visit_id, number, kind, started_at, expires_at FROM leases "
            "WHERE pool_id = ? AND expires_at > ? AND started_at < ?",
            (pool_id, since, until),
        )
    ]


def recent_visits(conn: sqlite3.Connection, limit: int = 20, site: str | None = None) -> list[dict[str, Any]]:
    """Visits, most recently seen first, with how many calls each produced."""
    where, params = ("WHERE v.site = ?", [site]) if site else ("", [])
    rows = conn.execute(
        f"""
        SELECT v.id, v.site, v.first_seen, v.last_seen, v.source, v.channel, v.number, v.pool_region, v.lease_expires_at,
               v.landing_page, v.utm_term AS keyword, v.gclid, v.ga_client_id,
               (SELECT count(*) FROM calls c WHERE c.visit_id = v.id) AS calls
        FROM visits v {where} ORDER BY v.last_seen DESC LIMIT ?""",
        [*params, int(limit)],
    ).fetchall()
    return [dict(r) for r in rows]
