"""The dashboard over HTTP (in-process aiohttp): login, CSRF, sessions, figures, escaping,
downloads, recordings. The browser tests (tests/browser) drive the same pages in Chromium."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer
from markupsafe import escape
from yarl import URL

from ctrack import config as config_mod
from ctrack.dashboard import charts, users
from ctrack.dashboard.auth import hash_password
from ctrack.services import Services
from ctrack.web.app import create_app
from tests.support.report_data import TZ, asave_calls, aseeded, call

EVIL_NAME = '=HYPERLINK("http://evil.example","x")<script>alert(1)</script>'
EVIL_SOURCE = "<img src=x onerror=alert(2)>"
PASSWORD = "correct horse battery"
PERIOD = "since=2024-03-09&until=2024-03-11"
QUOTED_NAME = 'rec "Müller"; x=1.wav'
FAST_LOCKS = "[dashboard]\nlogin_user_failures = 3\nlogin_address_failures = 5\nlogin_lockout_seconds = 1\n"
BEHIND_PROXY = "[http]\ntrusted_proxies = 127.0.0.1\n"


@pytest.fixture
async def board(tmp_path, ctrack_db, request):
    """The dashboard on an in-process server; a test's indirect parameter adds INI lines."""
    path = ctrack_db
    conn = await aseeded(path)
    await asave_calls(
        path,
        [
            call(
                "x1",
                "2024-03-11 15:00:00",
                EVIL_SOURCE,
                "+12125550099",
                "answered",
                75,
                name=EVIL_NAME,
                recording="rec-x1.wav",
            ),
            call("x2", "2024-03-11 15:10:00", "Radio", "+12125550098", "missed", recording="../outside.wav"),
            # After PERIOD: a file name that needs escaping in a header, and a file that is gone.
            call("x3", "2024-03-12 15:00:00", "Radio", "+12125550097", "answered", 30, recording=QUOTED_NAME),
            call("x4", "2024-03-12 15:05:00", "Radio", "+12125550096", "answered", 30, recording="rec-gone.wav"),
        ],
    )
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "rec-x1.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    (rec / QUOTED_NAME).write_bytes(b"RIFFquoted")
    (tmp_path / "outside.wav").write_bytes(b"RIFFsecret")
    users.set_password(conn, "alice", hash_password(PASSWORD))
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[ctrack]\ntimezone = {TZ}\n[recording]\ndirectory = {rec}\n" + getattr(request, "param", ""))
    services = Services(config_mod.load(ini), path)
    await services.writer.start()
    client = TestClient(TestServer(create_app(services)))
    await client.start_server()
    yield client, conn
    await client.close()
    await services.writer.close()
    conn.close()


async def login(client, user="alice", password=PASSWORD, next_path="", client_address=None):
    headers = {"X-Forwarded-For": client_address} if client_address else {}
    form = await client.get("/dashboard/login" + (f"?next={next_path}" if next_path else ""))
    token = re.search(r'name="csrf" value="([^"]+)"', await form.text()).group(1)
    return await client.post(
        "/dashboard/login",
        data={"user": user, "password": password, "csrf": token, "next": next_path},
        headers=headers,
        allow_redirects=False,
    )


def kpis(page: str) -> dict[str, str]:
    return dict(re.findall(r'id="kpi-([a-z]+)">([^<]*)<', page))


async def test_pages_need_a_login(board):
    client, _ = board
    resp = await client.get("/dashboard/?days=7", allow_redirects=False)
    location = URL(resp.headers["Location"])
    assert (resp.status, location.path, location.query["next"]) == (303, "/dashboard/login", "/dashboard/?days=7")
    assert (await client.get("/dashboard/reports/sources.csv", allow_redirects=False)).status == 401
    assert (await client.get("/dashboard/calls/1/recording", allow_redirects=False)).status == 401


async def test_login_then_overview_shows_the_hand_computed_figures(board):
    client, _ = board
    resp = await login(client, next_path=f"/dashboard/?{PERIOD}")
    assert resp.status == 303 and resp.headers["Location"] == f"/dashboard/?{PERIOD}"
    cookie = resp.cookies["ctrack_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/dashboard"
    page = await (await client.get(f"/dashboard/?{PERIOD}")).text()
    # report_data's period plus x1 (answered 75 s, a lead by the default rule, first-time) and x2 (missed).
    assert kpis(page) == {
        "calls": "9",
        "answered": "5",
        "missed": "3",
        "first": "7",
        "leads": "4",
        "spend": "135.50",
        "cpl": "33.88",
        "value": "0.00",
        "roi": "0.00",
    }  # 135.50 / 4 = 33.875
    assert "2024-03-09 – 2024-03-11 · America/New_York" in page
    assert page.count("<svg") == 4  # bars, two heatmaps, trend


async def test_login_refusals(board):
    client, _ = board
    resp = await login(client, password="wrong password", next_path="/dashboard/calls?q=1")
    page = await resp.text()
    assert resp.status == 401 and "Wrong user name or password." in page
    # The form comes back with the user name and where to go after logging in.
    assert 'name="user" value="alice"' in page and 'name="next" value="/dashboard/calls?q=1"' in page
    assert "ctrack_session" not in resp.cookies
    resp = await login(client, user="mallory")
    assert resp.status == 401
    # No CSRF cookie/field pair: refused before the password is even looked at.
    resp = await client.post(
        "/dashboard/login", data={"user": "alice", "password": PASSWORD, "csrf": "x"}, allow_redirects=False
    )
    assert resp.status == 400 and "expired" in await resp.text()
    form = await client.get("/dashboard/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await form.text()).group(1)
    resp = await client.post(
        "/dashboard/login",
        data={"user": "alice", "password": PASSWORD, "csrf": token},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert resp.status == 400


async def test_login_never_redirects_off_the_dashboard(board):
    client, _ = board
    for target in ("https://evil.example/", "//evil.example/dashboard/", "/elsewhere"):
        resp = await login(client, next_path=target)
        assert resp.headers["Location"] == "/dashboard/"


async def test_a_new_password_or_removal_ends_sessions(board):
    client, conn = board
    await login(client)
    assert (await client.get("/dashboard/", allow_redirects=False)).status == 200
    users.set_password(conn, "alice", hash_password("another long password"))
    assert (await client.get("/dashboard/", allow_redirects=False)).status == 303
    await login(client, password="another long password")
    assert (await client.get("/dashboard/", allow_redirects=False)).status == 200
    users.remove_user(conn, "alice")
    assert (await client.get("/dashboard/", allow_redirects=False)).status == 303


async def test_logout_needs_its_token(board):
    client, _ = board
    await login(client)
    page = await (await client.get("/dashboard/")).text()
    assert (await client.post("/dashboard/logout", data={"csrf": "forged"}, allow_redirects=False)).status == 400
    token = re.search(r'action="/dashboard/logout">\s*<input type="hidden" name="csrf" value="([^"]+)"', page).group(1)
    resp = await client.post("/dashboard/logout", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/dashboard/login"
    assert (await client.get("/dashboard/", allow_redirects=False)).status == 303


async def test_hostile_names_are_escaped_in_html(board):
    client, _ = board
    await login(client)
    for url in (f"/dashboard/calls?{PERIOD}", f"/dashboard/?{PERIOD}"):
        page = await (await client.get(url)).text()
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert str(escape(EVIL_SOURCE)) in page
    calls_page = await (await client.get(f"/dashboard/calls?{PERIOD}")).text()
    assert str(escape(EVIL_NAME)) in calls_page


async def test_downloads_are_formula_safe(board):
    client, _ = board
    await login(client)
    resp = await client.get(f"/dashboard/reports/calls.csv?{PERIOD}")
    assert (
        resp.status == 200
        and resp.headers["Content-Disposition"]
        == 'attachment; filename="ctrack-calls-2024-03-09-2024-03-11.csv"; '
        "filename*=UTF-8''ctrack-calls-2024-03-09-2024-03-11.csv"
    )
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    (x1,) = [r for r in rows if r["caller_number"] == "+12125550099"]
    assert x1["caller_name"] == "'" + EVIL_NAME and x1["source"] == EVIL_SOURCE
    sources = list(
        csv.DictReader(io.StringIO(await (await client.get(f"/dashboard/reports/sources.csv?{PERIOD}")).text()))
    )
    assert [(r["source"], r["calls"]) for r in sources][:2] == [("Google Ads", "4"), ("Radio", "3")]
    heat = await (await client.get(f"/dashboard/reports/heatmap.json?{PERIOD}")).json()
    assert sum(c["calls"] for c in heat) == 9
    assert (await client.get(f"/dashboard/reports/sources.csv?{PERIOD}&by=campaign")).status == 400
    assert (await client.get("/dashboard/reports/secrets.csv")).status == 404


async def test_downloads_and_overview_filter_by_site_and_lead_status(board):
    client, conn = board
    await login(client)
    conn.execute("UPDATE calls SET site = 'east' WHERE source = 'Google Ads'")
    east = await (await client.get(f"/dashboard/reports/sources.json?{PERIOD}&site=east&lead_status=lead")).json()
    assert [(r["source"], r["calls"], r["leads"], r["spend"]) for r in east] == [("Google Ads", 2, 2, None)]
    every = await (await client.get(f"/dashboard/reports/sources.json?{PERIOD}&site=")).json()
    assert sum(r["calls"] for r in every) == 9
    heat = await (await client.get(f"/dashboard/reports/heatmap.json?{PERIOD}&site=east")).json()
    assert sum(c["calls"] for c in heat) == 4
    overview = await client.get(f"/dashboard/?{PERIOD}&site=nowhere")
    assert overview.status == 200 and "Google Ads" not in await overview.text()


async def test_recordings_play_and_stay_inside_their_folder(board):
    client, conn = board
    await login(client)
    ids = dict(conn.execute("SELECT uniqueid, id FROM calls").fetchall())
    resp = await client.get(f"/dashboard/calls/{ids['x1']}/recording")
    assert resp.status == 200 and resp.content_type == "audio/wav"
    assert await resp.read() == b"RIFF" + bytes(range(256)) * 4
    resp = await client.get(f"/dashboard/calls/{ids['x1']}/recording", headers={"Range": "bytes=4-7"})
    assert resp.status == 206 and await resp.read() == bytes(range(4))
    assert (await client.get(f"/dashboard/calls/{ids['x2']}/recording")).status == 404  # ../outside.wav
    assert (await client.get(f"/dashboard/calls/{ids['c1']}/recording")).status == 404  # none
    page = await (await client.get(f"/dashboard/calls?{PERIOD}")).text()
    assert f'src="/dashboard/calls/{ids["x1"]}/recording"' in page


async def test_call_filters_and_bad_input(board):
    client, _ = board
    await login(client)
    page = await (await client.get(f"/dashboard/calls?{PERIOD}&disposition=missed")).text()
    assert re.findall(r'class="caller-number">([^<]+)<', page) == ["+12125550098", "+12125550006", "+12125550002"]
    page = await (await client.get(f"/dashboard/calls?{PERIOD}&source=Radio&lead_status=lead")).text()
    assert re.findall(r'class="caller-number">([^<]+)<', page) == ["+12125550005"]
    resp = await client.get("/dashboard/calls?since=2024-02-31")
    assert resp.status == 400 and "--since &#39;2024-02-31&#39;: not a date" in await resp.text()
    assert (await client.get("/dashboard/?days=0")).status == 400
    assert (await client.get("/dashboard/calls?lead_status=maybe")).status == 400


async def test_security_headers(board):
    client, _ = board
    resp = await client.get("/dashboard/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["X-Frame-Options"] == "DENY"
    css = await client.get("/dashboard/static/dashboard.css")
    assert css.status == 200 and css.content_type == "text/css"
    js = await client.get("/dashboard/static/call.js")
    assert js.status == 200 and js.content_type == "text/javascript" and "currentTime" in await js.text()
    assert (await client.get("/healthz")).headers.get("Content-Security-Policy") is None


def test_charts_escape_labels_and_scale_to_nice_maxima():
    assert [charts.nice_max(v) for v in (0, 1, 7, 12, 180, 2400, 26000)] == [1, 1, 10, 20, 200, 2500, 50000]
    row = {"source": "<b>x</b>", "calls": 10, "answered": 6, "missed": 3, "abandoned": 1}
    svg = str(charts.source_bars([row]))
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg
    # 10 calls on a 10-wide axis: answered 6/10 of the 420 px bar, missed 3/10, abandoned 1/10.
    assert re.findall(r'width="([\d.]+)" height="20"', svg) == ["252.0", "126.0", "42.0"]
    cells = [
        {"weekday": d, "hour": h, "calls": 4 if (d, h) == (2, 9) else 0, "missed": 0}
        for d in range(7)
        for h in range(24)
    ]
    heat = str(charts.heatmap(cells))
    assert "Wed 09:00–09:59: 4 calls, 0 missed" in heat and heat.count("<rect") == 168


def test_cli_manages_users_with_hashed_passwords(ctrack_db):
    from click.testing import CliRunner

    from ctrack.cli import cli
    from ctrack.dashboard.auth import verify_password
    from tests.support.report_data import new_db

    conn = new_db(ctrack_db)

    def run(*args, input=None):
        return CliRunner().invoke(cli, ["--db", str(ctrack_db), *args], input=input)

    result = run("dashboard", "passwd", "owner", "--password-stdin", input="short\n")
    assert (result.exit_code, result.output) == (1, "ctrack: error: the password must have at least 10 characters\n")
    result = run("dashboard", "passwd", "bad name", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1 and "use 1-64 letters, digits" in result.output
    assert conn.execute("SELECT count(*) FROM dashboard_users").fetchone()[0] == 0
    assert (
        run("dashboard", "passwd", "owner", "--password-stdin", input=PASSWORD + "\n").output
        == "dashboard user 'owner' created\n"
    )
    result = run("dashboard", "passwd", "owner", input="another password\nanother password\n")
    assert result.output.endswith("dashboard user 'owner' has a new password\n")
    (stored,) = conn.execute("SELECT password_hash FROM dashboard_users").fetchone()
    assert stored.startswith("scrypt$16384$8$1$") and "another password" not in stored
    assert verify_password("another password", stored) and not verify_password(PASSWORD, stored)
    assert [u["name"] for u in json.loads(run("dashboard", "users", "--json").output)] == ["owner"]
    result = run("dashboard", "remove", "nobody")
    assert (result.exit_code, result.output) == (
        1,
        "ctrack: error: no dashboard user 'nobody' (see `ctrack dashboard users`)\n",
    )
    assert run("dashboard", "remove", "owner").output == "dashboard user 'owner' removed\n"
    assert run("dashboard", "users").output == "no dashboard users (add one with `ctrack dashboard passwd USER`)\n"


async def test_thirty_wrong_passwords_lock_the_user_out(board, caplog):
    """The issue's case: 30 wrong passwords, then the right one, all from one address."""
    client, _ = board
    statuses = [(await login(client, password=f"guess number {i}")).status for i in range(30)]
    assert statuses == [401] * 5 + [429] * 25  # [dashboard] login_user_failures = 5
    resp = await login(client)
    assert resp.status == 429 and "ctrack_session" not in resp.cookies
    assert 25 <= int(resp.headers["Retry-After"]) <= 30  # login_lockout_seconds = 30
    assert "Too many wrong passwords" in await resp.text()
    assert (await client.get("/dashboard/", allow_redirects=False)).status == 303
    locked = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert locked == [
        "dashboard login: wrong password for user 'alice' from 127.0.0.1 (user 5 in a row, address 5 in a row); "
        "user 'alice' locked out for 30 s"
    ]
    metrics = await (await client.get("/metrics")).text()
    assert "ctrack_dashboard_login_wrong_passwords_total 5\n" in metrics
    assert "ctrack_dashboard_login_locked_out_total 26\n" in metrics


@pytest.mark.parametrize("board", [FAST_LOCKS + BEHIND_PROXY], indirect=True)
async def test_a_user_is_locked_whatever_the_address_until_the_lockout_ends(board):
    client, _ = board
    for i in range(3):  # login_user_failures = 3, each guess from another address
        assert (await login(client, password="wrong password", client_address=f"198.51.100.{i}")).status == 401
    assert (await login(client, client_address="203.0.113.50")).status == 429
    await asyncio.sleep(1.1)  # login_lockout_seconds = 1
    resp = await login(client, client_address="203.0.113.50")
    assert resp.status == 303 and "ctrack_session" in resp.cookies
    # The right password ended the count: three more guesses before the next lock.
    for _ in range(2):
        assert (await login(client, password="wrong password", client_address="198.51.100.9")).status == 401
    assert (await login(client, client_address="198.51.100.9")).status == 303


@pytest.mark.parametrize("board", [FAST_LOCKS + BEHIND_PROXY], indirect=True)
async def test_an_address_is_locked_whatever_the_user_name(board):
    client, _ = board
    for name in ("bob", "carol", "dave", "erin", "frank"):  # login_address_failures = 5
        assert (await login(client, user=name, password="wrong password", client_address="198.51.100.7")).status == 401
    assert (await login(client, client_address="198.51.100.7")).status == 429
    # An IPv6 client is one /64: its neighbour addresses share the count.
    for i in range(5):
        resp = await login(client, user=f"u{i}", password="wrong password", client_address=f"2001:db8:1:2::{i + 1}")
        assert resp.status == 401
    assert (await login(client, client_address="2001:db8:1:2:ffff::9")).status == 429
    assert (await login(client, client_address="203.0.113.8")).status == 303  # alice elsewhere is not locked


async def test_logout_ends_the_session_on_the_server(board):
    client, _ = board
    resp = await login(client)
    old = resp.cookies["ctrack_session"].value
    page = await (await client.get("/dashboard/")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert (await client.post("/dashboard/logout", data={"csrf": token}, allow_redirects=False)).status == 303
    client.session.cookie_jar.clear()
    # The cookie the browser had before logging out, sent again (a copy, a stolen cookie).
    resp = await client.get("/dashboard/", headers={"Cookie": f"ctrack_session={old}"}, allow_redirects=False)
    assert resp.status == 303
    resp = await client.get("/dashboard/reports/sources.csv", headers={"Cookie": f"ctrack_session={old}"})
    assert resp.status == 401


async def test_logging_out_one_session_keeps_the_others(board):
    client, _ = board
    first = (await login(client)).cookies["ctrack_session"].value
    client.session.cookie_jar.clear()
    await login(client)
    page = await (await client.get("/dashboard/")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert (await client.post("/dashboard/logout", data={"csrf": token}, allow_redirects=False)).status == 303
    client.session.cookie_jar.clear()
    headers = {"Cookie": f"ctrack_session={first}"}
    assert (await client.get("/dashboard/", headers=headers, allow_redirects=False)).status == 200


async def test_recording_file_names_are_escaped_in_content_disposition(board):
    client, conn = board
    await login(client)
    (call_id,) = conn.execute("SELECT id FROM calls WHERE uniqueid = 'x3'").fetchone()
    resp = await client.get(f"/dashboard/calls/{call_id}/recording")
    assert resp.status == 200 and await resp.read() == b"RIFFquoted"
    # RFC 6266: an ASCII fallback without the quote, then the exact name in RFC 5987 form.
    assert resp.headers["Content-Disposition"] == (
        "inline; filename=\"rec _M_ller_; x=1.wav\"; filename*=UTF-8''rec%20%22M%C3%BCller%22%3B%20x%3D1.wav"
    )
    assert resp.content_disposition.filename == QUOTED_NAME  # how a client reads it back


async def test_no_player_for_a_recording_the_server_would_refuse(board):
    client, conn = board
    await login(client)
    ids = dict(conn.execute("SELECT uniqueid, id FROM calls").fetchall())
    page = await (await client.get("/dashboard/calls?since=2024-03-09&until=2024-03-12")).text()
    players = re.findall(r'<audio [^>]*src="/dashboard/calls/(\d+)/recording"', page)
    assert sorted(int(i) for i in players) == sorted([ids["x1"], ids["x3"]])  # not ../outside.wav, not the gone file
    for uid in ("x2", "x4"):
        assert (await client.get(f"/dashboard/calls/{ids[uid]}/recording")).status == 404
    assert page.count("file missing") == 2
