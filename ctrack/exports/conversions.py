"""What a conversion sends out: the GA4 Measurement Protocol body, the webhook bodies
(call.qualified, call.updated) and their HMAC signature, and the retry schedule. Pure: the
outbox sender does the I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any

GA4_MAX_AGE = 72 * 3600  # the Measurement Protocol drops events older than this
EVENT = "call.qualified"
UPDATED_EVENT = "call.updated"
UPDATE_FIELDS = ("lead_status", "tags", "value")  # the changes that send call.updated
_UPDATE_TARGET = re.compile(r"^(.*)#ctrack-update-([0-9]+)$")

WEBHOOK_FIELDS = (
    "uniqueid",
    "site",
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


def idempotency_key(site: str, uniqueid: str, update: int | None = None) -> str:
    """The same key on every delivery of one event, so a receiver can drop repeats; a call's
    updates are numbered 1, 2, … A call is its site and uniqueid (two sites' PBXs may number
    calls alike): the site leads the uniqueid when there is one."""
    call = f"{site}:{uniqueid}" if site else uniqueid
    if update is None:
        return f"ctrack-{EVENT}-{call}"
    return f"ctrack-{UPDATED_EVENT}-{call}-{update}"


def conversion_value(call: dict[str, Any], default: float) -> float:
    """The call's own value, else its source's (both read as `value`), else [conversions] value."""
    return default if call["value"] is None else float(call["value"])


def tags_list(text: str | None) -> list[str]:
    """The call's tags as the outbox query reads them (TAGS: a JSON array)."""
    return [str(tag) for tag in json.loads(text)] if text else []


def ga4_body(call: dict[str, Any], client_id: str, event_name: str, value: float, currency: str) -> dict[str, Any]:
    """POST /mp/collect JSON: the visit's GA client id, one event stamped with the call time,
    carrying the conversion's value, currency and lead status."""
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
                    "value": conversion_value(call, value),
                    "currency": currency,
                    "lead_status": call["lead_status"] or "(none)",
                },
            }
        ],
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _call_data(call: dict[str, Any], value: float, currency: str) -> dict[str, Any]:
    data = {name: call[name] for name in WEBHOOK_FIELDS}
    data["first_time"] = None if call["first_time"] is None else bool(call["first_time"])
    data["started_at"] = _iso(call["started_at"])
    data["lead_status"] = call["lead_status"]
    data["tags"] = tags_list(call["tags"])
    data["value"] = conversion_value(call, value)
    data["currency"] = currency
    return data


def webhook_body(call: dict[str, Any], value: float, currency: str) -> dict[str, Any]:
    return {
        "event": EVENT,
        "id": idempotency_key(call["site"], call["uniqueid"]),
        "call": _call_data(call, value, currency),
    }


def updated_body(
    call: dict[str, Any], update: int, changes: dict[str, Any], updated_at: float, value: float, currency: str
) -> dict[str, Any]:
    """call.updated: what changed ({field: {from, to}}) and the call as it is now."""
    return {
        "event": UPDATED_EVENT,
        "id": idempotency_key(call["site"], call["uniqueid"], update),
        "updated_at": _iso(updated_at),
        "changes": changes,
        "call": _call_data(call, value, currency),
    }


def update_target(url: str, update: int) -> str:
    """The outbox target of one update's delivery to one webhook URL (a fragment, which is
    never sent, keeps each update's row apart)."""
    return f"{url}#ctrack-update-{update}"


def webhook_url(target: str) -> str:
    """The URL a webhook delivery goes to."""
    m = _UPDATE_TARGET.match(target)
    return m.group(1) if m else target


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
