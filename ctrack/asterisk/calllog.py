"""AMI events → call records → the store: the Asterisk side of the call log."""

from __future__ import annotations

import logging

from ctrack.asterisk.ami_protocol import AmiMessage
from ctrack.core.callstate import CallTracker
from ctrack.core.model import CallRecord
from ctrack.recordings import usable_recording
from ctrack.services import Services
from ctrack.store.calls import save_call

log = logging.getLogger(__name__)
INBOUND_CONTEXTS = ("ctrack-inbound", "ctrack-call")


class AsteriskCallLog:
    def __init__(self, services: Services):
        self.services = services
        self.tracker = CallTracker(inbound_contexts=INBOUND_CONTEXTS,
                                   default_region=services.config.get("ctrack.default_region"))
        self.logged = 0
        self.expired = 0
        services.add_metric("ctrack_ami_calls_in_progress", "gauge", "Calls the AMI listener is following",
                            lambda: len(self.tracker))
        services.add_metric("ctrack_ami_calls_logged_total", "counter", "Calls logged from AMI",
                            lambda: self.logged)

    def on_event(self, event: AmiMessage) -> None:
        for record in self.tracker.process(event):
            self.complete(record)

    def complete(self, record: CallRecord) -> None:
        """Enrich a finished call and queue it for the writer (the event loop never waits)."""
        services = self.services
        record.recording = usable_recording(services.config.get("recording.directory"), record.recording)
        if record.source is None and record.tracking_number:
            # The route was down or slow: the dialed number still tells the source.
            tn = services.catalog.catalog.numbers.get(record.tracking_number)
            if tn is not None and tn.source:
                record.source = tn.source
                source = services.catalog.catalog.sources.get(tn.source)
                record.channel = source.channel if source else None
        rules = services.call_rules
        future = services.writer.submit(lambda conn: save_call(conn, record, rules, origin="ami"))
        future.add_done_callback(self._saved)

    def _saved(self, future) -> None:
        if future.cancelled() or future.exception() is not None:
            return  # the writer logged it; the CDR reconcile will recover the call
        self.logged += 1

    def expire(self) -> None:
        """Drop calls whose Hangup never came; the CDR reconcile logs them with the PBX's truth."""
        for record in self.tracker.expire():
            self.expired += 1
            log.warning("call %s had no Hangup event; left to the CDR reconcile", record.uniqueid)
