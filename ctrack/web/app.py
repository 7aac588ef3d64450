"""The aiohttp application. Each feature module adds its routes with `setup(app, services)`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from ctrack.dashboard import http as dashboard
from ctrack.dni import http as dni
from ctrack.exports import http as exports
from ctrack.services import Services

SERVICES = web.AppKey("services", Services)
MAX_BODY = 64 * 1024


async def health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    return web.json_response({"status": "ok", **services.health()})


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
        if not request.body_exists:
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
    app = web.Application(client_max_size=MAX_BODY, middlewares=[body_deadline(services.config.http.body_timeout)])
    app[SERVICES] = services
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    for feature in (dni, dashboard, exports):
        feature.setup(app, services)
    return app
