"""Calls by region (pure): where callers are from, against where the tracking number serves
and where the page that showed it was aimed (the pool's region), so a business sees whether
its Seattle ads bring Seattle callers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from ctrack.geo.regions import place_of, region_of

UNKNOWN = "unknown"
REGION_COLUMNS = ("caller_region", "caller_city", "number_region", "pool_region", "calls", "answered")
SERVED_COLUMNS = ("served_region", "calls", "local_calls", "local_share")


def calls_by_region(
    calls: Iterable[tuple[str | None, str | None, bool, str | None]], number_regions: Mapping[str, str]
) -> list[dict[str, object]]:
    """Rows from (tracking number, caller number, answered, pool region) per call; a tracking
    number's region is its catalog region (or its pool's) when set, else the region its own
    number is from; the pool region is that of the pool whose page showed the number ('' for
    a call no visit was credited with)."""
    total: Counter[tuple[str, str, str, str]] = Counter()
    answered: Counter[tuple[str, str, str, str]] = Counter()
    for tracking, caller, was_answered, pool_region in calls:
        region, city = place_of(caller)
        served = number_regions.get(tracking or "") or region_of(tracking) or UNKNOWN
        key = (region or UNKNOWN, city or "", served, pool_region or "")
        total[key] += 1
        answered[key] += int(was_answered)
    return [
        dict(zip(REGION_COLUMNS, (*key, count, answered[key]), strict=True))
        for key, count in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def served_regions(rows: Iterable[Mapping[str, object]]) -> list[dict[str, object]]:
    """Per region marketed to (the pool's region, else the tracking number's): its calls and
    how many came from callers in that region."""
    calls: Counter[str] = Counter()
    local: Counter[str] = Counter()
    for row in rows:
        served = str(row["pool_region"] or row["number_region"])
        count = int(str(row["calls"]))
        calls[served] += count
        if served != UNKNOWN and row["caller_region"] == served:
            local[served] += count
    return [
        dict(zip(SERVED_COLUMNS, (served, count, local[served], local[served] / count), strict=True))
        for served, count in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
