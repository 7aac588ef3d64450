"""DNI leases through one real PostgreSQL from two lease services at once (two web nodes in
one process): requests that arrive while a node's transaction is in flight share its next
one (group commit). Whatever the batching, no number goes to two live visits, the per-client
cap counts across both nodes, and a heartbeat renews on the node that did not grant the lease."""

from __future__ import annotations

import asyncio
import time

import pytest

from ctrack.dni.attribution import parse_lease_request
from ctrack.dni.service import LeaseService
from ctrack.dni.store import replay_visits, spooled_visits
from ctrack.services import Services
from ctrack.store import db
from tests.support.dni_env import FALLBACK, make_config, make_db

POOL = [f"+1503555{n:04d}" for n in range(920, 950)]  # 30 numbers
SITE = "example.test"


@pytest.fixture
async def nodes(postgres, tmp_path):
    """Two lease services (each with its own connection and copy of the pool) on one database."""
    url = postgres.new_database()
    make_db(url, site=SITE, numbers=POOL, lease_seconds=120)
    started: list[tuple[Services, LeaseService]] = []
    for name in ("a", "b"):
        config = make_config(f"[ctrack]\nspool = {tmp_path / name / 'spool.db'}\n[dni]\nleases_per_client = 2\n")
        services = Services(config, url)
        services.catalog.refresh()
        await services.writer.start()
        dni = LeaseService(services)
        await dni.start()
        started.append((services, dni))
    yield url, [dni for _, dni in started]
    for services, dni in started:
        await dni.close()
        await services.writer.close()
        services.catalog.close()


def request(visit_id: str | None = None):
    body = {"site": SITE, "page_url": f"https://{SITE}/?gclid=G", "params": {"gclid": "G"}}
    return parse_lease_request({**body, "visit_id": visit_id} if visit_id else body)


def live(url: str) -> list[tuple[str, str, float, str | None]]:
    conn = db.connect(url)
    try:
        rows = conn.execute(
            "SELECT number, visit_id, expires_at, client FROM leases WHERE kind != 'fallback' AND expires_at > ?",
            (time.time(),),
        ).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]
    finally:
        conn.close()


async def test_concurrent_leases_through_two_nodes_are_batched_and_never_double(nodes):
    url, (a, b) = nodes
    # 120 new visitors at once, each from its own address, sent to the nodes in turn.
    first = await asyncio.gather(
        *(((a, b)[i % 2]).lease(request(), time.time(), f"198.51.100.{i}") for i in range(120))
    )
    assert a.batches + b.batches < 120  # requests shared transactions
    numbered = [(v.id, g.number) for v, g in first if g.number in POOL]
    assert sorted(n for _, n in numbered) == sorted(POOL)  # each number once, the pool used whole
    assert all(g.number == FALLBACK for _, g in first if g.number not in POOL)
    assert sorted((n, v) for n, v, _, _ in live(url)) == sorted((n, v) for v, n in numbered)
    before = {v: e for _, v, e, _ in live(url)}

    # Each visit's heartbeat on the other node, all at once: the same number, a later expiry.
    beats = await asyncio.gather(
        *(((b, a)[i % 2]).lease(request(v.id), time.time() + 1, f"198.51.100.{i}") for i, (v, _) in enumerate(first))
    )
    assert [(v.id, g.number) for v, g in beats] == [(v.id, g.number) for v, g in first]
    after = {v: e for _, v, e, _ in live(url)}
    assert after.keys() == before.keys() and all(after[v] > before[v] for v in before)
    assert len({n for n, *_ in live(url)}) == len(live(url))


async def test_the_cap_holds_for_one_client_asking_both_nodes_at_once(nodes):
    """[dni] leases_per_client = 2: twenty new visits at once from one address, half on each
    node, hold two numbers between them; other clients still get numbers of their own."""
    url, (a, b) = nodes
    answers = await asyncio.gather(
        *(((a, b)[i % 2]).lease(request(), time.time(), "203.0.113.7") for i in range(20)),
        *(((a, b)[i % 2]).lease(request(), time.time(), f"198.51.100.{i}") for i in range(6)),
    )
    capped, others = answers[:20], answers[20:]
    assert len({g.number for _, g in capped}) == 2 and all(g.number in POOL for _, g in capped)
    assert len({g.number for _, g in others}) == 6
    assert not {g.number for _, g in others} & {g.number for _, g in capped}
    clients = {c for _, _, _, c in live(url)}
    assert len(clients) == 7 and None not in clients  # the cap is counted in the database, by client


async def test_a_spooled_save_replays_once_however_often(postgres):
    """The spool's replay of a save (PostgreSQL was away) is an upsert: twice changes nothing."""
    from ctrack.dni.attribution import Touch, Visit
    from ctrack.dni.pools import Grant, GrantKind

    url = postgres.new_database()
    make_db(url, site=SITE, numbers=POOL[:1])
    now = time.time()
    visit = Visit("v-spooled", SITE, now, now, Touch(landing_page="/", gclid="G"), "Google Ads", "paid_search")
    grant = Grant(visit.id, "web", POOL[0], GrantKind.LEASE, now, now + 120)
    payload = spooled_visits([(visit, grant, True)], [(grant, True)])
    conn = db.connect(url)
    try:
        for _ in range(2):
            db.write(conn, lambda c: replay_visits(c, payload))
        assert conn.execute("SELECT count(*), max(gclid), max(number) FROM visits").fetchone() == (1, "G", POOL[0])
        assert conn.execute("SELECT count(*), max(expires_at) FROM leases").fetchone() == (1, now + 120)
    finally:
        conn.close()
