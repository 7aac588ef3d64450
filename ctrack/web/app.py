"""The aiohttp application. Each feature module adds its routes with `setup(app, services)`."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from ctrack.dashboard import http as dashboard
from ctrack.dni import http as dni
from ctrack.errors import CtrackError
from ctrack.exports import http as exports
from ctrack.services import Services

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
    return web.json_response({"status": "ok", **services.health()})


async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    lines = []
    for name, (kind, help_text, value) in sorted(services.metrics().items()):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


def create_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[refusals])
    app[SERVICES] = services
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    for feature in (dni, dashboard, exports):
        feature.setup(app, services)
    return app
