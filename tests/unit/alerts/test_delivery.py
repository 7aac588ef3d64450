"""Alerts end to end through the outbox, against a real SMTP server (aiosmtpd, STARTTLS with
a self-signed certificate, login) and a real chat webhook on loopback."""

from __future__ import annotations

import asyncio

import pytest

from ctrack import config as config_mod
from ctrack.alerts.service import AlertSender, AlertSettings, on_lead, queue_summary
from ctrack.calllog.service import save_and_follow
from ctrack.calllog.store import CallRules
from ctrack.config import ConfigError
from ctrack.core.model import CallRecord, Disposition
from ctrack.exports.outbox import OutboxSender, list_deliveries
from ctrack.services import Services
from ctrack.store import db
from tests.support.alert_receivers import USER, ChatReceiver, SmtpReceiver
from tests.support.report_data import new_db, utc

TUE = utc("2026-12-01 18:30:00")  # Tue 10:30 in Los Angeles: business hours


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def record(uid, at, caller, disposition="missed", talk=0, source="Google Ads", name=None) -> CallRecord:
    answered = at + 8 if disposition == "answered" else None
    return CallRecord(
        uid,
        tracking_number="+15035550101",
        caller_number=caller,
        caller_name=name,
        source=source,
        channel="paid_search" if source == "Google Ads" else "radio",
        started_at=at,
        answered_at=answered,
        ended_at=(answered or at + 20) + talk,
        disposition=Disposition(disposition),
    )


@pytest.fixture
def smtp():
    server = SmtpReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def chat():
    server = ChatReceiver(failures=1).start()
    yield server
    server.stop()


def configure(tmp_path, alerts: str) -> config_mod.Config:
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[ctrack]\ntimezone = America/Los_Angeles\n[outbox]\nretry_first_seconds = 30\n[alerts]\n{alerts}")
    return config_mod.load(ini)


class Site:
    def __init__(self, tmp_path, ctrack_db, alerts: str, clock: Clock):
        self.path = ctrack_db
        self.conn = new_db(self.path)
        self.config = configure(tmp_path, alerts)
        self.clock = clock
        self.rules = CallRules.from_config(self.config)

    async def __aenter__(self):
        self.services = Services(self.config, self.path)
        await self.services.writer.start()
        self.sender = OutboxSender(self.services, clock=self.clock)
        return self

    async def __aexit__(self, *exc):
        await self.sender.close()
        await self.services.writer.close()
        self.conn.close()

    def save(self, *records):
        for r in records:
            db.write(self.conn, lambda c, r=r: save_and_follow(c, r, self.rules, "ami"))

    def rows(self):
        sql = (
            "SELECT kind, target, attempts, last_error, sent_at IS NOT NULL AS sent, gave_up_at IS NOT NULL AS gave_up"
        )
        return [dict(r) for r in self.conn.execute(f"{sql} FROM outbox WHERE kind != 'qualified' ORDER BY id")]


async def test_missed_first_time_call_arrives_by_mail_and_chat(tmp_path, ctrack_db, smtp, chat):
    alerts = smtp.ini() + f"chat_webhook_url = {chat.url}\n"
    async with Site(tmp_path, ctrack_db, alerts, Clock(TUE + 60)) as site:
        site.save(
            record("m1", TUE, "+15035550840", name="Pat Prospect"),
            record("m2", TUE + 30, "+15035550840"),  # the same caller again: not a first-time caller
            record("ans", TUE, "+15035550841", "answered", 30),  # answered: no alert
        )
        assert [(r["kind"], r["target"]) for r in site.rows()] == [("alert_missed", "")]
        assert await site.sender.run_once() == 2  # one email, one chat post (that fails first)
        site.clock.now += 30
        assert await site.sender.run_once() == 1  # the chat retry
        assert await site.sender.run_once() == 0
        rows = site.rows()
    assert [(r["kind"], r["sent"], r["attempts"]) for r in rows] == [
        ("alert_missed", 1, 0),
        ("email", 1, 1),
        ("chat", 1, 2),
    ]
    assert rows[1]["target"] == "missed office@example.com" and rows[2]["target"] == f"missed {chat.url}"

    [mail] = smtp.messages
    assert smtp.sessions == [(True, USER)]  # STARTTLS, verified against the test CA, then login
    assert mail["Subject"] == "[ctrack] Missed call from a new caller: Pat Prospect ((503) 555-0840) via Google Ads"
    assert (mail["From"], mail["To"]) == ("ctrack@example.com", "office@example.com")
    body = mail.get_content().replace("\r\n", "\n")
    assert "A first-time caller was not answered (missed, rang 20 s). Call them back." in body
    assert "When: Tue 2026-12-01 10:30 PST" in body and "Source: Google Ads (paid_search)" in body
    assert chat.statuses == [500, 200]
    [post] = chat.posts
    assert post["content_type"] == "application/json"
    assert post["text"] == f"*{mail['Subject']}*\n{body.rstrip()}"


async def test_new_lead_and_daily_summary(tmp_path, ctrack_db, smtp):
    async with Site(tmp_path, ctrack_db, smtp.ini(), Clock(utc("2026-12-02 16:05:00"))) as site:
        site.save(
            record("l1", TUE, "+15035550842", "answered", 95, name="Lee Lead"),
            record("r1", TUE + 600, "+15035550843", "answered", 20, source="Radio"),
            record("m1", TUE + 900, "+15035550844"),
            record("s1", TUE + 1200, "+15035550845", source="Radio"),
        )
        site.conn.execute("UPDATE calls SET lead_status = 'lead', value = 150 WHERE uniqueid = 'l1'")
        site.conn.execute("UPDATE calls SET lead_status = 'spam' WHERE uniqueid = 's1'")
        call_id = site.conn.execute("SELECT id FROM calls WHERE uniqueid = 'l1'").fetchone()[0]
        db.write(site.conn, lambda c: on_lead(c, call_id))
        db.write(site.conn, lambda c: on_lead(c, call_id))  # marked twice: one alert
        assert db.write(site.conn, queue_summary("2026-12-01"))
        assert not db.write(site.conn, queue_summary("2026-12-01"))  # once per day
        await site.sender.run_once()
        rows = site.rows()
    # l1 (95 s) was a lead when saved (the default rule): its alert was queued then, once.
    # s1 was spam by the time the sender looked: no missed-call alert for it.
    assert [(r["kind"], r["sent"], r["gave_up"], r["last_error"]) for r in rows] == [
        ("alert_lead", 1, 0, None),
        ("alert_missed", 1, 0, None),
        ("alert_missed", 0, 1, "the call is spam"),
        ("alert_summary", 1, 0, None),
        ("email", 1, 0, None),
        ("email", 1, 0, None),
        ("email", 1, 0, None),
    ]
    subjects = [m["Subject"] for m in smtp.messages]
    assert sorted(subjects) == [
        "[ctrack] Daily summary 2026-12-01: 3 calls, 1 lead, 1 missed",
        "[ctrack] Missed call from a new caller: (503) 555-0844 via Google Ads",
        "[ctrack] New lead: Lee Lead ((503) 555-0842) via Google Ads",
    ]
    lead = next(m for m in smtp.messages if "New lead" in m["Subject"]).get_content()
    assert "A call was marked a lead (answered, talked 95 s), value 150.00 USD." in lead
    summary = next(m for m in smtp.messages if "Daily summary" in m["Subject"]).get_content().splitlines()
    assert summary[0] == "Calls on 2026-12-01: 3 calls, 1 lead, 1 missed (1 spam call not counted)."
    assert summary[2:5] == [
        "Source      Calls  Leads  Missed",
        "Google Ads      2      1       1",
        "Radio           1      0       0",
    ]


async def test_rate_limit_and_business_hours(tmp_path, ctrack_db, smtp):
    alerts = smtp.ini() + "max_per_hour = 2\nmissed_hours = mon-fri 09:00-17:00\n"
    async with Site(tmp_path, ctrack_db, alerts, Clock(TUE + 300)) as site:
        site.save(*(record(f"m{i}", TUE + i, f"+1503555084{i}") for i in range(3)))
        site.save(record("night", utc("2026-12-02 06:00:00"), "+15035550849"))  # Tue 22:00
        await site.sender.run_once()
        events = [r for r in site.rows() if r["kind"] == "alert_missed"]
        assert [(r["sent"], r["last_error"]) for r in events] == [
            (1, None),
            (1, None),
            (0, "rate limited ([alerts] max_per_hour = 2)"),
            (0, "outside [alerts] missed_hours"),
        ]
        site.clock.now += 3601  # an hour later the limit has room again
        site.save(record("m9", TUE + 3000, "+15035550839"))
        await site.sender.run_once()
    assert len(smtp.messages) == 3


async def test_mail_server_down_then_up_and_certificate_checked(tmp_path, ctrack_db):
    server = SmtpReceiver()
    alerts = server.ini()
    async with Site(tmp_path, ctrack_db, alerts, Clock(TUE + 60)) as site:
        site.save(record("m1", TUE, "+15035550846"))
        await site.sender.run_once()  # nothing listens yet
        [email] = [r for r in site.rows() if r["kind"] == "email"]
        assert (email["attempts"], email["sent"]) == (1, 0)
        assert email["last_error"].startswith("ConnectionRefusedError")
        server.start()
        try:
            site.clock.now += 30
            await site.sender.run_once()
        finally:
            server.stop()
        [email] = [r for r in site.rows() if r["kind"] == "email"]
        assert (email["attempts"], email["sent"]) == (2, 1)
        assert [d["kind"] for d in list_deliveries(site.conn, include_sent=True, limit=10)] == ["email"]
    assert len(server.messages) == 1

    # Without the test CA, the self-signed certificate is refused and the mail waits.
    untrusted = SmtpReceiver().start()
    try:
        config = configure(tmp_path, untrusted.ini().replace("smtp_ca_file", "; smtp_ca_file"))
        sender = AlertSender(AlertSettings.from_config(config))
        with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
            sender.send_email("s", "t", 1)
    finally:
        untrusted.stop()
    assert untrusted.messages == []


@pytest.mark.parametrize(
    ("alerts", "reason"),
    [
        ("smtp_host = 127.0.0.1\n", "[alerts] smtp_host: set [alerts] email_to too"),
        ("email_to = a@example.com\n", "[alerts] email_to: set [alerts] smtp_host too"),
        (
            f"smtp_host = h\nemail_to = a@example.com\nsmtp_user = {USER}\n",
            "[alerts]: set both smtp_user and smtp_password",
        ),
    ],
)
def test_half_set_alerts_are_refused(tmp_path, alerts, reason):
    with pytest.raises(ConfigError) as err:
        AlertSettings.from_config(configure(tmp_path, alerts))
    assert str(err.value).startswith(reason)


async def test_the_daemon_queues_yesterdays_summary_once_at_summary_time(tmp_path, ctrack_db, smtp, monkeypatch):
    from ctrack.alerts import service as alert_service

    monkeypatch.setattr(alert_service, "SCHEDULE_SECONDS", 0.05)
    clock = Clock(utc("2026-12-02 15:59:00"))  # 07:59 in Los Angeles: not yet
    async with Site(tmp_path, ctrack_db, smtp.ini() + "summary_time = 08:00\n", clock) as site:
        stop = asyncio.Event()
        task = asyncio.create_task(alert_service.run_daily_summary(site.services, stop, clock))
        await asyncio.sleep(0.2)
        assert site.rows() == []
        clock.now = utc("2026-12-02 16:00:00")
        await asyncio.sleep(0.3)  # several rounds of the schedule: still one summary
        stop.set()
        await task
        assert [(r["kind"], r["target"]) for r in site.rows()] == [("alert_summary", "2026-12-01")]
