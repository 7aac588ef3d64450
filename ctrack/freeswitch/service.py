"""The daemon's FreeSWITCH side: the outbound-socket route and the inbound-ESL call log."""

from __future__ import annotations

import time

from ctrack.calllog.service import log_call
from ctrack.core.model import CallRecord
from ctrack.core.period import DAY
from ctrack.freeswitch.inbound import InboundListener
from ctrack.freeswitch.outbound import OutboundSettings, RouteRequest, serve_outbound
from ctrack.lifecycle import Lifecycle
from ctrack.route.rules import RouteDecision, VisitLookup, decide
from ctrack.services import Services

RECOVER_DAYS = 7


async def start_freeswitch(services: Services, lifecycle: Lifecycle, visit_for: VisitLookup | None) -> None:
    """Start both ESL sides; they stop when the daemon drains the lifecycle."""
    config = services.config

    async def route(request: RouteRequest) -> RouteDecision:
        return decide(
            request.did,
            request.uniqueid,
            request.at,
            services.catalog.catalog,
            services.route_settings,
            visit_for,
            caller=request.caller_number,
        )

    host, port = config.freeswitch.outbound_listen
    server = await serve_outbound(route, host, port, OutboundSettings.from_config(config))
    lifecycle.listening("esl-outbound", server.sockets[0].getsockname()[:2])
    recording_dir = config.recording_directory

    async def save(record: CallRecord, origin: str) -> None:
        await log_call(services, record, origin, recording_dir)

    listener = InboundListener.from_config(config, save, recover_since=time.time() - RECOVER_DAYS * DAY)
    services.add_metric(
        "ctrack_esl_connected", "gauge", "1 while the inbound event socket is up", lambda: int(bool(listener.connected))
    )
    lifecycle.spawn(listener.run(), "esl-inbound")

    async def close_server() -> None:
        server.close()
        await server.wait_closed()

    lifecycle.on_stop(close_server)
    lifecycle.on_stop(listener.close)
