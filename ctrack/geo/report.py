"""Calls by region (pure): where callers are from, against where the tracking number serves,
so a business sees whether its Seattle ads bring Seattle callers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from ctrack.geo.regions import place_of, region_of

UNKNOWN = "unknown"
REGION_COLUMNS = ("caller_region", "caller_city", "number_region", "calls", "answered")


def calls_by_region(
    calls: Iterable[tuple[str | None, str | None, bool]], number_regions: Mapping[str, str]
) -> list[dict[str, object]]:
    """Rows from (tracking number, caller number, answered) per call; a tracking number's
    region is its catalog region when set, else the region its own number is from."""
    total: Counter[tuple[str, str, str]] = Counter()
    answered: Counter[tuple[str, str, str]] = Counter()
    for tracking, caller, was_answered in calls:
        region, city = place_of(caller)
        served = number_regions.get(tracking or "") or region_of(tracking) or UNKNOWN
        key = (region or UNKNOWN, city or "", served)
        total[key] += 1
        answered[key] += int(was_answered)
    return [
        dict(zip(REGION_COLUMNS, (*key, count, answered[key]), strict=True))
        for key, count in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
