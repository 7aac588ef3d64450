"""AMI events → call records → the store: the Asterisk side of the call log."""

from __future__ import annotations

import asyncio
import logging

from ctrack.asterisk.ami_protocol import AmiMessage
from ctrack.calllog.asterisk_events import CallTracker
from ctrack.calllog.service import log_call
from ctrack.core import variables
from ctrack.core.model import CallRecord
from ctrack.services import Services

log = logging.getLogger(__name__)


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

    def complete(self, record: CallRecord) -> None:
        future = log_call(self.services, record, "ami", self.services.config.recording_directory)
        future.add_done_callback(self._saved)

    def _saved(self, future: asyncio.Future[bool]) -> None:
        if future.cancelled() or future.exception() is not None:
            return  # the writer logged it; the CDR reconcile will recover the call
        self.logged += 1

    def connection_lost(self, at: float) -> None:
        """The AMI link dropped: if Asterisk comes back as a new process, its calls ended then."""
        self.tracker.connection_lost(at)

    def expire(self) -> None:
        """Drop calls whose Hangup never came; the CDR reconcile logs them with the PBX's truth."""
        for record in self.tracker.expire():
            self.expired += 1
            log.warning("call %s had no Hangup event; left to the CDR reconcile", record.uniqueid)
