"""Several sites on one PostgreSQL (issue 15): ingest, DNI lease writes, reports, drivers.

    .venv/bin/python bench/multisite.py [--calls 6000] [--sites 10] [--report-calls 500000]
        [--node-visits 2000] [--pool 200] [--concurrency 32] [--parts ingest,dni,nodes,drivers,reports]

Starts a throw-away PostgreSQL 15 (tests/support/postgres.py, as the tests do) and measures:
  ingest     the real AMI captures replayed end to end (bench/bench_ami_ingest.py's
             run_daemons, as bench/call_path.py runs it): --sites daemon processes at once,
             each with its own fake Asterisk, Services ([ctrack] site = siteN, database =
             the PostgreSQL URL) and spool, --calls split over them, into one PostgreSQL;
             against one daemon process into SQLite (WAL) with --calls calls, this run.
             Wall clock from the first event to every call committed; rows per site and
             0 duplicate uniqueids checked.
  dni        DNI visit + lease saves (dni.store.save_visits, one new visit and grant each)
             from 2 Writers (2 nodes) on one PostgreSQL: saves/s and per-batch latency.
  nodes      DNI leases through 2 real `ctrack serve --only http` processes on one PostgreSQL:
             --node-visits new visits (--concurrency in flight, alternating nodes) on a pool
             of --pool numbers, then one heartbeat each on the other node; leases/s, p99
             per request, and double leases (one number held by two live visits) in the end.
  reports    sources report and heatmap on --report-calls calls in PostgreSQL (inserted with
             the PL/pgSQL roll-up triggers firing), 30 days and 2 years.
  drivers    psycopg 3 (the driver ctrack uses, sync in the writer thread) against asyncpg:
             a 500-row multi-VALUES insert and a one-row primary-key read, per second.
Prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.postgres import TestPostgres  # noqa: E402

TZ = "America/New_York"
PARTS = ("ingest", "dni", "nodes", "drivers", "reports")


def bench_ingest(pg: TestPostgres, calls: int, sites: int, tmp: Path) -> list[tuple]:
    """The real AMI captures end to end (bench_ami_ingest.run_daemons): one daemon process into
    SQLite, then `sites` daemon processes at once into one PostgreSQL, the same calls in all."""
    from bench_ami_ingest import prepare_db, run_daemons

    lite = tmp / "one-site.db"
    prepare_db(lite)
    (tmp / "sqlite").mkdir()
    one = run_daemons(lite, [""], calls, tmp / "sqlite")
    url = pg.new_database()
    prepare_db(url)
    (tmp / "postgresql").mkdir()
    each = calls // sites
    server = _server_cpu(pg)
    many = run_daemons(url, [f"site{s}" for s in range(sites)], each, tmp / "postgresql")
    server = _server_cpu(pg) - server
    for name, got in (("SQLite", one), ("PostgreSQL", many)):
        if not got["ok"]:
            raise SystemExit(f"ingest into {name}: rows, sites or events do not match the replay: {got}")
    lite_rate, pg_rate = one["rows"] / one["seconds"], many["rows"] / many["seconds"]

    def note(got: dict) -> str:
        return (
            f"{got['rows']} calls ({got['events']:,} AMI events) in {got['seconds']:.2f} s, "
            f"{got['sites']} site(s), {got['duplicates']} duplicates, {got['batches']} transactions; "
            f"daemon CPU {1000 * got['cpu'] / got['rows']:.2f} ms/call"
        )

    return [
        ("ingest AMI, 1 site, SQLite", lite_rate, note(one)),
        (
            f"ingest AMI, {sites} sites, PostgreSQL",
            pg_rate,
            f"{note(many)}, PostgreSQL server CPU {1000 * server / many['rows']:.2f} ms/call; "
            f"{100 * pg_rate / lite_rate:.0f}% of SQLite",
        ),
    ]


def _server_cpu(pg: TestPostgres) -> float:
    """CPU seconds the cluster has used: the postmaster, its live processes and the ones it reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile: counted in the postmaster's reaped children
        if int(pid) == postmaster:
            total += sum(int(f) for f in fields[11:15])
        elif int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def bench_dni(pg: TestPostgres, visits: int) -> list[tuple]:
    from ctrack.catalog import store as catalog
    from ctrack.dni.attribution import Touch, Visit
    from ctrack.dni.pools import Grant, GrantKind
    from ctrack.dni.store import save_visits
    from ctrack.store import db
    from ctrack.store.writer import Writer

    url = pg.new_database()
    conn = db.connect(url)
    db.upgrade(conn)
    catalog.add_pool(conn, "web", "example.test")
    conn.close()
    now = time.time()

    async def run() -> tuple[float, list[float]]:
        nodes = [Writer(url), Writer(url)]
        for w in nodes:
            await w.start()
        latencies: list[float] = []

        async def one(node: Writer, i: int) -> None:
            visit = Visit(f"v{i}", "example.test", now, now, Touch(landing_page="/"), "Direct", "direct")
            grant = Grant(f"v{i}", "web", f"+1503555{i % 9000:04d}", GrantKind.LEASE, now + i * 1e-3, now + 1800)
            t = time.perf_counter()
            await node.run(lambda c: save_visits(c, [(visit, grant, True)], [(grant, True)]))
            latencies.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(nodes[i % 2], i) for i in range(visits)))
        seconds = time.perf_counter() - t0
        for w in nodes:
            await w.close()
        return seconds, latencies

    seconds, latencies = asyncio.run(run())
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    return [("DNI saves, 2 nodes, PostgreSQL", visits / seconds, f"{visits} visits; p99 commit wait {p99:.0f} ms")]


def bench_dni_nodes(pg: TestPostgres, visits: int, pool: int, concurrency: int, tmp: Path) -> list[tuple]:
    import subprocess
    import urllib.request

    import aiohttp

    from ctrack.store import db
    from tests.integration.conftest import CTRACK, free_port
    from tests.pbx.harness import wait_until
    from tests.support.dni_env import FALLBACK, make_db

    url = pg.new_database()
    numbers = [f"+1503{n:07d}" for n in range(5551000, 5551000 + pool)]
    make_db(url, numbers=numbers, lease_seconds=1800)
    nodes: list[tuple[subprocess.Popen, int]] = []
    for name in ("a", "b"):
        port = free_port()
        folder = tmp / name
        folder.mkdir()
        (folder / "ctrack.ini").write_text(
            f"[ctrack]\ndatabase = {url}\nspool = {folder / 'spool.db'}\nlog_level = warning\n"
            f"[http]\nlisten = 127.0.0.1:{port}\n[dni]\nrate_per_minute = 0\nleases_per_client = 0\n"
        )
        with (folder / "log").open("w") as log:
            proc = subprocess.Popen(
                [*CTRACK, "--config", str(folder / "ctrack.ini"), "serve", "--only", "http"], stdout=log, stderr=log
            )
        nodes.append((proc, port))

    def up(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2):
                return True
        except OSError:
            return False

    try:
        for _, port in nodes:
            wait_until(lambda port=port: up(port), timeout=30, message="a DNI node did not come up")
        bases = [f"http://127.0.0.1:{port}/dni/v1/lease" for _, port in nodes]
        headers = {"Origin": "https://example.test", "Content-Type": "application/json"}

        async def run() -> tuple[float, list[float], list[dict], int]:
            gate = asyncio.Semaphore(concurrency)
            latencies: list[float] = []
            async with aiohttp.ClientSession() as http:

                async def one(i: int, visit_id: str | None = None) -> dict:
                    body = {"site": "example.test", "page_url": "https://example.test/"}
                    if visit_id:
                        body["visit_id"] = visit_id
                    async with gate:
                        t = time.perf_counter()
                        async with http.post(bases[i % 2], json=body, headers=headers) as resp:
                            answer = await resp.json()
                        latencies.append(time.perf_counter() - t)
                    return answer

                t0 = time.perf_counter()
                first = await asyncio.gather(*(one(i) for i in range(visits)))
                renewed = await asyncio.gather(*(one(i + 1, r["visit_id"]) for i, r in enumerate(first)))
                seconds = time.perf_counter() - t0
            kept = sum(a["number"] == b["number"] for a, b in zip(first, renewed, strict=True))
            return seconds, latencies, first, kept

        seconds, latencies, first, kept = asyncio.run(run())
        conn = db.connect(url)
        try:
            doubles = conn.execute(
                "SELECT count(*) FROM (SELECT number FROM leases WHERE kind = 'lease' AND expires_at > ? "
                "GROUP BY number HAVING count(DISTINCT visit_id) > 1) AS d",
                (time.time(),),
            ).fetchone()[0]
        finally:
            conn.close()
    finally:
        for proc, _ in nodes:
            proc.terminate()
            proc.wait(timeout=30)
    leased = sum(r["number"] in numbers for r in first)
    fallback = sum(r["number"] == FALLBACK for r in first)
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    return [
        (
            "DNI leases, 2 nodes --only http, PostgreSQL",
            2 * visits / seconds,
            f"{visits} visits + {visits} heartbeats on the other node, {concurrency} in flight, pool {pool}: "
            f"{leased} leased, {fallback} fallback, {kept} kept their number; p50 "
            f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99:.1f} ms; double leases {doubles}",
        )
    ]


def bench_reports(pg: TestPostgres, calls: int, runs: int = 5) -> list[tuple]:
    from ctrack.core.period import Period
    from ctrack.reports import store as reports
    from ctrack.reports.rollups import ensure_timezone
    from ctrack.store import db

    url = pg.new_database()
    conn = db.connect(url)
    db.upgrade(conn)
    db.write(conn, lambda c: ensure_timezone(c, TZ))
    first = date(2023, 1, 1)
    start = 1672549200.0  # 2023-01-01 00:00 EST
    t0 = time.perf_counter()
    conn.execute(
        """
        INSERT INTO calls(uniqueid, caller_number, source, channel, started_at, answered_at, ended_at,
                          talk_seconds, disposition, first_time, lead_status, site)
        SELECT 'r' || i, '+1212' || lpad((i * 7919 % 250000)::text, 7, '0'),
               (ARRAY['Google Ads', 'Yelp', 'Radio', 'Google Business Profile'])[1 + i % 4],
               (ARRAY['paid_search', 'referral', 'radio', 'gbp'])[1 + i % 4],
               ? + i * (730.0 * 86400 / ?), NULL, ? + i * (730.0 * 86400 / ?) + 60, (i % 300),
               (ARRAY['answered', 'answered', 'answered', 'missed', 'abandoned'])[1 + i % 5],
               (i % 3 = 0)::int, CASE WHEN i % 300 >= 60 THEN 'lead' END, 'site' || (i % 10)
        FROM generate_series(1::bigint, ?) AS i""",
        (start, calls, start, calls, calls),
    )
    conn.execute("ANALYZE")
    built = time.perf_counter() - t0
    last = first + timedelta(days=729)
    rows: list[tuple] = [("reports: insert with triggers", calls / built, f"{calls:,} calls in {built:.0f} s")]
    for label, period in (("2 years", Period(first, last, TZ)), ("30 days", Period(last - timedelta(29), last, TZ))):
        for name, fn in (
            ("sources report", lambda p=period: reports.sources_report(conn, p)),
            ("heatmap", lambda p=period: reports.heatmap(conn, p)),
            (
                "sources report, 1 site",
                lambda p=period: reports.sources_report(conn, p, filters=reports.ReportFilter(site="site3")),
            ),
        ):
            fn()
            samples = []
            for _ in range(runs):
                t = time.perf_counter()
                fn()
                samples.append((time.perf_counter() - t) * 1000)
            rows.append(
                (f"{name}, {label}", None, f"median {statistics.median(samples):.1f} ms, max {max(samples):.1f} ms")
            )
    conn.close()
    return rows


def bench_drivers(pg: TestPostgres, rounds: int = 40) -> list[tuple]:
    import asyncpg
    import psycopg

    url = pg.new_database()
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE t (id bigint PRIMARY KEY, a text, b double precision)")
    batch = 500
    rows = [(i, f"row {i}", i * 0.5) for i in range(rounds * batch)]
    out = []
    with psycopg.connect(url, autocommit=True) as c:
        t = time.perf_counter()
        for r in range(rounds):
            chunk = rows[r * batch : (r + 1) * batch]
            marks = ", ".join(["(%s, %s, %s)"] * len(chunk))
            c.execute(f"INSERT INTO t VALUES {marks}", [v for row in chunk for v in row])
        ins = rounds * batch / (time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(2000):
            c.execute("SELECT a FROM t WHERE id = %s", (i,)).fetchone()
        reads = 2000 / (time.perf_counter() - t)
        c.execute("TRUNCATE t")
    out += [("driver psycopg 3: rows inserted", ins, "500-row statements"), ("driver psycopg 3: PK reads", reads, "")]

    async def with_asyncpg() -> tuple[float, float]:
        c = await asyncpg.connect(url)
        t = time.perf_counter()
        for r in range(rounds):
            chunk = rows[r * batch : (r + 1) * batch]
            marks = ", ".join(f"(${3 * k + 1}, ${3 * k + 2}, ${3 * k + 3})" for k in range(len(chunk)))
            await c.execute(f"INSERT INTO t VALUES {marks}", *[v for row in chunk for v in row])
        ins = rounds * batch / (time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(2000):
            await c.fetchrow("SELECT a FROM t WHERE id = $1", i)
        reads = 2000 / (time.perf_counter() - t)
        await c.close()
        return ins, reads

    ins, reads = asyncio.run(with_asyncpg())
    out += [("driver asyncpg: rows inserted", ins, "500-row statements"), ("driver asyncpg: PK reads", reads, "")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=6000, help="calls ingested (split over the sites)")
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--visits", type=int, default=4000)
    parser.add_argument("--report-calls", type=int, default=500_000)
    parser.add_argument("--node-visits", type=int, default=2000, help="visits leased through the 2 DNI nodes")
    parser.add_argument("--pool", type=int, default=200, help="numbers in the DNI nodes' pool")
    parser.add_argument("--concurrency", type=int, default=32, help="lease requests in flight to the DNI nodes")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which to run, of {','.join(PARTS)}")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"--parts: unknown {', '.join(sorted(parts - set(PARTS)))}")
    pg = TestPostgres()
    pg.start()
    load = os.getloadavg()[0]
    try:
        rows: list[tuple] = []
        with tempfile.TemporaryDirectory(prefix="ctrack-bench-multisite-") as tmp:
            if "ingest" in parts:
                rows += bench_ingest(pg, args.calls, args.sites, Path(tmp))
            if "nodes" in parts:
                rows += bench_dni_nodes(pg, args.node_visits, args.pool, args.concurrency, Path(tmp))
        if "dni" in parts:
            rows += bench_dni(pg, args.visits)
        if "drivers" in parts:
            rows += bench_drivers(pg)
        if "reports" in parts:
            rows += bench_reports(pg, args.report_calls)
    finally:
        pg.stop()
    print(f"\nmultisite on PostgreSQL 15 (throw-away cluster, fsync off), {os.cpu_count()} CPUs, load {load:.2f}\n")
    print(f"| {'measure':<40} | {'per second':>10} | notes")
    print(f"|{'-' * 42}|{'-' * 12}|------")
    for name, rate, note in rows:
        print(f"| {name:<40} | {'-' if rate is None else f'{rate:,.0f}':>10} | {note}")


if __name__ == "__main__":
    main()
