"""Business hours: opening times per weekday in the business's time zone. One rule serves
the lead rules' business_hours condition and the alerts' missed-call hours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Hours:
    """Opening hours per weekday (0 = Monday): a tuple of (open, close) local times each."""

    days: tuple[tuple[tuple[time, time], ...], ...] = ((),) * 7

    @property
    def is_set(self) -> bool:
        return any(self.days)

    def open_at(self, local: datetime) -> bool:
        now = local.time()
        return any(start <= now < end for start, end in self.days[local.weekday()])

    def open_at_time(self, at: float, tz: str) -> bool:
        """open_at for an epoch time, read in the time zone tz."""
        return self.open_at(datetime.fromtimestamp(at, ZoneInfo(tz)))


CLOSED = Hours()


def parse_hours(text: str) -> Hours:
    """'mon-fri 08:00-17:30, sat 09:00-12:00' → Hours; days not listed are closed."""
    days: list[list[tuple[time, time]]] = [[] for _ in range(7)]
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        m = re.fullmatch(r"([a-z]{3})(?:-([a-z]{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", part.lower())
        if not m or m.group(1) not in WEEKDAY_NAMES or (m.group(2) and m.group(2) not in WEEKDAY_NAMES):
            raise ValueError(f"{part!r}: expected DAY[-DAY] HH:MM-HH:MM such as mon-fri 08:00-17:00")
        first = WEEKDAY_NAMES.index(m.group(1))
        last = WEEKDAY_NAMES.index(m.group(2) or m.group(1))
        h1, m1, h2, m2 = (int(m.group(i)) for i in range(3, 7))
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"{part!r}: not a time of day")
        start, end = time(h1, m1), time.max if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"{part!r}: closes before it opens")
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
        for day in span:
            days[day].append((start, end))
    return Hours(tuple(tuple(d) for d in days))
