"""Alerts: writer-job steps that leave alert events in the outbox, and the sender side that
fans them out into email and chat deliveries and delivers them.

`on_call_saved` runs in the call's own save transaction (ctrack/calllog/service.py), after
the spam and lead steps; `on_lead` runs wherever a call becomes a lead. Both only queue an
event (no settings needed, so the CLI can call them too); the daemon's outbox sender
decides with the current [alerts] settings whether and where it goes, so a restart or an
unreachable mail server loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import sqlite3
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time as time_of_day
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, NamedTuple

import aiohttp

from ctrack.alerts import store
from ctrack.alerts.rules import (
    CHAT,
    EMAIL,
    LEAD,
    MISSED,
    SUMMARY,
    Message,
    chat_body,
    day_bounds,
    lead_message,
    missed_message,
    summary_day,
    summary_message,
    within_limit,
)
from ctrack.config import Config, ConfigError
from ctrack.core.hours import Hours

if TYPE_CHECKING:
    from ctrack.services import Services

log = logging.getLogger(__name__)
HOUR = 3600.0
SCHEDULE_SECONDS = 30.0


# --- the writer-job steps -------------------------------------------------------------------


def on_call_saved(conn: sqlite3.Connection, call_id: int) -> None:
    """After a call is saved (spam and lead rules done): a missed or abandoned call from a
    first-time caller, or a call the rules made a lead, leaves an alert event."""
    call = store.alert_call(conn, call_id)
    if call is None or call["lead_status"] == "spam":
        return
    if call["first_time"] and store.is_missed(call["disposition"]):
        store.queue_event(conn, MISSED, call_id)
    if call["lead_status"] == "lead":
        on_lead(conn, call_id)


def on_lead(conn: sqlite3.Connection, call_id: int) -> None:
    """A call's lead_status became 'lead' (a rule or a person): one new-lead alert per call."""
    store.queue_event(conn, LEAD, call_id)


def queue_summary(day: str) -> Callable[[sqlite3.Connection], bool]:
    """Write job: the daily summary of a local day (yyyy-mm-dd), once."""
    return lambda conn: store.queue_event(conn, SUMMARY, None, day)


# --- the sender ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertSettings:
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_ca_file: str = ""
    smtp_user: str = ""
    smtp_password: str = ""
    email_from: str = "ctrack@localhost"
    email_to: tuple[str, ...] = ()
    chat_url: str = ""
    missed_calls: bool = True
    missed_hours: Hours = field(default_factory=Hours)
    new_leads: bool = True
    daily_summary: bool = True
    summary_time: time_of_day = time_of_day(8, 0)
    max_per_hour: int = 20
    timeout: float = 15.0
    timezone: str = "UTC"
    currency: str = "USD"

    @classmethod
    def from_config(cls, config: Config) -> AlertSettings:
        a = config.alerts
        if a.smtp_host and not a.email_to:
            raise ConfigError("[alerts] smtp_host: set [alerts] email_to too (who gets the alerts)")
        if a.email_to and not a.smtp_host:
            raise ConfigError("[alerts] email_to: set [alerts] smtp_host too (the mail server to send through)")
        if bool(a.smtp_user) != bool(a.smtp_password):
            raise ConfigError("[alerts]: set both smtp_user and smtp_password, or neither")
        return cls(
            a.smtp_host,
            a.smtp_port,
            a.smtp_starttls,
            a.smtp_ca_file,
            a.smtp_user,
            a.smtp_password,
            a.email_from,
            a.email_to,
            a.chat_webhook_url,
            a.missed_calls,
            a.missed_hours,
            a.new_leads,
            a.daily_summary,
            a.summary_time,
            a.max_per_hour,
            float(a.timeout_seconds),
            config.ctrack.timezone,
            config.conversions.currency,
        )

    @property
    def email(self) -> bool:
        return bool(self.smtp_host and self.email_to)

    @property
    def chat(self) -> bool:
        return bool(self.chat_url)


class Delivery(NamedTuple):
    sent: bool
    error: str | None = None
    give_up: bool = False


class AlertSender:
    """The outbox sender's alert half (ctrack/exports/outbox.py calls it)."""

    def __init__(self, settings: AlertSettings):
        self.settings = settings

    def fan_out(self, conn: sqlite3.Connection, now: float) -> None:
        """Writer job: each pending alert event becomes one email and one chat delivery (those
        configured), or is set aside with the reason why not."""
        for event in store.pending_events(conn):
            message, why_not = self._message(conn, event, now)
            if message is None:
                conn.execute(
                    "UPDATE outbox SET gave_up_at = ?, last_error = ? WHERE id = ?", (now, why_not, event["id"])
                )
                log.info("alert %d (%s) not sent: %s", event["id"], event["kind"], why_not)
                continue
            label = event["kind"].removeprefix("alert_") + (f" {event['target']}" if event["target"] else "")
            if self.settings.email:
                payload = json.dumps({"subject": message.subject, "text": message.text})
                store.add_delivery(
                    conn, EMAIL, event["call_id"], f"{label} {', '.join(self.settings.email_to)}", payload
                )
            if self.settings.chat:
                payload = json.dumps(chat_body(message))
                store.add_delivery(conn, CHAT, event["call_id"], f"{label} {self.settings.chat_url}", payload)
            conn.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (now, event["id"]))

    def _message(self, conn: sqlite3.Connection, event: dict[str, Any], now: float) -> tuple[Message | None, str]:
        s = self.settings
        if not (s.email or s.chat):
            return None, "no [alerts] email or chat configured"
        if event["kind"] == SUMMARY:
            if not s.daily_summary:
                return None, "[alerts] daily_summary = no"
            since, until = day_bounds(event["target"], s.timezone)
            return summary_message(event["target"], store.summary_rows(conn, since, until)), ""
        call = store.alert_call(conn, event["call_id"]) if event["call_id"] is not None else None
        if call is None:
            return None, "the call is gone"
        if call["lead_status"] == "spam":
            return None, "the call is spam"
        if event["kind"] == MISSED:
            if not s.missed_calls:
                return None, "[alerts] missed_calls = no"
            if s.missed_hours.is_set and not s.missed_hours.open_at_time(call["started_at"], s.timezone):
                return None, "outside [alerts] missed_hours"
            message = missed_message(call, s.timezone)
        else:
            if not s.new_leads:
                return None, "[alerts] new_leads = no"
            if call["lead_status"] != "lead":
                return None, "no longer a lead"
            message = lead_message(call, s.timezone, s.currency)
        if not within_limit(store.call_alerts_since(conn, now - HOUR), s.max_per_hour):
            return None, f"rate limited ([alerts] max_per_hour = {s.max_per_hour})"
        return message, ""

    async def deliver(self, row: dict[str, Any], http: aiohttp.ClientSession) -> Delivery:
        """Send one email or chat delivery; a failure is retried by the outbox."""
        payload = json.loads(row["payload"])
        if row["kind"] == EMAIL:
            if not self.settings.email:
                return Delivery(False, "[alerts] email no longer configured", give_up=True)
            try:
                await asyncio.to_thread(self.send_email, payload["subject"], payload["text"], row["id"])
            except (smtplib.SMTPException, OSError) as exc:
                return Delivery(False, f"{type(exc).__name__}: {exc}"[:300])
            return Delivery(True)
        url = row["target"].rpartition(" ")[2]
        if url != self.settings.chat_url:
            return Delivery(False, "[alerts] chat_webhook_url no longer configured", give_up=True)
        try:
            async with http.post(url, json=payload, timeout=aiohttp.ClientTimeout(total=self.settings.timeout)) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return Delivery(True)
                return Delivery(False, f"HTTP {resp.status}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Delivery(False, f"{type(exc).__name__}: {exc}"[:300])

    def send_email(self, subject: str, text: str, row_id: int) -> None:
        """One message over SMTP (STARTTLS and login as configured); raises on any refusal."""
        s = self.settings
        msg = EmailMessage()
        msg["From"] = s.email_from
        msg["To"] = ", ".join(s.email_to)
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        # The same id on a retry after a lost answer: mail clients show a duplicate once.
        msg["Message-ID"] = f"<ctrack-alert-{row_id}@{s.email_from.rpartition('@')[2] or 'ctrack'}>"
        msg.set_content(text)
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout) as smtp:
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=s.smtp_ca_file or None))
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(msg)


# --- the daily summary's schedule ---------------------------------------------------------


async def run_daily_summary(services: Services, stop: asyncio.Event, clock: Callable[[], float] = time.time) -> None:
    """The daemon's task: once a day at [alerts] summary_time, queue the previous day's summary."""
    settings = AlertSettings.from_config(services.config)
    while not stop.is_set():
        day = summary_day(clock(), settings.timezone, settings.summary_time)
        if day is not None and settings.daily_summary and (settings.email or settings.chat):
            try:
                if await services.writer.run(queue_summary(day)):
                    log.info("daily summary of %s queued", day)
            except Exception:
                log.exception("queueing the daily summary failed; retrying")
        try:
            await asyncio.wait_for(stop.wait(), timeout=SCHEDULE_SECONDS)
        except TimeoutError:
            pass
