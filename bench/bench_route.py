"""Route latency and throughput: ctrack's FastAGI route, the classic AGI script, and a no-op
FastAGI responder (the protocol floor), in one run.

    .venv/bin/python bench/bench_route.py [--seconds 5] [--clients 50] [--rate 1000]
                                           [--script-requests 60] [--script-concurrency 4]

Every server runs in a child process of its own on 127.0.0.1; the load generator is another
child process (asyncio Protocols, no streams), so this parent only starts them and prints.
A request is what Asterisk's res_agi does for AGI(agi://...): connect, send the agi_* block
(24 lines, the DID of a 200-number catalog as agi_arg_1, 5% unknown DIDs), read the SET
VARIABLE lines, answer each with '200 result=1' as it arrives, until the server half-closes.
Latency is connect → that EOF (when Asterisk moves on in the dialplan). Every reply is
checked: the route must send its 13 variables ending with CTRACK_ROUTE "ok", and the source
of each static number; the server's own counters must show every request routed.

Load shapes, each with `--clients` connections' worth of concurrency:
  saturated  every client sends its next request as soon as the last one ended (closed loop):
             throughput; latency there is queueing (Little: p50 ~ clients / rate)
  paced      the clients together offer `--rate` requests/s (Poisson), 50 clients
  burst      all clients fire at the same instant, wait for all, pause 20 ms, again
The classic AGI script is spawned per request (`ctrack-route.agi`, env on stdin, replies on
stdin as Asterisk does) with --script-concurrency at once, --script-requests in all.
CPU columns: the server's (and load generator's) CPU time over the measured window,
per request; server CPU near 100% means the server, not the client, was the limit.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "agi_scripts" / "ctrack-route.agi"
NUMBERS = 200
STATIC = 150          # +1971555 0000..0149 static (10 sources), 0150..0199 in a DNI pool
SOURCES = [f"source-{i}" for i in range(10)]
CLK = os.sysconf("SC_CLK_TCK")


def did(i: int) -> str:
    return f"1971555{i:04d}"


def expected_source(i: int) -> str | None:
    return SOURCES[i % len(SOURCES)] if i < STATIC else None


def env_block(n: int, i: int, script: str = "route") -> bytes:
    """The agi_* block Asterisk 22 sends for AGI(agi://127.0.0.1:4573/route,${CTRACK_DID})."""
    d = did(i) if i >= 0 else "15035550999"
    uid = f"1800000000.{n}"
    lines = [
        "agi_network: yes", f"agi_network_script: {script}", f"agi_request: agi://127.0.0.1:4573/{script}",
        f"agi_channel: PJSIP/trunk-{n:08x}", "agi_language: en", "agi_type: PJSIP", f"agi_uniqueid: {uid}",
        "agi_version: 22.10.1", "agi_callerid: 15035550123", "agi_calleridname: Bench Caller",
        "agi_callingpres: 0", "agi_callingani2: 0", "agi_callington: 0", "agi_callingtns: 0",
        f"agi_dnid: {d}", "agi_rdnis: unknown", "agi_context: ctrack-call", f"agi_extension: {d}",
        "agi_priority: 4", "agi_enhanced: 0.0", "agi_accountcode: ", f"agi_threadid: {140000000000 + n}",
        f"agi_arg_1: {d}", "",
    ]
    return ("\n".join(lines) + "\n").encode()


def pick(rng: random.Random) -> int:
    return -1 if rng.random() < 0.05 else rng.randrange(NUMBERS)


# --- servers (child processes) -----------------------------------------------------------------

def make_db(path: Path) -> Path:
    from ctrack.store import catalog, db

    conn = db.connect(path, create=True)
    db.upgrade(conn)
    for n, name in enumerate(SOURCES):
        catalog.add_source(conn, name, ("paid_search", "organic", "radio", "print", "tv")[n % 5])
    catalog.add_pool(conn, "web", "bench.example", 1800, "+15035550199")
    specs = []
    for i in range(NUMBERS):
        if i < STATIC:
            specs.append((i, catalog.NumberSpec(
                "+" + did(i), source=expected_source(i), record=i % 3 == 0,
                forward=("+15035550100" if i % 4 == 0 else None), whisper=("beep" if i % 7 == 0 else None))))
        else:
            specs.append((i, catalog.NumberSpec("+" + did(i), pool="web")))
    catalog.import_numbers(conn, specs)
    conn.close()
    ini = path.with_suffix(".ini")
    ini.write_text(f"[ctrack]\ndatabase = {path}\n[recording]\nconsent_prompt = beep\n")
    return ini


async def serve_fastagi(ini: str) -> None:
    from ctrack import config
    from ctrack.asterisk.fastagi import FastAgiServer
    from ctrack.asterisk.handlers import dispatcher
    from ctrack.services import Services

    cfg = config.load(ini)
    services = Services(cfg, cfg.database_path)
    services.catalog.refresh()
    server = FastAgiServer(dispatcher(services), "127.0.0.1", 0, client_timeout=5.0)
    await server.start()
    print(server.port, flush=True)
    await _until_term()
    await server.close()
    services.catalog.close()
    s = server.stats
    print(json.dumps({"connections": s.connections, "routed": s.routed, "failed": s.failed,
                      "rejected": s.rejected}), flush=True)


async def serve_noop() -> None:
    """The protocol floor: read the env, send one SET VARIABLE, half-close, read the reply, close."""
    stats = {"connections": 0, "routed": 0, "failed": 0, "rejected": 0}

    class Noop(asyncio.Protocol):
        def connection_made(self, transport):
            self.t = transport
            self.buf = b""
            self.sent = False
            stats["connections"] += 1

        def data_received(self, data):
            if self.sent:
                stats["routed"] += 1
                self.t.close()
                return
            self.buf += data
            if b"\n\n" in self.buf:
                self.sent = True
                self.t.write(b'SET VARIABLE CTRACK_ROUTE "ok"\n')
                self.t.write_eof()

        def eof_received(self):
            if not self.sent:
                stats["rejected"] += 1
            return False

    server = await asyncio.get_running_loop().create_server(Noop, "127.0.0.1", 0, backlog=256)
    print(server.sockets[0].getsockname()[1], flush=True)
    await _until_term()
    server.close()
    print(json.dumps(stats), flush=True)


async def _until_term() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


# --- the load generator (a child process) --------------------------------------------------------

class _Request(asyncio.Protocol):
    __slots__ = ("env", "done", "buf", "lines", "t", "eof_at")

    def __init__(self, env: bytes, done: asyncio.Future):
        self.env, self.done = env, done
        self.buf = b""
        self.lines: list[bytes] = []
        self.eof_at = 0.0

    def connection_made(self, transport):
        self.t = transport
        transport.write(self.env)

    def data_received(self, data):
        buf = self.buf + data
        *lines, self.buf = buf.split(b"\n")
        if lines:
            self.lines += lines
            self.t.write(b"200 result=1\n" * len(lines))

    def eof_received(self):
        self.eof_at = time.perf_counter()
        return False             # replies are written; the transport closes after flushing them

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(exc)


async def _one(loop, port: int, n: int, i: int, check: bool) -> tuple[float, bool]:
    done = loop.create_future()
    start = time.perf_counter()
    try:
        transport, proto = await loop.create_connection(lambda: _Request(env_block(n, i), done), "127.0.0.1", port)
    except OSError:
        return time.perf_counter() - start, False
    await done
    if not proto.eof_at:
        return time.perf_counter() - start, False
    ok = True
    if check:
        lines = proto.lines
        ok = len(lines) == 13 and lines[-1] == b'SET VARIABLE CTRACK_ROUTE "ok"'
        src = expected_source(i) if i >= 0 else None
        ok = ok and f'SET VARIABLE CTRACK_SOURCE "{src or ""}"'.encode() in lines
    else:
        ok = proto.lines == [b'SET VARIABLE CTRACK_ROUTE "ok"']
    return proto.eof_at - start, ok


async def _load(port: int, shape: str, seconds: float, clients: int, rate: float, check: bool, seed: int) -> dict:
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    errors = 0
    counter = iter(range(seed * 10_000_000, 1 << 62))
    rng = random.Random(seed)
    warm = 0.5
    t0 = time.perf_counter()
    measure_from, deadline = t0 + warm, t0 + warm + seconds
    cpu0: list[float] = []

    def mark():
        if not cpu0 and time.perf_counter() >= measure_from:
            cpu0.append(time.process_time())

    async def record(coro):
        nonlocal errors
        started = time.perf_counter()
        latency, ok = await coro
        if started >= measure_from:
            lat.append(latency)
            errors += not ok

    if shape == "saturated":
        async def client():
            while time.perf_counter() < deadline:
                mark()
                await record(_one(loop, port, next(counter), pick(rng), check))
        await asyncio.gather(*(client() for _ in range(clients)))
    elif shape == "paced":
        per_client = rate / clients

        async def client(k):
            crng = random.Random(seed * 1000 + k)
            await asyncio.sleep(crng.random() / per_client)
            while time.perf_counter() < deadline:
                mark()
                await record(_one(loop, port, next(counter), pick(crng), check))
                await asyncio.sleep(crng.expovariate(per_client))
        await asyncio.gather(*(client(k) for k in range(clients)))
    else:  # burst
        while time.perf_counter() < deadline:
            mark()
            await asyncio.gather(*(record(_one(loop, port, next(counter), pick(rng), check)) for _ in range(clients)))
            await asyncio.sleep(0.02)
    end = time.perf_counter()
    return {"latencies": lat, "errors": errors, "seconds": end - measure_from,
            "client_cpu": time.process_time() - (cpu0[0] if cpu0 else 0.0)}


def load_child(args: list[str]) -> None:
    port, shape, seconds, clients, rate, check, seed = args
    result = asyncio.run(_load(int(port), shape, float(seconds), int(clients), float(rate), check == "1", int(seed)))
    json.dump(result, sys.stdout)


# --- the classic AGI script -------------------------------------------------------------------

async def _script_request(ini: str, n: int, i: int) -> tuple[float, bool]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CTRACK_CONFIG": ini, "LANG": "C.UTF-8"}
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=env, cwd="/")
    proc.stdin.write(env_block(n, i, script="ctrack-route.agi"))
    lines = []
    while True:
        line = await proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip(b"\n"))
        proc.stdin.write(b"200 result=1\n")
    latency = time.perf_counter() - start
    proc.stdin.close()
    await proc.wait()
    src = expected_source(i) if i >= 0 else None
    ok = (len(lines) == 13 and lines[-1] == b'SET VARIABLE CTRACK_ROUTE "ok"'
          and f'SET VARIABLE CTRACK_SOURCE "{src or ""}"'.encode() in lines)
    return latency, ok


async def script_load(ini: str, requests: int, concurrency: int) -> dict:
    rng = random.Random(7)
    lat: list[float] = []
    errors = 0
    todo = iter(range(requests))
    await _script_request(ini, 0, 0)        # warm the page cache
    cpu0 = os.times()

    async def worker():
        nonlocal errors
        for n in todo:
            latency, ok = await _script_request(ini, n, pick(rng))
            lat.append(latency)
            errors += not ok

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - t0
    cpu1 = os.times()
    child_cpu = (cpu1.children_user + cpu1.children_system) - (cpu0.children_user + cpu0.children_system)
    return {"latencies": lat, "errors": errors, "seconds": seconds, "server_cpu": child_cpu}


# --- orchestration ----------------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def _start_server(args: list[str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise SystemExit(f"server {args} did not start")
    return proc, int(line)


def _run_load(port: int, shape: str, seconds: float, clients: int, rate: float, check: bool,
              server_pid: int) -> dict:
    load = subprocess.Popen([sys.executable, __file__, "--load", str(port), shape, str(seconds), str(clients),
                             str(rate), "1" if check else "0", "1"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    time.sleep(0.5)                           # the load's warm-up: CPU is counted after it
    s0 = _cpu_seconds(server_pid)
    out, _ = load.communicate(timeout=seconds + 60)
    s1 = _cpu_seconds(server_pid)
    result = json.loads(out)
    result["server_cpu"] = s1 - s0
    return result


def _stop_server(proc: subprocess.Popen) -> dict:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


def summarize(r: dict) -> dict:
    lat = sorted(r["latencies"])
    n = len(lat)

    def pct(p: float) -> float:
        return lat[min(n - 1, int(p * n))] * 1000 if n else float("nan")

    out = {"requests": n, "rate": n / r["seconds"], "p50": pct(0.50), "p99": pct(0.99),
           "max": lat[-1] * 1000 if n else float("nan"), "errors": r["errors"],
           "server_cpu_pct": 100 * r["server_cpu"] / r["seconds"],
           "server_us": 1e6 * r["server_cpu"] / n if n else float("nan")}
    if "client_cpu" in r:
        out["client_cpu_pct"] = 100 * r["client_cpu"] / r["seconds"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per load shape and server")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests/s offered by the paced shape")
    parser.add_argument("--script-requests", type=int, default=60)
    parser.add_argument("--script-concurrency", type=int, default=4)
    parser.add_argument("--serve", choices=("fastagi", "noop"), help=argparse.SUPPRESS)
    parser.add_argument("--ini", help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "fastagi":
        asyncio.run(serve_fastagi(args.ini))
        return
    if args.serve == "noop":
        asyncio.run(serve_noop())
        return
    if args.load:
        load_child(args.load)
        return
    run(args)


def run(args) -> dict:
    rows: dict[tuple[str, str], dict] = {}
    totals: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="ctrack-bench-route-") as tmp:
        ini = str(make_db(Path(tmp) / "ctrack.db"))
        for name, serve, check in (("no-op FastAGI", ["--serve", "noop"], False),
                                   ("ctrack FastAGI route", ["--serve", "fastagi", "--ini", ini], True)):
            proc, port = _start_server(serve)
            try:
                for shape in ("saturated", "paced", "burst"):
                    rows[name, shape] = summarize(_run_load(port, shape, args.seconds, args.clients, args.rate,
                                                            check, proc.pid))
            finally:
                totals[name] = _stop_server(proc)
        script = asyncio.run(script_load(ini, args.script_requests, args.script_concurrency))
        rows["classic AGI script", f"{args.script_concurrency} at once"] = summarize(script)

    print(f"Route benchmark: {args.clients} clients, {args.seconds:g} s per shape after 0.5 s warm-up, "
          f"catalog of {NUMBERS} numbers; paced = {args.rate:g} req/s offered; classic script: "
          f"{args.script_requests} spawns, {args.script_concurrency} at once; {os.cpu_count()} CPUs shared "
          f"by server and load generator (separate processes)")
    print(f"{'server':<21} {'load':<10} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'errors':>6} {'srv CPU':>7} {'srv µs/req':>10} {'gen CPU':>7}")
    for (name, shape), r in rows.items():
        gen = f"{r['client_cpu_pct']:.0f}%" if "client_cpu_pct" in r else "-"
        print(f"{name:<21} {shape:<10} {r['requests']:>8} {r['rate']:>7.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} "
              f"{r['max']:>7.2f} {r['errors']:>6} {r['server_cpu_pct']:>6.0f}% {r['server_us']:>10.0f} {gen:>7}")
    for name, t in totals.items():
        print(f"{name}: server counted {t['connections']} connections, {t['routed']} routed, "
              f"{t['failed']} failed, {t['rejected']} rejected")
    route, noop = rows["ctrack FastAGI route", "saturated"], rows["no-op FastAGI", "saturated"]
    paced = rows["ctrack FastAGI route", "paced"]
    ratio = route["rate"] / noop["rate"]
    print(f"FastAGI route throughput = {ratio:.0%} of the no-op responder's (target >= 60%: "
          f"{'met' if ratio >= 0.6 else 'MISSED'}); server CPU per request {route['server_us']:.0f} µs vs "
          f"{noop['server_us']:.0f} µs")
    print(f"FastAGI route p99 at {args.rate:g} req/s from {args.clients} clients = {paced['p99']:.2f} ms "
          f"(target < 2 ms: {'met' if paced['p99'] < 2 else 'MISSED'})")
    errors = sum(r["errors"] for r in rows.values()) + sum(t["failed"] + t["rejected"] for t in totals.values())
    if errors:
        print(f"ERRORS: {errors}")
    return {"rows": rows, "totals": totals}


if __name__ == "__main__":
    main()
