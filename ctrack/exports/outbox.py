"""The outbox sender: delivers each conversion to GA4 and the webhooks, each change of a
call's lead status, tags or value to the webhooks, and each alert by email and chat (their
fan-out and sending live in ctrack/alerts/service.py), at least once.

A trigger leaves a 'qualified' event in the outbox in the same transaction that saves a
qualified call or marks a call as a lead (migrations 0003, 0012); `store.call_updated`
leaves an 'updated' event in the transaction that changes a call. The sender fans each
event out into one row per target configured at that moment (GA4 when the call has a GA
client id; every webhook URL), then delivers due rows, retrying failures with exponential
backoff. A 'qualified' event whose call is no conversion by then (store.CONVERSION: spam,
not a lead) goes nowhere. Every state change goes through the store writer, so a restart
resumes where it stopped and nothing is lost while an endpoint is down. A delivery is
marked sent only after a 2xx answer; one sent twice (crash between answer and mark)
carries the same idempotency key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from ctrack import __version__
from ctrack.alerts import store as alert_store
from ctrack.alerts.rules import DELIVERY_KINDS as ALERT_DELIVERIES
from ctrack.alerts.rules import EVENT_KINDS as ALERT_EVENTS
from ctrack.alerts.service import AlertSender, AlertSettings
from ctrack.config import Config, ConfigError
from ctrack.exports import conversions as conv
from ctrack.exports.store import CONVERSION, TAGS, UPDATED, VALUE
from ctrack.services import Services

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
BATCH = 20
ACTIVE = "sent_at IS NULL AND gave_up_at IS NULL"


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    ga4_measurement_id: str
    ga4_api_secret: str
    ga4_endpoint: str
    ga4_event_name: str
    webhook_urls: tuple[str, ...]
    webhook_secret: str
    timeout: float
    value: float
    currency: str
    retry_first: float
    retry_max: float
    give_up_after: float

    @classmethod
    def from_config(cls, config: Config) -> OutboxSettings:
        settings = cls(
            config.ga4.measurement_id,
            config.ga4.api_secret,
            config.ga4.endpoint,
            config.ga4.event_name,
            config.webhooks.urls,
            config.webhooks.secret,
            float(config.webhooks.timeout_seconds),
            config.conversions.value,
            config.conversions.currency,
            float(config.outbox.retry_first_seconds),
            float(config.outbox.retry_max_seconds),
            config.outbox.give_up_hours * 3600.0,
        )
        if bool(settings.ga4_measurement_id) != bool(settings.ga4_api_secret):
            raise ConfigError("[ga4]: set both measurement_id and api_secret, or neither")
        if settings.webhook_urls and not settings.webhook_secret:
            raise ConfigError("[webhooks] urls: set [webhooks] secret too (deliveries are signed with it)")
        return settings

    @property
    def ga4(self) -> bool:
        return bool(self.ga4_measurement_id)


EVENT_KINDS = f"('qualified', '{UPDATED}')"
_EVENTS = f"""
SELECT o.id AS event_id, o.kind AS event_kind, o.target AS event_target, o.payload AS event_payload,
       c.id, c.uniqueid, c.site, c.tracking_number, c.caller_number, c.caller_name, c.source,
       c.channel, c.disposition, c.started_at, c.ring_seconds, c.talk_seconds, c.first_time,
       c.keyword, c.landing_page, c.gclid, c.visit_id, c.lead_status, {TAGS} AS tags, {VALUE} AS value,
       {CONVERSION} AS conversion, coalesce(c.ga_client_id, v.ga_client_id) AS client_id, o.created_at
FROM outbox o JOIN calls c ON c.id = o.call_id LEFT JOIN visits v ON v.id = c.visit_id
WHERE o.kind IN {EVENT_KINDS} AND o.sent_at IS NULL AND o.gave_up_at IS NULL
ORDER BY o.id LIMIT 200
"""
_NEW_EVENTS = f"SELECT 1 FROM outbox WHERE {ACTIVE} AND kind IN {EVENT_KINDS} LIMIT 1"
_ADD = """
INSERT INTO outbox(kind, call_id, target, payload)
SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = ? AND call_id = ? AND target = ?)
"""
_SENT = ", ".join(f"'{k}'" for k in ("ga4", "webhook", *ALERT_DELIVERIES))  # the kinds delivered here
_DUE = f"""
SELECT id, kind, target, payload, attempts, created_at FROM outbox
WHERE {ACTIVE} AND kind IN ({_SENT}) AND next_attempt <= ?
ORDER BY next_attempt, id LIMIT {BATCH}
"""
_NEXT = f"""SELECT min(next_attempt) FROM outbox WHERE {ACTIVE}
AND kind IN ('qualified', '{UPDATED}', {_SENT}, {", ".join(f"'{k}'" for k in ALERT_EVENTS)})"""


@dataclass(frozen=True, slots=True)
class Outcome:
    row_id: int
    sent: bool
    error: str | None = None
    give_up: bool = False


class OutboxSender:
    def __init__(self, services: Services, clock: Callable[[], float] = time.time):
        self.services = services
        self.settings = OutboxSettings.from_config(services.config)
        self.alerts = AlertSender(AlertSettings.from_config(services.config))
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None
        self.sent = 0
        self.failures = 0
        self.given_up = 0
        services.add_metric(
            "ctrack_outbox_sent_total", "counter", "Conversions delivered (GA4, webhooks)", lambda: self.sent
        )
        services.add_metric(
            "ctrack_outbox_failures_total", "counter", "Failed delivery attempts (retried)", lambda: self.failures
        )
        services.add_metric(
            "ctrack_outbox_given_up_total",
            "counter",
            "Deliveries abandoned (expired or unconfigured)",
            lambda: self.given_up,
        )

    # -- one cycle ------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Fan out new events, deliver what is due, record the outcomes; returns deliveries tried."""
        now = self.clock()
        if await asyncio.to_thread(self._read, _NEW_EVENTS, ()):
            self._gave_up(await self.services.writer.run(lambda conn: self._fan_out(conn, now)))
        if await asyncio.to_thread(self._read, alert_store.NEW_EVENTS, ()):
            await self.services.writer.run(lambda conn: self.alerts.fan_out(conn, now))
        due = await asyncio.to_thread(self._read, _DUE, (now,))
        if not due:
            return 0
        outcomes = await asyncio.gather(*(self._deliver(dict(row), now) for row in due))
        retries, gave_up = await self.services.writer.run(lambda conn: self._record(conn, outcomes, now))
        # counted and logged once committed: the writer may run a job again before that
        self._gave_up(gave_up)
        self.sent += sum(o.sent for o in outcomes)
        self.failures += len(retries)
        for row_id, attempts, error, delay in retries:
            log.info("outbox %d: attempt %d failed (%s); next in %.0f s", row_id, attempts, error, delay)
        return len(outcomes)

    def _fan_out(self, conn: sqlite3.Connection, now: float) -> list[tuple[int, str]]:
        """New events into one row per target; the events given up (row, reason)."""
        s = self.settings
        gave_up = []
        events = [dict(row) for row in conn.execute(_EVENTS)]
        for call in events:
            if call["event_kind"] == "qualified" and not call["conversion"]:
                gave_up.append(_give_up(conn, call["event_id"], now, "the call is no conversion (spam, not a lead)"))
                continue
            if now - call["created_at"] > s.give_up_after:
                gave_up.append(
                    _give_up(conn, call["event_id"], now, "older than [outbox] give_up_hours when first seen")
                )
                continue
            targets = self._targets(call) if call["event_kind"] == "qualified" else self._update_targets(call)
            for kind, target, body in targets:
                conn.execute(_ADD, (kind, call["id"], target, conv.encode(body), kind, call["id"], target))
            conn.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (now, call["event_id"]))
        return gave_up

    def _targets(self, call: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """A conversion goes to GA4 (when the call has a GA client id) and every webhook."""
        s = self.settings
        targets = []
        if s.ga4 and call["client_id"]:
            targets.append(
                (
                    "ga4",
                    s.ga4_measurement_id,
                    conv.ga4_body(call, call["client_id"], s.ga4_event_name, s.value, s.currency),
                )
            )
        targets += [("webhook", url, conv.webhook_body(call, s.value, s.currency)) for url in s.webhook_urls]
        return targets

    def _update_targets(self, call: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """A change of lead status, tags or value goes to every webhook, one row per update."""
        s, update = self.settings, int(call["event_target"])
        changes = json.loads(call["event_payload"])["changes"]
        body = conv.updated_body(call, update, changes, call["created_at"], s.value, s.currency)
        return [("webhook", conv.update_target(url, update), body) for url in s.webhook_urls]

    def _gave_up(self, rows: list[tuple[int, str]]) -> None:
        self.given_up += len(rows)
        for row_id, reason in rows:
            log.warning("outbox %d: not delivered: %s", row_id, reason)

    def _read(self, sql: str, params: tuple) -> list[Any]:
        conn = self.services.read_connection()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    async def _deliver(self, row: dict[str, Any], now: float) -> Outcome:
        s, row_id, body = self.settings, row["id"], row["payload"].encode()
        if row["kind"] in ALERT_DELIVERIES:
            if now - row["created_at"] > s.give_up_after:
                return Outcome(row_id, False, "gave up after [outbox] give_up_hours of retries", give_up=True)
            return Outcome(row_id, *await self.alerts.deliver(row, self._http()))
        if row["kind"] == "ga4":
            if row["target"] != s.ga4_measurement_id:
                return Outcome(row_id, False, "GA4 measurement id no longer configured", give_up=True)
            event_micros = int(json.loads(body)["timestamp_micros"])
            if now - event_micros / 1e6 > conv.GA4_MAX_AGE - 300:
                return Outcome(row_id, False, "older than the 72 hours GA4 accepts", give_up=True)
            url = f"{s.ga4_endpoint}?{urlencode({'measurement_id': s.ga4_measurement_id, 'api_secret': s.ga4_api_secret})}"
            headers = {"Content-Type": "application/json"}
        else:
            url = conv.webhook_url(row["target"])
            if url not in s.webhook_urls:
                return Outcome(row_id, False, "webhook URL no longer configured", give_up=True)
            stamp = int(now)
            headers = {
                "Content-Type": "application/json",
                "X-Ctrack-Event": json.loads(body)["event"],
                "X-Ctrack-Timestamp": str(stamp),
                "X-Ctrack-Signature": conv.sign(s.webhook_secret, stamp, body),
                "Idempotency-Key": json.loads(body)["id"],
            }
        if now - row["created_at"] > s.give_up_after:
            return Outcome(row_id, False, "gave up after [outbox] give_up_hours of retries", give_up=True)
        try:
            async with self._http().post(url, data=body, headers=headers) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return Outcome(row_id, True)
                return Outcome(row_id, False, f"HTTP {resp.status}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Outcome(row_id, False, f"{type(exc).__name__}: {exc}"[:300])

    def _record(
        self, conn: sqlite3.Connection, outcomes: list[Outcome], now: float
    ) -> tuple[list[tuple[int, int, str | None, float]], list[tuple[int, str]]]:
        """Each delivery's outcome into its row; the failed ones to retry (row, attempt, error,
        delay) and the ones given up (row, reason)."""
        s = self.settings
        retries, gave_up = [], []
        for o in outcomes:
            if o.sent:
                conn.execute(
                    "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
                    (now, o.row_id),
                )
            elif o.give_up:
                gave_up.append(_give_up(conn, o.row_id, now, o.error or "gave up"))
            else:
                attempts = conn.execute("SELECT attempts FROM outbox WHERE id = ?", (o.row_id,)).fetchone()[0] + 1
                delay = conv.backoff(attempts, s.retry_first, s.retry_max)
                conn.execute(
                    "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?",
                    (attempts, now + delay, o.error, o.row_id),
                )
                retries.append((o.row_id, attempts, o.error, delay))
        return retries, gave_up

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                headers={"User-Agent": f"ctrack/{__version__}"},
            )
        return self._session

    # -- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; sleeps until the next row is due (at most a second,
        so new qualified calls go out promptly)."""
        while not stop.is_set():
            try:
                await self.run_once()
                next_due = (await asyncio.to_thread(self._read, _NEXT, ()))[0][0]
                wait = POLL_SECONDS if next_due is None else min(POLL_SECONDS, max(0.0, next_due - self.clock()))
            except Exception:
                log.exception("outbox cycle failed; retrying")
                wait = POLL_SECONDS
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


DELIVERY_COLUMNS = ("id", "kind", "call", "target", "state", "attempts", "next_attempt", "last_error")


def list_deliveries(conn: sqlite3.Connection, include_sent: bool, limit: int) -> list[dict[str, Any]]:
    """GA4, webhook and alert deliveries, newest first: retrying or given up (and sent, if asked)."""
    where = f"o.kind IN ({_SENT})" + ("" if include_sent else " AND o.sent_at IS NULL")
    return [
        dict(r)
        for r in conn.execute(
            f"""
        SELECT o.id, o.kind, c.uniqueid AS call, o.target,
               CASE WHEN o.sent_at IS NOT NULL THEN 'sent' WHEN o.gave_up_at IS NOT NULL THEN 'gave up'
                    ELSE 'retrying' END AS state,
               o.attempts, o.next_attempt, o.last_error
        FROM outbox o LEFT JOIN calls c ON c.id = o.call_id WHERE {where} ORDER BY o.id DESC LIMIT ?""",
            (limit,),
        )
    ]


async def run_outbox(services: Services, stop: asyncio.Event) -> None:
    """The daemon's outbox task: runs until `stop` is set, then closes its HTTP session."""
    sender = OutboxSender(services)
    try:
        await sender.run(stop)
    finally:
        await sender.close()


def _give_up(conn: sqlite3.Connection, row_id: int, now: float, reason: str) -> tuple[int, str]:
    conn.execute("UPDATE outbox SET gave_up_at = ?, last_error = ? WHERE id = ?", (now, reason, row_id))
    return row_id, reason
