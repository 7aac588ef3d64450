"""FastAGI handlers, one per dialplan feature; the agi:// URL's path picks the handler.

A handler takes the AGI request and returns the channel variables to set; the server
applies them. A handler that fails sets nothing, so the dialplan rings the business line.
Handlers are plain functions: the route answers from memory, with no task to schedule.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping

from ctrack.asterisk.agi_protocol import AgiRequest
from ctrack.route.rules import VisitLookup, decide
from ctrack.services import Services

Handler = Callable[[AgiRequest], Mapping[str, str]]


class UnknownFeature(LookupError):
    """The dialplan asked for an agi:// path ctrack does not serve."""


def route_handler(services: Services, visit_for: VisitLookup | None) -> Handler:
    """agi://…/route: which source, where to ring, whether to record."""

    def route(request: AgiRequest) -> Mapping[str, str]:
        did = request.env.get("agi_arg_1") or request.extension  # AGI(url,${CTRACK_DID})
        uniqueid = request.uniqueid or uuid.uuid4().hex
        decision = decide(
            did,
            uniqueid,
            time.time(),
            services.catalog.catalog,
            services.route_settings,
            visit_for,
            caller=request.callerid,
        )
        return decision.variables()

    return route


def dispatcher(services: Services, visit_for: VisitLookup | None = None) -> Handler:
    """The FastAGI features; visit_for (the DNI service's lease lookup) ties pool numbers to visits."""
    features = {"route": route_handler(services, visit_for)}

    def dispatch(request: AgiRequest) -> Mapping[str, str]:
        feature = request.script.strip("/").split("?")[0] or "route"
        handler = features.get(feature)
        if handler is None:
            raise UnknownFeature(f"no FastAGI feature {feature!r} (known: {', '.join(features)})")
        return handler(request)

    return dispatch
