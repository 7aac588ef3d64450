"""AMI ingest rate: the real captures replayed as one AMI connection's bytes, end to end.

    .venv/bin/python bench/bench_ami_ingest.py [--calls 3000] [--interleave 10]

The three captures of ../shared/fixtures/asterisk/ (every event, every header, as Asterisk
sent them to a manager user without an eventfilter) are replayed `--calls` times in turn,
each replay a distinct call: every Uniqueid/Linkedid (and Dest*/Local*/Cdr UniqueID,
BridgeUniqueid, and the ids inside variable values), the caller number and the Timestamp
seconds are rewritten. `--interleave` calls are in progress at once (their events mixed).
The prototype's CT_* variable names are renamed to the CTRACK_* contract as the unit tests do.

Stages, each over the same bytes:
  parser              AmiParser.feed() in 64 KiB chunks
  parser+tracker      ... and CallTracker.process() (the pure core)
  end to end          one daemon process (run_daemons, the same code bench/multisite.py runs
                      for 10 sites on PostgreSQL): a fake Asterisk (its child process) logs the
                      daemon's AmiClient in, sends FullyBooted and streams the bytes over TCP on
                      127.0.0.1; AmiClient -> AsteriskCallLog -> log_call -> the store's Writer
                      -> SQLite (WAL) in a temp directory. The clock runs from the first event
                      to the last call committed; the calls table is then counted on a separate
                      connection and must hold every call once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fixtures_ami import CAPTURES, load, renamed, to_wire  # noqa: E402

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_ID_HEADER = re.compile(r"(?i)(uniqueid|linkedid)$")
_CALLERS = ("15035550123", "15035550111")
_TIMESTAMP = re.compile(r"^(Timestamp: )(\d+)(\.)", re.M)


# --- the replay stream ------------------------------------------------------------------------


def _template(name: str) -> tuple[list[str], list[str], list[int]]:
    """The capture's events as format strings with {u<k>} ids, {caller} and {s<k>} seconds."""
    events = renamed(load(name))
    ids: list[str] = []
    for event in events:
        for key, value in event.items():
            for item in value if isinstance(value, list) else [value]:
                if _ID_HEADER.search(key) and item and item not in ids:
                    ids.append(item)
    # longest first, never inside a longer number or a timestamp
    id_re = re.compile(
        r"(?<![0-9A-Za-z.-])("
        + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        + r")(?![0-9A-Za-z-])"
    )
    caller_re = re.compile(r"(?<![0-9])(" + "|".join(_CALLERS) + r")(?![0-9])")
    seconds: list[int] = []
    out = []
    for event in events:
        text = to_wire(event).decode("utf-8").replace("{", "{{").replace("}", "}}")
        text = id_re.sub(lambda m: "{u%d}" % ids.index(m.group(1)), text)
        text = caller_re.sub("{caller}", text)

        def second(m: re.Match) -> str:
            s = int(m.group(2))
            if s not in seconds:
                seconds.append(s)
            return m.group(1) + "{s%d}" % seconds.index(s) + m.group(3)

        out.append(_TIMESTAMP.sub(second, text))
    return out, ids, seconds


def build_stream(calls: int, interleave: int, first: int = 0) -> tuple[bytes, int]:
    """The replay as one connection's bytes (banner first) and its number of events: calls
    number `first` to `first + calls - 1`, so streams with different `first` (one per site)
    share no uniqueid."""
    templates = {name: _template(name) for name in CAPTURES}
    chunks = [BANNER]
    events = 0
    for group in range(first, first + calls, interleave):
        per_call = []
        for i in range(group, min(first + calls, group + interleave)):
            texts, ids, seconds = templates[CAPTURES[i % len(CAPTURES)]]
            base = 1_900_000_000 + 8 * i  # each replay 8 s after the previous one
            mapping = {f"u{k}": (f"{base}.{k}" if "." in old else f"bench-{i}-{k}") for k, old in enumerate(ids)}
            mapping["caller"] = f"1503555{2000 + i % 1500:04d}"
            start = seconds[0]
            mapping.update({f"s{k}": str(base + s - start) for k, s in enumerate(seconds)})
            per_call.append([t.format_map(mapping).encode("utf-8") for t in texts])
        # the group's calls in progress together: round-robin over their events
        longest = max(map(len, per_call))
        for n in range(longest):
            for evs in per_call:
                if n < len(evs):
                    chunks.append(evs[n])
                    events += 1
    return b"".join(chunks), events


# --- the fake Asterisk (child process) ---------------------------------------------------------


def fake_asterisk(stream_path: str) -> None:
    """Accept one manager connection: login, FullyBooted, the stream; answer Pings until closed."""
    data = Path(stream_path).read_bytes()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    print(srv.getsockname()[1], flush=True)
    srv.settimeout(30)
    conn, _ = srv.accept()
    conn.settimeout(120)
    banner, data = data[: len(BANNER)], data[len(BANNER) :]
    conn.sendall(banner)
    buf = b""
    streamed = False
    while True:
        try:
            chunk = conn.recv(65536)
        except (TimeoutError, OSError):
            break
        if not chunk:
            break
        buf += chunk
        while b"\r\n\r\n" in buf:
            msg, buf = buf.split(b"\r\n\r\n", 1)
            headers = dict(line.split(": ", 1) for line in msg.decode().split("\r\n") if ": " in line)
            action, aid = headers.get("Action", ""), headers.get("ActionID", "")
            if action == "Login":
                conn.sendall(
                    f"Response: Success\r\nActionID: {aid}\r\nMessage: Authentication accepted\r\n\r\n"
                    "Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n".encode()
                )
                if not streamed:
                    streamed = True
                    conn.sendall(data)
            elif action == "Logoff":
                conn.sendall(f"Response: Goodbye\r\nActionID: {aid}\r\n\r\n".encode())
            else:
                conn.sendall(f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n\r\n".encode())
    conn.close()
    srv.close()


# --- stages ------------------------------------------------------------------------------------


def _chunks(data: bytes, size: int = 65536):
    for i in range(0, len(data), size):
        yield data[i : i + size]


def stage_parser(data: bytes) -> tuple[float, int]:
    from ctrack.asterisk.ami_protocol import AmiParser

    parser = AmiParser()
    n = 0
    t0 = time.perf_counter()
    for chunk in _chunks(data):
        n += len(parser.feed(chunk))
    return time.perf_counter() - t0, n


def stage_tracker(data: bytes) -> tuple[float, int, int]:
    from ctrack.asterisk.ami_protocol import AmiParser
    from ctrack.calllog.asterisk_events import CallTracker
    from ctrack.core.variables import INBOUND_CONTEXTS

    parser = AmiParser()
    tracker = CallTracker(inbound_contexts=INBOUND_CONTEXTS)
    process = tracker.process
    n = records = 0
    t0 = time.perf_counter()
    for chunk in _chunks(data):
        for message in parser.feed(chunk):
            n += 1
            records += len(process(message))
    return time.perf_counter() - t0, n, records


def prepare_db(target: str | Path) -> None:
    """A migrated database (SQLite file or PostgreSQL URL) with the captures' sources and
    200 tracking numbers besides."""
    from ctrack.catalog import store as catalog
    from ctrack.store import db

    conn = db.connect(target, create=True)
    db.upgrade(conn)
    for name, channel in (("google-ads", "paid_search"), ("facebook", "social")):
        catalog.add_source(conn, name, channel)
    catalog.import_numbers(conn, [(i, catalog.NumberSpec(f"+1971555{i:04d}", source="google-ads")) for i in range(200)])
    conn.close()


async def stage_end_to_end(
    stream_path: Path,
    target: str | Path,
    calls: int,
    folder: Path,
    timeout: float,
    site: str = "",
    go: Callable[[], None] | None = None,
) -> dict:
    """One daemon's AMI side: a fake Asterisk streams `stream_path`; the daemon's `Services`
    (with `[ctrack] site` and `database = target`, a spool in `folder` on PostgreSQL) log every
    call. `go` is called once everything is set up, just before the AMI login (several
    daemons then start together). `first`/`end` are wall-clock times (time.time()) of the
    first event and of the last call committed; `cpu` the daemon's CPU seconds (all its
    threads) from then to the end."""
    from ctrack import config
    from ctrack.asterisk.ami import AmiClient
    from ctrack.calllog.ami import AsteriskCallLog
    from ctrack.geo.regions import place_of
    from ctrack.services import Services

    recordings = folder / "monitor"
    recordings.mkdir(exist_ok=True)
    values = config.defaults().as_dict()
    values.update(
        config.parse_text(
            f"[ctrack]\ndatabase = {target}\nsite = {site}\nspool = {folder / 'spool.db'}\n"
            f"[recording]\ndirectory = {recordings}\n"
        )
    )
    services = Services(config.build(values), target)
    services.catalog.refresh()
    # A daemon's one-time lazy load (phonenumbers' geocoder data, ~0.5 s, on the first call
    # the lead rules see) done before the clock, as in a daemon that has logged a call.
    place_of("+15035550123")
    await services.writer.start()
    call_log = AsteriskCallLog(services)
    first: list[float] = []

    def on_event(message) -> None:
        if not first:
            first.append(time.time())
        call_log.on_event(message)

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(stream_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(server.stdout.readline())
        if go is not None:
            go()
        cpu = time.process_time()
        # the fake Asterisk answers a Ping only after the whole stream: no Ping (nor its
        # timeout) while a loaded box works through it
        client = AmiClient(
            "127.0.0.1", port, "bench", "bench", on_event, reconnect_max=1, ping_interval=timeout, timeout=timeout
        )
        runner = asyncio.create_task(client.run())
        deadline = time.perf_counter() + timeout
        while call_log.logged < calls:
            if time.perf_counter() > deadline or runner.done():
                break
            await asyncio.sleep(0.02)  # at most 20 ms late, and little CPU for 10 daemons polling
        await services.writer.flush()
        end = time.time()
        cpu = time.process_time() - cpu
        received = client.events - 1  # FullyBooted is not part of the replay
        await client.close()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        batches, spooled = services.writer.batches, services.writer.spooled
        await services.writer.close()
        services.catalog.close()
    finally:
        server.terminate()
        server.wait(10)
    return {
        "site": site,
        "first": first[0] if first else float("nan"),
        "end": end,
        "events": received,
        "logged": call_log.logged,
        "batches": batches,
        "spooled": spooled,
        "cpu": cpu,
    }


def _daemon(args: argparse.Namespace) -> None:
    """--daemon: one site's daemon process for run_daemons (its stream built here, before
    'ready'; the replay starts on a line on stdin; the result as one JSON line)."""
    folder = Path(args.daemon)
    data, events = build_stream(args.calls, args.interleave, args.first)
    stream_path = folder / "stream.bin"
    stream_path.write_bytes(data)
    del data

    def go() -> None:
        print("ready", flush=True)
        sys.stdin.readline()

    result = asyncio.run(stage_end_to_end(stream_path, args.database, args.calls, folder, args.timeout, args.site, go))
    stream_path.unlink()
    print(json.dumps({**result, "expected_events": events}), flush=True)


def run_daemons(
    target: str | Path, sites: list[str], calls: int, folder: Path, interleave: int = 10, timeout: float = 120.0
) -> dict:
    """Each site its own daemon process (its own fake Asterisk, Services and spool) replaying
    `calls` distinct calls into `target`, all started together. The wall clock runs from the
    first event any daemon received to the last call any committed; every site's calls are
    then counted in the database (rows, distinct uniqueids) against what was replayed."""
    from ctrack.store import db

    procs = []
    for n, site in enumerate(sites):
        workdir = folder / f"daemon-{n}"
        workdir.mkdir()
        argv = [sys.executable, __file__, "--daemon", str(workdir), "--database", str(target), "--site", site]
        argv += ["--calls", str(calls), "--first", str(n * calls), "--interleave", str(interleave)]
        argv += ["--timeout", str(timeout)]
        procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    try:
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a bench daemon did not start")
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [json.loads(proc.stdout.readline()) for proc in procs]
    finally:
        for proc in procs:
            proc.wait(timeout + 30)
    conn = db.connect(target)
    try:
        stored = {
            site: (rows, unique)
            for site, rows, unique in conn.execute(
                "SELECT site, count(*), count(DISTINCT uniqueid) FROM calls GROUP BY site"
            ).fetchall()
        }
        dispositions = dict(conn.execute("SELECT disposition, count(*) FROM calls GROUP BY 1").fetchall())
    finally:
        conn.close()
    rows = sum(r for r, _ in stored.values())
    duplicates = rows - sum(u for _, u in stored.values())
    ok = (
        sorted(stored) == sorted(sites)
        and all(stored[site][0] == calls for site in sites)
        and duplicates == 0
        and all(r["events"] == r["expected_events"] and r["logged"] == calls and not r["spooled"] for r in results)
    )
    return {
        "seconds": max(r["end"] for r in results) - min(r["first"] for r in results),
        "events": sum(r["events"] for r in results),
        "rows": rows,
        "sites": len(stored),
        "duplicates": duplicates,
        "dispositions": dispositions,
        "batches": sum(r["batches"] for r in results),
        "cpu": sum(r["cpu"] for r in results),
        "ok": ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--interleave", type=int, default=10, help="calls in progress at once")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--daemon", help=argparse.SUPPRESS)  # run_daemons' child: its folder
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--site", default="", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        fake_asterisk(args.serve)
        return
    if args.daemon:
        _daemon(args)
        return
    run(args.calls, args.interleave, args.timeout)


def run(calls: int, interleave: int = 10, timeout: float = 90.0) -> dict:
    t = time.perf_counter()
    data, events = build_stream(calls, interleave)
    built = time.perf_counter() - t
    p_s, p_n = stage_parser(data)
    t_s, t_n, t_records = stage_tracker(data)
    size = len(data)
    del data
    with tempfile.TemporaryDirectory(prefix="ctrack-bench-ami-") as tmp:
        db_path = Path(tmp) / "ctrack.db"
        prepare_db(db_path)
        e2e = run_daemons(db_path, [""], calls, Path(tmp), interleave, timeout)

    print(
        f"AMI ingest: {calls} calls replayed from the 3 real captures ({events} events, "
        f"{size / 1e6:.1f} MB, {interleave} calls in progress at once; stream built in {built:.1f} s), "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'stage':<34} {'seconds':>8} {'events/s':>10} {'calls/s':>8} {'calls':>6}")
    print(f"{'parser':<34} {p_s:>8.2f} {p_n / p_s:>10.0f} {calls / p_s:>8.0f} {'-':>6}")
    print(f"{'parser + CallTracker':<34} {t_s:>8.2f} {t_n / t_s:>10.0f} {t_records / t_s:>8.0f} {t_records:>6}")
    s = e2e["seconds"]
    print(
        f"{'end to end (TCP, AMI, SQLite)':<34} {s:>8.2f} {e2e['events'] / s:>10.0f} {e2e['rows'] / s:>8.0f} "
        f"{e2e['rows']:>6}"
    )
    ok = p_n == events and t_n == events and t_records == calls and e2e["ok"] and e2e["events"] == events
    print(
        f"committed rows: {e2e['rows']} of {calls} expected in {e2e['batches']} writer transactions "
        f"({', '.join(f'{k} {v}' for k, v in sorted(e2e['dispositions'].items()))}); "
        f"{'OK' if ok else 'MISMATCH'}"
    )
    target = e2e["events"] / s >= 20000
    print(f"target >= 20,000 events/s end to end: {'met' if target else 'MISSED'}")
    if not ok:
        raise SystemExit(1)
    return e2e


if __name__ == "__main__":
    main()
