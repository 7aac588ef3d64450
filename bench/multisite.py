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
             --node-visits new visits (--concurrency keep-alive connections, half to each
             node, one request in flight on each) on a pool of --pool numbers, then one
             heartbeat each on the other node; leases/s, p50/p99 per request, double leases
             (one number held by two live visits) in the end, and the CPU per request of the
             nodes, PostgreSQL and the load generator (a raw HTTP/1.1 client: aiohttp's would
             take as much CPU as a node). CTRACK_BENCH_PROFILE=file runs node a under
             cProfile (CPU time) and writes its stats there.
  reports    sources report (all sites and one), heatmap, daily report and the dashboard's
             main page on --report-calls calls in PostgreSQL (20 sources, 8 channels, 10 sites,
             2 years, lead statuses, tags), 30 days and 2 years. The calls are bulk-inserted
             with the roll-up triggers off and the roll-ups rebuilt once (reports.rollups.rebuild);
             the first --report-check calls go in with the triggers on, and the rebuild must
             equal what they built.
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
    import json
    import subprocess
    import urllib.request

    from ctrack.store import db
    from tests.integration.conftest import CTRACK, free_port
    from tests.pbx.harness import wait_until
    from tests.support.dni_env import FALLBACK, make_db

    url = pg.new_database()
    numbers = [f"+1503{n:07d}" for n in range(5551000, 5551000 + pool)]
    make_db(url, numbers=numbers, lease_seconds=1800)
    nodes: list[tuple[subprocess.Popen, int]] = []
    profile = os.environ.get("CTRACK_BENCH_PROFILE")  # node a under cProfile, its stats to this file
    for name in ("a", "b"):
        port = free_port()
        folder = tmp / name
        folder.mkdir()
        (folder / "ctrack.ini").write_text(
            f"[ctrack]\ndatabase = {url}\nspool = {folder / 'spool.db'}\nlog_level = warning\n"
            f"[http]\nlisten = 127.0.0.1:{port}\n[dni]\nrate_per_minute = 0\nleases_per_client = 0\n"
        )
        with (folder / "log").open("w") as log:
            run = CTRACK
            if profile and name == "a":  # CPU time, not wall time: the cores are shared
                run = [sys.executable, "-c", _PROFILED, profile]
            proc = subprocess.Popen(
                [*run, "--config", str(folder / "ctrack.ini"), "serve", "--only", "http"], stdout=log, stderr=log
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
        ports = [port for _, port in nodes]
        pids = [proc.pid for proc, _ in nodes]

        async def run() -> tuple[float, list[float], list[dict], int]:
            latencies: list[float] = []

            async def phase(bodies: list[tuple[int, dict]]) -> list[dict]:
                """Each body to its node, over `concurrency` keep-alive connections (half per
                node), one request in flight on each; the answers in the bodies' order."""
                answers: list[dict] = [{}] * len(bodies)
                queues = [[i for i, (n, _) in enumerate(bodies) if n == node][::-1] for node in (0, 1)]

                async def connection(node: int) -> None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", ports[node])
                    try:
                        while queues[node]:
                            i = queues[node].pop()
                            t = time.perf_counter()
                            writer.write(_request(bodies[i][1]))
                            status, data = await _response(reader)
                            latencies.append(time.perf_counter() - t)
                            assert status == 200, data
                            answers[i] = json.loads(data)
                    finally:
                        writer.close()

                await asyncio.gather(*(connection(k % 2) for k in range(concurrency)))
                return answers

            body = {"site": "example.test", "page_url": "https://example.test/"}
            t0 = time.perf_counter()
            first = await phase([(i % 2, body) for i in range(visits)])
            renewed = await phase([((i + 1) % 2, {**body, "visit_id": r["visit_id"]}) for i, r in enumerate(first)])
            seconds = time.perf_counter() - t0
            kept = sum(a["number"] == b["number"] for a, b in zip(first, renewed, strict=True))
            return seconds, latencies, first, kept

        cpu = _cpu(pids, pg)
        client = time.process_time()
        seconds, latencies, first, kept = asyncio.run(run())
        client = time.process_time() - client
        nodes_cpu, pg_cpu = (after - before for after, before in zip(_cpu(pids, pg), cpu, strict=True))
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
    requests = 2 * visits
    leased = sum(r["number"] in numbers for r in first)
    fallback = sum(r["number"] == FALLBACK for r in first)
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    return [
        (
            "DNI leases, 2 nodes --only http, PostgreSQL",
            2 * visits / seconds,
            f"{visits} visits + {visits} heartbeats on the other node, {concurrency} in flight, pool {pool}: "
            f"{leased} leased, {fallback} fallback, {kept} kept their number; p50 "
            f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99:.1f} ms; double leases {doubles}; "
            f"CPU per request: nodes {nodes_cpu / requests * 1e6:.0f} us, PostgreSQL {pg_cpu / requests * 1e6:.0f} us, "
            f"load generator {client / requests * 1e6:.0f} us",
        )
    ]


_PROFILED = """
import cProfile, runpy, sys, time
out = sys.argv.pop(1)
profile = cProfile.Profile(time.process_time)
profile.enable()
try:
    runpy.run_module("ctrack", run_name="__main__")
except SystemExit:
    pass
finally:
    profile.disable()
    profile.dump_stats(out)
"""


def _request(body: dict) -> bytes:
    """A lease request as a browser's page sends it (bench_dni_nodes' raw keep-alive client:
    aiohttp's client would take as much CPU as a node on the cores they share)."""
    import json

    data = json.dumps(body).encode()
    return (
        b"POST /dni/v1/lease HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://example.test\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)
    )


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return int(head[9:12]), await reader.readexactly(length)


def _cpu(pids: list[int], pg: TestPostgres) -> tuple[float, float]:
    """CPU seconds used so far by the node processes, and by the PostgreSQL server (the
    postmaster, its backends, and the backends that ended)."""

    def times(pid: int, children: bool) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11 : 15 if children else 13]) / os.sysconf("SC_CLK_TCK")

    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    backends = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                backends.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    server = times(postmaster, True)
    for pid in backends:
        try:
            server += times(pid, False)
        except OSError:
            continue
    return sum(times(pid, False) for pid in pids), server


# The reports part's call log: ~20 sources over 8 channels (weights in %), 10 sites, 2 years.
REPORT_SOURCES = [
    ("Google Ads", "paid_search", 20),
    ("Google Ads Brand", "paid_search", 6),
    ("Microsoft Ads", "paid_search", 4),
    ("Google Business Profile", "gbp", 12),
    ("GBP Second Location", "gbp", 4),
    ("Local Services Ads", "lsa", 6),
    ("Yelp", "referral", 5),
    ("Angi", "referral", 3),
    ("Thumbtack", "referral", 2),
    ("Nextdoor", "referral", 2),
    ("Radio WXYZ", "radio", 5),
    ("Radio KABC", "radio", 3),
    ("TV spot", "tv", 3),
    ("Billboard I-95", "billboard", 2),
    ("Billboard Route 9", "billboard", 2),
    ("Mailer spring", "print", 2),
    ("Mailer fall", "print", 2),
    ("google / organic", "organic", 8),
    ("bing / organic", "organic", 2),
    ("", "", 7),
]
REPORT_HOURS = [0, 0, 0, 0, 0, 1, 2, 4, 7, 9, 10, 9, 7, 8, 9, 8, 7, 5, 3, 2, 1, 1, 1, 0]
REPORT_OUTCOMES = [("answered", 72), ("missed", 12), ("voicemail", 4), ("abandoned", 10), ("busy", 2)]
REPORT_TAGS = ["estimate", "repeat-customer", "emergency", "wrong-number"]


def _spread(pairs: list[tuple[int, int]]) -> str:
    """A 100-entry SQL array holding each value as often as its weight in %: random draws."""
    values = [str(v) for v, weight in pairs for _ in range(weight)]
    assert len(values) == 100, len(values)
    return f"ARRAY[{', '.join(values)}]"


def _fill_calls(conn, first_id: int, last_id: int, start: float) -> None:
    """Calls first_id … last_id spread over 730 days from `start`, in one INSERT … SELECT."""
    names = ", ".join(f"'{n}'" for n, _, _ in REPORT_SOURCES)
    channels = ", ".join(f"'{c}'" for _, c, _ in REPORT_SOURCES)
    sources = _spread([(k + 1, w) for k, (*_, w) in enumerate(REPORT_SOURCES)])
    hours = [(h, w) for h, w in enumerate(REPORT_HOURS) if w]
    hours[10] = (hours[10][0], hours[10][1] + 100 - sum(w for _, w in hours))
    outcomes = ", ".join(f"'{o}'" for o, _ in REPORT_OUTCOMES)
    conn.execute(
        f"""
        INSERT INTO calls(uniqueid, caller_number, source, channel, started_at, answered_at, ended_at,
                          talk_seconds, disposition, first_time, lead_status, value, site)
        SELECT 'r' || i, '+1212' || lpad(caller::text, 7, '0'), nullif((ARRAY[{names}])[k], ''),
               nullif((ARRAY[{channels}])[k], ''), at, CASE WHEN outcome = 1 THEN at + 8 END,
               at + 8 + talk, talk, (ARRAY[{outcomes}])[outcome], (random() < 0.6)::int,
               CASE WHEN mark < 0.02 THEN 'spam' WHEN mark < 0.12 THEN 'not_lead'
                    WHEN outcome = 1 AND talk >= 60 THEN 'lead' END,
               CASE WHEN outcome = 1 AND talk >= 60 AND mark > 0.8 THEN round((mark * 500)::numeric, 2) END,
               'site' || (i % 10)
        FROM (SELECT i, k, outcome, mark, caller, at,
                     CASE WHEN outcome = 1 THEN 5 + floor(random() * 895)::int ELSE 0 END AS talk
              FROM (SELECT i, ({sources})[1 + floor(random() * 100)::int] AS k,
                           ({_spread([(o + 1, w) for o, (_, w) in enumerate(REPORT_OUTCOMES)])})[1 + floor(random() * 100)::int]
                               AS outcome,
                           random() AS mark, floor(random() * 250000)::int AS caller,
                           {start} + floor(random() * 730) * 86400
                               + ({_spread(hours)})[1 + floor(random() * 100)::int] * 3600 + random() * 3600 AS at
                    FROM generate_series(?::bigint, ?::bigint) AS i) AS draw) AS call""",
        (first_id, last_id),
    )


def _rollup_rows(conn) -> list[tuple]:
    """Every roll-up row with calls, values to the cent (sums of cents differ in the last bits
    with the order they were added in)."""
    out = []
    for table, key in (("daily_rollup", "day"), ("block_rollup", "block")):
        out += [
            (table, *r[:-1], round(r[-1], 2))
            for r in conn.execute(
                f"SELECT {key}, site, source, channel, lead_status, calls, answered, missed, abandoned, first_time, "
                f"talk_seconds, value FROM {table} WHERE calls != 0 ORDER BY 1, 2, 3, 4, 5"
            )
        ]
    from ctrack.reports.rollups import HOURLY_COLUMNS

    out += [
        ("hourly_rollup", *r)
        for r in conn.execute(
            f"SELECT day, site, lead_status, {', '.join(HOURLY_COLUMNS)} FROM hourly_rollup "
            f"WHERE {' + '.join(HOURLY_COLUMNS)} != 0 ORDER BY 1, 2, 3"
        )
    ]
    return out


def bench_reports(pg: TestPostgres, calls: int, check: int, runs: int = 5) -> list[tuple]:
    """Fill --report-calls calls fast (bulk INSERT … SELECT with the roll-up triggers off, then
    the roll-ups built once by reports.rollups.rebuild, the code a time-zone change runs),
    after checking on the first --report-check calls, inserted with the triggers on, that the
    rebuild equals what the triggers built. Then time the reports and the dashboard page."""
    from bench.reports import PASSWORD, time_dashboard
    from ctrack.catalog import store as catalog
    from ctrack.core.period import Period
    from ctrack.dashboard import users
    from ctrack.dashboard.auth import hash_password
    from ctrack.reports import store as reports
    from ctrack.reports.rollups import ensure_timezone, rebuild
    from ctrack.store import db

    url = pg.new_database()
    conn = db.connect(url)
    db.upgrade(conn)
    db.write(conn, lambda c: ensure_timezone(c, TZ))
    for name, channel, _ in REPORT_SOURCES:
        if name and "organic" not in name:
            catalog.add_source(conn, name, channel)
    users.set_password(conn, "bench", hash_password(PASSWORD))
    first = date(2023, 1, 1)
    start = 1672549200.0  # 2023-01-01 00:00 EST
    conn.execute(
        "INSERT INTO spend(day, source_id, amount) SELECT (?::date + d)::text, s.id, round((20 + random() * 180)::numeric, 2) "
        "FROM generate_series(0, 729) AS d, sources s WHERE s.channel IN ('paid_search', 'lsa', 'referral')",
        (first.isoformat(),),
    )
    sample = min(check, calls)
    t0 = time.perf_counter()
    _fill_calls(conn, 1, sample, start)
    by_triggers = _rollup_rows(conn)
    db.write(conn, lambda c: rebuild(c, TZ))
    same = _rollup_rows(conn) == by_triggers
    checked = time.perf_counter() - t0
    assert same, "the rebuilt roll-ups differ from the triggers'"
    t0 = time.perf_counter()
    # A bulk load's usual shape: the indexes no constraint needs are dropped and built again after.
    indexes = conn.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'calls'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid)"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.execute("ALTER TABLE calls DISABLE TRIGGER USER")
    for low in range(sample + 1, calls + 1, 1_000_000):
        _fill_calls(conn, low, min(calls, low + 999_999), start)
    conn.execute("ALTER TABLE calls ENABLE TRIGGER USER")
    inserted = time.perf_counter() - t0
    t1 = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '256MB'")
    for _, definition in indexes:
        conn.execute(definition)
    indexed = time.perf_counter() - t1
    t1 = time.perf_counter()
    conn.execute(
        "INSERT INTO call_tags(call_id, tag) SELECT id, (ARRAY[?, ?, ?, ?])[1 + id % 4] FROM calls WHERE id % 20 = 0",
        tuple(REPORT_TAGS),
    )
    tagged = time.perf_counter() - t1
    t1 = time.perf_counter()
    db.write(conn, lambda c: rebuild(c, TZ))
    rebuilt = time.perf_counter() - t1
    t1 = time.perf_counter()
    conn.execute("VACUUM ANALYZE")
    vacuumed = time.perf_counter() - t1
    filled = time.perf_counter() - t0
    size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    rollup_rows = {
        t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("daily_rollup", "block_rollup", "hourly_rollup")
    }
    last = first + timedelta(days=729)
    rows: list[tuple] = [
        (
            "reports: fill (bulk insert + rebuild)",
            calls / filled,
            f"{calls:,} calls in {filled:.0f} s: insert {inserted:.0f} s, {len(indexes)} indexes {indexed:.0f} s, tags {tagged:.0f} s, roll-ups rebuilt "
            f"{rebuilt:.0f} s, VACUUM ANALYZE {vacuumed:.0f} s; database {size / 2**30:.1f} GiB; roll-up rows "
            + ", ".join(f"{t} {n:,}" for t, n in rollup_rows.items()),
        ),
        (
            "reports: rebuild == triggers",
            None,
            f"{'yes' if same else 'NO'} on the first {sample:,} calls (inserted with the triggers on, {checked:.0f} s)",
        ),
    ]
    one_site = reports.ReportFilter(site="site3")
    for label, period in (("2 years", Period(first, last, TZ)), ("30 days", Period(last - timedelta(29), last, TZ))):
        for name, fn in (
            ("sources report", lambda p=period: reports.sources_report(conn, p)),
            ("sources report, 1 site", lambda p=period: reports.sources_report(conn, p, filters=one_site)),
            ("heatmap", lambda p=period: reports.heatmap(conn, p)),
            ("heatmap, 1 site", lambda p=period: reports.heatmap(conn, p, one_site)),
            ("daily report (not a target)", lambda p=period: reports.daily_report(conn, p)),
            (
                "sources report, 1 tag (not a target)",
                lambda p=period: reports.sources_report(conn, p, filters=reports.ReportFilter(tag="estimate")),
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
    months = [f"since={first}&until={last}", f"since={last - timedelta(29)}&until={last}"]
    for label, (median, worst) in zip(("2 years", "30 days"), asyncio.run(time_dashboard(url, months, runs))):
        rows.append((f"dashboard main page, {label}", None, f"median {median:.1f} ms, max {worst:.1f} ms"))
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
    parser.add_argument(
        "--report-check", type=int, default=20_000, help="first report calls inserted with the roll-up triggers on"
    )
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
            rows += bench_reports(pg, args.report_calls, args.report_check)
    finally:
        pg.stop()
    print(f"\nmultisite on PostgreSQL 15 (throw-away cluster, fsync off), {os.cpu_count()} CPUs, load {load:.2f}\n")
    print(f"| {'measure':<40} | {'per second':>10} | notes")
    print(f"|{'-' * 42}|{'-' * 12}|------")
    for name, rate, note in rows:
        print(f"| {name:<40} | {'-' if rate is None else f'{rate:,.0f}':>10} | {note}")


if __name__ == "__main__":
    main()
