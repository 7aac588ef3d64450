"""`ctrack serve`: one asyncio process with a clear lifecycle.

start: upgrade the schema, load the catalog, open the writer, then listen (FastAGI, HTTP)
and connect (AMI). `serve --only http` starts the HTTP side alone (a DNI/dashboard
web node beside others on one PostgreSQL). serve: until SIGTERM/SIGINT. stop: stop accepting, let in-flight
routes finish (bounded), close AMI, flush every queued write, exit 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ctrack.calllog.reconcile import ReconcileSettings, save_missing
from ctrack.config import Config
from ctrack.core.period import DAY
from ctrack.dni.http import DNI
from ctrack.lifecycle import Lifecycle
from ctrack.privacy.retention import Retention
from ctrack.privacy.service import purge_daily
from ctrack.route.rules import VisitLookup
from ctrack.services import Services
from ctrack.store import db
from ctrack.store.writer import WriterUnavailable
from ctrack.web.app import create_app, start_http

if TYPE_CHECKING:
    from ctrack.asterisk.ami import AmiClient
    from ctrack.calllog.ami import AsteriskCallLog

log = logging.getLogger("ctrack")
DRAIN_SECONDS = 5.0
RECONCILE_DAYS = 7  # how far back each reconcile reads the CDR


def sd_notify(message: str) -> None:
    """Tell systemd (Type=notify) how we are; a no-op outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        log.debug("sd_notify failed", exc_info=True)


class Daemon:
    def __init__(self, config: Config, db_path: db.Target, http_only: bool = False):
        self.config = config
        self.http_only = http_only  # `serve --only http`: a web node, no PBX side
        self.services = Services(config, db_path)
        self._stop = asyncio.Event()
        self.lifecycle = Lifecycle()
        self.reconcile_settings = ReconcileSettings.from_config(config)
        self.ami: AmiClient | None = None
        self.call_log: AsteriskCallLog | None = None
        # Built first: the route handlers ask its DNI service which visit holds a pool number.
        self.app = create_app(self.services)
        self.visit_for: VisitLookup = self.app[DNI].visit_for

    @property
    def addresses(self) -> dict[str, tuple[str, int]]:
        return self.lifecycle.addresses

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        services = self.services
        try:
            conn = db.connect(services.db_path, create=True)
            try:
                db.upgrade(conn)
            finally:
                conn.close()
            services.catalog.refresh()
        except (db.DatabaseError, sqlite3.Error) as exc:
            if not db.is_url(services.db_path):
                raise
            # The center is down: the phone still rings, from the catalog's saved copy, and
            # call records wait in the spool; the writer and the refresh reconnect by themselves.
            if isinstance(exc, db.SchemaError):  # the center answers, but not with this ctrack's schema
                log.error("%s: call records go to the spool until the schema is this ctrack's", exc)
            else:
                log.error("%s: starting without the center; call records go to the spool", exc)
            services.catalog.restore()
        await services.writer.start()
        self.lifecycle.spawn(services.catalog.keep_fresh(), "catalog")
        for start in self._components():
            await start()
        from ctrack.alerts.service import AlertSettings, run_daily_summary
        from ctrack.exports.outbox import OutboxSettings, run_outbox

        OutboxSettings.from_config(self.config)  # a half-set [ga4] or [webhooks] stops the start here
        AlertSettings.from_config(self.config)  # so does a half-set [alerts]
        self.lifecycle.spawn(run_outbox(self.services, self._stop), "outbox")
        self.lifecycle.spawn(run_daily_summary(self.services, self._stop), "daily-summary")
        self.lifecycle.spawn(self._watchdog(), "watchdog")
        self.lifecycle.spawn(purge_daily(services.writer.run, Retention.from_config(self.config)), "retention")
        # A web node has no recordings of its own: the PBX sites' daemons transcribe.
        if (
            self.config.transcription.enabled and not self.http_only
        ):  # faster-whisper is imported only in its worker processes
            from ctrack.transcription.service import run_transcription

            self.lifecycle.spawn(run_transcription(self.services, self._stop), "transcription")
        # What is loaded by now (modules, app, catalog) lives as long as the daemon: keep it
        # out of the cyclic GC, whose full collections would walk it all (~10-20 ms) while a
        # call waits for its route.
        gc.freeze()
        sd_notify("READY=1")
        log.info("ctrack serving: %s", ", ".join(f"{k} {h}:{p}" for k, (h, p) in self.addresses.items()))

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        await self._stop.wait()

    async def stop(self) -> None:
        sd_notify("STOPPING=1")
        log.info("ctrack stopping: draining")
        await self.lifecycle.drain()
        await self.services.writer.close()
        self.services.catalog.close()
        log.info("ctrack stopped; call log flushed")

    # -- components ---------------------------------------------------------------------

    def _components(self) -> list[Callable[[], Awaitable[None]]]:
        starts: list[Callable[[], Awaitable[None]]] = [self._start_http]
        if self.http_only:
            return starts
        if self.config.pbx.type == "asterisk":
            starts.insert(0, self._start_fastagi)
            if self.config.ami.enabled:
                starts.append(self._start_ami)
        else:
            starts.insert(0, self._start_freeswitch)
        return starts

    async def _start_fastagi(self) -> None:
        from ctrack.asterisk.fastagi import FastAgiServer
        from ctrack.route.fastagi import dispatcher

        host, port = self.config.fastagi.listen
        handler = dispatcher(self.services, self.visit_for)
        server = FastAgiServer(handler, host, port, client_timeout=self.config.fastagi.client_timeout)
        await server.start()
        self.lifecycle.listening("fastagi", (server.host, server.port))
        self.services.add_metric(
            "ctrack_fastagi_connections_total",
            "counter",
            "FastAGI connections accepted",
            lambda: server.stats.connections,
        )
        self.services.add_metric(
            "ctrack_fastagi_routed_total", "counter", "FastAGI requests answered", lambda: server.stats.routed
        )
        self.services.add_metric(
            "ctrack_fastagi_failed_total",
            "counter",
            "FastAGI requests that fell back to the business line",
            lambda: server.stats.failed,
        )
        self.services.add_metric(
            "ctrack_fastagi_probes_total",
            "counter",
            "FastAGI connections that sent a valid header and closed without reading (port checks)",
            lambda: server.stats.probes,
        )
        self.lifecycle.on_stop(lambda: server.close(DRAIN_SECONDS))

    async def _start_ami(self) -> None:
        from ctrack.asterisk.ami import AmiClient
        from ctrack.calllog.ami import AsteriskCallLog

        self.call_log = call_log = AsteriskCallLog(self.services)
        try:
            await call_log.restore()  # before the first event: a call still up gets its real Hangup
        except WriterUnavailable as exc:  # the center is down: the CDR backstop covers those calls
            log.warning("calls left open by the last run not restored: %s", exc)
        cfg = self.config
        ami = self.ami = AmiClient(
            cfg.ami.host,
            cfg.ami.port,
            cfg.ami.username,
            cfg.ami.secret,
            call_log.on_event,
            self._after_ami_connect,
            call_log.connection_lost,
            reconnect_max=cfg.ami.reconnect_max_seconds,
        )
        self.services.add_metric(
            "ctrack_ami_connected", "gauge", "1 while the AMI session is up", lambda: int(ami.ready.is_set())
        )
        self.services.add_metric("ctrack_ami_events_total", "counter", "AMI events received", lambda: ami.events)
        self.lifecycle.spawn(ami.run(), "ami")
        self.lifecycle.spawn(self._housekeeping(), "housekeeping")
        self.lifecycle.spawn(call_log.keep_persisted(ami.ready.is_set), "open-calls")
        self.lifecycle.on_stop(lambda: call_log.persist(connected=False))  # after ami.close
        self.lifecycle.on_stop(ami.close)

    async def _start_freeswitch(self) -> None:
        from ctrack.freeswitch.service import start_freeswitch

        await start_freeswitch(self.services, self.lifecycle, self.visit_for)

    async def _start_http(self) -> None:
        runner, site = await start_http(self.app, self.services, DRAIN_SECONDS)
        self.lifecycle.listening("http", site.address)
        self.lifecycle.on_stop(runner.cleanup)

    # -- background work ----------------------------------------------------------------

    async def _after_ami_connect(self) -> None:
        """After each (re)connect, calls that ended while AMI was down are in the CDR; the
        open calls Asterisk no longer lists ended unheard, and the CDR's row wins."""
        await self.reconcile(ended_before=time.time())
        if self.call_log is not None and self.ami is not None:
            await self.call_log.sweep(self.ami)

    async def reconcile(self, ended_before: float) -> None:
        settings = self.reconcile_settings
        path = settings.cdr_path
        if not path.is_file():
            return
        try:
            result = await asyncio.to_thread(
                settings.read,
                self.services.catalog.catalog,
                since=time.time() - RECONCILE_DAYS * DAY,
                ended_before=ended_before,
            )
            result.added = await self.services.writer.run(save_missing(result.records, self.services.call_rules))
        except Exception:
            log.exception("CDR reconcile failed")
            return
        if result.added:
            log.info("reconcile: %d calls recovered from %s", result.added, path)

    async def _housekeeping(self) -> None:
        interval = self.config.cdr.reconcile_interval
        next_reconcile = time.monotonic() + interval
        while True:
            await asyncio.sleep(min(60, interval))
            if self.call_log is not None:
                self.call_log.expire()
            if time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + interval
                # Calls in progress during a reconnect missed their Newchannel: the CDR has them.
                await self.reconcile(ended_before=time.time() - 60)

    async def _watchdog(self) -> None:
        """Ping systemd's watchdog from the event loop: a frozen loop gets the daemon restarted."""
        usec = os.environ.get("WATCHDOG_USEC")
        if not usec:
            return
        period = max(0.5, int(usec) / 1e6 / 3)
        while True:
            sd_notify("WATCHDOG=1")
            await asyncio.sleep(period)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when installed (it halves the CPU a FastAGI route costs), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def serve_forever(config: Config, db_path: db.Target, http_only: bool = False) -> int:
    """Run the daemon until SIGTERM/SIGINT; the exit status."""
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(run(config, db_path, http_only))


async def run(config: Config, db_path: db.Target, http_only: bool = False) -> int:
    daemon = Daemon(config, db_path, http_only)
    try:
        await daemon.start()
    except BaseException:
        await daemon.stop()
        raise
    await daemon.serve()
    await daemon.stop()
    return 0
