"""Website dynamic number insertion over HTTP: the lease API, the AMP endpoint, ctrack.js.

POST /dni/v1/lease   a visit leases a pool number (renewed by the page's heartbeat)
GET  /dni/v1/amp     the amp-call-tracking contract {"phoneNumber", "formattedPhoneNumber"}
GET  /ctrack.js      the snippet

Thin handlers over the lease service (dni/service.py): parse and check the request (body
size, JSON, CORS and AMP origins, the rate limit), ask the service, shape the answer.
"""

from __future__ import annotations

import math
import re
import time

import orjson
from aiohttp import web

from ctrack.dni import snippet
from ctrack.dni.attribution import BadRequest, LeaseRequest, parse_lease_request, parse_site, touch_from_url
from ctrack.dni.clients import client_key
from ctrack.dni.service import LeaseService, Published, StoreUnavailable, UnknownSite, amp_visit_id, formatted
from ctrack.services import Services
from ctrack.web.connections import client_address

MAX_LEASE_BODY = 8 * 1024
_AMP_CACHE = re.compile(r"^https://([a-z0-9-]+\.)*(cdn\.ampproject\.org|amp\.cloudflare\.com|bing-amp\.com)$")

DNI = web.AppKey("dni", LeaseService)


# --- HTTP ------------------------------------------------------------------------------------


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer; orjson parses and writes a lease in a fifth of the json module's time."""
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", charset="utf-8", headers=headers
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json({"error": message}, status=status, headers={"Cache-Control": "no-store", **(headers or {})})


def _cors(origin: str | None) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {"Vary": "Origin"}


def client_of(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """Who leases are counted against: the client's address, its /64 for IPv6."""
    return client_key(client_address(request, trusted_proxies))


def _published(published: tuple[Published, ...]) -> list[dict[str, str]]:
    return [{"number": p.number, "formatted": p.formatted} for p in published]


def expiry_ms(at: float) -> float:
    """An expiry in milliseconds, rounded down: a page told to renew by then is never late."""
    return math.floor(at * 1000) / 1000


async def lease_handler(request: web.Request) -> web.Response:
    dni = request.app[DNI]
    origin = request.headers.get("Origin")
    if (request.content_length or 0) > MAX_LEASE_BODY:
        return _error(413, f"body larger than {MAX_LEASE_BODY} bytes")
    raw = await request.read()
    if len(raw) > MAX_LEASE_BODY:
        return _error(413, f"body larger than {MAX_LEASE_BODY} bytes")
    try:
        lease_request = parse_lease_request(orjson.loads(raw))
    except (ValueError, RecursionError) as exc:  # BadRequest, or not JSON
        return _error(400, str(exc) if isinstance(exc, BadRequest) else "body: expected JSON")
    if origin is not None and not dni.origin_allowed(origin, lease_request.site):
        return _error(403, "origin not allowed for this site")
    cors = _cors(origin)
    if dni.never_leases(request.headers):
        published = dni.published(lease_request.site)
        first = published[0] if published else None
        return _json(
            {
                "visit_id": None,
                "number": first.number if first else None,
                "formatted": first.formatted if first else None,
                "source": None,
                "lease_expires_at": None,
                "visit_expires_at": None,
                "published": _published(published),
            },
            headers={"Cache-Control": "no-store", **cors},
        )
    now = time.time()
    client = client_of(request, dni.trusted_proxies)
    if not dni.limiter.allow(client, now):
        return _error(429, "too many lease requests", {**cors, "Retry-After": str(dni.limiter.retry_after(client))})
    try:
        visit, grant = await dni.lease(lease_request, now, client)
    except UnknownSite:
        return _error(404, "no number pool for this site", cors)
    except StoreUnavailable:
        return _error(503, "visit could not be read; try again later", cors)
    rules = dni.rules(visit.site)
    return _json(
        {
            "visit_id": visit.id,
            "number": grant.number,
            "formatted": formatted(grant.number) if grant.number else None,
            "source": visit.source,
            "lease_expires_at": expiry_ms(grant.expires_at),
            "visit_expires_at": expiry_ms(visit.expires_at(rules)),
            "published": _published(dni.published(visit.site)),
        },
        headers={"Cache-Control": "no-store", **cors},
    )


async def lease_preflight(request: web.Request) -> web.Response:
    dni = request.app[DNI]
    origin = request.headers.get("Origin")
    if origin is None or not dni.origin_allowed(origin, None):
        return _error(403, "origin not allowed")
    return web.Response(
        status=204,
        headers={
            **_cors(origin),
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
        },
    )


async def amp_handler(request: web.Request) -> web.Response:
    """amp-call-tracking: CORS per the AMP spec (AMP caches, __amp_source_origin, AMP-Same-Origin)."""
    dni = request.app[DNI]
    query = request.query
    try:
        site = parse_site(query.get("site"))
        touch = touch_from_url(query.get("page_url"), query.get("referrer"))
        client_id = query.get("client_id", "").strip()
        if len(client_id) > 100:
            raise BadRequest("client_id: longer than 100 characters")
    except BadRequest as exc:
        return _error(400, str(exc))
    origin = request.headers.get("Origin")
    source_origin = query.get("__amp_source_origin")
    if source_origin is not None and not dni.origin_allowed(source_origin, site):
        return _error(403, "__amp_source_origin not allowed for this site")
    if origin is not None:
        if not (dni.origin_allowed(origin, site) or _AMP_CACHE.match(origin)):
            return _error(403, "origin not allowed for this site")
    elif request.headers.get("AMP-Same-Origin") != "true":
        return _error(403, "not an AMP request")
    headers = {"Cache-Control": "private, no-store", **_cors(origin)}
    if origin is not None:
        headers["Access-Control-Allow-Credentials"] = "true"
    if source_origin is not None:
        headers["AMP-Access-Control-Allow-Source-Origin"] = source_origin
        headers["Access-Control-Expose-Headers"] = "AMP-Access-Control-Allow-Source-Origin"
    if dni.never_leases(request.headers):
        return _amp_number(next((p.number for p in dni.published(site)), None), headers)
    now = time.time()
    client = client_of(request, dni.trusted_proxies)
    if not dni.limiter.allow(client, now):
        return _error(429, "too many lease requests", {**headers, "Retry-After": str(dni.limiter.retry_after(client))})
    visit_id = amp_visit_id(site, client_id) if client_id else None
    try:
        _, grant = await dni.lease(LeaseRequest(site, touch, None, visit_id), now, client, new_id=visit_id)
    except UnknownSite:
        return _error(404, "no number pool for this site", headers)
    except StoreUnavailable:
        return _error(503, "visit could not be read; try again later", headers)
    return _amp_number(grant.number or next((p.number for p in dni.published(site)), None), headers)


def _amp_number(number: str | None, headers: dict[str, str]) -> web.Response:
    if number is None:
        return _error(503, "no number to show", headers)
    return _json({"phoneNumber": number, "formattedPhoneNumber": formatted(number)}, headers=headers)


def setup(app: web.Application, services: Services) -> None:
    dni = LeaseService(services)
    app[DNI] = dni
    dni.add_metrics(services)

    async def on_startup(app: web.Application) -> None:
        await dni.start()

    async def on_cleanup(app: web.Application) -> None:
        await dni.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_post("/dni/v1/lease", lease_handler)
    app.router.add_route("OPTIONS", "/dni/v1/lease", lease_preflight)
    app.router.add_get("/dni/v1/amp", amp_handler)
    snippet.setup(app)
