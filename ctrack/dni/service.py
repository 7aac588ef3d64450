"""The lease service: the daemon's DNI state and what changes it.

Pools and their leases (pure, dni/pools.py), the visits seen lately, the settings per
site, and the write-behind that saves every grant through the store writer without
holding up the answer. On PostgreSQL (several web nodes) leases are granted in the
database instead, in batches: one transaction at a time per node, for every request that
arrived while the one before was in flight; with the database away, from memory, saved
through the writer's spool. The HTTP handlers (dni/http.py) call `lease`; the route calls
`visit_for`. On start it rebuilds the leases from the database (or, with the center away,
from the spool), so a restart takes no number away from a page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import secrets
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ctrack.catalog.store import load_catalog
from ctrack.config import ConfigError
from ctrack.core.model import NumberKind, NumberState, Pool
from ctrack.core.phone import InvalidNumber, national_format, to_e164
from ctrack.dni.attribution import (
    LeaseRequest,
    SiteRules,
    Visit,
    host_matches_site,
    new_visit,
    normalize_site,
    revisit,
)
from ctrack.dni.clients import Crawlers, speculative
from ctrack.dni.pools import Grant, Leases, PoolLeases
from ctrack.dni.ratelimit import RateLimiter
from ctrack.dni.selection import choose_pools
from ctrack.dni.store import (
    PRIVACY_KEY,
    SavedLeases,
    apply_changes,
    apply_visit_grants,
    batch_writes,
    changes,
    hashed_client,
    load_saved_leases,
    load_visit,
    lock_sites,
    pool_from,
    save_visits,
    spooled_grants,
    spooled_visits,
    visit_grants,
    visits_by_id,
    visits_from,
    whole_pool,
)
from ctrack.route.rules import Catalog
from ctrack.services import Services
from ctrack.store import db
from ctrack.store.spool import waiting
from ctrack.store.writer import Writer, WriterUnavailable

if TYPE_CHECKING:
    from ctrack.store import pg  # psycopg: an extra, imported where PostgreSQL is used

log = logging.getLogger(__name__)

VISIT_CACHE = 100_000
DRAIN_SECONDS = 5.0
ORIGIN_CACHE = 10_000
RECONNECT_SECONDS = 2.0  # PostgreSQL away: how often the lease path tries it again
UNKNOWN_POOLS_LOGGED = 1_000  # distinct (site, data-ctrack-pool) warnings before they stop
MAX_BATCH = 500  # lease requests served in one PostgreSQL transaction at most
SPOOL_WAIT_SECONDS = 60.0  # the database back: how long leasing through it waits for the spool to drain
REPLAY = "ctrack.dni.store:replay_visits"  # the spool's name for a save of visits and grants


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
    the previous one ends: in a burst many leases share one commit. A heartbeat's renewal
    only moves an expiry, so renewals wait up to RENEWAL_SECONDS and join a flush then:
    the latest expiry of each lease, once. A failed commit is retried; on PostgreSQL a save
    the center cannot take goes to the writer's spool and is replayed once it is back (the
    lease path, dni/service.py, leases from memory meanwhile); shutdown drains the queue
    before the writer closes. What a hard crash can lose is the last flush and the
    renewals of the last second, never more than a heartbeat's worth of a lease's time
    (heartbeats come every third of a lease); a page whose grant was lost gets a number
    again on its next heartbeat.
    """

    RETRY_SECONDS = 1.0
    RENEWAL_SECONDS = 1.0

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self._visits: dict[str, tuple[Visit, Grant, bool]] = {}  # id -> (visit, its grant, whole row?)
        self._grants: dict[tuple[str, float], tuple[Grant, bool]] = {}  # (visit, start) -> (grant, new?)
        self._renewals: dict[str, tuple[Visit, Grant]] = {}  # visit id -> its latest renewal
        self._renewal_timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task | None = None
        self.failures = 0

    @property
    def idle(self) -> bool:
        """Nothing queued or being saved."""
        return self._task is None and not self._visits and not self._grants and not self._renewals

    @property
    def backlog(self) -> int:
        return len(self._visits) + len(self._renewals)

    def renew(self, visit: Visit, grant: Grant) -> None:
        """Queue a heartbeat that changed nothing but the expiry (and the visit's last seen)."""
        self._renewals[visit.id] = (visit, grant)
        if self._renewal_timer is None:
            self._renewal_timer = asyncio.get_running_loop().call_later(self.RENEWAL_SECONDS, self._flush_renewals)

    def save(self, visit: Visit, grant: Grant, whole: bool, grants: list[tuple[Grant, bool]]) -> None:
        """Queue a visit with its current grant, and the grants it started, renewed or ended.
        `whole` asks for the whole visit row (new or changed); a grant's flag says it is new."""
        renewal = self._renewals.pop(visit.id, None)
        if renewal is not None:  # an older lease of this visit keeps its latest expiry
            self._grants.setdefault((renewal[1].visit_id, renewal[1].started_at), (renewal[1], False))
        pending = self._visits.get(visit.id)
        self._visits[visit.id] = (visit, grant, whole or (pending is not None and pending[2]))
        for item, new in grants:
            key = (item.visit_id, item.started_at)
            pending_grant = self._grants.get(key)
            self._grants[key] = (item, new or (pending_grant is not None and pending_grant[1]))
        self._start()

    def _flush_renewals(self) -> None:
        self._renewal_timer = None
        renewals, self._renewals = self._renewals, {}
        for visit, grant in renewals.values():
            if visit.id not in self._visits:
                self._visits[visit.id] = (visit, grant, False)
            self._grants.setdefault((grant.visit_id, grant.started_at), (grant, False))
        self._start()

    def _start(self) -> None:
        if self._task is None and (self._visits or self._grants):
            self._task = asyncio.create_task(self._run(), name="ctrack-dni-write-behind")

    async def _run(self) -> None:
        try:
            while self._visits or self._grants:
                visits, grants = self._visits, self._grants
                self._visits, self._grants = {}, {}
                rows, leases = list(visits.values()), list(grants.values())
                # PostgreSQL: kept in the local spool while it is away, replayed in order once back.
                durable = (REPLAY, spooled_visits(rows, leases)) if self.writer.spool is not None else None
                try:
                    await self.writer.submit(partial(save_visits, visits=rows, grants=leases), durable)
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
        if self._renewal_timer is not None:
            self._renewal_timer.cancel()
            self._flush_renewals()
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


class LeaseService:
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
        self.leases_per_client = config.dni.leases_per_client
        self.crawlers = Crawlers(config.dni.crawlers)
        self.leases = Leases()
        self.site_pools: dict[str, list[Pool]] = {}
        self._unknown_pools: set[tuple[str, str]] = set()  # warned once each
        self.visits = VisitCache()
        self.saver = WriteBehind(services.writer)
        self._catalog_at = -1.0
        self._reader: sqlite3.Connection | None = None
        self._origins: dict[tuple[str, str | None], bool] = {}  # origin_allowed's answers
        # On PostgreSQL every lease is granted in the database (several nodes share it).
        self.shared = db.is_url(services.db_path)
        self.pool_numbers: dict[str, list[str]] = {}  # pool -> its active numbers (the catalog's)
        self._shared_conn: pg.AsyncConnection | None = None  # PostgreSQL: the batches' connection
        self._asks: list[_Ask] = []  # lease requests waiting for the next transaction
        self._batcher: asyncio.Task | None = None  # serving them, one transaction at a time
        self.batches = 0  # lease transactions committed (PostgreSQL), each for one or more requests
        self._away: asyncio.Task | None = None  # the database unreachable: reconnecting
        self._client_key: bytes | None = None  # the privacy key, for leases.client
        self._versions: dict[str, tuple[PoolLeases, int]] = {}  # pool -> (its copy, the version it is at)

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

    def never_leases(self, headers: Mapping[str, str]) -> bool:
        """Declared crawlers, prefetches and prerenders: the published number, no visit."""
        return self.crawlers.match(headers.get("User-Agent")) or speculative(headers)

    # --- the catalog --------------------------------------------------------------------

    def sync(self, catalog: Catalog, last_used: dict[str, float] | None = None) -> None:
        """Follow the pools and their active numbers in the catalog."""
        by_pool: dict[str, list[str]] = {}
        for tn in catalog.numbers.values():
            if tn.kind == NumberKind.POOL and tn.pool and tn.state == NumberState.ACTIVE:
                by_pool.setdefault(tn.pool, []).append(tn.number)
        self.pool_numbers = {name: sorted(by_pool.get(name, ())) for name in catalog.pools}
        self.leases.sync({name: (pool, self.pool_numbers[name]) for name, pool in catalog.pools.items()}, last_used)
        site_pools: dict[str, list[Pool]] = {}
        for name in sorted(catalog.pools):
            site_pools.setdefault(normalize_site(catalog.pools[name].site), []).append(catalog.pools[name])
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
        """Rebuild the leases from the database, so a restart takes no number from a page.
        On PostgreSQL what the spool still holds (a node restarted while the center was
        away) is replayed first. With the center down at start, the pools come from the
        route's saved catalog and the leases from the spool: the visits this node served
        before keep their numbers, and no other visit is given one of them."""
        now = time.time()
        writer = self.services.writer
        if writer.spool is not None:
            with contextlib.suppress(WriterUnavailable):
                await writer.flush()  # the spool replayed, if the center answers
        try:
            catalog, saved = await asyncio.to_thread(self._read_saved, now)
        except (db.DatabaseError, sqlite3.Error) as exc:
            if not db.is_url(self.services.db_path):
                raise
            self.sync(self.services.catalog.catalog)
            restored = self._restore_spooled(now)
            log.warning(
                "DNI: the center is down (%s); %d pools, %d leases from the spool",
                exc,
                len(self.leases.pools),
                restored,
            )
            self._go_away(exc)
            return
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

    def _restore_spooled(self, now: float) -> int:
        """The visits and grants of the saves waiting in the spool, oldest first (a later
        save of a grant replaces it; those that ended free their numbers); the leases restored."""
        spool = self.services.writer.spool
        for payload in waiting(spool.path, REPLAY) if spool is not None else []:
            visits, grants = spooled_grants(payload)
            for visit in visits:
                self.visits.put(visit)
            for grant in grants:
                if grant.pool in self.leases.pools:
                    self.leases.pools[grant.pool].apply(grant)
        for pool in self.leases.pools.values():
            pool.expire(now)
        return sum(pool.visits for pool in self.leases.pools.values())

    async def close(self) -> None:
        await self.saver.drain(DRAIN_SECONDS)
        if self._away is not None:
            self._away.cancel()
        if self._batcher is not None:
            self._batcher.cancel()
        await self._close_shared()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # --- leasing ------------------------------------------------------------------------

    async def _visit(self, visit_id: str) -> Visit | None:
        visit = self.visits.get(visit_id)
        if visit is None:
            try:
                if self._reader is None:
                    self._reader = db.connect(self.services.db_path, any_thread=True)
                visit = await asyncio.to_thread(load_visit, self._reader, visit_id)
            except (sqlite3.Error, db.DatabaseError) as exc:
                if self._reader is not None and db.is_broken(self._reader):  # PostgreSQL away: reconnect next time
                    self._reader.close()
                    self._reader = None
                raise StoreUnavailable(str(exc)) from None
            if visit is not None:
                self.visits.put(visit)
        return visit

    async def lease(
        self, request: LeaseRequest, now: float, client: str | None = None, new_id: str | None = None
    ) -> tuple[Visit, Grant]:
        """Lease (or renew) a number for the request's visit, and queue it for the store."""
        if self.shared and self._away is None:
            answer = await self._lease_shared(request, now, client, new_id)
            if answer is not None:
                return answer
        self._follow_catalog()
        site_pools = self._pools_of(request.site)
        if self.shared and client is not None and self._client_key is not None:
            client = hashed_client(self._client_key, client)  # the cap keeps counting as the database does
        known = await self._visit(request.visit_id) if request.visit_id else None
        step = self._step(self.leases, request, site_pools, known, now, client, new_id)
        self.visits.put(step.visit)
        if step.renewal:
            self.saver.renew(step.visit, step.grant)
        else:
            self.saver.save(step.visit, step.grant, step.changed, step.grants)
        return step.visit, step.grant

    def _step(
        self,
        leases: Leases,
        request: LeaseRequest,
        site_pools: list[Pool],
        known: Visit | None,
        now: float,
        client: str | None,
        new_id: str | None,
    ) -> _Step:
        """The visit and its grant by the lease rules (dni/pools.py), from whichever leases
        hold the truth: this node's memory (SQLite) or the database's, just read (PostgreSQL)."""
        rules = self.rules(request.site)
        if known is not None and (known.site != request.site or known.expires_at(rules) <= now):
            known = None
        choice = choose_pools(
            site_pools,
            request.pool,
            request.touch.landing_page,
            (request.touch.utm_campaign, known.touch.utm_campaign if known else None),
        )
        if choice.unknown is not None:
            self._warn_unknown_pool(request.site, choice.unknown)
        pools = list(choice.pools)
        if known is None:
            visit = new_visit(
                new_id or secrets.token_urlsafe(16), request.site, request.touch, request.ga_client_id, now
            )
        else:
            visit = revisit(known, request.touch, request.ga_client_id, rules, now)
        previous = leases_of(leases, visit.id, pools)
        result = leases.lease(visit.id, pools, now, client, self.leases_per_client)
        grant = result.grant
        region = leases.pools[grant.pool].pool.region
        if visit.pool_region != region:
            visit = replace(visit, pool_region=region)
        changed = known is None or (visit.touch, visit.source, visit.ga_client_id, visit.pool_region) != (
            known.touch,
            known.source,
            known.ga_client_id,
            known.pool_region,
        )
        renewed = previous is not None and previous.started_at == grant.started_at
        return _Step(
            visit,
            grant,
            changed,
            renewed and not changed and not result.ended,
            [(g, True) for g in result.ended] + [(grant, not renewed)],
        )

    # --- leasing through the database (PostgreSQL, several nodes) -------------------------

    def _pools_of(self, site: str) -> list[Pool]:
        site_pools = self.site_pools.get(site)
        if not site_pools:
            raise UnknownSite(site)
        return site_pools

    async def _lease_shared(
        self, request: LeaseRequest, now: float, client: str | None, new_id: str | None
    ) -> tuple[Visit, Grant] | None:
        """Lease through the database (group commit): the request joins the next batch,
        which this node serves in one transaction once the one in flight ends. Any node may
        answer any request (a heartbeat renews on whichever node gets it); none hands out a
        number another node leased. None: the database is unreachable (lease from memory)."""
        ask = _Ask(request, now, client, new_id, asyncio.get_running_loop().create_future())
        self._asks.append(ask)
        if self._batcher is None:
            self._batcher = asyncio.create_task(self._serve_batches(), name="ctrack-dni-batches")
        return await ask.future

    async def _serve_batches(self) -> None:
        """One lease transaction at a time per node; what arrives meanwhile waits for the next."""
        try:
            while self._asks:
                asks, self._asks = self._asks[:MAX_BATCH], self._asks[MAX_BATCH:]
                await self._serve_batch(asks)
        finally:
            self._batcher = None

    async def _serve_batch(self, asks: list[_Ask]) -> None:
        if self._away is not None:  # found away meanwhile: these lease from memory
            _answer(asks, None)
            return
        self._follow_catalog()  # here: no lease transaction is using the pools now
        ready = []
        for ask in asks:
            try:
                ask.pools = self._pools_of(ask.request.site)
            except UnknownSite as exc:
                if not ask.future.done():
                    ask.future.set_exception(exc)
                continue
            ready.append(ask)
        if not ready:
            return
        try:
            steps, leases = await self._lease_in_database(ready)
        except (sqlite3.Error, db.DatabaseError) as exc:
            self.saver.failures += 1
            if self._shared_conn is not None and not db.is_broken(self._shared_conn):
                if len(ready) > 1:  # one request's failure must not fail the others: each alone
                    for ask in ready:
                        await self._serve_batch([ask])
                    return
                log.warning("DNI: leasing through the database failed: %s", exc)
                _fail(ready, StoreUnavailable(str(exc)))
                return
            await self._close_shared()
            self._go_away(exc)
            _answer(ready, None)
            return
        self.batches += 1
        for name, fresh in leases.pools.items():  # this node's view: /metrics, the route, an outage
            if name in self.leases.pools:
                self.leases.pools[name] = fresh
        for ask, step in zip(ready, steps, strict=True):
            self.visits.put(step.visit)
            if not ask.future.done():
                ask.future.set_result((step.visit, step.grant))

    def _go_away(self, exc: BaseException | str) -> None:
        log.warning("DNI: the database is unreachable (%s); leasing from memory until it is back", exc)
        self._away = asyncio.create_task(self._reconnect(), name="ctrack-dni-reconnect")

    async def _connect(self) -> pg.AsyncConnection:
        from ctrack.store import pg  # psycopg: an extra, needed only here

        return await pg.AsyncConnection.connect(str(self.services.db_path))

    async def _reconnect(self) -> None:
        """While the database is away, try it every RECONNECT_SECONDS in the background (no
        request waits for a connect); then lease through it again."""
        writer = self.services.writer
        while True:
            await asyncio.sleep(RECONNECT_SECONDS)
            try:
                conn = await self._connect()
            except sqlite3.Error:
                continue
            # What this node leased from memory meanwhile (written behind, kept in the spool
            # while the database was away) reaches the database first, so the pools read
            # whole again next include it.
            waited = 0.0
            while not (self.saver.idle and writer.spooled == 0) and waited < SPOOL_WAIT_SECONDS:
                await asyncio.sleep(0.1)
                waited += 0.1
            if not (self.saver.idle and writer.spooled == 0):
                log.warning("DNI: %d spooled writes still wait; leasing through the database anyway", writer.spooled)
            self._versions.clear()
            self._shared_conn = conn
            self._away = None
            log.info("DNI: the database is back; leasing through it again")
            return

    async def _lease_in_database(self, asks: list[_Ask]) -> tuple[list[_Step], Leases]:
        """One batch in one transaction, two round trips on the event loop (no thread to
        wake while the sites' locks are held): read the visits asked about and what changed
        in their pools since this node last looked; apply the lease rules to each request
        in arrival order; write every visit and grant (one statement per kind of row), commit."""
        if self._shared_conn is None:
            self._shared_conn = await self._connect()
        conn = self._shared_conn
        now = min(ask.now for ask in asks)
        ids = list(dict.fromkeys(ask.request.visit_id for ask in asks if ask.request.visit_id))
        pools = {pool.name: pool for ask in asks for pool in ask.pools}
        copies = {name: self._copy(name) for name in pools}
        reads = [("BEGIN", ()), lock_sites(sorted({ask.request.site for ask in asks}))]
        reads += [PRIVACY_KEY] if self._client_key is None else []
        reads += [visits_by_id(ids), visit_grants(ids, list(pools), now)]
        for name, copy in copies.items():
            if copy is None:
                reads += whole_pool(name, self.pool_numbers.get(name, []), now, self.grace)
            else:
                reads.append(changes(name, copy[1]))
        try:
            results = (await conn.pipeline(reads))[2:]
            if self._client_key is None:
                self._client_key = bytes(results.pop(0)[0][0])
            known, grants_of_visits = visits_from(results[0]), results[1]
            at = 2
            leases = Leases()
            for name, pool in pools.items():
                copy = copies[name]
                if copy is None:
                    fresh, version = pool_from(pool, self.pool_numbers.get(name, []), results[at : at + 3], now)
                    if name in self.leases.pools:
                        _carry_counters(self.leases.pools[name], fresh)
                    at += 3
                else:
                    fresh, version = copy[0], apply_changes(copy[0], results[at], copy[1])
                    at += 1
                self._versions[name] = (fresh, version)
                leases.pools[name] = fresh
            apply_visit_grants(leases, grants_of_visits)
            steps = self._steps(leases, asks, known)
            await conn.pipeline([*batch_writes(*self._writes(asks, steps)), ("COMMIT", ())])
        except BaseException:
            self._versions.clear()  # the pools in memory may hold what was rolled back
            if not db.is_broken(conn):
                try:
                    await conn.pipeline([("ROLLBACK", ())])
                except sqlite3.Error:
                    await self._close_shared()
            raise
        return steps, leases

    def _copy(self, pool: str) -> tuple[PoolLeases, int] | None:
        """This node's copy of a pool and the version it is at; None: read it whole (the
        first time, and after an outage or a failed transaction)."""
        seen = self._versions.get(pool)
        return seen if seen is not None and self.leases.pools.get(pool) is seen[0] else None

    def _steps(self, leases: Leases, asks: list[_Ask], known: dict[str, Visit]) -> list[_Step]:
        """The lease rules for each request in arrival order; a visit asked about twice sees
        the first answer."""
        key = self._client_key
        assert key is not None
        steps: list[_Step] = []
        for ask in asks:
            visit_id = ask.request.visit_id
            before = known.get(visit_id) if visit_id else None
            client = hashed_client(key, ask.client) if ask.client is not None else None
            step = self._step(leases, ask.request, ask.pools, before, ask.now, client, ask.new_id)
            known[step.visit.id] = step.visit
            ask.hashed = client
            steps.append(step)
        return steps

    @staticmethod
    def _writes(
        asks: list[_Ask], steps: list[_Step]
    ) -> tuple[list[tuple[Visit, Grant]], list[tuple[Grant, str | None]]]:
        """The batch's rows, each visit and grant once in its latest state, each grant with
        who asked for it."""
        visits: dict[str, tuple[Visit, Grant]] = {}
        grants: dict[tuple[str, str, float], tuple[Grant, str | None]] = {}
        for ask, step in zip(asks, steps, strict=True):
            visits[step.visit.id] = (step.visit, step.grant)
            for grant, _ in step.grants:
                grants[(grant.visit_id, grant.pool, grant.started_at)] = (grant, ask.hashed)
        return list(visits.values()), list(grants.values())

    async def _close_shared(self) -> None:
        if self._shared_conn is not None:
            conn, self._shared_conn = self._shared_conn, None
            with contextlib.suppress(Exception):
                await conn.close()

    def _warn_unknown_pool(self, site: str, name: str) -> None:
        """A page's data-ctrack-pool names no pool of its site: said once, the page still
        gets a default pool's number."""
        key = (site, name)
        if key in self._unknown_pools or len(self._unknown_pools) >= UNKNOWN_POOLS_LOGGED:
            return
        self._unknown_pools.add(key)
        log.warning("DNI: %s has no pool %r (data-ctrack-pool); its pages use the default pool", site, name[:100])

    def leases_of(self, visit_id: str, pool_names: list[str]) -> Grant | None:
        return leases_of(self.leases, visit_id, pool_names)

    def visit_for(self, number: str, at: float) -> str | None:
        """The route's hook: the visit holding a pool number's lease when a call comes in."""
        return self.leases.visit_for(number, at, self.grace)

    def add_metrics(self, services: Services) -> None:
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
            (
                "ctrack_dni_capped_total",
                "counter",
                "New visits given a number their client already holds ([dni] leases_per_client)",
                lambda: sum(p.capped_total for p in pools()),
            ),
            ("ctrack_dni_free_numbers", "gauge", "Pool numbers free now", lambda: sum(p.free for p in pools())),
            ("ctrack_dni_visits", "gauge", "Visits holding a grant now", lambda: sum(p.visits for p in pools())),
            (
                "ctrack_dni_rate_limited_total",
                "counter",
                "Lease requests refused by the rate limit",
                lambda: self.limiter.refused_total,
            ),
            (
                "ctrack_dni_lease_batches_total",
                "counter",
                "Lease transactions on PostgreSQL (requests that arrive meanwhile share the next one)",
                lambda: self.batches,
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


@dataclass(frozen=True, slots=True)
class _Step:
    """One lease request's outcome: what to answer and what to save."""

    visit: Visit
    grant: Grant
    changed: bool  # the visit row itself changed (new, or new touch/source/region)
    renewal: bool  # only the expiry moved
    grants: list[tuple[Grant, bool]]  # grants started, renewed or ended; True = new


@dataclass(slots=True)
class _Ask:
    """A lease request waiting for the next database transaction (PostgreSQL)."""

    request: LeaseRequest
    now: float
    client: str | None
    new_id: str | None
    future: asyncio.Future[tuple[Visit, Grant] | None]
    pools: list[Pool] = field(default_factory=list)
    hashed: str | None = None  # the client as leases.client keeps it, once the batch has the key


def _answer(asks: list[_Ask], answer: None) -> None:
    for ask in asks:
        if not ask.future.done():
            ask.future.set_result(answer)


def _fail(asks: list[_Ask], error: Exception) -> None:
    for ask in asks:
        if not ask.future.done():
            ask.future.set_exception(error)


def leases_of(leases: Leases, visit_id: str, pool_names: list[str]) -> Grant | None:
    for name in pool_names:
        grant = leases.pools[name].grant_of(visit_id)
        if grant is not None:
            return grant
    return None


def _carry_counters(old: PoolLeases, fresh: PoolLeases) -> None:
    """A pool rebuilt from the database keeps this node's running counters."""
    fresh.leases_total += old.leases_total
    fresh.renewals_total += old.renewals_total
    fresh.overflow_total += old.overflow_total
    fresh.overflow_requests_total += old.overflow_requests_total
    fresh.capped_total += old.capped_total
    fresh.peak_visits = max(fresh.peak_visits, old.peak_visits)


def amp_visit_id(site: str, client_id: str) -> str:
    """AMP readers carry an AMP client id, not our cookie: the same reader maps to the same visit."""
    digest = hashlib.sha256(f"{site}\0{client_id}".encode()).digest()
    return "amp-" + base64.urlsafe_b64encode(digest[:18]).decode()
