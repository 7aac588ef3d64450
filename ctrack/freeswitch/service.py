"""The daemon's FreeSWITCH side: the outbound-socket route and the inbound-ESL call log."""

from __future__ import annotations

import time

from ctrack.calllog.service import log_call
from ctrack.core.model import CallRecord
from ctrack.freeswitch.inbound import InboundListener
from ctrack.freeswitch.outbound import OutboundSettings, RouteRequest, serve_outbound
from ctrack.route.rules import RouteDecision, decide

RECOVER_DAYS = 7


async def start_freeswitch(daemon) -> list:
    """Start both ESL sides; returns the coroutines that stop them, in start order."""
    services, config = daemon.services, daemon.config

    async def route(request: RouteRequest) -> RouteDecision:
        return decide(
            request.did,
            request.call_id,
            request.at,
            services.catalog.catalog,
            services.route_settings,
            services.visit_for,
            caller=request.caller_number,
        )

    host, port = config.freeswitch.outbound_listen
    server = await serve_outbound(route, host, port, OutboundSettings.from_config(config))
    daemon.addresses["esl-outbound"] = server.sockets[0].getsockname()[:2]
    recording_dir = config.recording_directory

    async def save(record: CallRecord, origin: str) -> None:
        await log_call(services, record, origin, recording_dir)

    listener = InboundListener.from_config(config, save, recover_since=time.time() - RECOVER_DAYS * 86400)
    services.add_metric(
        "ctrack_esl_connected", "gauge", "1 while the inbound event socket is up", lambda: int(bool(listener.connected))
    )
    daemon._spawn(listener.run(), "esl-inbound")

    async def close_server() -> None:
        server.close()
        await server.wait_closed()

    return [close_server, listener.close]
