"""The dashboard's recording access log: who played or downloaded which call's recording, from where."""

from __future__ import annotations

from aiohttp import web

from ctrack.privacy import store
from ctrack.services import Services
from ctrack.web.connections import client_address


async def log_recording_access(services: Services, request: web.Request, user: str, call_id: int) -> None:
    """One audit entry per recording served: 'download' when asked with ?download, else 'play'."""
    action = "download" if "download" in request.query else "play"
    address = client_address(request, services.config.http.trusted_proxies)
    await services.writer.run(lambda conn: store.audit(conn, action, user, call_id=call_id, address=address))
