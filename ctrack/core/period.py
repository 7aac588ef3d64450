"""Report periods and time-zone arithmetic: whole local days in the configured zone.

A report covers whole days as the business sees them, so a day is a local calendar day
(23 or 25 hours long across a DST change). Calls are stored in UTC; the roll-ups bucket
them with the zone's UTC offsets, which `offset_segments` lists exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from ctrack.errors import CtrackError

DAY = 86400.0  # seconds in a day of unix time (no leap seconds), the one such constant
EPOCH = date(1970, 1, 1)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Before the first segment the first offset holds; the sentinel keeps lookups total.
BEGINNING = -1e18


class PeriodError(CtrackError, ValueError):
    """A period that cannot be reported on; str() is the one-line reason."""


def day_number(day: date) -> int:
    """Days since 1970-01-01: how the roll-ups key a local day."""
    return (day - EPOCH).days


def from_day_number(number: int) -> date:
    return EPOCH + timedelta(days=number)


def weekday_of(number: int) -> int:
    """Monday = 0 … Sunday = 6 for a day number (1970-01-01 was a Thursday)."""
    return (number + 3) % 7


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{what} {text!r}: not a date (use YYYY-MM-DD)") from None


@dataclass(frozen=True, slots=True)
class Period:
    """Local days first..last, both included, in time zone `tz`."""

    first: date
    last: date
    tz: str

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise PeriodError(f"the period starts ({self.first}) after it ends ({self.last})")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def start_ts(self) -> float:
        """Unix time of the first day's local midnight."""
        return local_midnight(self.first, self.zone)

    @property
    def end_ts(self) -> float:
        """Unix time of the local midnight after the last day (exclusive end)."""
        return local_midnight(self.last + timedelta(days=1), self.zone)

    def day_numbers(self) -> tuple[int, int]:
        return day_number(self.first), day_number(self.last)

    def label(self) -> str:
        return f"{self.first} – {self.last}" if self.first != self.last else str(self.first)


def local_midnight(day: date, zone: ZoneInfo) -> float:
    return datetime.combine(day, time(0), tzinfo=zone).timestamp()


def today_in(tz: str, now: float) -> date:
    return datetime.fromtimestamp(now, ZoneInfo(tz)).date()


def period_from(since: str | None, until: str | None, tz: str, today: date, default_days: int = 30) -> Period:
    """The period named by --since/--until (dates, both included); defaults end today."""
    last = parse_day(until, "--until") if until else today
    first = parse_day(since, "--since") if since else last - timedelta(days=default_days - 1)
    return Period(first, last, tz)


def local_datetime(ts: float, tz: str) -> datetime:
    return datetime.fromtimestamp(ts, ZoneInfo(tz))


@lru_cache(maxsize=8)
def offset_segments(tz: str, first_year: int = 1970, last_year: int = 2100) -> tuple[tuple[float, int], ...]:
    """((start_at, utc_offset_seconds), …) covering all time: each offset holds from its
    start until the next one. Transitions are found to the second by stepping a day at a
    time and bisecting where the offset changes (zoneinfo does not list them)."""
    zone = ZoneInfo(tz)

    def offset(ts: int) -> int:
        utcoffset = datetime.fromtimestamp(ts, zone).utcoffset()
        assert utcoffset is not None  # an aware datetime always has one
        return int(utcoffset.total_seconds())

    start = int(datetime(first_year, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(last_year, 1, 1, tzinfo=UTC).timestamp())
    segments = [(BEGINNING, offset(start))]
    current, ts = segments[0][1], start
    while ts < end:
        nxt = ts + int(DAY)
        if offset(nxt) != current:
            lo, hi = ts, nxt  # offset(lo) == current, offset(hi) != current
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == current:
                    lo = mid
                else:
                    hi = mid
            current = offset(hi)
            segments.append((float(hi), current))
        ts = nxt
    return tuple(segments)
