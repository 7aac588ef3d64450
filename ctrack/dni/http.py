"""Website dynamic number insertion over HTTP: the lease API, the AMP endpoint, ctrack.js.

POST /dni/v1/lease   a visit leases a pool number (renewed by the page's heartbeat)
GET  /dni/v1/amp     the amp-call-tracking contract {"phoneNumber", "formattedPhoneNumber"}
GET  /ctrack.js      the snippet

The lease manager and the classification are the pure core; this module validates input,
enforces CORS and the rate limit, answers from memory and queues every grant for the store
writer (write-behind, many leases per commit). On start it rebuilds the leases from the
database, so a restart takes no number away from a page.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import secrets
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources
from urllib.parse import urlsplit

import aiosqlite
from aiohttp import web

from ctrack.catalog.store import load_catalog
from ctrack.config import ConfigError
from ctrack.core.model import NumberKind, NumberState
from ctrack.core.phone import InvalidNumber, national_format, to_e164
from ctrack.dni.attribution import (
    BadRequest,
    LeaseRequest,
    SiteRules,
    Visit,
    host_matches_site,
    new_visit,
    normalize_site,
    parse_lease_request,
    parse_site,
    revisit,
    touch_from_url,
)
from ctrack.dni.pools import Grant, Leases, PoolSettings
from ctrack.dni.ratelimit import RateLimiter
from ctrack.dni.store import SavedLeases, load_saved_leases, load_visit, save_visits
from ctrack.route.rules import Catalog
from ctrack.services import Services
from ctrack.store import db
from ctrack.store.writer import Writer, open_connection

log = logging.getLogger(__name__)

MAX_LEASE_BODY = 8 * 1024
VISIT_CACHE = 100_000
DRAIN_SECONDS = 5.0
ORIGIN_CACHE = 10_000
_AMP_CACHE = re.compile(r"^https://([a-z0-9-]+\.)*(cdn\.ampproject\.org|amp\.cloudflare\.com|bing-amp\.com)$")


class UnknownSite(Exception):
    """No pool serves the requested site."""


class StoreUnavailable(Exception):
    """A visit could not be read from the database; the page keeps its published number."""


@lru_cache(maxsize=4096)
def formatted(e164: str) -> str:
    return national_format(e164)


class VisitCache:
    """The visits seen lately, so a heartbeat does not read the database."""

    def __init__(self, limit: int = VISIT_CACHE):
        self.limit = limit
        self._items: OrderedDict[str, Visit] = OrderedDict()

    def get(self, visit_id: str) -> Visit | None:
        visit = self._items.get(visit_id)
        if visit is not None:
            self._items.move_to_end(visit_id)
        return visit

    def put(self, visit: Visit) -> None:
        self._items[visit.id] = visit
        self._items.move_to_end(visit.id)
        if len(self._items) > self.limit:
            self._items.popitem(last=False)


class WriteBehind:
    """Saves visits and grants through the store writer without holding up the response.

    Waiting for a commit costs a request several event-loop turns; under load that is
    most of a lease's latency. So a lease is queued here (rows coalesced per visit: a
    visit's latest state wins) and committed by the next flush, which starts as soon as
    the previous one ends: in a burst many leases share one commit. A failed commit is
    retried; shutdown drains the queue before the writer closes. What a hard crash can
    lose is the last flush (milliseconds); a page whose grant was lost gets a number again
    on its next heartbeat.
    """

    RETRY_SECONDS = 1.0

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self._visits: dict[str, tuple[Visit, Grant, bool]] = {}  # id -> (visit, its grant, whole row?)
        self._grants: dict[tuple[str, float], tuple[Grant, bool]] = {}  # (visit, start) -> (grant, new?)
        self._task: asyncio.Task | None = None
        self.failures = 0

    @property
    def backlog(self) -> int:
        return len(self._visits)

    def save(self, visit: Visit, grant: Grant, whole: bool, grants: list[tuple[Grant, bool]]) -> None:
        """Queue a visit with its current grant, and the grants it started, renewed or ended.
        `whole` asks for the whole visit row (new or changed); a grant's flag says it is new."""
        pending = self._visits.get(visit.id)
        self._visits[visit.id] = (visit, grant, whole or (pending is not None and pending[2]))
        for item, new in grants:
            key = (item.visit_id, item.started_at)
            pending_grant = self._grants.get(key)
            self._grants[key] = (item, new or (pending_grant is not None and pending_grant[1]))
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ctrack-dni-write-behind")

    async def _run(self) -> None:
        try:
            while self._visits or self._grants:
                visits, grants = self._visits, self._grants
                self._visits, self._grants = {}, {}
                try:
                    await self.writer.run(
                        partial(save_visits, visits=list(visits.values()), grants=list(grants.values()))
                    )
                except Exception as exc:
                    self.failures += 1
                    log.warning("DNI: saving %d visits failed (will retry): %s", len(visits), exc)
                    for visit_id, (visit, grant, whole) in visits.items():  # newer queued rows win
                        if visit_id not in self._visits:
                            self._visits[visit_id] = (visit, grant, whole)
                    for key, item in grants.items():
                        self._grants.setdefault(key, item)
                    await asyncio.sleep(self.RETRY_SECONDS)
        finally:
            self._task = None

    async def drain(self, timeout: float) -> None:
        """Commit everything queued (tests, and shutdown before the writer closes)."""
        task = self._task
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            log.error("DNI: %d visits could not be saved before shutdown", self.backlog)
            task.cancel()


@dataclass(frozen=True, slots=True)
class Published:
    number: str
    formatted: str


class Dni:
    """The daemon's DNI state: pools and leases, recent visits, settings per site."""

    def __init__(self, services: Services):
        config = services.config
        self.services = services
        self.grace = config.dni.grace_seconds
        self.default_rules = SiteRules(config.dni.attribution, config.dni.attribution_days)
        self.site_rules = {
            site: SiteRules(model, days or self.default_rules.days)
            for site, (model, days) in config.dni.site_attribution.items()
        }
        self.allowed_origins: frozenset[str] = config.dni.allowed_origins
        self.trusted_proxies: frozenset[str] = config.http.trusted_proxies
        region = config.ctrack.default_region
        business = config.business.published_number
        try:
            default = (to_e164(business, region),) if business else ()
        except InvalidNumber as exc:
            raise ConfigError(f"business.published_number: {exc}") from None
        self._default_published = tuple(Published(n, formatted(n)) for n in default)
        self._published = {
            site: tuple(Published(n, formatted(n)) for n in numbers)
            for site, numbers in config.dni.published_numbers.items()
        }
        self.limiter = RateLimiter(config.dni.rate_per_minute, config.dni.rate_burst)
        self.leases = Leases()
        self.site_pools: dict[str, list[str]] = {}
        self.visits = VisitCache()
        self.saver = WriteBehind(services.writer)
        self._catalog_at = -1.0
        self._reader: aiosqlite.Connection | None = None
        self._origins: dict[tuple[str, str | None], bool] = {}  # origin_allowed's answers

    # --- settings ---------------------------------------------------------------------------

    def rules(self, site: str) -> SiteRules:
        return self.site_rules.get(site, self.default_rules)

    def published(self, site: str) -> tuple[Published, ...]:
        return self._published.get(site, self._default_published)

    def origin_allowed(self, origin: str, site: str | None) -> bool:
        """A browser origin may lease for `site` if it is the site or a subdomain of it, or
        listed in [dni] allowed_origins. With no site (a preflight), any pool's site will do."""
        key = (origin, site)
        allowed = self._origins.get(key)
        if allowed is None:
            parts = urlsplit(origin)
            sites = [site] if site is not None else list(self.site_pools)
            allowed = origin in self.allowed_origins or (
                parts.scheme in ("http", "https")
                and bool(parts.hostname)
                and any(host_matches_site(parts.hostname, s) for s in sites)
            )
            if len(self._origins) >= ORIGIN_CACHE:
                self._origins.clear()
            self._origins[key] = allowed
        return allowed

    def client(self, request: web.Request) -> str:
        """The client's address; X-Forwarded-For only counts when a trusted proxy sent it."""
        remote = request.remote or ""
        if remote not in self.trusted_proxies:
            return remote
        for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
            hop = hop.strip()
            if hop and hop not in self.trusted_proxies:
                return hop
        return remote

    # --- the catalog --------------------------------------------------------------------

    def sync(self, catalog: Catalog, last_used: dict[str, float] | None = None) -> None:
        """Follow the pools and their active numbers in the catalog."""
        by_pool: dict[str, list[str]] = {}
        for tn in catalog.numbers.values():
            if tn.kind == NumberKind.POOL and tn.pool and tn.state == NumberState.ACTIVE:
                by_pool.setdefault(tn.pool, []).append(tn.number)
        self.leases.sync(
            {
                name: (PoolSettings(name, p.lease_seconds, p.overflow, p.fallback), sorted(by_pool.get(name, ())))
                for name, p in catalog.pools.items()
            },
            last_used,
        )
        site_pools: dict[str, list[str]] = {}
        for name in sorted(catalog.pools):
            site_pools.setdefault(normalize_site(catalog.pools[name].site), []).append(name)
        self.site_pools = site_pools
        self._origins.clear()

    def _follow_catalog(self) -> None:
        cache = self.services.catalog
        if cache.loaded_at > self._catalog_at:
            self.sync(cache.catalog)
            self._catalog_at = cache.loaded_at

    # --- lifecycle ----------------------------------------------------------------------

    def _read_saved(self, now: float) -> tuple[Catalog, SavedLeases]:
        conn = db.connect(self.services.db_path)
        try:
            return load_catalog(conn), load_saved_leases(conn, now, self.grace)
        finally:
            conn.close()

    async def start(self) -> None:
        """Rebuild the leases from the database, so a restart takes no number from a page."""
        now = time.time()
        catalog, saved = await asyncio.to_thread(self._read_saved, now)
        self.sync(catalog, saved.last_used)
        self._catalog_at = now
        for grant in saved.active:
            if grant.pool in self.leases.pools:
                self.leases.pools[grant.pool].restore(grant)
        for grant in saved.released:
            if grant.pool in self.leases.pools and grant.number:
                self.leases.pools[grant.pool].note_released(grant.number, grant.visit_id, grant.expires_at)
        for visit in saved.visits:
            self.visits.put(visit)
        log.info("DNI: %d pools, %d leases restored", len(self.leases.pools), len(saved.active))

    async def close(self) -> None:
        await self.saver.drain(DRAIN_SECONDS)
        if self._reader is not None:
            await self._reader.close()
            self._reader = None

    # --- leasing ------------------------------------------------------------------------

    async def _visit(self, visit_id: str) -> Visit | None:
        visit = self.visits.get(visit_id)
        if visit is None:
            if self._reader is None:
                self._reader = await open_connection(self.services.db_path)
            try:
                visit = await load_visit(self._reader, visit_id)
            except sqlite3.Error as exc:
                raise StoreUnavailable(str(exc)) from None
            if visit is not None:
                self.visits.put(visit)
        return visit

    async def lease(self, request: LeaseRequest, now: float, new_id: str | None = None) -> tuple[Visit, Grant]:
        """Lease (or renew) a number for the request's visit, and queue it for the store."""
        self._follow_catalog()
        pools = self.site_pools.get(request.site)
        if not pools:
            raise UnknownSite(request.site)
        rules = self.rules(request.site)
        known = await self._visit(request.visit_id) if request.visit_id else None
        if known is not None and (known.site != request.site or known.expires_at(rules) <= now):
            known = None
        if known is None:
            visit = new_visit(
                new_id or secrets.token_urlsafe(16), request.site, request.touch, request.ga_client_id, now
            )
        else:
            visit = revisit(known, request.touch, request.ga_client_id, rules, now)
        previous = self.leases_of(visit.id, pools)
        result = self.leases.lease(visit.id, pools, now)
        grant = result.grant
        self.visits.put(visit)
        changed = known is None or (visit.touch, visit.source, visit.ga_client_id) != (
            known.touch,
            known.source,
            known.ga_client_id,
        )
        renewed = previous is not None and previous.started_at == grant.started_at
        self.saver.save(visit, grant, changed, [(g, True) for g in result.ended] + [(grant, not renewed)])
        return visit, grant

    def leases_of(self, visit_id: str, pool_names: list[str]) -> Grant | None:
        for name in pool_names:
            grant = self.leases.pools[name].grant_of(visit_id)
            if grant is not None:
                return grant
        return None

    def visit_for(self, number: str, at: float) -> str | None:
        """The route's hook: the visit holding a pool number's lease when a call comes in."""
        return self.leases.visit_for(number, at, self.grace)

    def metrics(self, services: Services) -> None:
        pools = self.leases.pools.values
        for name, kind, text, value in (
            (
                "ctrack_dni_leases_total",
                "counter",
                "Pool numbers leased to visits",
                lambda: sum(p.leases_total for p in pools()),
            ),
            (
                "ctrack_dni_renewals_total",
                "counter",
                "Leases renewed by a heartbeat",
                lambda: sum(p.renewals_total for p in pools()),
            ),
            (
                "ctrack_dni_pool_pressure_total",
                "counter",
                "Visits served from overflow (fallback or shared number)",
                lambda: sum(p.overflow_total for p in pools()),
            ),
            (
                "ctrack_dni_overflow_requests_total",
                "counter",
                "Lease requests answered from overflow",
                lambda: sum(p.overflow_requests_total for p in pools()),
            ),
            ("ctrack_dni_pool_numbers", "gauge", "Active pool numbers", lambda: sum(p.numbers for p in pools())),
            ("ctrack_dni_leased_numbers", "gauge", "Pool numbers leased now", lambda: sum(p.leased for p in pools())),
            ("ctrack_dni_free_numbers", "gauge", "Pool numbers free now", lambda: sum(p.free for p in pools())),
            ("ctrack_dni_visits", "gauge", "Visits holding a grant now", lambda: sum(p.visits for p in pools())),
            (
                "ctrack_dni_rate_limited_total",
                "counter",
                "Lease requests refused by the rate limit",
                lambda: self.limiter.refused_total,
            ),
            ("ctrack_dni_write_backlog", "gauge", "Visits waiting to be saved", lambda: self.saver.backlog),
            (
                "ctrack_dni_write_failures_total",
                "counter",
                "Failed saves of visits (retried)",
                lambda: self.saver.failures,
            ),
        ):
            services.add_metric(name, kind, text, value)


DNI = web.AppKey("dni", Dni)


# --- HTTP ------------------------------------------------------------------------------------


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"error": message}, status=status, headers={"Cache-Control": "no-store", **(headers or {})}
    )


def _cors(origin: str | None) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {"Vary": "Origin"}


def amp_visit_id(site: str, client_id: str) -> str:
    """AMP readers carry an AMP client id, not our cookie: the same reader maps to the same visit."""
    digest = hashlib.sha256(f"{site}\0{client_id}".encode()).digest()
    return "amp-" + base64.urlsafe_b64encode(digest[:18]).decode()


async def lease_handler(request: web.Request) -> web.Response:
    dni = request.app[DNI]
    origin = request.headers.get("Origin")
    if (request.content_length or 0) > MAX_LEASE_BODY:
        return _error(413, f"body larger than {MAX_LEASE_BODY} bytes")
    raw = await request.read()
    if len(raw) > MAX_LEASE_BODY:
        return _error(413, f"body larger than {MAX_LEASE_BODY} bytes")
    try:
        lease_request = parse_lease_request(json.loads(raw))
    except (ValueError, RecursionError) as exc:  # BadRequest, or not JSON
        return _error(400, str(exc) if isinstance(exc, BadRequest) else "body: expected JSON")
    if origin is not None and not dni.origin_allowed(origin, lease_request.site):
        return _error(403, "origin not allowed for this site")
    cors = _cors(origin)
    now = time.time()
    client = dni.client(request)
    if not dni.limiter.allow(client, now):
        return _error(429, "too many lease requests", {**cors, "Retry-After": str(dni.limiter.retry_after(client))})
    try:
        visit, grant = await dni.lease(lease_request, now)
    except UnknownSite:
        return _error(404, "no number pool for this site", cors)
    except StoreUnavailable:
        return _error(503, "visit could not be read; try again later", cors)
    rules = dni.rules(visit.site)
    return web.json_response(
        {
            "visit_id": visit.id,
            "number": grant.number,
            "formatted": formatted(grant.number) if grant.number else None,
            "source": visit.source,
            "lease_expires_at": round(grant.expires_at, 3),
            "visit_expires_at": round(visit.expires_at(rules), 3),
            "published": [{"number": p.number, "formatted": p.formatted} for p in dni.published(visit.site)],
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
    now = time.time()
    client = dni.client(request)
    if not dni.limiter.allow(client, now):
        return _error(429, "too many lease requests", {**headers, "Retry-After": str(dni.limiter.retry_after(client))})
    visit_id = amp_visit_id(site, client_id) if client_id else None
    try:
        _, grant = await dni.lease(LeaseRequest(site, touch, None, visit_id), now, new_id=visit_id)
    except UnknownSite:
        return _error(404, "no number pool for this site", headers)
    except StoreUnavailable:
        return _error(503, "visit could not be read; try again later", headers)
    number = grant.number or next((p.number for p in dni.published(site)), None)
    if number is None:
        return _error(503, "no number to show", headers)
    return web.json_response({"phoneNumber": number, "formattedPhoneNumber": formatted(number)}, headers=headers)


def _snippet() -> tuple[bytes, str]:
    body = resources.files("ctrack.web").joinpath("static/ctrack.js").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


async def snippet_handler(request: web.Request) -> web.Response:
    body, etag = request.app[SNIPPET]
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/javascript", charset="utf-8", headers=headers)


SNIPPET = web.AppKey("dni_snippet", tuple)


def setup(app: web.Application, services: Services) -> None:
    dni = Dni(services)
    app[DNI] = dni
    app[SNIPPET] = _snippet()
    services.visit_for = dni.visit_for
    dni.metrics(services)

    async def on_startup(app: web.Application) -> None:
        await dni.start()

    async def on_cleanup(app: web.Application) -> None:
        await dni.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_post("/dni/v1/lease", lease_handler)
    app.router.add_route("OPTIONS", "/dni/v1/lease", lease_preflight)
    app.router.add_get("/dni/v1/amp", amp_handler)
    app.router.add_get("/ctrack.js", snippet_handler)
