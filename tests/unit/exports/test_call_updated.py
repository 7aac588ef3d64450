"""GA4 and webhooks carry value, currency and lead status; a change of lead status, tags or
value goes out as a signed call.updated webhook through the outbox — against a real HTTP
receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from ctrack.exports import ExportError
from ctrack.exports.outbox import OutboxSender
from ctrack.exports.store import call_updated
from tests.support.report_data import asave_calls, call, new_db, utc
from tests.unit.exports.test_outbox import SECRET, Clock, Receiver, outbox_rows, started, write_config

START = utc("2024-03-10 07:30:00")
C1, C2, C3 = "+15035550851", "+15035550852", "+15035550853"


@pytest.fixture
async def receiver():
    r = Receiver(failures=0)
    await r.start()
    yield r
    await r.stop()


async def seed(path):
    conn = new_db(path)
    conn.execute("INSERT INTO sources(name, channel, value) VALUES ('Google Ads', 'paid_search', 120)")
    await asave_calls(
        path,
        [
            call("v1", "2024-03-10 07:30:00", "Google Ads", C1, "answered", 95, ga_client_id="111.222"),
            call("v2", "2024-03-10 07:31:00", "Google Ads", C2, "answered", 95, ga_client_id="333.444"),
            call("v3", "2024-03-10 07:32:00", "Radio", C3, "answered", 12, ga_client_id="555.666"),
        ],
    )
    return path, conn


def call_id(conn, uid: str) -> int:
    return conn.execute("SELECT id FROM calls WHERE uniqueid = ?", (uid,)).fetchone()[0]


def check_signature(hook: dict) -> None:
    stamp = hook["headers"]["X-Ctrack-Timestamp"]
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + hook["body"], hashlib.sha256).hexdigest()
    assert hook["headers"]["X-Ctrack-Signature"] == f"sha256={expected}"


async def test_ga4_carries_value_currency_and_lead_status_and_spam_goes_nowhere(tmp_path, ctrack_db, receiver):
    path, conn = await seed(ctrack_db)
    # v2 was qualified, then found to be spam before the sender ran; v3 was short, then a
    # person marked it a lead worth 250 (the trigger leaves its event).
    conn.execute("UPDATE calls SET lead_status = 'spam' WHERE uniqueid = 'v2'")
    conn.execute("UPDATE calls SET lead_status = 'lead', value = 250 WHERE uniqueid = 'v3'")
    conn.execute("UPDATE calls SET lead_status = 'lead' WHERE uniqueid = 'v1'")
    services = await started(write_config(tmp_path, receiver.port, hooks=False), path)
    sender = OutboxSender(services, clock=Clock(START + 60))
    try:
        assert await sender.run_once() == 2
    finally:
        await sender.close()
        await services.writer.close()
    sent = {json.loads(r["body"])["client_id"]: json.loads(r["body"]) for r in receiver.delivered("/mp/collect")}
    assert set(sent) == {"111.222", "555.666"}  # not the spam call
    params = {cid: body["events"][0]["params"] for cid, body in sent.items()}
    assert (params["111.222"]["value"], params["111.222"]["currency"], params["111.222"]["lead_status"]) == (
        120.0,  # the source's value
        "USD",
        "lead",
    )
    assert (params["555.666"]["value"], params["555.666"]["lead_status"], params["555.666"]["talk_seconds"]) == (
        250.0,
        "lead",
        12,
    )
    spam = conn.execute(
        "SELECT last_error FROM outbox WHERE kind = 'qualified' AND call_id = ? AND gave_up_at IS NOT NULL",
        (call_id(conn, "v2"),),
    ).fetchone()
    assert spam[0] == "the call is no conversion (spam, not a lead)"

    # A person finds it was a real lead after all: it goes out then.
    conn.execute("UPDATE calls SET lead_status = 'lead' WHERE uniqueid = 'v2'")
    services = await started(write_config(tmp_path, receiver.port, hooks=False), path)
    sender = OutboxSender(services, clock=Clock(START + 600))
    try:
        assert await sender.run_once() == 1
    finally:
        await sender.close()
        await services.writer.close()
    assert json.loads(receiver.delivered("/mp/collect")[-1]["body"])["client_id"] == "333.444"


async def test_call_updated_is_a_signed_webhook_per_change(tmp_path, ctrack_db, receiver):
    path, conn = await seed(ctrack_db)
    services = await started(write_config(tmp_path, receiver.port, ga4=False), path)
    clock = Clock(START + 60)
    sender = OutboxSender(services, clock=clock)
    v1 = call_id(conn, "v1")
    try:
        await sender.run_once()  # the call.qualified webhooks of v1 and v2
        receiver.requests.clear()

        def mark_lead(c):
            c.execute("UPDATE calls SET lead_status = 'lead', value = 300 WHERE id = ?", (v1,))
            c.execute("INSERT INTO call_tags(call_id, tag) VALUES (?, 'quote')", (v1,))
            return call_updated(
                c,
                v1,
                {"lead_status": (None, "lead"), "value": (None, 300.0), "tags": ([], ["quote"]), "note": ("", "x")},
            )

        assert await services.writer.run(mark_lead) is True
        clock.now += 5
        assert await sender.run_once() == 1

        def clear_value(c):
            c.execute("UPDATE calls SET value = NULL WHERE id = ?", (v1,))
            return call_updated(c, v1, {"value": (300.0, None), "lead_status": ("lead", "lead")})

        assert await services.writer.run(clear_value) is True
        clock.now += 5
        assert await sender.run_once() == 1
        clock.now += 3600
        assert await sender.run_once() == 0  # each update is delivered once
    finally:
        await sender.close()
        await services.writer.close()

    first, second = receiver.delivered("/hook")
    for hook in (first, second):
        check_signature(hook)
        assert hook["headers"]["X-Ctrack-Event"] == "call.updated"
    assert first["headers"]["Idempotency-Key"] == "ctrack-call.updated-v1-1"
    assert second["headers"]["Idempotency-Key"] == "ctrack-call.updated-v1-2"
    body = json.loads(first["body"])
    assert body["event"] == "call.updated" and body["id"] == "ctrack-call.updated-v1-1"
    assert body["changes"] == {
        "lead_status": {"from": None, "to": "lead"},
        "value": {"from": None, "to": 300.0},
        "tags": {"from": [], "to": ["quote"]},
    }  # the note is not a webhook change
    assert (body["call"]["uniqueid"], body["call"]["caller_number"]) == ("v1", C1)
    assert (body["call"]["lead_status"], body["call"]["tags"], body["call"]["currency"]) == ("lead", ["quote"], "USD")
    assert body["updated_at"].endswith("Z")
    later = json.loads(second["body"])
    assert later["changes"] == {"value": {"from": 300.0, "to": None}}
    assert later["call"]["value"] == 120.0  # back to the source's value
    rows = [r for r in outbox_rows(conn) if r["kind"] == "webhook" and "#" in r["target"]]
    assert [r["target"] for r in rows] == [
        f"http://127.0.0.1:{receiver.port}/hook#ctrack-update-1",
        f"http://127.0.0.1:{receiver.port}/hook#ctrack-update-2",
    ]
    assert all(r["sent"] for r in rows)


def test_call_updated_ignores_what_did_not_change_and_refuses_an_unknown_call(ctrack_db):
    conn = new_db(ctrack_db)
    conn.execute("INSERT INTO calls(uniqueid, started_at) VALUES ('x1', 1)")
    assert call_updated(conn, 1, {"note": ("", "called back")}) is False
    assert call_updated(conn, 1, {"value": (10.0, 10.0), "tags": (["a"], ["a"])}) is False
    assert call_updated(conn, 1, {"tags": ({"b", "a"}, ["a", "b"])}) is False  # the same tags
    # Amounts as the CLI parses them (Decimal) and tags as a set are stored as JSON numbers and lists.
    assert call_updated(conn, 1, {"value": (None, Decimal("250.50")), "tags": (set(), {"quote", "booked"})}) is True
    (payload,) = conn.execute("SELECT payload FROM outbox WHERE kind = 'updated'").fetchone()
    assert json.loads(payload) == {
        "changes": {"value": {"from": None, "to": 250.5}, "tags": {"from": [], "to": ["booked", "quote"]}}
    }
    conn.execute("DELETE FROM outbox")
    with pytest.raises(ExportError, match="unknown call id 99"):
        call_updated(conn, 99, {"value": (None, 5.0)})
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
