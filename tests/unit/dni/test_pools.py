"""The in-memory lease manager: one visit per number, renewals, LRU reuse, overflow, stats."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrack.core.model import Pool
from ctrack.dni.pools import (
    Grant,
    GrantKind,
    Leases,
    PoolLeases,
    pool_usage,
)

NUMBERS = ["+15035550101", "+15035550102", "+15035550103"]
FALLBACK = "+15035550199"


def pool(overflow="fallback", lease_seconds=600, numbers=NUMBERS, **kw):
    return PoolLeases(Pool("web", "example.test", lease_seconds, FALLBACK, overflow), numbers, **kw)


def test_lease_renew_and_expire():
    p = pool()
    first = p.lease("a", 0).grant
    assert (first.number, first.kind, first.expires_at) == (NUMBERS[0], GrantKind.LEASE, 600)
    renewed = p.lease("a", 500).grant
    assert (renewed.number, renewed.started_at, renewed.expires_at) == (NUMBERS[0], 0, 1100)
    assert p.lease("b", 1000).grant.number == NUMBERS[1]  # a still holds 0101
    p.expire(1100)
    assert p.leased == 1 and p.free == 2
    # a's lease ran out: coming back it gets the least recently used free number, not its old one
    assert p.lease("a", 1200).grant.number == NUMBERS[2]


def test_free_numbers_are_reused_least_recently_used_first():
    p = pool(lease_seconds=100)
    for visit, at in (("a", 0), ("b", 10), ("c", 20)):
        p.lease(visit, at)
    p.expire(200)  # released at 100, 110, 120
    assert [p.lease(v, 200).grant.number for v in "def"] == NUMBERS


def test_last_use_survives_a_restart():
    p = pool(last_used={NUMBERS[0]: 500.0, NUMBERS[1]: 100.0})
    # never used first, then the one released longest ago
    assert [p.lease(v, 1000).grant.number for v in "abc"] == [NUMBERS[2], NUMBERS[1], NUMBERS[0]]


def test_exhausted_pool_serves_the_fallback_and_counts_pressure():
    p = pool()
    for v in "abc":
        p.lease(v, 0)
    over = p.lease("d", 10).grant
    assert (over.number, over.kind) == (FALLBACK, GrantKind.FALLBACK)
    assert p.lease("d", 20).grant.kind == GrantKind.FALLBACK  # still nothing free
    assert (p.overflow_total, p.overflow_requests_total) == (1, 2)
    assert p.peak_visits == 4
    # once a number is free, the overflowing visit upgrades and its fallback grant ends
    result = p.lease("d", 610)  # a, b, c ran out at 600; d's fallback runs to 620
    assert result.grant.kind == GrantKind.LEASE and result.grant.number in NUMBERS
    assert [(g.kind, g.expires_at) for g in result.ended] == [(GrantKind.FALLBACK, 610)]


def test_fallback_without_a_number_serves_nothing():
    p = PoolLeases(Pool("web", "example.test", 600, None, "fallback"), NUMBERS[:1])
    p.lease("a", 0)
    assert p.lease("b", 0).grant.number is None


def test_share_overflow_shares_the_least_recently_used_number():
    p = pool(overflow="share")
    for v, at in (("a", 0), ("b", 10), ("c", 20)):
        p.lease(v, at)
    p.lease("a", 30)  # a's heartbeat: 0101 was used most recently
    shared = p.lease("d", 40).grant
    assert (shared.number, shared.kind) == (NUMBERS[1], GrantKind.SHARED)
    assert p.lease("e", 50).grant.number == NUMBERS[2]
    assert p.visit_for(NUMBERS[1], 45, 0) is None  # two holders: the route cannot tell
    assert p.overflow_total == 2


def test_visit_for_sees_the_holder_and_the_grace_period():
    p = pool(lease_seconds=100)
    p.lease("a", 0)
    assert p.visit_for(NUMBERS[0], 50, 60) == "a"
    p.expire(100)
    assert p.visit_for(NUMBERS[0], 150, 60) == "a"
    assert p.visit_for(NUMBERS[0], 161, 60) is None
    assert p.visit_for(NUMBERS[1], 50, 60) is None


def test_catalog_changes():
    p = pool()
    p.lease("a", 0)
    p.set_numbers(NUMBERS[1:] + ["+15035550104"])  # 0101 retired while leased, 0104 added
    assert p.lease("b", 1).grant.number == "+15035550104"  # new numbers go first
    p.expire(600)
    assert p.numbers == 3 and NUMBERS[0] not in {p.lease(v, 700).grant.number for v in "cdef"}


def test_restore_puts_leases_back():
    p = pool()
    p.restore(Grant("a", "web", NUMBERS[0], GrantKind.LEASE, 0, 600))
    assert p.lease("b", 10).grant.number == NUMBERS[1]
    assert p.lease("a", 20).grant.number == NUMBERS[0]
    assert p.lease("a", 20).grant.started_at == 0


def test_several_pools_for_one_site():
    leases = Leases()
    leases.sync(
        {
            "a": (Pool("a", "example.test", 600, FALLBACK, "fallback"), NUMBERS[:1]),
            "b": (Pool("b", "example.test", 600, None, "fallback"), NUMBERS[1:2]),
        }
    )
    assert leases.lease("v1", ["a", "b"], 0).grant.number == NUMBERS[0]
    assert leases.lease("v2", ["a", "b"], 0).grant.number == NUMBERS[1]
    third = leases.lease("v3", ["a", "b"], 0).grant
    assert (third.pool, third.number) == ("a", FALLBACK)  # overflow in the first pool
    assert leases.lease("v2", ["a", "b"], 100).grant.number == NUMBERS[1]
    assert leases.visit_for(NUMBERS[1], 100, 0) == "v2"
    leases.sync({"b": (Pool("b", "example.test", 600, None, "fallback"), NUMBERS[1:2])})
    assert set(leases.pools) == {"b"}


# --- properties ----------------------------------------------------------------------------

ops = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 400)), min_size=1, max_size=60)


@settings(max_examples=300)
@given(ops, st.sampled_from(["fallback", "share"]))
def test_leases_against_a_reference_model(steps, overflow):
    """Exclusive leases, renewals keep the number, LRU reuse, overflow only when full."""
    p = pool(overflow=overflow)
    busy: dict[str, float] = {}  # number -> when its last holder's grant ends
    released = {n: 0.0 for n in NUMBERS}  # number -> when it was last released
    now = 0.0
    for visit_index, advance in steps:
        now += advance
        visit = f"v{visit_index}"
        for number, until in list(busy.items()):
            if until <= now:
                del busy[number]
                released[number] = until
        before = p.grant_of(visit)
        was_held = before is not None and before.expires_at > now and before.kind != GrantKind.FALLBACK
        free = [n for n in NUMBERS if n not in busy]
        grant = p.lease(visit, now).grant
        assert grant.expires_at == now + 600
        if was_held:
            assert grant.number == before.number and grant.kind == before.kind
        elif free:
            assert grant.kind == GrantKind.LEASE
            assert released[grant.number] == min(released[n] for n in free)  # least recently used
        else:
            assert grant.kind == (GrantKind.SHARED if overflow == "share" else GrantKind.FALLBACK)
        if grant.kind != GrantKind.FALLBACK:
            busy[grant.number] = max(busy.get(grant.number, 0.0), grant.expires_at)
        live = _live_grants(p, now)
        exclusive = [g.number for g in live if g.kind == GrantKind.LEASE]
        assert len(exclusive) == len(set(exclusive)) <= len(NUMBERS)
        assert all(n in NUMBERS for n in exclusive)
        assert p.free == len(NUMBERS) - len(busy)
        if overflow == "fallback":
            assert not any(g.kind == GrantKind.SHARED for g in live)


def _live_grants(p, now):
    return [g for g in (p.grant_of(f"v{i}") for i in range(8)) if g is not None and g.expires_at > now]


# --- statistics ----------------------------------------------------------------------------


def test_pool_usage():
    spans = [
        Grant("a", "web", NUMBERS[0], GrantKind.LEASE, 0, 100),
        Grant("b", "web", NUMBERS[1], GrantKind.LEASE, 50, 150),
        Grant("c", "web", FALLBACK, GrantKind.FALLBACK, 60, 90),
        Grant("d", "web", NUMBERS[0], GrantKind.LEASE, 100, 200),
    ]
    usage = pool_usage(spans, numbers=2, start=0, end=200, grace=0)
    assert usage.visits == 4
    assert usage.utilization == pytest.approx((200 + 100) / (2 * 200))
    assert (usage.pressure_visits, usage.pressure) == (1, 0.25)
    assert usage.peak_visits == 3  # a, b and c between 60 and 90
    assert usage.recommended == 4  # ceil(3 * 1.1)
    graced = pool_usage(spans, numbers=2, start=0, end=200, grace=50)
    assert graced.peak_visits == 3 and graced.recommended == 5  # d overlaps a's grace: 4 at once


def test_pool_usage_with_no_visits():
    usage = pool_usage([], numbers=5, start=0, end=100, grace=60)
    assert (usage.visits, usage.utilization, usage.peak_visits, usage.recommended) == (0, 0.0, 0, None)


# --- the lease cap per client (one address must not drain a pool) -------------------------


def leases(numbers=NUMBERS + ["+15035550104", "+15035550105"], lease_seconds=600):
    manager = Leases()
    manager.sync({"web": (Pool("web", "example.test", lease_seconds, FALLBACK, "fallback"), numbers)})
    return manager


def test_one_client_holds_at_most_cap_numbers_then_shares_the_last_one_it_holds():
    manager = leases()
    got = [manager.lease(f"v{i}", ["web"], i, client="198.51.100.7", cap=2).grant for i in range(5)]
    assert [g.kind for g in got] == [GrantKind.LEASE, GrantKind.LEASE] + [GrantKind.SHARED] * 3
    assert {g.number for g in got[2:]} == {got[1].number}  # the number it already holds, never a new one
    pool = manager.pools["web"]
    assert (pool.free, pool.capped_total) == (3, 3)
    # a real visitor from elsewhere still gets a number of their own
    other = manager.lease("w", ["web"], 10, client="203.0.113.9", cap=2).grant
    assert other.kind == GrantKind.LEASE and other.number not in {g.number for g in got}
    # the capped client's heartbeats renew what they hold
    assert manager.lease("v0", ["web"], 20, client="198.51.100.7", cap=2).grant.number == got[0].number


def test_the_cap_frees_up_when_the_clients_leases_run_out():
    manager = leases(lease_seconds=100)
    for i in range(3):
        manager.lease(f"v{i}", ["web"], 0, client="198.51.100.7", cap=2)
    assert manager.lease("late", ["web"], 150, client="198.51.100.7", cap=2).grant.kind == GrantKind.LEASE


def test_no_cap_and_no_client_lease_as_before():
    manager = leases()
    assert {manager.lease(f"v{i}", ["web"], i, client="198.51.100.7").grant.kind for i in range(5)} == {GrantKind.LEASE}
    manager = leases()
    assert {manager.lease(f"v{i}", ["web"], i, cap=1).grant.kind for i in range(5)} == {GrantKind.LEASE}


def test_a_capped_fallback_is_upgraded_only_within_the_cap():
    manager = leases(numbers=NUMBERS[:1])
    manager.lease("a", ["web"], 0, client="198.51.100.7", cap=1)
    fallback = manager.lease("b", ["web"], 1, client="203.0.113.9", cap=1).grant
    assert fallback.kind == GrantKind.FALLBACK
    manager.pools["web"].drop("a", 2)  # a's number frees up
    assert manager.lease("b", ["web"], 3, client="203.0.113.9", cap=1).grant.kind == GrantKind.LEASE


def test_a_grant_written_elsewhere_replaces_the_visits_own_unless_it_is_older():
    """PoolLeases.apply: another node's view of the database, row by row (PostgreSQL)."""
    here, there = pool(), pool()
    first = there.lease("a", 0).grant
    here.apply(first)
    assert here.lease("b", 1).grant.number == NUMBERS[1]  # the number "there" leased is taken here too
    renewed = there.lease("a", 500).grant
    here.apply(renewed)
    assert here.grant_of("a") == renewed and here.leased == 2
    dropped = there.drop("a", 600)
    later = Grant("a", "web", NUMBERS[2], GrantKind.LEASE, 601, 1201)
    here.apply(later)
    here.apply(dropped)  # an older, ended grant arriving after the newer one changes nothing
    assert here.grant_of("a") == later
    assert here.lease("c", 602).grant.number == NUMBERS[0]  # 0101 is free again
