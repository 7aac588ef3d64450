"""DNI lease throughput and latency, beside a bare aiohttp endpoint in the same run.

    .venv/bin/python bench/dni_lease.py [--seconds 10] [--concurrency 16] [--numbers 1000] [--rounds 3]

Each server runs in a process of its own on 127.0.0.1; this process is the load generator:
`concurrency` keep-alive connections, each sending one request at a time. The lease load
is a website's: mostly heartbeats of visits that hold a number (same visit id), and one
request in ten a new visitor. The lease server is the daemon's web server (start_http:
its timeouts and connection bounds) with its store writer: every lease is committed to
SQLite (written behind, many per commit; renewals once a second). The load comes from one
address, so [dni] leases_per_client is off. Prints a
table: requests/s, p50/p99/max latency, and the lease rate as a share of bare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

LEASE_PATH = "/dni/v1/lease"
BARE_PATH = "/bare"
SITE = "bench.example"
NEW_VISITS = 0.1  # share of requests from a new visitor; the rest are heartbeats


# --- servers (run as child processes) ------------------------------------------------------


def make_db(path: Path, numbers: int) -> None:
    from ctrack.catalog import store as catalog
    from ctrack.store import db

    conn = db.connect(path, create=True)
    db.upgrade(conn)
    catalog.add_pool(conn, "web", SITE, 1800, "+15035550199")
    specs = [(i, catalog.NumberSpec(f"+1971555{i:04d}", pool="web")) for i in range(numbers)]
    catalog.import_numbers(conn, specs)
    conn.close()


async def serve_lease(db_path: Path) -> None:

    from ctrack import config
    from ctrack.services import Services
    from ctrack.web.app import create_app, start_http

    values = config.defaults().as_dict()
    values.update(
        config.parse_text(
            "[business]\npublished_number = +15035550100\n[dni]\nrate_per_minute = 0\nleases_per_client = 0\n"
        )
    )
    cfg = config.build(values)
    services = Services(replace(cfg, http=replace(cfg.http, listen=("127.0.0.1", 0))), db_path)
    services.catalog.refresh()
    await services.writer.start()
    runner, site = await start_http(
        create_app(services), services, 1.0
    )  # as `ctrack serve` runs it: timeouts, connection bounds
    await _serve_until_sigterm(runner, site.address[1])
    await services.writer.close()


async def serve_bare() -> None:
    from aiohttp import web

    async def bare(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        return web.json_response(
            {"visit_id": body.get("visit_id") or "0123456789abcdef0123", "number": "+15035550101"},
            headers={"Cache-Control": "no-store"},
        )

    app = web.Application()
    app.router.add_post(BARE_PATH, bare)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await _listen(runner)


async def _listen(runner) -> None:
    from aiohttp import web

    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await _serve_until_sigterm(runner, site._server.sockets[0].getsockname()[1])


async def _serve_until_sigterm(runner, port: int) -> None:
    print(port, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


# --- the load generator ------------------------------------------------------------------------


def _request(path: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://www.{SITE}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def _connection(
    port: int,
    path: str,
    deadline: float,
    warm_until: float,
    latencies: dict[str, list[float]],
    errors: list[int],
    rng: random.Random,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    visits: list[str] = []
    touch = {"site": SITE, "page_url": f"https://www.{SITE}/?gclid=bench", "params": {"gclid": "bench"}}
    try:
        while True:
            now = time.perf_counter()
            if now >= deadline:
                return
            new = not visits or rng.random() < NEW_VISITS
            body = touch if new else {**touch, "visit_id": rng.choice(visits)}
            writer.write(_request(path, body))
            status, data = await _read_response(reader)
            done = time.perf_counter()
            if status != 200:
                errors.append(status)
            elif new and len(visits) < 50:
                visits.append(json.loads(data)["visit_id"])
            if now >= warm_until:
                latencies["new" if new else "renew"].append(done - now)
    finally:
        writer.close()


def _summary(latencies: list[float], seconds: float) -> dict:
    latencies = sorted(latencies)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "rate": len(latencies) / seconds,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000,
    }


async def load(port: int, path: str, seconds: float, concurrency: int, warmup: float) -> dict[str, dict]:
    """Run the load; the summary of all requests, and of new visits and heartbeats apart."""
    latencies: dict[str, list[float]] = {"new": [], "renew": []}
    errors: list[int] = []
    start = time.perf_counter()
    warm_until, deadline = start + warmup, start + warmup + seconds
    await asyncio.gather(
        *(
            _connection(port, path, deadline, warm_until, latencies, errors, random.Random(i))
            for i in range(concurrency)
        )
    )
    found = {
        "all": _summary(latencies["new"] + latencies["renew"], seconds),
        "new": _summary(latencies["new"], seconds),
        "renew": _summary(latencies["renew"], seconds),
    }
    found["all"]["errors"] = len(errors)
    return found


def _start(args: list[str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise SystemExit(f"server {args} did not start")
    return proc, int(line)


def _metric(port: int, name: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return line.split()[1]
    return "?"


def loop_name() -> str:
    """Which event loop the daemon (and so the benchmarked servers) runs on."""
    from ctrack.daemon import event_loop_factory

    return "uvloop" if event_loop_factory().__module__.startswith("uvloop") else "asyncio's own loop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--numbers", type=int, default=1000, help="pool size")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per endpoint; the median is shown")
    parser.add_argument("--serve", choices=("lease", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # both servers on the event loop the daemon uses (uvloop when installed)
        from ctrack.daemon import event_loop_factory

        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve_lease(Path(args.db)) if args.serve == "lease" else serve_bare())
        return

    rounds: dict[str, list[dict]] = {"bare": [], "lease": []}
    with tempfile.TemporaryDirectory(prefix="ctrack-bench-") as tmp:
        db_path = Path(tmp) / "bench.db"
        make_db(db_path, args.numbers)
        for _ in range(args.rounds):  # alternate, so a noisy neighbour hits both alike
            for name, serve_args, path in (
                ("bare", ["--serve", "bare"], BARE_PATH),
                ("lease", ["--serve", "lease", "--db", str(db_path)], LEASE_PATH),
            ):
                proc, port = _start(serve_args)
                try:
                    rounds[name].append(asyncio.run(load(port, path, args.seconds, args.concurrency, args.warmup)))
                    if path == LEASE_PATH:
                        rounds[name][-1]["commits"] = _metric(port, "ctrack_store_write_batches_total")
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=10)
    # the median round of each endpoint, by its rate
    results = {name: sorted(runs, key=lambda r: r["all"]["rate"])[len(runs) // 2] for name, runs in rounds.items()}
    commits = results["lease"]["commits"]

    print(
        f"DNI lease benchmark: {args.concurrency} keep-alive connections, {args.seconds:g} s after "
        f"{args.warmup:g} s warm-up, pool of {args.numbers}, {os.cpu_count()} CPUs (client and server share them); "
        f"median of {args.rounds} alternating rounds; servers on {loop_name()}"
    )
    print(f"{'endpoint':<30} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    rows = [
        ("bare aiohttp POST", results["bare"]["all"]),
        ("POST /dni/v1/lease, all", results["lease"]["all"]),
        ("  new visits", results["lease"]["new"]),
        ("  heartbeats", results["lease"]["renew"]),
    ]
    for name, r in rows:
        print(f"{name:<30} {r['requests']:>9} {r['rate']:>8.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} {r['max']:>7.2f}")
    lease, bare = results["lease"]["all"], results["bare"]["all"]
    print(
        f"lease rate = {lease['rate'] / bare['rate']:.0%} of bare; errors: {bare['errors']} bare, "
        f"{lease['errors']} lease"
    )
    per_second = float(commits) / (args.seconds + args.warmup)
    print(
        f"store: {commits} commits in that lease round ({per_second:.0f}/s: the database trails the "
        f"leases by about {1000 / per_second:.0f} ms)"
    )


if __name__ == "__main__":
    main()
