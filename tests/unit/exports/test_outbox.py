"""The conversion outbox: GA4 and signed webhooks, delivered at least once through failures
and restarts, against a local receiver that fails first."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import pytest
from aiohttp import web

from ctrack import config as config_mod
from ctrack.config import ConfigError
from ctrack.exports.conversions import backoff
from ctrack.exports.outbox import OutboxSender, run_outbox
from ctrack.services import Services
from tests.support.report_data import asave_calls, call, new_db, utc

START = utc("2024-03-10 07:30:00")
SECRET = "whsec-test-0123456789"


class Receiver:
    """A local endpoint for /mp/collect and /hook that answers 500 to the first request on
    each path, then 204, and records everything."""

    def __init__(self, failures: int = 1):
        self.failures = failures
        self.requests: list[dict] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        seen = sum(1 for r in self.requests if r["path"] == request.path)
        self.requests.append(
            {
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": body,
                "status": 500 if seen < self.failures else 204,
            }
        )
        return web.Response(status=self.requests[-1]["status"])

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/mp/collect", self.handle)
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        await self.runner.cleanup()

    def delivered(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path and r["status"] == 204]


@pytest.fixture
async def receiver():
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


def write_config(
    tmp_path, port: int, *, ga4: bool = True, hooks: bool = True, retry_first: int = 30
) -> config_mod.Config:
    text = "[conversions]\ncurrency = USD\nvalue = 40\n"
    if ga4:
        text += (
            f"[ga4]\nmeasurement_id = G-TEST123\napi_secret = mp-secret\n"
            f"endpoint = http://127.0.0.1:{port}/mp/collect\n"
        )
    if hooks:
        text += f"[webhooks]\nurls = http://127.0.0.1:{port}/hook\nsecret = {SECRET}\n"
    text += f"[outbox]\nretry_first_seconds = {retry_first}\nretry_max_seconds = 100\n"
    ini = tmp_path / "ctrack.ini"
    ini.write_text(text)
    return config_mod.load(ini)


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def started(config, path) -> Services:
    services = Services(config, path)
    await services.writer.start()
    return services


def outbox_rows(conn):
    return [
        dict(r)
        for r in conn.execute(
            "SELECT kind, target, attempts, next_attempt, last_error, sent_at IS NOT NULL AS sent, "
            "gave_up_at IS NOT NULL AS gave_up FROM outbox ORDER BY id"
        )
    ]


async def seed(path):
    conn = new_db(path)
    await asave_calls(
        path,
        [
            call(
                "q1",
                "2024-03-10 07:30:00",
                "Google Ads",
                "+12125550001",
                "answered",
                95,
                name="Jane <b>Doe</b>",
                gclid="Cj0KCQjwExample1",
                ga_client_id="1234567.7654321",
            ),
            call("n1", "2024-03-10 07:40:00", "Google Ads", "+12125550002", "answered", 20, ga_client_id="1.2"),
        ],
    )
    return path, conn


def test_backoff_doubles_up_to_the_cap():
    assert [backoff(n, 30, 3600) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


async def test_retries_with_backoff_then_delivers_signed_webhook_and_ga4(tmp_path, ctrack_db, receiver):
    path, conn = await seed(ctrack_db)
    # Only the qualified call left an event, in the same transaction as its save.
    assert [(r["kind"], r["sent"]) for r in outbox_rows(conn)] == [("qualified", 0)]
    services = await started(write_config(tmp_path, receiver.port), path)
    clock = Clock(START + 120)
    sender = OutboxSender(services, clock=clock)
    try:
        assert await sender.run_once() == 2  # both fail (the receiver fails first)
        rows = outbox_rows(conn)
        assert [(r["kind"], r["attempts"], r["next_attempt"], r["last_error"], r["sent"]) for r in rows] == [
            ("qualified", 0, 0.0, None, 1),
            ("ga4", 1, START + 150, "HTTP 500", 0),
            ("webhook", 1, START + 150, "HTTP 500", 0),
        ]
        clock.now = START + 149
        assert await sender.run_once() == 0  # not due yet
        clock.now = START + 150
        assert await sender.run_once() == 2
        assert [(r["kind"], r["attempts"], r["sent"], r["last_error"]) for r in outbox_rows(conn)[1:]] == [
            ("ga4", 2, 1, None),
            ("webhook", 2, 1, None),
        ]
        clock.now = START + 10_000
        assert await sender.run_once() == 0  # nothing is sent twice
    finally:
        await sender.close()
        await services.writer.close()
    assert (sender.sent, sender.failures) == (2, 2)

    (ga4,) = receiver.delivered("/mp/collect")
    assert ga4["query"] == {"measurement_id": "G-TEST123", "api_secret": "mp-secret"}
    assert json.loads(ga4["body"]) == {
        "client_id": "1234567.7654321",
        "timestamp_micros": int(START * 1_000_000),
        "events": [
            {
                "name": "generate_lead",
                "params": {
                    "uniqueid": "q1",
                    "source": "Google Ads",
                    "channel": "paid_search",
                    "talk_seconds": 95,
                    "first_time_caller": 1,
                    "value": 40.0,
                    "currency": "USD",
                    "lead_status": "lead",  # the default rule
                },
            }
        ],
    }

    hooks = [r for r in receiver.requests if r["path"] == "/hook"]
    assert [h["status"] for h in hooks] == [500, 204]
    assert hooks[0]["body"] == hooks[1]["body"]  # the same event, byte for byte
    assert (
        hooks[0]["headers"]["Idempotency-Key"] == hooks[1]["headers"]["Idempotency-Key"] == "ctrack-call.qualified-q1"
    )
    for hook in hooks:
        stamp = hook["headers"]["X-Ctrack-Timestamp"]
        expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + hook["body"], hashlib.sha256).hexdigest()
        assert hook["headers"]["X-Ctrack-Signature"] == f"sha256={expected}"
    assert [h["headers"]["X-Ctrack-Timestamp"] for h in hooks] == [str(int(START + 120)), str(int(START + 150))]
    body = json.loads(hooks[1]["body"])
    assert body["event"] == "call.qualified" and body["id"] == "ctrack-call.qualified-q1"
    assert body["call"] == {
        "uniqueid": "q1",
        "site": "",
        "tracking_number": None,
        "caller_number": "+12125550001",
        "caller_name": "Jane <b>Doe</b>",
        "source": "Google Ads",
        "channel": "paid_search",
        "disposition": "answered",
        "ring_seconds": 10,
        "talk_seconds": 95,
        "first_time": True,
        "keyword": None,
        "landing_page": None,
        "gclid": "Cj0KCQjwExample1",
        "visit_id": None,
        "started_at": "2024-03-10T07:30:00Z",
        "lead_status": "lead",
        "tags": [],
        "value": 40.0,
        "currency": "USD",
    }


async def test_an_unreachable_endpoint_and_a_restart_lose_nothing(tmp_path, ctrack_db, receiver):
    path, conn = await seed(ctrack_db)
    closed = Receiver()
    await closed.start()
    dead_port = closed.port
    await closed.stop()  # nothing listens there any more
    services = await started(write_config(tmp_path, dead_port, ga4=False), path)
    sender = OutboxSender(services, clock=Clock(START + 60))
    try:
        assert await sender.run_once() == 1
    finally:
        await sender.close()
        await services.writer.close()
    (row,) = [r for r in outbox_rows(conn) if r["kind"] == "webhook"]
    assert row["attempts"] == 1 and row["last_error"].startswith("ClientConnectorError") and not row["sent"]

    # A restart with the endpoint back (same URL list, now on the live receiver).
    conn.execute("UPDATE outbox SET target = ? WHERE kind = 'webhook'", (f"http://127.0.0.1:{receiver.port}/hook",))
    services = await started(write_config(tmp_path, receiver.port, ga4=False), path)
    sender = OutboxSender(services, clock=Clock(START + 60 + 30))
    try:
        await sender.run_once()  # the receiver fails first …
        sender.clock.now += 60
        await sender.run_once()  # … then takes it
    finally:
        await sender.close()
        await services.writer.close()
    assert len(receiver.delivered("/hook")) == 1
    assert [(r["kind"], r["sent"]) for r in outbox_rows(conn)] == [("qualified", 1), ("webhook", 1)]


async def test_events_saved_while_no_sender_ran_go_out_after_start(tmp_path, ctrack_db, receiver):
    path, conn = await seed(ctrack_db)
    await asave_calls(path, [call("q2", "2024-03-10 08:00:00", "Radio", "+12125550009", "answered", 200)])
    receiver.failures = 0
    services = await started(write_config(tmp_path, receiver.port, ga4=False), path)
    sender = OutboxSender(services, clock=Clock(START + 3600))
    try:
        assert await sender.run_once() == 2
    finally:
        await sender.close()
        await services.writer.close()
    assert sorted(json.loads(r["body"])["call"]["uniqueid"] for r in receiver.delivered("/hook")) == ["q1", "q2"]


async def test_a_call_that_becomes_qualified_later_is_sent_once(ctrack_db, receiver):
    path = ctrack_db
    conn = new_db(path)
    short = call("u1", "2024-03-10 07:30:00", "Radio", "+12125550001", "answered", 20)
    await asave_calls(path, [short], origin="cdr")
    assert outbox_rows(conn) == []
    await asave_calls(path, [call("u1", "2024-03-10 07:30:00", "Radio", "+12125550001", "answered", 200)], origin="ami")
    await asave_calls(path, [call("u1", "2024-03-10 07:30:00", "Radio", "+12125550001", "answered", 200)], origin="ami")
    assert [r["kind"] for r in outbox_rows(conn)] == ["qualified"]


async def test_gives_up_on_expired_and_unconfigured_deliveries(tmp_path, ctrack_db, receiver):
    path, conn = await seed(ctrack_db)
    services = await started(write_config(tmp_path, receiver.port), path)
    clock = Clock(START + 60)
    sender = OutboxSender(services, clock=clock)
    try:
        await sender.run_once()  # both fail once
        clock.now = START + 73 * 3600  # GA4 takes events up to 72 h old
        await sender.run_once()
    finally:
        await sender.close()
        await services.writer.close()
    rows = {r["kind"]: r for r in outbox_rows(conn)}
    assert (rows["ga4"]["gave_up"], rows["ga4"]["last_error"]) == (1, "older than the 72 hours GA4 accepts")
    assert rows["webhook"]["sent"] == 1

    await asave_calls(path, [call("q3", "2024-03-10 09:00:00", "Radio", "+12125550010", "answered", 100)])
    services = await started(write_config(tmp_path, receiver.port), path)
    sender = OutboxSender(services, clock=Clock(START + 7200))
    try:
        await sender.run_once()  # the receiver is past its first failure
        conn.execute(
            "UPDATE outbox SET target = 'http://127.0.0.1:1/old', sent_at = NULL, attempts = 0 "
            "WHERE kind = 'webhook' AND call_id = (SELECT id FROM calls WHERE uniqueid = 'q3')"
        )
        await sender.run_once()
    finally:
        await sender.close()
        await services.writer.close()
    (old,) = [r for r in outbox_rows(conn) if r["target"] == "http://127.0.0.1:1/old"]
    assert (old["gave_up"], old["last_error"]) == (1, "webhook URL no longer configured")


async def test_old_events_are_given_up_when_first_seen(tmp_path, ctrack_db, receiver):
    path, conn = await seed(ctrack_db)
    services = await started(write_config(tmp_path, receiver.port), path)
    sender = OutboxSender(services, clock=Clock(time.time() + 169 * 3600))
    try:
        assert await sender.run_once() == 0
    finally:
        await sender.close()
        await services.writer.close()
    assert [(r["kind"], r["gave_up"], r["last_error"]) for r in outbox_rows(conn)] == [
        ("qualified", 1, "older than [outbox] give_up_hours when first seen")
    ]
    assert receiver.requests == []


async def test_without_targets_events_are_consumed_quietly(tmp_path, ctrack_db, receiver):
    path, conn = await seed(ctrack_db)
    services = await started(write_config(tmp_path, receiver.port, ga4=False, hooks=False), path)
    sender = OutboxSender(services, clock=Clock(START + 60))
    try:
        assert await sender.run_once() == 0
    finally:
        await sender.close()
        await services.writer.close()
    assert [(r["kind"], r["sent"]) for r in outbox_rows(conn)] == [("qualified", 1)]


def test_settings_refuse_half_configurations(tmp_path, ctrack_db):
    ini = tmp_path / "bad.ini"
    ini.write_text("[webhooks]\nurls = https://example.com/hook\n")
    with pytest.raises(ConfigError, match=r"\[webhooks\] urls: set \[webhooks\] secret too"):
        OutboxSender(Services(config_mod.load(ini), ctrack_db))
    ini.write_text("[ga4]\nmeasurement_id = G-1\n")
    with pytest.raises(ConfigError, match="set both measurement_id and api_secret"):
        OutboxSender(Services(config_mod.load(ini), ctrack_db))
    ini.write_text("[webhooks]\nurls = ftp://example.com/hook\n")
    with pytest.raises(ConfigError, match=r"bad.ini:2: urls: expected an http:// or https:// URL"):
        config_mod.load(ini)


async def test_run_outbox_task_retries_in_real_time_and_stops(tmp_path, ctrack_db, receiver):
    path, conn = await seed(ctrack_db)
    services = await started(write_config(tmp_path, receiver.port, ga4=False, retry_first=1), path)
    # The call is 2024's; real time is later, so let the event count as new.
    conn.execute("UPDATE outbox SET created_at = ?", (time.time(),))
    stop = asyncio.Event()
    task = asyncio.create_task(run_outbox(services, stop))
    try:
        for _ in range(100):
            if receiver.delivered("/hook"):
                break
            await asyncio.sleep(0.1)
        assert [r["status"] for r in receiver.requests] == [500, 204]
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await services.writer.close()
    assert services.metrics()["ctrack_outbox_sent_total"][2] == 1


async def test_cli_lists_what_is_waiting(tmp_path, ctrack_db, receiver):
    from click.testing import CliRunner

    from ctrack.cli import cli

    path, conn = await seed(ctrack_db)
    services = await started(write_config(tmp_path, receiver.port, ga4=False), path)
    sender = OutboxSender(services, clock=Clock(START + 60))
    try:
        await sender.run_once()
    finally:
        await sender.close()
        await services.writer.close()
    ini = tmp_path / "ctrack.ini"
    result = CliRunner().invoke(cli, ["--config", str(ini), "--db", str(path), "outbox", "list", "--json"])
    (row,) = json.loads(result.output)
    assert (row["kind"], row["call"], row["state"], row["attempts"], row["last_error"]) == (
        "webhook",
        "q1",
        "retrying",
        1,
        "HTTP 500",
    )
    assert row["next_attempt"].startswith("2024-03-10T07:31:30")  # UTC: no timezone configured
