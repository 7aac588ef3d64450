"""No HTTP flood stops routing: `ctrack serve` limited to systemd's default of 1024 file
descriptors, 1,100 half-open HTTP connections (headers never finished) against it, and real
calls on the test PBX are still routed by FastAGI, /healthz still answers, and a slow
connection is closed once [http] header_timeout has passed (on a second daemon, so a
slow machine cannot time the flood out before it reaches the cap)."""

from __future__ import annotations

import json
import resource
import socket
import time
import urllib.request

import pytest

from tests.integration.conftest import install_site

NOFILE = 1024  # systemd's default soft and hard limit
FLOOD = 1100
FLOOD_ADDRESSES = [f"127.0.0.{i}" for i in range(2, 32)]  # loopback; 127.0.0.1 stays the real client
FLOOD_HEADER_TIMEOUT = 60  # the flood must be held open until the cap, however slow the machine
HEADER_TIMEOUT = 3  # the daemon that shows slow connections being closed
NOANSWER = "15035550103"  # routed to Local/s@business-noanswer: only the FastAGI route sends it there


def limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def running_site(pbx, tmp_path, header_timeout: int, **start):
    site = install_site(pbx, tmp_path, extra_config=f"[http]\nheader_timeout = {header_timeout}\n")
    site.start(**start)
    yield site
    code = site.stop()
    pbx.load_dialplan(None)
    pbx.load_manager(None)
    assert code == 0, f"ctrack serve exited {code} on SIGTERM:\n{site.log_tail()}"


@pytest.fixture
def limited_site(pbx, tmp_path):
    yield from running_site(pbx, tmp_path, FLOOD_HEADER_TIMEOUT, preexec_fn=limit_fds)


@pytest.fixture
def impatient_site(pbx, tmp_path):
    yield from running_site(pbx, tmp_path, HEADER_TIMEOUT)


def half_open(port: int, source: str) -> socket.socket | None:
    """A connection that sends the start of a request and never the end of its headers."""
    sock = socket.socket()
    sock.settimeout(2)
    try:
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: ctrack\r\nX-Slow: ")
    except OSError:
        sock.close()
        return None
    return sock


def is_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True  # nothing to read and not closed
    except OSError:
        return False  # reset


def healthz(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def metric(site, name: str) -> float:
    return (site.metrics() or {}).get(name, -1.0)


def test_a_flood_of_half_open_connections_cannot_stop_routing(limited_site):
    site = limited_site
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < FLOOD + 200:  # the flood's own sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    routed = metric(site, "ctrack_fastagi_routed_total")
    sockets = []
    try:
        for i in range(FLOOD):
            sock = half_open(site.http_port, FLOOD_ADDRESSES[i % len(FLOOD_ADDRESSES)])
            if sock is not None:
                sockets.append(sock)
        assert len(sockets) >= FLOOD * 0.9, "the flood could not connect"

        # while the flood holds its connections: /healthz answers and a real call is routed
        assert healthz(site.http_port)["status"] == "ok"
        result = site.pbx.call(NOANSWER, caller="15035550871", name="Flo Flood", talk=1)
        [call] = site.wait_calls("+15035550871")
        assert call["tracking_number"] == "+" + NOANSWER
        assert (call["source"], call["disposition"]) == ("Billboard", "missed"), (call, result)
        assert metric(site, "ctrack_fastagi_routed_total") == routed + 1
        assert metric(site, "ctrack_fastagi_failed_total") == 0
        assert metric(site, "ctrack_http_connections") <= NOFILE - 256
        assert metric(site, "ctrack_http_refused_total") + metric(site, "ctrack_http_evicted_total") > 0

        assert healthz(site.http_port)["status"] == "ok"
    finally:
        for sock in sockets:
            sock.close()
    assert "Traceback" not in site.log_tail(200)


def test_a_connection_without_complete_headers_is_closed_after_header_timeout(impatient_site):
    site = impatient_site
    sockets = [s for s in (half_open(site.http_port, a) for a in FLOOD_ADDRESSES[:10]) if s is not None]
    try:
        slow = half_open(site.http_port, "127.0.0.40")
        assert slow is not None and len(sockets) == 10
        opened = time.monotonic()
        time.sleep(HEADER_TIMEOUT - 1.5)
        assert is_open(slow), "closed before header_timeout"
        while is_open(slow) and time.monotonic() - opened < HEADER_TIMEOUT + 5:
            time.sleep(0.2)
        assert not is_open(slow), "a connection without complete headers outlived header_timeout"
        assert time.monotonic() - opened >= HEADER_TIMEOUT - 0.5
        assert not any(is_open(s) for s in sockets)
        assert metric(site, "ctrack_http_header_timeouts_total") >= 11
        assert healthz(site.http_port)["status"] == "ok"
    finally:
        slow.close()
        for sock in sockets:
            sock.close()
    assert "Traceback" not in site.log_tail(200)
