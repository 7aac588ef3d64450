"""The HTTP listener's guard on a real loopback server: per-address and overall bounds, the
header deadline, eviction of the oldest half-open connection, and the body deadline."""

import asyncio

from aiohttp import web

from ctrack.web.app import body_deadline
from ctrack.web.connections import LINGER_SECONDS, GuardedSite, Limits, connection_budget


async def read_body(request: web.Request) -> web.Response:
    return web.Response(text=str(len(await request.read())))


async def serve(limits: Limits, body_timeout: float = 5.0):
    app = web.Application(middlewares=[body_deadline(body_timeout)])
    app.router.add_route("*", "/", read_body)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, lingering_time=LINGER_SECONDS)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, limits)
    await site.start()
    return runner, site


async def connect(site, source="127.0.0.1", data=b"GET / HTTP/1.1\r\nHost: x\r\n"):
    reader, writer = await asyncio.open_connection(*site.address, local_addr=(source, 0))
    writer.write(data)
    await writer.drain()
    return reader, writer


async def closed(reader, within: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


async def test_per_address_bound_and_header_deadline():
    runner, site = await serve(Limits(100, 2, header_timeout=1.0))
    try:
        a, b, c = [await connect(site, "127.0.0.2") for _ in range(3)]
        other = await connect(site, "127.0.0.3")
        assert await closed(c[0], 0.5)  # the third from one address: closed at once
        assert not await closed(a[0], 0.3) and not await closed(other[0], 0.1)
        assert await closed(a[0], 1.5) and await closed(b[0], 0.5)  # header_timeout
        assert site.guard.refused == 1 and site.guard.timed_out >= 2
        # a complete request within the deadline is answered, and its connection kept alive past it
        reader, writer = await connect(site, data=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        assert not await closed(reader, 1.5)
        writer.close()
    finally:
        await runner.cleanup()


async def test_when_full_the_oldest_half_open_connection_makes_room():
    runner, site = await serve(Limits(2, 10, header_timeout=30))
    try:
        busy = await connect(site, data=b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")  # headed
        slow = await connect(site)
        await asyncio.sleep(0.1)
        fresh = await connect(site, data=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await fresh[0].readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        assert await closed(slow[0], 0.5) and site.guard.evicted == 1
        assert not await closed(busy[0], 0.2)
        # full of connections past their headers: a new one is refused, none evicted
        extra = await connect(site)
        assert await closed(extra[0], 0.5) and site.guard.refused == 1
    finally:
        await runner.cleanup()


async def test_a_trickled_body_is_answered_408_and_closed():
    runner, site = await serve(Limits(100, 10, header_timeout=30), body_timeout=0.5)
    try:
        reader, _ = await connect(site, data=b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 408") and b"Connection: close" in head
        # read() returns once the daemon closes, LINGER_SECONDS after the answer
        assert b"too slow" in await asyncio.wait_for(reader.read(), LINGER_SECONDS + 1)
    finally:
        await runner.cleanup()


def test_the_budget_leaves_a_reserve_of_descriptors():
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert connection_budget(10**9, reserve=256) == soft - 256
    assert connection_budget(100, reserve=256) == min(100, soft - 256)
