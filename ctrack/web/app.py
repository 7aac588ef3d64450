"""The aiohttp application. Each feature module adds its routes with `setup(app, services)`."""

from __future__ import annotations

from aiohttp import web

from ctrack.dashboard import http as dashboard
from ctrack.dni import http as dni
from ctrack.exports import http as exports
from ctrack.services import Services

SERVICES = web.AppKey("services", Services)
MAX_BODY = 64 * 1024


async def health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    return web.json_response({"status": "ok", "service": "ctrack", **services.health()})


async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    lines = []
    for name, (kind, help_text, value) in sorted(services.metrics().items()):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


def create_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[SERVICES] = services
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    for feature in (dni, dashboard, exports):
        feature.setup(app, services)
    return app
