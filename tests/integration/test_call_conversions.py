"""End to end on the real test PBX: a real call to a number marked as a Google call asset is
delivered by the daemon as a signed webhook carrying its source's value, and shows up in the
Google Ads call-conversion file on the daemon's scheduled-upload URL; a call marked spam does
not."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import install_site
from tests.pbx.harness import wait_until
from tests.support.database import opened

GOOGLE_NUMBER = "+15035550102"  # the Radio number of install_site, here reached through Google
CALLER, SPAMMER = "15035550854", "15035550855"  # callers no other test uses
SECRET = "whsec-integration-0123456789"
TZ = "America/Los_Angeles"


class Hooks(ThreadingHTTPServer):
    """A webhook receiver on loopback that answers 204 and keeps every request."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.received.append((dict(handler.headers), body))
                handler.send_response(204)
                handler.end_headers()

            def log_message(handler, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def hooks():
    server = Hooks()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def google_site(pbx, tmp_path, hooks, suite_database):
    site = install_site(
        pbx,
        tmp_path,
        extra_config=(
            f"[conversions]\ncurrency = EUR\n"
            f"[webhooks]\nurls = http://127.0.0.1:{hooks.server_address[1]}/hook\nsecret = {SECRET}\n"
            "[google_ads]\ncall_conversion_name = Calls from ads\nupload_user = googleads\nupload_password = up-pw\n"
        ),
        new_database=suite_database,
    )
    site.config_path.write_text(site.config_path.read_text().replace("[ctrack]\n", f"[ctrack]\ntimezone = {TZ}\n"))
    site.ctrack("number", "edit", GOOGLE_NUMBER, "--google-call-asset")
    site.ctrack("source", "edit", "Radio", "--value", "80")
    site.start()
    yield site
    code = site.stop()
    pbx.load_dialplan(None)
    pbx.load_manager(None)
    assert code == 0, f"ctrack serve exited {code} on SIGTERM:\n{site.log_tail()}"


def local(ts: float) -> str:
    moment = datetime.fromtimestamp(int(ts), ZoneInfo(TZ))
    return moment.isoformat(sep=" ")


def test_a_real_google_call_goes_out_with_its_value(google_site, hooks):
    site = google_site
    assert site.pbx.call(GOOGLE_NUMBER[1:], SPAMMER, "Robo Caller", 6).answered
    [spam] = site.wait_calls("+" + SPAMMER)
    assert site.call_rows("uniqueid = ?", (spam["uniqueid"],))[0]["lead_status"] == "lead"  # the default rule
    # Marked spam (as the leads work does): the call-conversion file leaves it out.
    with opened(site.db_path) as conn:
        conn.execute("UPDATE calls SET lead_status = 'spam' WHERE uniqueid = ?", (spam["uniqueid"],))

    assert site.pbx.call(GOOGLE_NUMBER[1:], CALLER, "Gina Google", 6).answered
    [lead] = site.wait_calls("+" + CALLER)
    assert (lead["tracking_number"], lead["source"], lead["disposition"]) == (GOOGLE_NUMBER, "Radio", "answered")

    def delivery():
        return next(((h, b) for h, b in hooks.received if json.loads(b)["call"]["uniqueid"] == lead["uniqueid"]), None)

    wait_until(lambda: delivery() is not None, timeout=20, message="the call.qualified webhook did not arrive")
    headers, body = delivery()
    expected = hmac.new(SECRET.encode(), headers["X-Ctrack-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Ctrack-Signature"] == "sha256=" + expected.hexdigest()
    data = json.loads(body)["call"]
    assert (data["value"], data["currency"], data["caller_number"]) == (80.0, "EUR", "+" + CALLER)

    [row] = site.call_rows("uniqueid = ?", (lead["uniqueid"],))
    auth = base64.b64encode(b"googleads:up-pw").decode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{site.http_port}/exports/google-ads-calls.csv", headers={"Authorization": f"Basic {auth}"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        lines = resp.read().decode().splitlines()
    # the session PBX's Master.csv holds other modules' calls to this number too: only ours count
    ours = ("+" + CALLER, "+" + SPAMMER)
    assert lines[:2] + [line for line in lines[2:] if line.startswith(ours)] == [
        f"Parameters:TimeZone={TZ}",
        "Caller's Phone Number,Call Start Time,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
        f"+{CALLER},{local(row['started_at'])},Calls from ads,{local(max(int(row['ended_at']), int(row['started_at']) + 1))},80.00,EUR",
    ]
