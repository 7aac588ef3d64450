"""Route latency and throughput: ctrack's FastAGI route, the classic AGI script, and a no-op
FastAGI responder (the protocol floor), in one run.

    .venv/bin/python bench/bench_route.py [--seconds 4] [--rounds 4] [--clients 50]
                                           [--rates 200,1000] [--script-requests 20] [--script-concurrency 1,4]

Both FastAGI servers run in child processes of their own on 127.0.0.1: ctrack's real
FastAgiServer + dispatcher() + Services with its catalog cache (200 numbers: 150 static over
10 sources, some recorded, forwarded or whispered; 50 in a DNI pool), and a minimal asyncio
responder (reads the env, one SET VARIABLE, half-close, reads the reply, closes). The load
generator is a third process: plain non-blocking sockets on one epoll, leaner per request
than either server, so the servers are what is measured (see the CPU columns).

A request is what Asterisk's res_agi does for AGI(agi://...,${CTRACK_DID}): connect, send
the 23-line agi_* block (a DID of the catalog as agi_arg_1, 5% unknown DIDs), answer each
SET VARIABLE line with '200 result=1' as it arrives, until the server half-closes. Latency
is connect -> that EOF, when Asterisk goes on with the dialplan. Every answer is checked
(every route variable, CTRACK_ROUTE_STATUS "ok" last, the source of the static numbers) and the servers'
own counters must show every session routed.

Load shapes, `--clients` connections' worth of concurrency each:
  saturated  every client starts its next request as soon as the last one ended (closed
             loop): throughput. Latency there is queueing (Little: p50 ~ clients / rate).
  paced R/s  the clients together offer R requests/s (Poisson arrivals)
  burst      all clients fire at the same instant, wait for all, pause 20 ms, again
Each shape alternates the two servers in `--rounds` segments, so that load from other
processes on the machine falls on both alike. The classic AGI script is spawned per
request (agi_scripts/ctrack-route.agi with this interpreter, env on stdin, replies on stdin),
each `--script-concurrency` at once (srv CPU: the spawned scripts'). srv CPU: the server's CPU time (user+sys, /proc) over the
measured time; near 100% means the server was the limit. srv µs/req: its CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import heapq
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ctrack.core.variables import ROUTE_VARIABLES  # the route sets each, one SET VARIABLE apiece

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = ROOT / "agi_scripts" / "ctrack-route.agi"
NUMBERS = 200
STATIC = 150  # +1971555 0000..0149 static (10 sources), 0150..0199 in a DNI pool
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
        "agi_network: yes",
        f"agi_network_script: {script}",
        f"agi_request: agi://127.0.0.1:4573/{script}",
        f"agi_channel: PJSIP/trunk-{n:08x}",
        "agi_language: en",
        "agi_type: PJSIP",
        f"agi_uniqueid: {uid}",
        "agi_version: 22.10.1",
        "agi_callerid: 15035550123",
        "agi_calleridname: Bench Caller",
        "agi_callingpres: 0",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        f"agi_dnid: {d}",
        "agi_rdnis: unknown",
        "agi_context: ctrack-call",
        f"agi_extension: {d}",
        "agi_priority: 4",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        f"agi_threadid: {140000000000 + n}",
        f"agi_arg_1: {d}",
        "",
    ]
    return ("\n".join(lines) + "\n").encode()


def pick(rng: random.Random) -> int:
    return -1 if rng.random() < 0.05 else rng.randrange(NUMBERS)


# --- servers (child processes) -----------------------------------------------------------------


def make_db(path: Path) -> Path:
    from ctrack.catalog import store as catalog
    from ctrack.store import db

    conn = db.connect(path, create=True)
    db.upgrade(conn)
    for n, name in enumerate(SOURCES):
        catalog.add_source(conn, name, ("paid_search", "organic", "radio", "print", "tv")[n % 5])
    catalog.add_pool(conn, "web", "bench.example", 1800, "+15035550199")
    specs = []
    for i in range(NUMBERS):
        if i < STATIC:
            specs.append(
                (
                    i,
                    catalog.NumberSpec(
                        "+" + did(i),
                        source=expected_source(i),
                        record=i % 3 == 0,
                        forward=("+15035550100" if i % 4 == 0 else None),
                        whisper=("beep" if i % 7 == 0 else None),
                    ),
                )
            )
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
    from ctrack.route.fastagi import dispatcher
    from ctrack.services import Services

    cfg = config.load(ini)
    services = Services(cfg, cfg.database_path)
    services.catalog.refresh()
    server = FastAgiServer(dispatcher(services), "127.0.0.1", 0, client_timeout=5.0)
    await server.start()
    gc.freeze()  # as `ctrack serve` does once started
    print(server.port, flush=True)
    await _until_term()
    await server.close()
    services.catalog.close()
    s = server.stats
    print(
        json.dumps({"connections": s.connections, "routed": s.routed, "failed": s.failed, "rejected": s.rejected}),
        flush=True,
    )


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
                self.t.write(b'SET VARIABLE CTRACK_ROUTE_STATUS "ok"\n')
                self.t.write_eof()

        def eof_received(self):
            if not self.sent:
                stats["rejected"] += 1
            return False

    server = await asyncio.get_running_loop().create_server(Noop, "127.0.0.1", 0, backlog=256)
    gc.freeze()
    print(server.sockets[0].getsockname()[1], flush=True)
    await _until_term()
    server.close()
    print(json.dumps(stats), flush=True)


async def _until_term() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


# --- the load generator (a child process) --------------------------------------------------------
# Plain non-blocking sockets on one epoll, no asyncio: a request costs the generator less
# CPU than it costs even the no-op server, so the servers, not the generator, are measured.

_CONNECTING, _READING = 0, 1


class _Req:
    __slots__ = ("buf", "client", "did", "lines", "phase", "sock", "start")

    def __init__(self, client: int, sock: socket.socket, start: float, did: int):
        self.client, self.sock, self.start, self.did = client, sock, start, did
        self.phase = _CONNECTING
        self.buf = b""
        self.lines: list[bytes] = []


def _check(req: _Req, route: bool) -> bool:
    lines = req.lines
    if not route:
        return lines == [b'SET VARIABLE CTRACK_ROUTE_STATUS "ok"']
    if len(lines) != len(ROUTE_VARIABLES) or lines[-1] != b'SET VARIABLE CTRACK_ROUTE_STATUS "ok"':
        return False
    src = expected_source(req.did) if req.did >= 0 else None
    return f'SET VARIABLE CTRACK_SOURCE "{src or ""}"'.encode() in lines


def _load(
    port: int,
    shape: str,
    seconds: float,
    clients: int,
    rate: float,
    route: bool,
    seed: int,
    warm: float,
    server_pid: int,
) -> dict:
    """Run one load shape; latency = connect .. the server's EOF after its SET VARIABLEs."""
    rng = random.Random(seed)
    ep = select.epoll()
    live: dict[int, _Req] = {}
    lat: list[float] = []
    errors = 0
    n = seed * 10_000_000
    ok_reply = b"200 result=1\n"
    t0 = time.perf_counter()
    measure_from, deadline = t0 + warm, t0 + warm + seconds
    cpu0 = None
    due: list[tuple[float, int]] = []  # (when, client) for paced and burst
    per_client = rate / clients
    if shape == "paced":
        due = sorted((t0 + rng.random() / per_client, k) for k in range(clients))
    elif shape == "burst":
        due = [(t0, k) for k in range(clients)]
    heapq.heapify(due)
    addr = ("127.0.0.1", port)

    def start(client: int, now: float) -> None:
        nonlocal n, errors
        n += 1
        i = pick(rng)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        req = _Req(client, sock, now, i)
        err = sock.connect_ex(addr)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            errors += now >= measure_from
            return
        live[sock.fileno()] = req
        ep.register(sock.fileno(), select.EPOLLOUT)

    def finish(req: _Req, now: float, ok: bool) -> None:
        nonlocal errors
        fd = req.sock.fileno()
        ep.unregister(fd)
        del live[fd]
        req.sock.close()
        if req.start >= measure_from:
            lat.append(now - req.start)
            errors += not ok
        if now >= deadline:
            return
        if shape == "saturated":
            start(req.client, time.perf_counter())
        elif shape == "paced":
            heapq.heappush(due, (max(now, req.start + rng.expovariate(per_client)), req.client))
        elif not live:  # burst: the next one 20 ms after all are done
            for k in range(clients):
                heapq.heappush(due, (now + 0.02, k))

    if shape == "saturated":
        for k in range(clients):
            start(k, time.perf_counter())
    while live or (due and due[0][0] < deadline):
        now = time.perf_counter()
        if cpu0 is None and now >= measure_from:
            cpu0 = time.process_time()
            srv0 = _cpu_seconds(server_pid)
        while due and due[0][0] <= now:
            _, k = heapq.heappop(due)
            if now < deadline:
                start(k, now)
        timeout = max(0.0, min(due[0][0] - now, 0.05)) if due else 0.05
        for fd, _ev in ep.poll(timeout):
            req = live.get(fd)
            if req is None:
                continue
            sock = req.sock
            if req.phase == _CONNECTING:
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    finish(req, time.perf_counter(), False)
                    continue
                sock.send(env_block(n, req.did))
                req.phase = _READING
                ep.modify(fd, select.EPOLLIN)
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                finish(req, time.perf_counter(), False)
                continue
            if not data:  # the server's half-close
                finish(req, time.perf_counter(), not req.buf and _check(req, route))
                continue
            buf = req.buf + data
            *lines, req.buf = buf.split(b"\n")
            if lines:
                req.lines += lines
                sock.send(ok_reply * len(lines))  # as res_agi answers each command
    end = time.perf_counter()
    ep.close()
    return {
        "latencies": lat,
        "errors": errors,
        "seconds": end - measure_from,
        "client_cpu": time.process_time() - cpu0,
        "server_cpu": _cpu_seconds(server_pid) - srv0,
    }


def load_child(spec: str) -> None:
    """Alternate short segments between the servers so that load from other processes on the
    machine falls on both alike; results summed per server."""
    spec = json.loads(spec)
    out: dict[str, dict] = {}
    seed = 1
    for _ in range(spec["rounds"]):
        for name, target in spec["targets"].items():
            seed += 1
            r = _load(
                target["port"],
                spec["shape"],
                spec["seconds"] / spec["rounds"],
                spec["clients"],
                spec["rate"],
                target["route"],
                seed,
                spec["warm"],
                target["pid"],
            )
            acc = out.setdefault(
                name, {"latencies": [], "errors": 0, "seconds": 0.0, "client_cpu": 0.0, "server_cpu": 0.0}
            )
            acc["latencies"] += r["latencies"]
            for key in ("errors", "seconds", "client_cpu", "server_cpu"):
                acc[key] += r[key]
    json.dump(out, sys.stdout)


# --- the classic AGI script -------------------------------------------------------------------


async def _script_request(ini: str, n: int, i: int) -> tuple[float, bool]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CTRACK_CONFIG": ini, "LANG": "C.UTF-8"}
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd="/",
    )
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
    ok = (
        len(lines) == len(ROUTE_VARIABLES)
        and lines[-1] == b'SET VARIABLE CTRACK_ROUTE_STATUS "ok"'
        and f'SET VARIABLE CTRACK_SOURCE "{src or ""}"'.encode() in lines
    )
    return latency, ok


async def script_load(ini: str, requests: int, concurrency: int) -> dict:
    rng = random.Random(7)
    lat: list[float] = []
    errors = 0
    todo = iter(range(requests))
    await _script_request(ini, 0, 0)  # warm the page cache
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


def _run_load(targets: dict, shape: str, args, rate: float = 0.0) -> dict:
    spec = {
        "targets": targets,
        "shape": shape,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "clients": args.clients,
        "rate": rate,
        "warm": 0.2,
    }
    out = subprocess.run(
        [sys.executable, __file__, "--load", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        timeout=args.seconds * 3 + 120,
        check=True,
    ).stdout
    return json.loads(out)


def _stop_server(proc: subprocess.Popen) -> dict:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


def summarize(r: dict) -> dict:
    lat = sorted(r["latencies"])
    n = len(lat)

    def pct(p: float) -> float:
        return lat[min(n - 1, int(p * n))] * 1000 if n else float("nan")

    out = {
        "requests": n,
        "rate": n / r["seconds"],
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": lat[-1] * 1000 if n else float("nan"),
        "errors": r["errors"],
        "server_cpu_pct": 100 * r["server_cpu"] / r["seconds"],
        "server_us": 1e6 * r["server_cpu"] / n if n else float("nan"),
    }
    if "client_cpu" in r:
        out["client_cpu_pct"] = 100 * r["client_cpu"] / r["seconds"]
    return out


def loop_name() -> str:
    """Which event loop the daemon (and so the benchmarked servers) runs on."""
    from ctrack.daemon import event_loop_factory

    return "uvloop" if event_loop_factory().__module__.startswith("uvloop") else "asyncio's own loop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per load shape and server (measured)")
    parser.add_argument("--rounds", type=int, default=4, help="segments per shape, alternating the servers")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rates", default="200,1000", help="requests/s offered by the paced shapes")
    parser.add_argument("--script-requests", type=int, default=20, help="spawns per concurrency (x2 above 1)")
    parser.add_argument("--script-concurrency", default="1,4")
    parser.add_argument("--serve", choices=("fastagi", "noop"), help=argparse.SUPPRESS)
    parser.add_argument("--ini", help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # both servers on the event loop the daemon uses (uvloop when installed)
        from ctrack.daemon import event_loop_factory

        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve_fastagi(args.ini) if args.serve == "fastagi" else serve_noop())
        return
    if args.load:
        load_child(args.load)
        return
    run(args)


NOOP, ROUTE, SCRIPT_ROW = "no-op FastAGI", "ctrack FastAGI route", "classic AGI script"


def run(args) -> dict:
    rates = [float(r) for r in args.rates.split(",") if r]
    shapes = (
        [("saturated", "saturated", 0.0)] + [(f"paced {r:g}/s", "paced", r) for r in rates] + [("burst", "burst", 0.0)]
    )
    rows: dict[tuple[str, str], dict] = {}
    totals: dict[str, dict] = {}
    servers: dict[str, subprocess.Popen] = {}
    with tempfile.TemporaryDirectory(prefix="ctrack-bench-route-") as tmp:
        ini = str(make_db(Path(tmp) / "ctrack.db"))
        try:
            targets = {}
            for name, serve, route in (
                (NOOP, ["--serve", "noop"], False),
                (ROUTE, ["--serve", "fastagi", "--ini", ini], True),
            ):
                servers[name], port = _start_server(serve)
                targets[name] = {"port": port, "pid": servers[name].pid, "route": route}
            for label, shape, rate in shapes:
                for name, result in _run_load(targets, shape, args, rate).items():
                    rows[name, label] = summarize(result)
        finally:
            for name, proc in servers.items():
                totals[name] = _stop_server(proc)
        for conc in [int(c) for c in str(args.script_concurrency).split(",") if c]:
            spawns = args.script_requests * (1 if conc == 1 else 2)
            script = asyncio.run(script_load(ini, spawns, conc))
            rows[SCRIPT_ROW, f"{conc} at once"] = summarize(script)

    print(
        f"Route benchmark: {args.clients} clients; per shape {args.seconds:g} s measured per server, in "
        f"{args.rounds} segments alternating the two servers (each after 0.2 s warm-up); catalog of {NUMBERS} "
        f"numbers; classic script: {args.script_requests} spawns 1 at once, twice that at higher concurrency "
        f"(this interpreter, on the host); "
        f"{os.cpu_count()} CPUs shared by the server and the load generator (separate processes); "
        f"servers on {loop_name()}"
    )
    print(
        f"{'server':<21} {'load':<12} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'errors':>6} {'srv CPU':>7} {'srv µs/req':>10} {'gen CPU':>7}"
    )
    for label, _, _ in shapes:
        for name in (NOOP, ROUTE):
            _row(name, label, rows[name, label])
    for (name, label), r in rows.items():
        if name == SCRIPT_ROW:
            _row(name, label, r)
    for name, t in totals.items():
        print(
            f"{name}: the server counted {t['connections']} connections, {t['routed']} routed, "
            f"{t['failed']} failed, {t['rejected']} rejected"
        )
    route, noop = rows[ROUTE, "saturated"], rows[NOOP, "saturated"]
    ratio = route["rate"] / noop["rate"]
    print(
        f"FastAGI route throughput = {ratio:.0%} of the no-op responder's (target >= 60%: "
        f"{'met' if ratio >= 0.6 else 'MISSED'}); server CPU per request {route['server_us']:.0f} µs vs "
        f"{noop['server_us']:.0f} µs ({noop['server_us'] / route['server_us']:.0%})"
    )
    for label, shape, rate in shapes:
        if shape == "paced":
            r, floor = rows[ROUTE, label], rows[NOOP, label]
            print(
                f"FastAGI route p99 at {rate:g} req/s from {args.clients} clients = {r['p99']:.2f} ms, "
                f"p50 {r['p50']:.2f} ms (no-op floor p99 {floor['p99']:.2f} ms, p50 {floor['p50']:.2f} ms; "
                f"target p99 < 2 ms: {'met' if r['p99'] < 2 else 'MISSED'})"
            )
    errors = sum(r["errors"] for r in rows.values()) + sum(t["failed"] + t["rejected"] for t in totals.values())
    if errors:
        print(f"ERRORS: {errors}")
    return {"rows": rows, "totals": totals}


def _row(name: str, label: str, r: dict) -> None:
    gen = f"{r['client_cpu_pct']:.0f}%" if "client_cpu_pct" in r else "-"
    print(
        f"{name:<21} {label:<12} {r['requests']:>8} {r['rate']:>7.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} "
        f"{r['max']:>7.2f} {r['errors']:>6} {r['server_cpu_pct']:>6.0f}% {r['server_us']:>10.0f} {gen:>7}"
    )


if __name__ == "__main__":
    main()
