"""The calls a region report reads (the CLI's `ctrack report regions` and the dashboard's
regions page share it)."""

from __future__ import annotations

import sqlite3

from ctrack.geo.report import calls_by_region


def region_report(conn: sqlite3.Connection, since: float, until: float) -> list[dict[str, object]]:
    """Calls started in [since, until) by caller region against number and pool region."""
    calls = conn.execute(
        "SELECT tracking_number, caller_number, answered_at IS NOT NULL, pool_region FROM calls "
        "WHERE started_at >= ? AND started_at < ?",
        (since, until),
    ).fetchall()
    regions = {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT n.number, coalesce(n.region, p.region) FROM numbers n LEFT JOIN pools p ON p.id = n.pool_id "
            "WHERE coalesce(n.region, p.region) IS NOT NULL"
        )
    }
    return calls_by_region(((r[0], r[1], bool(r[2]), r[3]) for r in calls), regions)
