"""AMI events → call records → the store: the Asterisk side of the call log.

The calls in progress are kept in the database too (open_calls, migration 0016), written
through the writer at most every PERSIST_SECONDS while they change, so a ctrack restart
(even SIGKILL) loses none: restore() loads them before AMI connects, a call still up is
followed to its real Hangup, and sweep() closes the ones Asterisk no longer lists.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ctrack.asterisk.ami import AmiActionError, AmiClient
from ctrack.asterisk.ami_protocol import AmiMessage
from ctrack.calllog.asterisk_events import CallTracker
from ctrack.calllog.service import log_call
from ctrack.calllog.store import load_open_calls, save_open_calls
from ctrack.core import variables
from ctrack.core.model import CallRecord
from ctrack.services import Services

log = logging.getLogger(__name__)

CTRACK_OFFLINE = "ctrack_offline"  # calls.ended_by: the call ended while ctrack was not listening
PERSIST_SECONDS = 0.5  # how stale the open_calls rows may be when ctrack is killed
SEEN_SECONDS = 2.0  # how often open_calls.seen_at is renewed while AMI is up
SWEEP_GRACE_SECONDS = 2.0  # a Hangup already on its way when Asterisk listed its channels


class AsteriskCallLog:
    def __init__(self, services: Services):
        self.services = services
        self.tracker = CallTracker(
            inbound_contexts=variables.INBOUND_CONTEXTS, default_region=services.config.ctrack.default_region
        )
        self.logged = 0
        self.expired = 0
        # Whether Asterisk stamps its events (manager.conf timestampevents), as the last
        # Hangup showed: -1 until a call has ended, then 1 or 0 (`ctrack doctor` reports it).
        self.event_timestamps = -1
        self._persisted: set[str] = set()  # Linkedids with an open_calls row
        self._seen: dict[str, float] = {}  # Linkedid -> when last known up, for calls whose end was missed
        self._unconfirmed: set[str] = set()  # restored calls Asterisk has not listed since
        services.add_metric(
            "ctrack_ami_calls_in_progress", "gauge", "Calls the AMI listener is following", lambda: len(self.tracker)
        )
        services.add_metric("ctrack_ami_calls_logged_total", "counter", "Calls logged from AMI", lambda: self.logged)
        services.add_metric(
            "ctrack_ami_event_timestamps",
            "gauge",
            "1 when Asterisk's events carry a Timestamp (timestampevents = yes), 0 when not, -1 before the first hangup",
            lambda: self.event_timestamps,
        )

    def on_event(self, event: AmiMessage) -> None:
        if event.get("Event") == "Hangup":
            self.event_timestamps = int("Timestamp" in event)
        for record in self.tracker.process(event):
            self.complete(record)

    def complete(self, record: CallRecord, missing_only: bool = False) -> None:
        future = log_call(self.services, record, "ami", self.services.config.recording_directory, missing_only)
        future.add_done_callback(self._saved)

    def _saved(self, future: asyncio.Future[bool]) -> None:
        if future.cancelled() or future.exception() is not None:
            return  # the writer logged it; the CDR reconcile will recover the call
        self.logged += 1

    def connection_lost(self, at: float) -> None:
        """The AMI link dropped: if Asterisk comes back as a new process, its calls ended then."""
        self.tracker.connection_lost(at)
        for linkedid in self.tracker.open_inbound():
            if linkedid not in self._unconfirmed:
                self._seen[linkedid] = at

    # -- the calls in progress, across a ctrack restart ------------------------------------

    async def restore(self) -> int:
        """Load the calls a previous ctrack process left open; before AMI connects."""
        rows = await self.services.writer.run(load_open_calls(self.services.call_rules.site))
        self.tracker.restore(state for state, _ in rows)
        self._persisted = {state["linkedid"] for state, _ in rows}
        self._seen = {state["linkedid"]: seen_at for state, seen_at in rows}
        self._unconfirmed = set(self._persisted)
        if rows:
            log.info("%d call(s) in progress when ctrack last stopped; checking them with Asterisk", len(rows))
        return len(rows)

    async def persist(self, connected: bool, renew_seen: bool = False) -> None:
        """Write the open calls that changed and drop the ones that ended."""
        tracker = self.tracker
        open_calls = tracker.open_inbound()
        touched = tracker.take_touched()
        changed = [lid for lid in open_calls if lid in touched or lid not in self._persisted]
        gone = [lid for lid in self._persisted if lid not in open_calls]
        renew_seen = renew_seen and connected and not self._unconfirmed and bool(open_calls)
        if not changed and not gone and not renew_seen:
            return
        states = [state for lid in changed if (state := tracker.state(lid)) is not None]
        for lid in gone:
            self._seen.pop(lid, None)
            self._unconfirmed.discard(lid)
        self._persisted.difference_update(gone)
        self._persisted.update(s["linkedid"] for s in states)
        site = self.services.call_rules.site
        await self.services.writer.run(save_open_calls(site, states, gone, time.time(), renew_seen))

    async def keep_persisted(self, connected: Callable[[], bool]) -> None:
        """Background task: persist() every PERSIST_SECONDS, renewing seen_at every SEEN_SECONDS."""
        renew_at = 0.0
        while True:
            await asyncio.sleep(PERSIST_SECONDS)
            renew = time.monotonic() >= renew_at
            if renew:
                renew_at = time.monotonic() + SEEN_SECONDS
            try:
                await self.persist(connected(), renew)
            except Exception:
                log.exception("open calls could not be persisted")

    async def sweep(self, ami: AmiClient) -> int:
        """After an AMI login and the CDR reconcile: close every call ctrack has open whose
        inbound channel Asterisk no longer lists (it ended while ctrack was not listening);
        saved only when the CDR did not supply it. How many were closed."""
        candidates = self.tracker.open_inbound()
        if not candidates:
            self._unconfirmed.clear()
            return 0
        try:
            channels = await ami.action_list("CoreShowChannels")
        except AmiActionError as exc:
            log.warning(
                "cannot check %d open call(s) with Asterisk (%s): give the manager user "
                "'write = reporting' (`ctrack dialplan render --manager`)",
                len(candidates),
                exc,
            )
            return 0
        except (ConnectionError, TimeoutError) as exc:
            log.warning("cannot check open calls with Asterisk: %s", exc)
            return 0
        listed = {uid for channel in channels if (uid := channel.get("Uniqueid"))}
        await asyncio.sleep(SWEEP_GRACE_SECONDS)  # a Hangup Asterisk sent before its list arrives first
        records = self.tracker.close_unlisted(listed, candidates, self._seen, CTRACK_OFFLINE)
        self._unconfirmed.clear()
        for record in records:
            log.warning("call %s ended while ctrack was not listening; closed with what was known", record.uniqueid)
            self.complete(record, missing_only=True)
        return len(records)

    def expire(self) -> None:
        """Drop calls whose Hangup never came; the CDR reconcile logs them with the PBX's truth."""
        for record in self.tracker.expire():
            self.expired += 1
            log.warning("call %s had no Hangup event; left to the CDR reconcile", record.uniqueid)
