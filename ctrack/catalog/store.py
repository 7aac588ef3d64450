"""Sources, tracking numbers and pools: the admin's mapping of numbers to marketing.

Plain sqlite3: the CLI and the classic AGI script are short-lived processes. Every change
runs in one transaction; a refusal raises a CatalogError and leaves the database unchanged.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from ctrack.core.model import CHANNELS, NumberKind, NumberState, Pool, Source, TrackingNumber
from ctrack.errors import CtrackError
from ctrack.route.rules import Catalog
from ctrack.spam.rules import BlockList
from ctrack.spam.store import load_block_list

log = logging.getLogger(__name__)


class CatalogError(CtrackError):
    """A refused change; str() is the one-line reason for the admin."""


class NotFound(CatalogError):
    pass


class Conflict(CatalogError):
    pass


class Invalid(CatalogError):
    pass


_NUMBER_COLUMNS = """
    n.number, n.kind, s.name AS source, p.name AS pool, n.forward, n.record, n.whisper,
    n.vanity, n.region, n.state, n.consent, n.google_call_asset
"""
_NUMBER_FROM = "numbers n LEFT JOIN sources s ON s.id = n.source_id LEFT JOIN pools p ON p.id = n.pool_id"


def _check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise Invalid(f"unknown channel {channel!r} (one of: {', '.join(CHANNELS)})")
    return channel


def _check_value(value: float | None) -> float | None:
    """A source's default conversion value: an amount from 0, or None (none of its own)."""
    if value is not None and not 0 <= value < 1e9:
        raise Invalid(f"value {value:g} must be an amount from 0 (such as 250 or 99.50)")
    return value


def _check_name(kind: str, name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise Invalid(f"{kind} name must not be empty")
    if len(name) > 100:
        raise Invalid(f"{kind} name is longer than 100 characters")
    return name


class transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception (the DB stays unchanged)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False


# --- sources -------------------------------------------------------------------------------

CLEAR: Any = object()  # edit_source(value=CLEAR): the source has no value of its own again


def _source_id(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound(f"unknown source {name!r} (see `ctrack source list`)")
    return row[0]


def add_source(
    conn: sqlite3.Connection, name: str, channel: str, campaign: str | None = None, value: float | None = None
) -> Source:
    name = _check_name("source", name)
    _check_channel(channel)
    _check_value(value)
    with transaction(conn):
        if conn.execute("SELECT 1 FROM sources WHERE name = ?", (name,)).fetchone():
            raise Conflict(f"source {name!r} already exists")
        conn.execute(
            "INSERT INTO sources(name, channel, campaign, value) VALUES (?, ?, ?, ?)", (name, channel, campaign, value)
        )
    return Source(name, channel, campaign)


def list_sources(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute("""
        SELECT s.name, s.channel, s.campaign, s.value,
               (SELECT count(*) FROM numbers n WHERE n.source_id = s.id AND n.state = 'active') AS numbers
        FROM sources s ORDER BY s.name""").fetchall()
    return [dict(r) for r in rows]


def edit_source(
    conn: sqlite3.Connection,
    name: str,
    *,
    new_name: str | None = None,
    channel: str | None = None,
    campaign: str | None = None,
    value: Any = None,
) -> None:
    """Change a source; `value` None keeps it, CLEAR removes it (back to [conversions] value)."""
    if value is not None and value is not CLEAR:
        _check_value(value)
    with transaction(conn):
        source_id = _source_id(conn, name)
        if new_name is not None:
            new_name = _check_name("source", new_name)
            if new_name != name and conn.execute("SELECT 1 FROM sources WHERE name = ?", (new_name,)).fetchone():
                raise Conflict(f"source {new_name!r} already exists")
            conn.execute("UPDATE sources SET name = ? WHERE id = ?", (new_name, source_id))
        if channel is not None:
            conn.execute("UPDATE sources SET channel = ? WHERE id = ?", (_check_channel(channel), source_id))
        if campaign is not None:
            conn.execute("UPDATE sources SET campaign = ? WHERE id = ?", (campaign or None, source_id))
        if value is not None:
            conn.execute("UPDATE sources SET value = ? WHERE id = ?", (None if value is CLEAR else value, source_id))


def remove_source(conn: sqlite3.Connection, name: str) -> None:
    with transaction(conn):
        source_id = _source_id(conn, name)
        numbers = [
            r[0] for r in conn.execute("SELECT number FROM numbers WHERE source_id = ? ORDER BY number", (source_id,))
        ]
        if numbers:
            raise Conflict(f"source {name!r} is used by {', '.join(numbers)}; move or remove those numbers first")
        if conn.execute("SELECT 1 FROM spend WHERE source_id = ? LIMIT 1", (source_id,)).fetchone():
            raise Conflict(f"source {name!r} has spend entries; it is kept for the reports")
        conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))


_UNSET: Any = object()  # an edit's field that was not given


# --- pools ---------------------------------------------------------------------------------


def _pool_id(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM pools WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound(f"unknown pool {name!r} (see `ctrack pool list`)")
    return row[0]


def add_pool(
    conn: sqlite3.Connection,
    name: str,
    site: str,
    lease_seconds: int = 1800,
    fallback: str | None = None,
    region: str | None = None,
    overflow: str = "fallback",
    path_prefix: str | None = None,
    utm_campaign: str | None = None,
) -> Pool:
    name = _check_name("pool", name)
    site = (site or "").strip().lower()
    if not site or " " in site or "/" in site:
        raise Invalid(f"site {site!r} must be a domain such as example.com")
    if lease_seconds <= 0:
        raise Invalid("lease seconds must be greater than 0")
    if overflow not in ("fallback", "share"):
        raise Invalid("overflow must be 'fallback' or 'share'")
    with transaction(conn):
        if conn.execute("SELECT 1 FROM pools WHERE name = ?", (name,)).fetchone():
            raise Conflict(f"pool {name!r} already exists")
        _check_selectors(conn, name, site, path_prefix, utm_campaign)
        conn.execute(
            "INSERT INTO pools(name, site, region, lease_seconds, fallback, overflow, path_prefix, utm_campaign) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (name, site, region, lease_seconds, fallback, overflow, path_prefix, utm_campaign),
        )
    return Pool(name, site, lease_seconds, fallback, overflow, region, path_prefix, utm_campaign)


def _check_selectors(
    conn: sqlite3.Connection, name: str, site: str, path_prefix: str | None, utm_campaign: str | None
) -> None:
    """Two pools of a site may not claim the same pages (dni/selection.py)."""
    for column, value, what in (
        ("path_prefix", path_prefix, "path prefix"),
        ("utm_campaign", utm_campaign, "utm campaign"),
    ):
        if value:
            row = conn.execute(
                f"SELECT name FROM pools WHERE site = ? AND {column} = ? AND name != ?", (site, value, name)
            ).fetchone()
            if row is not None:
                raise Conflict(f"pool {row[0]!r} of {site} already has the {what} {value!r}")


def edit_pool(
    conn: sqlite3.Connection,
    name: str,
    *,
    region: Any = _UNSET,
    path_prefix: Any = _UNSET,
    utm_campaign: Any = _UNSET,
) -> dict[str, Any]:
    """Change which region a pool serves and which pages choose it; '' clears a field."""
    with transaction(conn):
        site = conn.execute("SELECT site FROM pools WHERE name = ?", (name,)).fetchone()
        if site is None:
            raise NotFound(f"unknown pool {name!r} (see `ctrack pool list`)")
        _check_selectors(
            conn,
            name,
            site[0],
            None if path_prefix is _UNSET else path_prefix,
            None if utm_campaign is _UNSET else utm_campaign,
        )
        for column, value in (("region", region), ("path_prefix", path_prefix), ("utm_campaign", utm_campaign)):
            if value is not _UNSET:
                conn.execute(f"UPDATE pools SET {column} = ? WHERE name = ?", (value or None, name))
    return next(p for p in list_pools(conn) if p["name"] == name)


def list_pools(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute("""
        SELECT p.name, p.site, p.region, p.path_prefix, p.utm_campaign, p.lease_seconds, p.fallback, p.overflow,
               (SELECT count(*) FROM numbers n WHERE n.pool_id = p.id AND n.state = 'active') AS numbers
        FROM pools p ORDER BY p.name""").fetchall()
    return [dict(r) for r in rows]


# --- numbers -------------------------------------------------------------------------------


@dataclass
class NumberSpec:
    """A number as the admin asked for it; validated against the database by add/import."""

    number: str  # E.164, already parsed
    source: str | None = None
    pool: str | None = None
    forward: str | None = None
    record: bool = False
    whisper: str | None = None
    vanity: str | None = None
    region: str | None = None
    consent: str | None = None  # "always" / "never"; None = [recording] consent
    google_call_asset: bool = False  # reached through Google forwarding numbers / call assets


def _row_to_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["record"] = bool(d["record"])
    d["google_call_asset"] = bool(d["google_call_asset"])
    return d


def _insert_number(conn: sqlite3.Connection, spec: NumberSpec) -> None:
    if (spec.source is None) == (spec.pool is None):
        raise Invalid("a number needs exactly one of --source or --pool")
    existing = conn.execute("SELECT state FROM numbers WHERE number = ?", (spec.number,)).fetchone()
    if existing is not None:
        raise Conflict(f"{spec.number} is already a tracking number ({existing[0]})")
    if conn.execute("SELECT 1 FROM pools WHERE fallback = ?", (spec.number,)).fetchone():
        raise Conflict(f"{spec.number} is a pool's fallback number")
    source_id = _source_id(conn, spec.source) if spec.source is not None else None
    pool_id = _pool_id(conn, spec.pool) if spec.pool is not None else None
    conn.execute(
        """INSERT INTO numbers(number, kind, source_id, pool_id, forward, record, whisper, vanity, region, consent,
                              google_call_asset)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            spec.number,
            NumberKind.STATIC if source_id else NumberKind.POOL,
            source_id,
            pool_id,
            spec.forward,
            int(spec.record),
            spec.whisper,
            spec.vanity,
            spec.region,
            spec.consent,
            int(spec.google_call_asset),
        ),
    )


def add_number(conn: sqlite3.Connection, spec: NumberSpec) -> dict[str, Any]:
    with transaction(conn):
        _insert_number(conn, spec)
    return get_number(conn, spec.number)


def import_numbers(
    conn: sqlite3.Connection, specs: Iterable[tuple[int, NumberSpec]], problems: Iterable[tuple[int, str]] = ()
) -> int:
    """Insert all numbers or none.

    `problems` are lines the caller already found bad; every line is still checked against the
    database so that the admin sees all bad lines at once, as 'line N: reason', in line order.
    """
    found = list(problems)
    count = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        for line, spec in specs:
            conn.execute("SAVEPOINT line")
            try:
                _insert_number(conn, spec)
                count += 1
            except CatalogError as exc:
                found.append((line, str(exc)))
                conn.execute("ROLLBACK TO line")
            conn.execute("RELEASE line")
        if found:
            raise Invalid("\n".join(f"line {line}: {reason}" for line, reason in sorted(found)))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return count


def list_numbers(conn: sqlite3.Connection, include_retired: bool = True) -> list[dict[str, Any]]:
    where = "" if include_retired else "WHERE n.state = 'active'"
    rows = conn.execute(f"SELECT {_NUMBER_COLUMNS} FROM {_NUMBER_FROM} {where} ORDER BY n.number").fetchall()
    return [_row_to_dict(r) for r in rows]


def get_number(conn: sqlite3.Connection, number: str) -> dict[str, Any]:
    row = conn.execute(f"SELECT {_NUMBER_COLUMNS} FROM {_NUMBER_FROM} WHERE n.number = ?", (number,)).fetchone()
    if row is None:
        raise NotFound(f"{number} is not a tracking number (see `ctrack number list`)")
    return _row_to_dict(row)


def edit_number(
    conn: sqlite3.Connection,
    number: str,
    *,
    source: str | None = None,
    pool: str | None = None,
    forward: Any = _UNSET,
    record: bool | None = None,
    whisper: Any = _UNSET,
    vanity: Any = _UNSET,
    region: Any = _UNSET,
    consent: Any = _UNSET,
    google_call_asset: bool | None = None,
) -> dict[str, Any]:
    """Change a number; a text field given as '' is cleared."""
    if source is not None and pool is not None:
        raise Invalid("give either --source or --pool, not both")
    with transaction(conn):
        get_number(conn, number)
        if source is not None:
            conn.execute(
                "UPDATE numbers SET kind = 'static', source_id = ?, pool_id = NULL WHERE number = ?",
                (_source_id(conn, source), number),
            )
        if pool is not None:
            conn.execute(
                "UPDATE numbers SET kind = 'pool', pool_id = ?, source_id = NULL WHERE number = ?",
                (_pool_id(conn, pool), number),
            )
        if record is not None:
            conn.execute("UPDATE numbers SET record = ? WHERE number = ?", (int(record), number))
        if google_call_asset is not None:
            conn.execute("UPDATE numbers SET google_call_asset = ? WHERE number = ?", (int(google_call_asset), number))
        for column, value in (
            ("forward", forward),
            ("whisper", whisper),
            ("vanity", vanity),
            ("region", region),
            ("consent", consent),
        ):
            if value is not _UNSET:
                conn.execute(f"UPDATE numbers SET {column} = ? WHERE number = ?", (value or None, number))
    return get_number(conn, number)


def retire_number(conn: sqlite3.Connection, number: str) -> None:
    """Stop tracking a number; its calls stay in the log. Retiring twice is refused."""
    with transaction(conn):
        if get_number(conn, number)["state"] == NumberState.RETIRED:
            raise Conflict(f"{number} is already retired")
        conn.execute(
            "UPDATE numbers SET state = 'retired', retired_at = (julianday('now') - 2440587.5) * 86400.0 "
            "WHERE number = ?",
            (number,),
        )


# --- the route's snapshot ------------------------------------------------------------------


def load_catalog(conn: sqlite3.Connection) -> Catalog:
    """Everything the route needs, read in one transaction."""
    conn.execute("BEGIN")
    try:
        sources = {
            r["name"]: Source(r["name"], r["channel"], r["campaign"])
            for r in conn.execute("SELECT name, channel, campaign FROM sources")
        }
        pools = {
            r["name"]: Pool(
                r["name"],
                r["site"],
                r["lease_seconds"],
                r["fallback"],
                r["overflow"],
                r["region"],
                r["path_prefix"],
                r["utm_campaign"],
            )
            for r in conn.execute(
                "SELECT name, site, lease_seconds, fallback, overflow, region, path_prefix, utm_campaign FROM pools"
            )
        }
        numbers = {}
        for r in conn.execute(f"SELECT {_NUMBER_COLUMNS} FROM {_NUMBER_FROM} WHERE n.state = 'active'"):
            numbers[r["number"]] = TrackingNumber(
                number=r["number"],
                kind=NumberKind(r["kind"]),
                source=r["source"],
                pool=r["pool"],
                forward=r["forward"],
                record=bool(r["record"]),
                whisper=r["whisper"],
                vanity=r["vanity"],
                region=r["region"],
                state=NumberState(r["state"]),
                consent=r["consent"],
            )
        try:
            blocked = load_block_list(conn)
        except sqlite3.Error as exc:  # everyone rings rather than no one: route without the list
            log.error("block list unreadable (%s); routing every caller", exc)
            blocked = BlockList()
    finally:
        conn.execute("COMMIT")
    return Catalog(numbers=numbers, sources=sources, pools=pools, blocked=blocked)
