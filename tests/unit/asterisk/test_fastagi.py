"""The FastAGI server over real sockets on 127.0.0.1: routing, and surviving bad clients."""

import asyncio
import logging
import socket
import struct
import time

import pytest

from ctrack.asterisk.fastagi import FastAgiServer, FastAgiStats
from ctrack.core import variables as v
from ctrack.core.model import NumberKind, Source, TrackingNumber
from ctrack.route.rules import Catalog, RouteSettings, decide
from tests.support.agi_sim import env_block, parse_args

CATALOG = Catalog(
    numbers={
        "+15035550101": TrackingNumber(
            "+15035550101",
            NumberKind.STATIC,
            source='Google "Ads" call\\',
            record=True,
            whisper="custom/google-call",
            forward="PJSIP/desk",
        )
    },
    sources={'Google "Ads" call\\': Source('Google "Ads" call\\', "paid_search")},
)


def route(request):
    return decide(request.extension, request.uniqueid, 1800000000.0, CATALOG, RouteSettings()).variables()


async def asterisk(port, env=None, reply=b"200 result=1\n", before_replies=b""):
    """A FastAGI client acting as res_agi: the environment, then one reply per command until EOF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(env or env_block(extension="15035550101"))
    commands = []
    try:
        while line := await reader.readline():
            commands.append(parse_args(line.rstrip(b"\n")))
            writer.write(before_replies + reply)
            before_replies = b""
    finally:
        writer.close()
    return commands


def as_variables(commands):
    assert all(c[:2] == [b"SET", b"VARIABLE"] and len(c) == 4 for c in commands), commands
    return {c[2].decode(): c[3].decode() for c in commands}


@pytest.fixture
async def server():
    servers = []

    async def start(handler=route, **options):
        srv = FastAgiServer(handler, "127.0.0.1", 0, **options)
        await srv.start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        await srv.close(grace=0.5)


async def test_route_decision_becomes_channel_variables(server):
    srv = await server()
    commands = await asterisk(srv.port, env_block(uniqueid="1.7", extension="15035550101"))
    want = route(type("R", (), {"extension": "15035550101", "uniqueid": "1.7"}))
    assert as_variables(commands) == want
    assert want[v.SOURCE] == 'Google "Ads" call\\'  # quotes and backslash survived
    assert commands[-1][2] == v.ROUTE_STATUS.encode()  # "route done" comes last
    await srv.close()
    assert srv.stats == FastAgiStats(connections=1, routed=1)


async def test_async_handler_and_hangup_notice(server):
    async def handler(request):
        await asyncio.sleep(0.01)
        return {v.SOURCE: request.calleridname, v.ROUTE_STATUS: "ok"}

    srv = await server(handler)
    commands = await asterisk(srv.port, before_replies=b"HANGUP\n")
    assert as_variables(commands) == {v.SOURCE: "Bob Caller", v.ROUTE_STATUS: "ok"}
    await srv.close()
    assert srv.stats.routed == 1


async def test_handler_error_sets_nothing(server, caplog):
    def handler(request):
        raise RuntimeError("catalog unavailable")

    srv = await server(handler)
    with caplog.at_level(logging.ERROR, "ctrack.asterisk.fastagi"):
        assert await asyncio.wait_for(asterisk(srv.port), 1) == []
    assert "catalog unavailable" in caplog.text and "1795798665.12" in caplog.text
    await srv.close()
    assert srv.stats == FastAgiStats(connections=1, failed=1)


@pytest.mark.parametrize("variables", [{"BAD NAME": "x"}, {v.SOURCE: None}, {v.WHISPER: "x" * 5000}, None])
async def test_unusable_variables_set_nothing(server, variables):
    srv = await server(lambda request: variables)
    assert await asyncio.wait_for(asterisk(srv.port), 1) == []
    await srv.close()
    assert srv.stats.failed == 1


async def test_empty_answer_is_a_route(server):
    srv = await server(lambda request: {})
    assert await asyncio.wait_for(asterisk(srv.port), 1) == []
    await srv.close()
    assert srv.stats.routed == 1


async def test_slow_async_handler_is_cut_and_others_go_on(server):
    async def handler(request):
        if request.extension == "slow":
            await asyncio.sleep(10)
        return route(request)

    srv = await server(handler, handler_timeout=1.0)
    slow = asyncio.create_task(asterisk(srv.port, env_block(extension="slow")))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    assert as_variables(await asterisk(srv.port))[v.ROUTE_STATUS] == "ok"
    assert time.monotonic() - started < 0.5
    assert await asyncio.wait_for(slow, 2) == []  # nothing set: default line
    await srv.close()
    assert (srv.stats.routed, srv.stats.failed) == (1, 1)


async def test_error_replies_count_as_failed(server):
    srv = await server()
    commands = await asterisk(srv.port, reply=b"510 Invalid or unknown command\n")
    assert len(commands) == len(v.ROUTE_VARIABLES)
    await srv.close()
    assert srv.stats.failed == 1 and srv.stats.routed == 0


async def open_bad_clients(port):
    """Connect-and-close, half a header, garbage, an oversized header, silence, a mute Asterisk."""

    async def connect():
        return await asyncio.open_connection("127.0.0.1", port)

    clients = {}
    for kind in ("close", "half", "garbage", "oversized", "silent", "no-replies"):
        reader, writer = await connect()
        if kind == "close":
            writer.close()
        elif kind == "half":
            writer.write(env_block()[:40])
        elif kind == "garbage":
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        elif kind == "oversized":
            writer.write(b"agi_x: " + b"y" * 100_000)
        elif kind == "no-replies":
            writer.write(env_block(extension="15035550101"))
        clients[kind] = (reader, writer)
    return clients


async def test_bad_clients_never_delay_a_good_one(server):
    srv = await server(client_timeout=1.0)
    for _ in range(50):  # what froze panoramisk's loop
        _, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.close()
    bad = await open_bad_clients(srv.port)
    started = time.monotonic()
    good = await asyncio.gather(*[asterisk(srv.port) for _ in range(20)])
    assert time.monotonic() - started < 0.5
    assert all(as_variables(c)[v.ROUTE_STATUS] == "ok" for c in good)
    # the server closes garbage and oversized headers at once, the stalled ones at client_timeout
    for kind, deadline in [("garbage", 0.5), ("oversized", 0.5), ("half", 2.0), ("silent", 2.0), ("no-replies", 2.0)]:
        reader, writer = bad[kind]
        try:
            await asyncio.wait_for(reader.read(), deadline)
        except ConnectionResetError:
            pass
        writer.close()
    await srv.close()
    assert srv.stats == FastAgiStats(connections=76, routed=20, failed=1, rejected=55)


async def test_close_waits_for_sessions_in_flight(server):
    async def handler(request):
        await asyncio.sleep(0.2)
        return route(request)

    srv = await server(handler)
    in_flight = asyncio.create_task(asterisk(srv.port))
    _, silent = await asyncio.open_connection("127.0.0.1", srv.port)
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await srv.close(grace=0.5)
    assert 0.1 < time.monotonic() - started < 1.0
    assert as_variables(await in_flight)[v.ROUTE_STATUS] == "ok"  # finished, not cut
    assert srv.stats.routed == 1 and srv.stats.rejected == 1  # the silent one was cut at the grace
    silent.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", srv.port)
    await srv.close()  # twice is fine


async def test_a_probe_is_counted_apart_from_failures_and_not_logged(server, caplog):
    """A monitoring check sends a valid header and closes without reading: not a route failure."""
    srv = await server()
    with caplog.at_level(logging.DEBUG, "ctrack.asterisk.fastagi"):
        for reset in (False, True):
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(env_block(extension="15035550101"))
            await writer.drain()
            if reset:  # SO_LINGER 0: the probe's close is a RST
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.close()
        deadline = time.monotonic() + 2
        while srv.stats.probes + srv.stats.failed < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert as_variables(await asterisk(srv.port))[v.ROUTE_STATUS] == "ok"
    await srv.close()
    assert srv.stats == FastAgiStats(connections=3, routed=1, probes=2)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
