"""The aiohttp application. Each feature module adds its routes with `setup(app, services)`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from ctrack.dashboard import http as dashboard
from ctrack.dni import http as dni
from ctrack.errors import CtrackError
from ctrack.exports import http as exports
from ctrack.services import Services
from ctrack.web.connections import LINGER_SECONDS, GuardedSite, Limits, connection_budget

SERVICES = web.AppKey("services", Services)
MAX_BODY = 64 * 1024
log = logging.getLogger(__name__)


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The HTTP side's one translation of a refusal: 400 with the reason, never a 500."""
    try:
        return await handler(request)
    except CtrackError as exc:
        log.info("refused %s %s: %s", request.method, request.path, exc)
        return web.json_response({"error": str(exc)}, status=400, headers={"Cache-Control": "no-store"})


async def health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    return web.json_response({"status": "ok", "service": "ctrack", **services.health()})


async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    lines = []
    for name, (kind, help_text, value) in sorted(services.metrics().items()):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


def body_deadline(seconds: float) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A request with a body is received and answered within `seconds`, or answered 408 and
    its connection closed: a client that trickles a body holds nothing for long."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.body_exists or request.content.is_eof():  # no body, or all of it came with the headers
            return await handler(request)
        deadline = asyncio.timeout(seconds)
        try:
            async with deadline:
                return await handler(request)
        except TimeoutError:
            if not deadline.expired():
                raise
            response = web.json_response({"error": "request body too slow"}, status=408)
            response.force_close()
            return response

    return middleware


def create_app(services: Services) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY, middlewares=[body_deadline(services.config.http.body_timeout), refusals]
    )
    app[SERVICES] = services
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    for feature in (dni, dashboard, exports):
        feature.setup(app, services)
    return app


async def start_http(
    app: web.Application, services: Services, shutdown_timeout: float
) -> tuple[web.AppRunner, GuardedSite]:
    """The daemon's web server (app, from create_app) on [http] listen, with its timeouts and
    connection bounds."""
    http = services.config.http
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=shutdown_timeout,
        keepalive_timeout=http.keepalive_timeout,
        lingering_time=LINGER_SECONDS,
    )
    await runner.setup()
    limits = Limits(
        connection_budget(http.max_connections),
        http.max_connections_per_address,
        http.header_timeout,
        http.trusted_proxies,
    )
    site = GuardedSite(runner, *http.listen, limits)
    await site.start()
    guard = site.guard
    assert guard is not None
    for name, kind, text, value in (
        ("ctrack_http_connections", "gauge", "HTTP connections open now", lambda: guard.open),
        (
            "ctrack_http_refused_total",
            "counter",
            "HTTP connections closed at once (per-address bound, or full of busy ones)",
            lambda: guard.refused,
        ),
        (
            "ctrack_http_evicted_total",
            "counter",
            "HTTP connections closed to make room: the oldest still sending its headers",
            lambda: guard.evicted,
        ),
        (
            "ctrack_http_header_timeouts_total",
            "counter",
            "HTTP connections closed after [http] header_timeout without a complete request",
            lambda: guard.timed_out,
        ),
    ):
        services.add_metric(name, kind, text, value)
    return runner, site
