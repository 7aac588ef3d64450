"""The call log over inbound ESL: ctrack connects to mod_event_socket and listens.

The listener authenticates, subscribes to the events the call state reads (plus HEARTBEAT,
FreeSWITCH's 20-second tick, which proves the link alive and drives expiry), and hands each
completed call to `save(record, origin)`. When the link drops it reconnects with exponential
backoff; calls that ended while it was away are read back from mod_cdr_csv's file and saved
with origin 'cdr' (the store keeps a live record over a recovered one, never two).

check() is the doctor: one connection that says in one line what is wrong.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ctrack.calllog import freeswitch_cdr as cdr_csv
from ctrack.calllog.freeswitch_events import EVENTS, CallState
from ctrack.core.model import CallRecord
from ctrack.freeswitch import esl_protocol as esl
from ctrack.freeswitch.acl import refused_fix
from ctrack.freeswitch.connection import EslClosed, EslConnection

if TYPE_CHECKING:
    from ctrack.config import Config

log = logging.getLogger(__name__)

SUBSCRIBE = EVENTS + ("HEARTBEAT",)
REQUIRED_MODULES = ("mod_dptools", "mod_sofia", "mod_sndfile", "mod_commands")
TESTED_VERSION = "1.10.12"
RECOVERY_MARGIN = 120.0  # seconds re-read before the disconnect: the store ignores repeats

Save = Callable[[CallRecord, str], Awaitable[None]]


class EslAuthError(ConnectionError):
    """FreeSWITCH refused the password or the address; retrying will not help until fixed."""


def read_cdr_file(path: str | Path, since: float | None, default_region: str | None = "US") -> cdr_csv.CdrScan:
    """The tracked calls in a mod_cdr_csv file that ended at or after `since` (blocking I/O)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return cdr_csv.scan(fh, since, default_region)


async def _login(conn: EslConnection, password: str, timeout: float) -> None:
    greeting = await asyncio.wait_for(conn.frame(), timeout)
    if greeting.content_type == "text/rude-rejection":
        raise EslAuthError(refused_fix(conn.local_address()))
    if greeting.content_type != "auth/request":
        raise esl.EslProtocolError(f"expected auth/request, got {greeting.content_type or 'no Content-Type'}")
    reply = await asyncio.wait_for(conn.request(esl.auth(password)), timeout)
    if not reply.ok:
        raise EslAuthError(
            "wrong password: [freeswitch] esl_password differs from the password in event_socket.conf.xml"
        )


class InboundListener:
    """Connects to FreeSWITCH, turns its events into call records, never gives up."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        save: Save,
        *,
        cdr_csv_path: str | Path | None = None,
        recover_since: float | None = None,
        default_region: str | None = "US",
        reconnect_max: float = 30.0,
        reconnect_min: float = 0.5,
        timeout: float = 5.0,
        idle_timeout: float = 60.0,
    ) -> None:
        self.host, self.port, self.password = host, port, password
        self.save = save
        self.cdr_csv_path = cdr_csv_path
        self.default_region = default_region
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.timeout = timeout
        self.idle_timeout = idle_timeout  # FreeSWITCH sends HEARTBEAT every 20 s
        self.state = CallState(default_region)
        self.connected = False
        self.last_error: str | None = None
        self._recover_since = recover_since
        self._last_event_at: float | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self._conn: EslConnection | None = None

    @classmethod
    def from_config(cls, config: Config, save: Save, recover_since: float | None = None) -> InboundListener:
        """The listener the [freeswitch] settings describe; recover_since: the CDR window at start."""
        return cls(
            config.freeswitch.esl_host,
            config.freeswitch.esl_port,
            config.freeswitch.esl_password,
            save,
            cdr_csv_path=config.freeswitch.cdr_csv or None,
            recover_since=recover_since,
            default_region=config.ctrack.default_region,
            reconnect_max=float(config.freeswitch.reconnect_max_seconds),
        )

    async def run(self) -> None:
        """Listen until close(); every failure becomes a logged reconnect."""
        delay = self.reconnect_min
        while not self._closing:
            try:
                await self._session()
            except (TimeoutError, OSError, EOFError, esl.EslProtocolError) as exc:
                reason = _describe(exc, self.host, self.port)
                if reason != self.last_error:
                    log.warning("FreeSWITCH event socket: %s", reason)
                self.last_error = reason
            finally:
                if self.connected:
                    self.connected = False
                    delay = self.reconnect_min
                    if self._recover_since is None:  # FreeSWITCH's clock, as in its CDR
                        self._recover_since = (self._last_event_at or time.time()) - RECOVERY_MARGIN
            if self._closing:
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, self.reconnect_max)

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._conn is not None:
            await self._conn.aclose()

    async def _session(self) -> None:
        conn = self._conn = await EslConnection.open(self.host, self.port, self.timeout)
        try:
            await _login(conn, self.password, self.timeout)
            reply = await asyncio.wait_for(
                conn.request(esl.command("event plain " + " ".join(SUBSCRIBE))), self.timeout
            )
            if not reply.ok:
                raise esl.EslProtocolError(f"event subscription refused: {reply.reply_text}")
            self.connected = True
            self.last_error = None
            log.info("FreeSWITCH event socket %s:%s: listening", self.host, self.port)
            await self._recover()
            while not self._closing:
                try:
                    frame = await asyncio.wait_for(conn.frame(), self.idle_timeout)
                except TimeoutError:
                    raise EslClosed(f"nothing heard for {self.idle_timeout:g} s, not even HEARTBEAT") from None
                if frame.content_type == "text/event-plain":
                    await self._event(esl.parse_event(frame.body).headers)
                elif frame.content_type == "text/disconnect-notice":
                    raise EslClosed("FreeSWITCH closed the event socket")
        finally:
            self._conn = None
            await conn.aclose()

    async def _event(self, event: dict[str, str]) -> None:
        stamp = event.get("Event-Date-Timestamp", "")
        if stamp.isdigit():
            self._last_event_at = int(stamp) / 1e6
        if event.get("Event-Name") == "HEARTBEAT":
            expired = self.state.expire(self._last_event_at or time.time())
            if expired:
                await self._give_up(expired)
            return
        record = self.state.feed(event)
        if record is not None:
            await self._save(record, "esl")

    async def _save(self, record: CallRecord, origin: str) -> None:
        try:
            await self.save(record, origin)
        except Exception:  # a store failure must not stop the listener
            log.exception("call %s: could not be saved", record.uniqueid)

    async def _recover(self) -> None:
        """Save the calls mod_cdr_csv logged while the listener was away."""
        since, self._recover_since = self._recover_since, None
        if since is not None:
            await self._from_cdr(since)

    async def _from_cdr(self, since: float) -> set[str]:
        """Save the CDR's tracked calls that ended since `since`; their uniqueids."""
        if not self.cdr_csv_path:
            return set()
        try:
            found = await asyncio.to_thread(read_cdr_file, self.cdr_csv_path, since, self.default_region)
        except OSError as exc:
            log.warning("CDR backstop %s: %s", self.cdr_csv_path, exc.strerror or exc)
            return set()
        if found.skipped:
            log.warning(
                "CDR backstop %s: %d lines are not ctrack's template (see docs/freeswitch.md)",
                self.cdr_csv_path,
                found.skipped,
            )
        for record in found.records:
            await self._save(record, "cdr")
        return {r.uniqueid for r in found.records}

    async def _give_up(self, expired: list[CallRecord]) -> None:
        """Calls whose hangup never came: the CDR's rows if it has them, else what is known."""
        in_cdr = await self._from_cdr(min(r.started_at or 0.0 for r in expired))
        for record in expired:
            if record.uniqueid not in in_cdr:
                log.warning("call %s: no hangup seen; logged as far as it is known", record.uniqueid)
                await self._save(record, "esl")


def _describe(exc: BaseException, host: str, port: int) -> str:
    where = f"{host}:{port}"
    if isinstance(exc, EslAuthError):
        return str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where} (is mod_event_socket loaded, on this listen-ip and listen-port?)"
    if isinstance(exc, asyncio.TimeoutError):
        return f"no answer from {where} in time"
    if isinstance(exc, esl.EslProtocolError):
        return f"{where} does not speak the event socket protocol ({exc})"
    if isinstance(exc, EslClosed):
        return f"{where}: {exc}"
    return f"{where}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str  # one line for the admin


async def check(host: str, port: int, password: str, timeout: float = 3.0) -> CheckResult:
    """Connect once as the listener would and say in one line what works or what is wrong."""
    try:
        conn = await EslConnection.open(host, port, timeout)
    except (TimeoutError, OSError) as exc:
        return CheckResult(False, _describe(exc, host, port))
    try:
        await _login(conn, password, timeout)
        version = await asyncio.wait_for(conn.request(esl.api("version")), timeout)
        if not version.reply_text.startswith("FreeSWITCH"):
            return CheckResult(False, f"mod_commands is not loaded ({version.reply_text})")
        missing = []
        for module in REQUIRED_MODULES:
            answer = await asyncio.wait_for(conn.request(esl.api("module_exists " + module)), timeout)
            if answer.reply_text != "true":
                missing.append(module)
        if missing:
            return CheckResult(False, "FreeSWITCH lacks " + ", ".join(missing) + " (load them in modules.conf.xml)")
        events = await asyncio.wait_for(conn.request(esl.command("event plain " + " ".join(SUBSCRIBE))), timeout)
        if not events.ok:
            return CheckResult(False, f"event subscription refused: {events.reply_text}")
        text = version.reply_text.split("(")[0].strip()
        note = "" if TESTED_VERSION in text else f" (ctrack is tested with {TESTED_VERSION})"
        return CheckResult(True, f"{text} at {host}:{port}: password accepted, modules loaded, events on{note}")
    except (TimeoutError, OSError, EOFError, esl.EslProtocolError) as exc:
        return CheckResult(False, _describe(exc, host, port))
    finally:
        await conn.aclose()
