"""DNI on several web nodes: two real `ctrack serve --only http` processes on one real
PostgreSQL lease from one pool. Many visits at once, sent to both nodes in turn: no pool
number is leased to two live visits, every visit gets a number or the pool's fallback, and
a heartbeat sent to the node that did not grant the lease renews it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from ctrack.store import db
from tests.integration.conftest import CTRACK, free_port
from tests.pbx.harness import wait_until
from tests.support.dni_env import FALLBACK, PUBLISHED, make_db
from tests.support.postgres import TestPostgres

POOL = [f"+1503555{n:04d}" for n in range(911, 919)]  # 8 numbers
VISITS = 40
SITE = "example.test"


class Node:
    """One `ctrack serve --only http` process on a loopback port."""

    def __init__(self, root: Path, url: str, cap: int):
        self.port = free_port()
        self.config = root / "ctrack.ini"
        self.log = root / "daemon.log"
        self.config.write_text(
            f"[ctrack]\ndatabase = {url}\nspool = {root / 'spool.db'}\n"
            f"[business]\npublished_number = {PUBLISHED}\n"
            f"[http]\nlisten = 127.0.0.1:{self.port}\n"
            f"[dni]\nrate_per_minute = 0\nleases_per_client = {cap}\n"
            # Nothing listens here: a node that started its PBX side would log AMI failures.
            f"[fastagi]\nlisten = 127.0.0.1:{free_port()}\n[ami]\nport = {free_port()}\n"
        )
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [*CTRACK, "--config", str(self.config), "serve", "--only", "http"], stdout=out, stderr=subprocess.STDOUT
            )
        wait_until(self._up, timeout=20, message="the node's HTTP side did not come up")

    base = property(lambda self: f"http://127.0.0.1:{self.port}")

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"ctrack serve --only http exited {self.process.returncode}:\n{self.log.read_text()}")
        try:
            with urllib.request.urlopen(f"{self.base}/metrics", timeout=2):
                return True
        except OSError:
            return False

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


@pytest.fixture
def nodes(request, postgres, tmp_path):
    """Two nodes on one new database; `cap` ([dni] leases_per_client) by indirect parameter."""
    cap = getattr(request, "param", 0)
    url = postgres.new_database()
    make_db(url, site=SITE, numbers=POOL, lease_seconds=120)
    started: list[Node] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            started.append(Node(tmp_path / name, url, cap))
        yield url, started
    finally:
        codes = [node.stop() for node in started]
    assert codes == [0] * len(started), [node.log.read_text()[-3000:] for node in started]


async def lease(http: aiohttp.ClientSession, node: Node, visit_id: str | None = None) -> dict:
    body = {"site": SITE, "page_url": f"https://{SITE}/?gclid=G", "params": {"gclid": "G"}}
    if visit_id:
        body["visit_id"] = visit_id
    async with http.post(
        f"{node.base}/dni/v1/lease", data=json.dumps(body), headers={"Origin": f"https://{SITE}"}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def live_leases(url: str) -> list[tuple[str, str, float]]:
    conn = db.connect(url)
    try:
        rows = conn.execute(
            "SELECT number, visit_id, expires_at FROM leases WHERE kind = 'lease' AND expires_at > ?", (time.time(),)
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]
    finally:
        conn.close()


def test_two_http_nodes_never_lease_one_number_twice_and_renew_each_others_leases(nodes):
    url, (a, b) = nodes

    async def scenario():
        async with aiohttp.ClientSession() as http:
            first = await asyncio.gather(*(lease(http, (a, b)[i % 2]) for i in range(VISITS)))
            leased = [(i, r) for i, r in enumerate(first) if r["number"] in POOL]
            before = {v: e for _, v, e in live_leases(url)}
            await asyncio.sleep(1.5)
            # Each visit's heartbeat goes to the node that did not answer its first request.
            renewed = await asyncio.gather(*(lease(http, (b, a)[i % 2], r["visit_id"]) for i, r in leased))
            return first, leased, renewed, before

    first, leased, renewed, before = asyncio.run(scenario())
    numbers = [r["number"] for _, r in leased]
    assert len(numbers) == len(set(numbers)), f"a number leased to two live visits: {sorted(numbers)}"
    assert sorted(numbers) == sorted(POOL)  # the pool is used whole before any fallback
    assert all(r["number"] in POOL or r["number"] == FALLBACK for r in first)
    assert len({r["visit_id"] for r in first}) == VISITS
    assert [r["number"] for r in renewed] == numbers  # the other node kept each visit's number
    assert [r["visit_id"] for r in renewed] == [r["visit_id"] for _, r in leased]
    live = live_leases(url)
    assert sorted(n for n, _, _ in live) == sorted(POOL)  # one live lease per number, in the database
    by_visit = {v: n for n, v, _ in live}
    assert all(by_visit[r["visit_id"]] == r["number"] for _, r in leased)
    assert all(e > before[v] + 1 for _, v, e in live), "a heartbeat on the other node did not renew the lease"


@pytest.mark.parametrize("nodes", [2], indirect=True)
def test_the_lease_cap_counts_a_clients_leases_from_both_nodes(nodes):
    """Every request comes from 127.0.0.1: with leases_per_client = 2 its visits hold two
    numbers between them, whichever node each visit asked."""
    _, (a, b) = nodes

    async def scenario():
        async with aiohttp.ClientSession() as http:
            return [await lease(http, (a, b)[i % 2]) for i in range(6)]

    answers = asyncio.run(scenario())
    assert all(r["number"] in POOL for r in answers)
    assert len({r["number"] for r in answers}) == 2


@pytest.fixture
def center():
    server = TestPostgres()  # its own: this test stops it
    server.start()
    yield server
    server.stop()


def test_a_node_leases_from_memory_while_postgresql_is_away_and_saves_it_when_back(center, tmp_path):
    url = center.new_database()
    make_db(url, site=SITE, numbers=POOL, lease_seconds=120)
    node = Node(tmp_path, url, 0)
    try:

        async def scenario():
            async with aiohttp.ClientSession() as http:
                first = await lease(http, node)
                center.stop_server()
                try:
                    renewed = await lease(http, node, first["visit_id"])
                    during = await lease(http, node)
                finally:
                    center.start_server()
                await asyncio.to_thread(
                    wait_until,
                    lambda: during["visit_id"] in {v for _, v, _ in live_leases(url)},
                    timeout=20,
                    message="the lease granted during the outage was never saved",
                )
                await asyncio.to_thread(
                    wait_until,
                    lambda: "leasing through it again" in node.log.read_text(),
                    timeout=20,
                    message="the node never leased through the database again",
                )
                after = await lease(http, node)
                return first, renewed, during, after

        first, renewed, during, after = asyncio.run(scenario())
    finally:
        code = node.stop()
    assert code == 0, node.log.read_text()[-3000:]
    assert renewed["number"] == first["number"] in POOL
    assert during["number"] in POOL and during["number"] != first["number"]
    assert after["number"] in POOL and after["number"] not in (first["number"], during["number"])
    assert sorted(v for _, v, _ in live_leases(url)) == sorted(r["visit_id"] for r in (first, during, after))


def metric(node: Node, name: str) -> float:
    with urllib.request.urlopen(f"{node.base}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_leases_handed_out_while_postgresql_is_away_survive_a_node_restart_and_reach_it(center, tmp_path):
    """PostgreSQL stops; the node leases from memory and keeps those saves in its spool (an
    SQLite file), restarts still without the center, takes those leases back from the spool
    (the visit's heartbeat keeps its number, a new visitor gets another), and once
    PostgreSQL is back the spool drains to it in order: every visit and lease there, once."""
    url = center.new_database()
    make_db(url, site=SITE, numbers=POOL, lease_seconds=120)
    node = Node(tmp_path, url, 0)
    try:

        async def before_restart():
            async with aiohttp.ClientSession() as http:
                first = await lease(http, node)
                center.stop_server()
                during = await lease(http, node)
                await asyncio.to_thread(
                    wait_until,
                    lambda: metric(node, "ctrack_store_spool_depth") >= 1,
                    timeout=10,
                    message="the lease granted during the outage never reached the spool",
                )
                return first, during

        first, during = asyncio.run(before_restart())
    finally:
        assert node.stop() == 0, node.log.read_text()[-3000:]
    spooled = spool_depth(tmp_path / "spool.db")
    assert spooled >= 1
    node = Node(tmp_path, url, 0)  # the center is still down
    try:

        async def after_restart():
            async with aiohttp.ClientSession() as http:
                again = await lease(http, node, during["visit_id"])
                fresh = await lease(http, node)
                depth = metric(node, "ctrack_store_spool_depth")
                center.start_server()
                await asyncio.to_thread(
                    wait_until,
                    lambda: (
                        metric(node, "ctrack_store_spool_depth") == 0
                        and {during["visit_id"], fresh["visit_id"]} <= {v for _, v, _ in live_leases(url)}
                    ),
                    timeout=30,
                    message="the spool did not drain to PostgreSQL",
                )
                return again, fresh, depth

        again, fresh, depth = asyncio.run(after_restart())
    finally:
        assert node.stop() == 0, node.log.read_text()[-3000:]
    assert "leases from the spool" in node.log.read_text()
    assert depth >= spooled  # the restarted node counts what it found in the spool, and adds to it
    assert again["number"] == during["number"] in POOL and again["visit_id"] == during["visit_id"]
    assert fresh["number"] in POOL and fresh["number"] != during["number"]
    live = live_leases(url)
    by_visit = {v: n for n, v, _ in live}
    assert by_visit[during["visit_id"]] == during["number"] and by_visit[fresh["visit_id"]] == fresh["number"]
    assert by_visit[first["visit_id"]] == first["number"]
    conn = db.connect(url)
    try:
        visits = conn.execute("SELECT id, count(*) FROM visits GROUP BY id").fetchall()
        renewed = conn.execute(
            "SELECT max(expires_at) FROM leases WHERE visit_id = ?", (during["visit_id"],)
        ).fetchone()[0]
    finally:
        conn.close()
    assert sorted(v for v, _ in visits) == sorted(r["visit_id"] for r in (first, during, fresh))
    assert all(n == 1 for _, n in visits)
    assert renewed == pytest.approx(again["lease_expires_at"], abs=0.001)  # the restarted node's renewal, last


def spool_depth(spool: Path) -> int:
    """Writes waiting in a spool file, read as `ctrack doctor` does."""
    from ctrack.store.spool import depth

    found = depth(spool)
    assert found is not None
    return found
