"""What a qualified call sends out: the GA4 Measurement Protocol body, the webhook body
and its HMAC signature, and the retry schedule. Pure: the outbox sender does the I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

GA4_MAX_AGE = 72 * 3600  # the Measurement Protocol drops events older than this
EVENT = "call.qualified"

WEBHOOK_FIELDS = (
    "uniqueid",
    "tracking_number",
    "caller_number",
    "caller_name",
    "source",
    "channel",
    "disposition",
    "ring_seconds",
    "talk_seconds",
    "first_time",
    "keyword",
    "landing_page",
    "gclid",
    "visit_id",
)


def idempotency_key(uniqueid: str) -> str:
    """The same key on every delivery of one call's event, so a receiver can drop repeats."""
    return f"ctrack-{EVENT}-{uniqueid}"


def ga4_body(call: dict[str, Any], client_id: str, event_name: str, value: float, currency: str) -> dict[str, Any]:
    """POST /mp/collect JSON: the visit's GA client id, one event stamped with the call time."""
    return {
        "client_id": client_id,
        "timestamp_micros": int(call["started_at"] * 1_000_000),
        "events": [
            {
                "name": event_name,
                "params": {
                    "uniqueid": call["uniqueid"],
                    "source": call["source"] or "(none)",
                    "channel": call["channel"] or "(none)",
                    "talk_seconds": call["talk_seconds"],
                    "first_time_caller": int(bool(call["first_time"])),
                    "value": value if call["value"] is None else call["value"],
                    "currency": currency,
                },
            }
        ],
    }


def webhook_body(call: dict[str, Any], value: float, currency: str) -> dict[str, Any]:
    data = {name: call[name] for name in WEBHOOK_FIELDS}
    data["first_time"] = None if call["first_time"] is None else bool(call["first_time"])
    data["started_at"] = datetime.fromtimestamp(call["started_at"], UTC).isoformat().replace("+00:00", "Z")
    data["value"] = value if call["value"] is None else call["value"]
    data["currency"] = currency
    return {"event": EVENT, "id": idempotency_key(call["uniqueid"]), "call": data}


def encode(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """X-Ctrack-Signature: HMAC-SHA256 over 'TIMESTAMP.BODY', so a captured request cannot
    be replayed later with a new timestamp."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def backoff(attempts: int, first: float, cap: float) -> float:
    """Seconds before the next try after `attempts` failures: first, 2×, 4× … up to cap."""
    return min(cap, first * 2 ** max(0, attempts - 1))
