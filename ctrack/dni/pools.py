"""DNI pools in memory: which number is leased to which visit until when.

A pool number is leased to one visit at a time; a heartbeat renews the lease; an expired
lease returns its number to the free list, least recently used first, so a number that was
just on someone's screen rests as long as possible before the next visitor sees it. When
every number is taken the pool overflows: it serves its fallback number, or shares the
leased number used least recently, and counts that as pool pressure.

Pure and synchronous: the HTTP adapter calls it with the clock, and persists what it grants.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ctrack.core.model import Pool


class GrantKind(StrEnum):
    LEASE = "lease"  # the visit holds the number alone
    SHARED = "shared"  # overflow: the number was already leased to another visit
    FALLBACK = "fallback"  # overflow: the pool's fallback number (or nothing), no lease


@dataclass(frozen=True, slots=True)
class Grant:
    """What a visit was given by a pool, from started_at until expires_at."""

    visit_id: str
    pool: str
    number: str | None  # None: a fallback with no fallback number configured
    kind: GrantKind
    started_at: float
    expires_at: float

    def until(self, expires_at: float) -> Grant:
        return Grant(self.visit_id, self.pool, self.number, self.kind, self.started_at, expires_at)


def _held_number(grant: Grant) -> str | None:
    """The pool number a grant holds; None for a fallback, which holds none (it may still show a number)."""
    return None if grant.kind == GrantKind.FALLBACK else grant.number


@dataclass(frozen=True, slots=True)
class LeaseResult:
    grant: Grant
    ended: tuple[Grant, ...] = ()  # grants this request ended early (a fallback upgraded to a lease)


class PoolLeases:
    """One pool's numbers, leases and pressure counters."""

    def __init__(self, pool: Pool, numbers: Iterable[str], last_used: Mapping[str, float] | None = None):
        self.pool = pool
        self._numbers: set[str] = set()
        self._free: OrderedDict[str, float] = OrderedDict()  # number -> last used; LRU first
        self._holders: dict[str, dict[str, Grant]] = {}  # number -> visit -> grant
        self._in_use: OrderedDict[str, None] = OrderedDict()  # leased numbers, LRU first
        self._grants: dict[str, Grant] = {}  # visit -> grant (any kind)
        self._released: dict[str, tuple[str, float]] = {}  # number -> (visit, lease end)
        self._heap: list[tuple[float, str]] = []  # (expires_at, visit); lazy
        self._client_of: dict[str, str] = {}  # visit -> the client that last asked for its number
        self._by_client: dict[str, dict[str, str]] = {}  # client -> visit -> number, numbered grants only
        self.leases_total = 0
        self.renewals_total = 0
        self.overflow_total = 0  # visits sent to overflow (a fallback or shared grant)
        self.overflow_requests_total = 0  # requests answered from overflow, renewals included
        self.capped_total = 0  # new visits given a number their client already holds (lease cap)
        self.peak_visits = 0
        self.set_numbers(numbers, last_used or {})

    # --- configuration --------------------------------------------------------------------

    def set_numbers(self, numbers: Iterable[str], last_used: Mapping[str, float] | None = None) -> None:
        """Follow the catalog: new numbers join the free list first (never used is least
        recently used); a removed number keeps its leases until they expire, then leaves."""
        wanted = set(numbers)
        last_used = last_used or {}
        for number in self._numbers - wanted:
            self._free.pop(number, None)
        added = sorted(wanted - self._numbers, key=lambda n: (last_used.get(n, 0.0), n), reverse=True)
        for number in added:
            if number not in self._holders:
                self._free[number] = last_used.get(number, 0.0)
                self._free.move_to_end(number, last=False)
        self._numbers = wanted

    # --- leasing --------------------------------------------------------------------------

    def grant_of(self, visit_id: str) -> Grant | None:
        return self._grants.get(visit_id)

    def has_free(self, now: float) -> bool:
        self.expire(now)
        return bool(self._free)

    def lease(self, visit_id: str, now: float, client: str | None = None) -> LeaseResult:
        """Lease, renew or overflow for one visit at `now`; `client` is who asked (lease cap)."""
        self.expire(now)
        held = self._grants.get(visit_id)
        expires = now + self.pool.lease_seconds
        if held is not None and held.kind != GrantKind.FALLBACK:
            return LeaseResult(self._renew(held, expires, client))
        ended: tuple[Grant, ...] = ()
        if held is not None:
            if not self._free:
                self.overflow_requests_total += 1
                return LeaseResult(self._renew(held, expires, client))
            ended = (self.drop(visit_id, now),)
        if self._free:
            number, _ = self._free.popitem(last=False)
            grant = Grant(visit_id, self.pool.name, number, GrantKind.LEASE, now, expires)
            self.leases_total += 1
        elif self.pool.overflow == "share" and self._in_use:
            number = next(iter(self._in_use))
            grant = Grant(visit_id, self.pool.name, number, GrantKind.SHARED, now, expires)
            self.overflow_total += 1
            self.overflow_requests_total += 1
        else:
            grant = Grant(visit_id, self.pool.name, self.pool.fallback, GrantKind.FALLBACK, now, expires)
            self.overflow_total += 1
            self.overflow_requests_total += 1
        self._hold(grant, client)
        self.peak_visits = max(self.peak_visits, len(self._grants))
        return LeaseResult(grant, ended)

    def join(self, visit_id: str, number: str, now: float, client: str) -> LeaseResult:
        """A capped client's new visit shares `number`, which the client already holds."""
        self.expire(now)
        ended = (self.drop(visit_id, now),) if visit_id in self._grants else ()
        grant = Grant(visit_id, self.pool.name, number, GrantKind.SHARED, now, now + self.pool.lease_seconds)
        self.capped_total += 1
        self._hold(grant, client)
        self.peak_visits = max(self.peak_visits, len(self._grants))
        return LeaseResult(grant, ended)

    def numbers_of(self, client: str, now: float) -> list[str]:
        """The numbers `client`'s visits hold now, oldest grant first."""
        self.expire(now)
        return list(dict.fromkeys(self._by_client.get(client, {}).values()))

    def restore(self, grant: Grant, client: str | None = None) -> None:
        """Put back a grant read from the database (daemon start; every lease on PostgreSQL),
        counted against `client` when the database knows whose it is."""
        if grant.number is not None and grant.kind != GrantKind.FALLBACK:
            self._free.pop(grant.number, None)
        self._hold(grant, client)
        self.peak_visits = max(self.peak_visits, len(self._grants))

    def apply(self, grant: Grant, client: str | None = None) -> None:
        """Take a grant as the database holds it now (another node may have written it): it
        replaces the visit's grant unless that one started later (an older grant, ended)."""
        old = self._grants.get(grant.visit_id)
        if old is not None:
            if old.started_at > grant.started_at:
                return
            if old == grant and (
                client is None or _held_number(grant) is None or self._client_of.get(grant.visit_id) == client
            ):
                return  # as held already (a node reads back its own writes)
            del self._grants[grant.visit_id]
            self._unhold(old)
        self.restore(grant, client)

    def note_released(self, number: str, visit_id: str, ended_at: float) -> None:
        """Remember (on daemon start) a lease that ended recently, for visit_for's grace."""
        if ended_at >= self._released.get(number, ("", -math.inf))[1]:
            self._released[number] = (visit_id, ended_at)

    def drop(self, visit_id: str, now: float) -> Grant:
        """End a visit's grant now; return it as ended."""
        grant = self._grants.pop(visit_id)
        ended = grant.until(min(grant.expires_at, now))
        self._unhold(ended)
        return ended

    def expire(self, now: float) -> None:
        """Return the numbers of leases that ran out by `now` to the free list."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            expires_at, visit_id = heapq.heappop(heap)
            grant = self._grants.get(visit_id)
            if grant is not None and grant.expires_at == expires_at:
                del self._grants[visit_id]
                self._unhold(grant)

    def _renew(self, grant: Grant, expires_at: float, client: str | None) -> Grant:
        renewed = grant.until(expires_at)
        self._grants[grant.visit_id] = renewed
        number = _held_number(renewed)
        if number is not None:
            self._holders[number][renewed.visit_id] = renewed
            self._in_use.move_to_end(number)
            self._track(renewed.visit_id, number, client)
        self._push(renewed)
        self.renewals_total += 1
        return renewed

    def _hold(self, grant: Grant, client: str | None = None) -> None:
        self._grants[grant.visit_id] = grant
        number = _held_number(grant)
        if number is not None:
            self._holders.setdefault(number, {})[grant.visit_id] = grant
            self._in_use[number] = None
            self._in_use.move_to_end(number)
            self._track(grant.visit_id, number, client)
        self._push(grant)

    def _track(self, visit_id: str, number: str, client: str | None) -> None:
        """Count a numbered grant against the client that asked for it last (a restored
        grant counts from its first renewal)."""
        if client is None or self._client_of.get(visit_id) == client:
            return
        self._untrack(visit_id)
        self._client_of[visit_id] = client
        self._by_client.setdefault(client, {})[visit_id] = number

    def _untrack(self, visit_id: str) -> None:
        client = self._client_of.pop(visit_id, None)
        if client is not None:
            visits = self._by_client[client]
            del visits[visit_id]
            if not visits:
                del self._by_client[client]

    def _unhold(self, grant: Grant) -> None:
        number = _held_number(grant)
        if number is None:
            return
        self._untrack(grant.visit_id)
        holders = self._holders[number]
        holders.pop(grant.visit_id, None)
        self._released[number] = (grant.visit_id, grant.expires_at)
        if not holders:
            del self._holders[number]
            del self._in_use[number]
            if number in self._numbers:
                self._free[number] = grant.expires_at

    def _push(self, grant: Grant) -> None:
        heapq.heappush(self._heap, (grant.expires_at, grant.visit_id))
        if len(self._heap) > 4 * len(self._grants) + 1024:  # renewals leave stale entries
            self._heap = [(g.expires_at, v) for v, g in self._grants.items()]
            heapq.heapify(self._heap)

    # --- calls and metrics ----------------------------------------------------------------

    def visit_for(self, number: str, at: float, grace: float) -> str | None:
        """The one visit holding `number` at `at`, else the one whose lease ended within
        `grace` before it; None when there is none or more than one (shared)."""
        holders = [g.visit_id for g in self._holders.get(number, {}).values() if g.started_at <= at <= g.expires_at]
        if holders:
            return holders[0] if len(holders) == 1 else None
        released = self._released.get(number)
        if released and released[1] <= at <= released[1] + grace:
            return released[0]
        return None

    @property
    def numbers(self) -> int:
        return len(self._numbers)

    @property
    def leased(self) -> int:
        return len(self._holders)

    @property
    def visits(self) -> int:
        return len(self._grants)

    @property
    def free(self) -> int:
        return len(self._free)


class Leases:
    """Every pool of the daemon, found by name; a site may have several pools."""

    def __init__(self) -> None:
        self.pools: dict[str, PoolLeases] = {}

    def sync(
        self, pools: Mapping[str, tuple[Pool, Sequence[str]]], last_used: Mapping[str, float] | None = None
    ) -> None:
        """Match the catalog: add, update or remove pools and their numbers."""
        for name in set(self.pools) - set(pools):
            del self.pools[name]
        for name, (pool, numbers) in pools.items():
            leases = self.pools.get(name)
            if leases is None:
                self.pools[name] = PoolLeases(pool, numbers, last_used)
            else:
                leases.pool = pool
                leases.set_numbers(numbers, last_used)

    def lease(
        self, visit_id: str, pool_names: Sequence[str], now: float, client: str | None = None, cap: int = 0
    ) -> LeaseResult:
        """Renew the visit's lease where it has one; else, when `client` already holds `cap`
        numbers of these pools (0 = no cap), share the one it was given last; else lease
        from the first pool with a free number; else overflow in the first pool."""
        pools = [self.pools[name] for name in pool_names]
        for pool in pools:
            held = pool.grant_of(visit_id)
            if held is not None and held.kind != GrantKind.FALLBACK:
                return pool.lease(visit_id, now, client)
        if client is not None and cap > 0:
            holding = [(pool, number) for pool in pools for number in pool.numbers_of(client, now)]
            if len(holding) >= cap:
                pool, number = holding[-1]
                ended = self._drop_elsewhere(visit_id, pools, pool, now)
                result = pool.join(visit_id, number, now, client)
                return LeaseResult(result.grant, ended + result.ended)
        for pool in pools:
            if pool.has_free(now):
                ended = self._drop_elsewhere(visit_id, pools, pool, now)
                result = pool.lease(visit_id, now, client)
                return LeaseResult(result.grant, ended + result.ended)
        return pools[0].lease(visit_id, now, client)

    @staticmethod
    def _drop_elsewhere(visit_id: str, pools: list[PoolLeases], keep: PoolLeases, now: float) -> tuple[Grant, ...]:
        return tuple(
            other.drop(visit_id, now) for other in pools if other is not keep and other.grant_of(visit_id) is not None
        )

    def visit_for(self, number: str, at: float, grace: float) -> str | None:
        for pool in self.pools.values():
            found = pool.visit_for(number, at, grace)
            if found is not None:
                return found
        return None


# --- pool statistics (ctrack pool stats) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolUsage:
    numbers: int
    window_seconds: float
    visits: int
    utilization: float  # share of number-time leased in the window, 0..1 (a percent only when shown)
    pressure_visits: int  # visits served from overflow (fallback or shared)
    pressure: float  # pressure_visits / visits
    peak_visits: int  # most visits wanting a number at the same moment
    recommended: int | None  # pool size for the peak, plus grace and headroom; None = no data


HEADROOM = 1.1


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, -math.inf
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def _peak(intervals: Iterable[tuple[float, float]]) -> int:
    """Most intervals open at once; an interval ending when another starts does not overlap it."""
    events = sorted([(s, 1) for s, e in intervals if e > s] + [(e, -1) for s, e in intervals if e > s])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def _merged_per_visit(spans: Iterable[Grant], extend: float, start: float, end: float) -> list[tuple[float, float]]:
    by_visit: dict[str, list[tuple[float, float]]] = {}
    for span in spans:
        s, e = max(span.started_at, start), min(span.expires_at + extend, end)
        if e > s:
            by_visit.setdefault(span.visit_id, []).append((s, e))
    merged = []
    for intervals in by_visit.values():
        intervals.sort()
        cur_s, cur_e = intervals[0]
        for s, e in intervals[1:]:
            if s <= cur_e:
                cur_e = max(cur_e, e)
            else:
                merged.append((cur_s, cur_e))
                cur_s, cur_e = s, e
        merged.append((cur_s, cur_e))
    return merged


def pool_usage(spans: Sequence[Grant], numbers: int, start: float, end: float, grace: float) -> PoolUsage:
    """Utilization, pressure, peak demand and a recommended size over [start, end).

    Demand counts every visit that wanted a number, including those sent to overflow, so a
    pool that is too small still shows how big it should be. A number must rest for the
    grace period after a lease before another visit may take it without making a call
    ambiguous, so the recommendation sizes for the peak of leases extended by the grace.
    """
    window = max(0.0, end - start)
    inside = [s for s in spans if s.started_at < end and s.expires_at > start]
    busy: dict[str, list[tuple[float, float]]] = {}
    for span in inside:
        if span.kind != GrantKind.FALLBACK and span.number:
            busy.setdefault(span.number, []).append((max(span.started_at, start), min(span.expires_at, end)))
    leased_time = sum(_union_length(intervals) for intervals in busy.values())
    visits = {s.visit_id for s in inside}
    pressured = {s.visit_id for s in inside if s.kind != GrantKind.LEASE}
    peak = _peak(_merged_per_visit(inside, 0.0, start, end))
    peak_with_grace = _peak(_merged_per_visit(inside, grace, start, end + grace))
    return PoolUsage(
        numbers=numbers,
        window_seconds=window,
        visits=len(visits),
        utilization=min(1.0, leased_time / (numbers * window)) if numbers and window else 0.0,
        pressure_visits=len(pressured),
        pressure=len(pressured) / len(visits) if visits else 0.0,
        peak_visits=peak,
        recommended=math.ceil(peak_with_grace * HEADROOM) if visits else None,
    )
