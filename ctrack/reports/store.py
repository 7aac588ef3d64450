"""Report queries shared by the CLI and the dashboard: a connection and a Period in, rows out.

Counts come from the per-day roll-ups (migrations 0003, 0010), which are bucketed in one
time zone; every report first checks that zone is the period's (adapters call
store.rollups.ensure_timezone beforehand). A tag filter is answered from the call log
with the roll-up's own aggregation. Definitions, used everywhere:
- answered: disposition answered; missed: the business did not pick up (missed, busy,
  failed, voicemail); abandoned: the caller hung up while it rang.
- first-time: no call from that number within the repeat window before it.
- leads: calls whose lead status is lead (set by the lead rules or a person; the default
  rule is answered and talked at least [calls] qualified_seconds).
- lead status none: nobody and no rule decided. Spam is left out unless asked for.
- value: the sum of the calls' values; ROI: value over spend.
- average talk time: talk seconds over answered calls.
- cost per call / per lead: the period's spend over those counts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ctrack.catalog.store import NotFound
from ctrack.core.period import DAY, Period, day_number, from_day_number, weekday_of
from ctrack.dni.pools import GrantKind, pool_usage
from ctrack.dni.store import pool_grants
from ctrack.errors import CtrackError
from ctrack.leads.rules import LEAD_STATUSES
from ctrack.reports.rollups import DAILY_SELECT, HOURLY_SELECT, rollup_timezone

COUNTS = ("calls", "answered", "missed", "abandoned", "first_time", "leads")
MEASURES = (
    *COUNTS,
    "talk_seconds",
    "avg_talk_seconds",
    "value",
    "spend",
    "cost_per_call",
    "cost_per_lead",
    "roi",
)
SOURCE_COLUMNS = ("source", "channel", *MEASURES)
CHANNEL_COLUMNS = ("channel", *MEASURES)
STATUS_COLUMNS = ("lead_status", "calls", "share", "value", "cost_per_call")
DAILY_COUNTS = (*COUNTS, "value", "spend")
HEATMAP_COLUMNS = ("weekday", "hour", "calls", "missed")
_SUMMED = (*COUNTS, "talk_seconds", "value")
GROUPINGS = ("source", "channel")
STATUS_CHOICES = (*LEAD_STATUSES, "none")  # none = undecided
DEFAULT_STATUSES = ("lead", "not_lead", "none")  # spam is left out unless asked for


class ReportError(CtrackError):
    """A report that cannot be produced as asked; str() is the one-line reason."""


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Which calls a report counts: by lead status (spam left out by default), tag and site
    ([ctrack] site; None = all sites together)."""

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    tag: str | None = None
    site: str | None = None

    def __post_init__(self) -> None:
        bad = [s for s in self.statuses if s not in STATUS_CHOICES]
        if bad or not self.statuses:
            raise ReportError(
                f"unknown lead status {bad[0] if bad else ''!r} (one or more of: {', '.join(STATUS_CHOICES)})"
            )

    def keys(self) -> list[str]:
        """The statuses as the roll-ups store them ('' = none)."""
        return ["" if s == "none" else s for s in self.statuses]


ALL = ReportFilter()


def _check_zone(conn: sqlite3.Connection, period: Period) -> None:
    zone = rollup_timezone(conn)
    if zone != period.tz:
        raise ReportError(
            f"report roll-ups are bucketed in {zone or 'no time zone yet'!s}, not {period.tz} "
            "(rebuild them with store.rollups.ensure_timezone)"
        )


def _check_grouping(by: str) -> None:
    if by not in GROUPINGS:
        raise ReportError(f"cannot group by {by!r} (one of: {', '.join(GROUPINGS)})")


def _rows(table: str, period: Period, filters: ReportFilter) -> tuple[str, list[Any]]:
    """FROM … WHERE … over the roll-up (or, with a tag filter, the same aggregation of the
    tagged calls), limited to the period, the lead statuses and the site."""
    first, last = period.day_numbers()
    keys = filters.keys()
    params: list[Any] = []
    if filters.tag is None:
        source = table
    else:
        select = DAILY_SELECT if table == "daily_rollup" else HOURLY_SELECT
        source = (
            "("
            + select.format(
                where="WHERE c.started_at >= ? AND c.started_at < ? "
                "AND c.id IN (SELECT call_id FROM call_tags WHERE tag = ?)"
            )
            + ") AS tagged"  # PostgreSQL 15 wants the subquery named
        )
        params += [period.start_ts, period.end_ts, filters.tag]
    where = f"day BETWEEN ? AND ? AND lead_status IN ({', '.join('?' * len(keys))})"
    params += [first, last, *keys]
    if filters.site is not None:
        where += " AND site = ?"
        params.append(filters.site)
    return f"FROM {source} WHERE {where}", params


def _money(value: float | None) -> float | None:
    return None if value is None else round(value + 0.0, 2)


def derive(row: dict[str, Any]) -> dict[str, Any]:
    """Add the average talk time, the costs and ROI to a row of counts, talk, value and spend."""
    calls, answered, leads, spend = row["calls"], row["answered"], row["leads"], row["spend"]
    row["avg_talk_seconds"] = round(row["talk_seconds"] / answered, 1) if answered else None
    row["spend"] = _money(spend)
    row["value"] = _money(row["value"])
    row["cost_per_call"] = _money(spend / calls) if calls and spend is not None else None
    row["cost_per_lead"] = _money(spend / leads) if leads and spend is not None else None
    row["roi"] = round(row["value"] / spend, 2) if spend else None
    return row


def _spend_by(conn: sqlite3.Connection, period: Period, by: str, filters: ReportFilter = ALL) -> dict[str, float]:
    """Spend per source or channel; none for one site, as spend is not kept per site."""
    if filters.site is not None:
        return {}
    key = "s.name" if by == "source" else "s.channel"
    rows = conn.execute(
        f"""
        SELECT {key} AS k, sum(sp.amount) FROM spend sp JOIN sources s ON s.id = sp.source_id
        WHERE sp.day BETWEEN ? AND ? GROUP BY k""",
        (period.first.isoformat(), period.last.isoformat()),
    )
    return {k: amount for k, amount in rows}


_SUMS = """sum(calls), sum(answered), sum(missed), sum(abandoned), sum(first_time),
           sum(CASE WHEN lead_status = 'lead' THEN calls ELSE 0 END), sum(talk_seconds), sum(value)"""


def sources_report(
    conn: sqlite3.Connection, period: Period, by: str = "source", filters: ReportFilter = ALL
) -> list[dict[str, Any]]:
    """One row per source (with its channel) or per channel: counts, leads, value, spend,
    costs and ROI.

    A source with spend but no calls in the period is listed too (its cost per call is
    unknown, not zero). Rows are ordered by calls, then spend, then name. Spend is not kept
    per site, so a one-site report shows none."""
    _check_grouping(by)
    _check_zone(conn, period)
    rows_from, params = _rows("daily_rollup", period, filters)
    counted = conn.execute(f"SELECT source, channel, {_SUMS} {rows_from} GROUP BY source, channel", params).fetchall()
    catalog_channel = dict(conn.execute("SELECT name, channel FROM sources").fetchall())
    groups: dict[str, dict[str, Any]] = {}
    seen_channels: dict[str, dict[str, int]] = {}
    for source, channel, *sums in counted:
        if sums[0] <= 0:
            continue
        key = source if by == "source" else channel
        row = groups.setdefault(key, dict.fromkeys(_SUMMED, 0))
        for name, value in zip(_SUMMED, sums):
            row[name] += value
        seen_channels.setdefault(key, {})[channel] = sums[0]
    spend = _spend_by(conn, period, by, filters)
    for key in spend:
        groups.setdefault(key, dict.fromkeys(_SUMMED, 0))
    rows = []
    for key, row in groups.items():
        row["spend"] = spend.get(key)
        derive(row)
        if by == "source":
            # The catalog's channel; a source the catalog lacks (a DNI-classified referrer)
            # shows the channel most of its calls carried.
            channel = (
                catalog_channel.get(key)
                or max(seen_channels.get(key, {"": 0}).items(), key=lambda kv: (kv[1], kv[0]))[0]
            )
            row.update(source=key or None, channel=channel or None)
        else:
            row["channel"] = key or None
        rows.append({c: row[c] for c in (SOURCE_COLUMNS if by == "source" else CHANNEL_COLUMNS)})
    rows.sort(key=lambda r: (-r["calls"], -(r["spend"] or 0), r.get(by) or "\uffff"))
    return rows


def totals(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The sum of sources-report rows; averages, costs and ROI are recomputed, not averaged."""
    rows = list(rows)
    total: dict[str, Any] = {name: sum(r[name] or 0 for r in rows) for name in _SUMMED}
    spends = [r["spend"] for r in rows if r["spend"] is not None]
    total["spend"] = sum(spends) if spends else None
    return derive(total)


def status_report(conn: sqlite3.Connection, period: Period, filters: ReportFilter = ALL) -> list[dict[str, Any]]:
    """One row per lead status asked for: calls, their share, value, and the period's whole
    spend over them (for the lead row: the cost per lead)."""
    _check_zone(conn, period)
    rows_from, params = _rows("daily_rollup", period, filters)
    sums = {
        status or "none": (calls, value)
        for status, calls, value in conn.execute(
            f"SELECT lead_status, sum(calls), sum(value) {rows_from} GROUP BY lead_status", params
        )
    }
    spend = sum(_spend_by(conn, period, "source", filters).values()) or None
    total = sum(c for c, _ in sums.values())
    rows = []
    for status in filters.statuses:
        calls, value = sums.get(status, (0, 0.0))
        rows.append(
            {
                "lead_status": status,
                "calls": calls,
                "share": round(calls / total, 4) if total else None,
                "value": _money(value),
                "cost_per_call": _money(spend / calls) if calls and spend is not None else None,
            }
        )
    return rows


def heatmap(conn: sqlite3.Connection, period: Period, filters: ReportFilter = ALL) -> list[dict[str, Any]]:
    """Calls and missed calls for each local weekday (0 = Monday) × hour: all 168 cells."""
    _check_zone(conn, period)
    rows_from, params = _rows("hourly_rollup", period, filters)
    cells = {(d, h): [0, 0] for d in range(7) for h in range(24)}
    for day, hour, calls, missed in conn.execute(
        f"SELECT day, hour, sum(calls), sum(missed) {rows_from} GROUP BY day, hour", params
    ):
        cell = cells[(weekday_of(day), hour)]
        cell[0] += calls
        cell[1] += missed
    return [{"weekday": d, "hour": h, "calls": c, "missed": m} for (d, h), (c, m) in sorted(cells.items())]


def daily_report(
    conn: sqlite3.Connection, period: Period, by: str = "source", filters: ReportFilter = ALL
) -> list[dict[str, Any]]:
    """The trend: one row per local day and source (or channel) with calls or spend that day
    (spend only for all sites together)."""
    _check_grouping(by)
    _check_zone(conn, period)
    first, last = period.day_numbers()
    column = "source" if by == "source" else "channel"
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    iso = {n: from_day_number(n).isoformat() for n in range(first, last + 1)}
    rows_from, params = _rows("daily_rollup", period, filters)
    for day, key, calls, answered, missed, abandoned, first_time, leads, _talk, value in conn.execute(
        f"SELECT day, {column}, {_SUMS} {rows_from} GROUP BY day, {column}", params
    ):
        if calls > 0:
            rows[(iso[day], key)] = {
                "day": iso[day],
                by: key or None,
                "calls": calls,
                "answered": answered,
                "missed": missed,
                "abandoned": abandoned,
                "first_time": first_time,
                "leads": leads,
                "value": _money(value),
                "spend": None,
            }
    key_sql = "s.name" if by == "source" else "s.channel"
    spend = conn.execute(
        f"""
            SELECT sp.day, {key_sql} AS k, sum(sp.amount) FROM spend sp JOIN sources s ON s.id = sp.source_id
            WHERE sp.day BETWEEN ? AND ? GROUP BY sp.day, k""",
        (period.first.isoformat(), period.last.isoformat()),
    )
    for iso_day, key, amount in spend if filters.site is None else ():
        row = rows.setdefault(
            (iso_day, key), {"day": iso_day, by: key or None, **dict.fromkeys(COUNTS, 0), "value": 0.0, "spend": None}
        )
        row["spend"] = _money(amount)
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0], k[1] or "\uffff"))]


def trend(rows: Iterable[dict[str, Any]], period: Period) -> list[dict[str, Any]]:
    """Daily rows summed per day, every day of the period present (zeros where quiet)."""
    days = {
        from_day_number(n).isoformat(): {"day": from_day_number(n).isoformat(), **dict.fromkeys(COUNTS, 0)}
        for n in range(day_number(period.first), day_number(period.last) + 1)
    }
    for row in rows:
        for name in COUNTS:
            days[row["day"]][name] += row[name]
    return list(days.values())


# --- pools -------------------------------------------------------------------------------


def pool_utilization(conn: sqlite3.Connection, period: Period, now: float, grace: float) -> list[dict[str, Any]]:
    """Per DNI pool over the period (up to now): numbers, those leased right now, the share
    of number-time leased, visits, the share of visits sent to overflow (pressure), peak
    demand and the size it suggests (core.pools.pool_usage), and calls to its numbers."""
    start, end = period.start_ts, min(period.end_ts, now)
    rows = []
    for pool_id, name, site in conn.execute("SELECT id, name, site FROM pools ORDER BY name").fetchall():
        numbers = [
            r[0] for r in conn.execute("SELECT number FROM numbers WHERE pool_id = ? AND state = 'active'", (pool_id,))
        ]
        spans = pool_grants(conn, pool_id, name, start - grace, max(end, now))
        usage = pool_usage(spans, len(numbers), start, end, grace) if end > start else None
        leased_now = {s.number for s in spans if s.kind != GrantKind.FALLBACK and s.started_at <= now < s.expires_at}
        calls = 0
        if numbers:
            marks = ",".join("?" * len(numbers))
            calls = conn.execute(
                f"SELECT count(*) FROM calls WHERE tracking_number IN ({marks}) AND started_at >= ? AND started_at < ?",
                (*numbers, period.start_ts, period.end_ts),
            ).fetchone()[0]
        rows.append(
            {
                "pool": name,
                "site": site,
                "numbers": len(numbers),
                "leased_now": len(leased_now),
                "utilization": round(usage.utilization, 4) if usage else None,
                "visits": usage.visits if usage else 0,
                "pressure": round(usage.pressure, 4) if usage else None,
                "peak_visits": usage.peak_visits if usage else 0,
                "recommended_size": usage.recommended if usage else None,
                "calls": calls,
            }
        )
    return rows


def pool_stats(conn: sqlite3.Connection, pool: str, days: int, now: float, grace: float) -> dict[str, Any]:
    """`ctrack pool stats`: usage of one pool over the last `days` (or since it was created)."""
    row = conn.execute("SELECT id, site, created_at FROM pools WHERE name = ?", (pool,)).fetchone()
    if row is None:
        raise NotFound(f"unknown pool {pool!r} (see `ctrack pool list`)")
    start = max(now - days * DAY, row["created_at"])
    numbers = conn.execute(
        "SELECT count(*) FROM numbers WHERE pool_id = ? AND state = 'active'", (row["id"],)
    ).fetchone()[0]
    spans = pool_grants(conn, row["id"], pool, start - grace, now)
    usage = pool_usage(spans, numbers, start, now, grace)
    leased_now = {s.number for s in spans if s.kind != GrantKind.FALLBACK and s.started_at <= now < s.expires_at}
    return {
        "pool": pool,
        "site": row["site"],
        "since": start,
        "days": round((now - start) / DAY, 2),
        "numbers": numbers,
        "leased_now": len(leased_now),
        "visits": usage.visits,
        "utilization": round(usage.utilization, 4),
        "pressure_visits": usage.pressure_visits,
        "pressure": round(usage.pressure, 4),
        "peak_visits": usage.peak_visits,
        "recommended_size": usage.recommended,
    }
