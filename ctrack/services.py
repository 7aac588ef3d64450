"""What the daemon's adapters share: configuration, the store writer, the route catalog.

Adapters (FastAGI, AMI, ESL, HTTP) get one Services object; they never open their own
writing connection to the database.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from ctrack.calllog.store import CallRules
from ctrack.catalog.store import load_catalog
from ctrack.config import Config
from ctrack.route.rules import Catalog, RouteSettings
from ctrack.store import db
from ctrack.store.spool import Spool
from ctrack.store.writer import Writer

log = logging.getLogger(__name__)


class CatalogCache:
    """The route's in-memory snapshot, reloaded when the database changes.

    Routing reads memory only (it must answer in milliseconds); a background refresh
    notices CLI edits through the catalog's own version (bumped by triggers on sources,
    pools, numbers and the block list), so the calls and leases written all day long never reload it.
    """

    def __init__(self, path: db.Target, interval: float = 1.0):
        self.path = path
        self.interval = interval
        self.catalog = Catalog()
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self.loaded_at = 0.0

    def refresh(self) -> bool:
        """Reload if the database changed since the last load; True when reloaded."""
        if self._conn is None:
            self._conn = db.connect(self.path, any_thread=True)  # refreshed in a worker thread
        try:
            version = self._conn.execute("SELECT version FROM catalog_version WHERE id = 1").fetchone()[0]
            if version == self._version:
                return False
            catalog = load_catalog(self._conn)
        except sqlite3.Error:
            if db.is_broken(self._conn):  # PostgreSQL away: routing keeps this snapshot, reconnect next time
                self.close()
            raise
        self.catalog = catalog
        self._version = version
        self.loaded_at = time.time()
        return True

    async def keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:
                log.exception("catalog refresh failed; routing keeps the last snapshot")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Services:
    def __init__(self, config: Config, db_path: db.Target):
        self.config = config
        self.db_path = db.target(db_path)
        spool = Spool(config.spool_path) if db.is_url(self.db_path) else None
        self.writer = Writer(self.db_path, spool=spool)
        self.catalog = CatalogCache(self.db_path)
        self.route_settings = RouteSettings.from_config(config)
        self.call_rules = CallRules.from_config(config)
        self.started_at = time.time()
        self._metrics: dict[str, Callable[[], tuple[str, str, Any]]] = {}

    def add_metric(self, name: str, kind: str, help_text: str, value: Callable[[], Any]) -> None:
        self._metrics[name] = lambda: (kind, help_text, value())

    def metrics(self) -> dict[str, tuple[str, str, Any]]:
        base = {
            "ctrack_uptime_seconds": (
                "gauge",
                "Seconds since the daemon started",
                round(time.time() - self.started_at, 1),
            ),
            "ctrack_store_write_batches_total": ("counter", "Store transactions committed", self.writer.batches),
            "ctrack_store_writes_total": ("counter", "Store write jobs committed", self.writer.jobs),
            "ctrack_store_backlog": ("gauge", "Writes waiting for the writer", self.writer.backlog),
            "ctrack_store_spool_depth": (
                "gauge",
                "Writes kept in the local spool until PostgreSQL is back",
                self.writer.spooled,
            ),
            "ctrack_tracking_numbers": ("gauge", "Active tracking numbers", len(self.catalog.catalog.numbers)),
            "ctrack_blocked_callers": (
                "gauge",
                "Numbers and prefixes on the block list",
                len(self.catalog.catalog.blocked),
            ),
        }
        base.update({name: fn() for name, fn in self._metrics.items()})
        return base

    def health(self) -> dict[str, Any]:
        return {"numbers": len(self.catalog.catalog.numbers), "uptime": round(time.time() - self.started_at, 1)}

    def read_connection(self) -> sqlite3.Connection:
        """A fresh read-only-by-convention connection for a request or report."""
        return db.connect(self.db_path)
