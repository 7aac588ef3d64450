"""Webhook event ids (exports/conversions.py): one per call, and a call is its site and uniqueid."""

from __future__ import annotations

from ctrack.exports.conversions import idempotency_key, webhook_body


def call(site: str, uniqueid: str = "1700000000.7") -> dict:
    return {
        "uniqueid": uniqueid,
        "site": site,
        "tracking_number": "+15035551390",
        "caller_number": "+15035551330",
        "caller_name": None,
        "source": "Radio",
        "channel": "radio",
        "disposition": "answered",
        "ring_seconds": 4,
        "talk_seconds": 90,
        "first_time": 1,
        "keyword": None,
        "landing_page": None,
        "gclid": None,
        "visit_id": None,
        "started_at": 1700000000.0,
        "lead_status": "lead",
        "tags": None,
        "value": None,
    }


def test_two_sites_calls_with_one_uniqueid_are_two_events_for_a_receiver():
    east, west = webhook_body(call("east"), 0.0, "USD"), webhook_body(call("west"), 0.0, "USD")
    assert (east["id"], west["id"]) == (
        "ctrack-call.qualified-east:1700000000.7",
        "ctrack-call.qualified-west:1700000000.7",
    )
    assert (east["call"]["site"], east["call"]["uniqueid"]) == ("east", "1700000000.7")
    # a one-site deployment keeps the ids it always had
    assert webhook_body(call(""), 0.0, "USD")["id"] == "ctrack-call.qualified-1700000000.7"
    assert idempotency_key("east", "1700000000.7", 2) == "ctrack-call.updated-east:1700000000.7-2"
    assert idempotency_key("", "1700000000.7", 2) == "ctrack-call.updated-1700000000.7-2"
