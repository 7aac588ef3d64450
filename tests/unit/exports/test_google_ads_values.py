"""Google Ads files carry lead status and value: the one conversion rule (spam and not_lead
left out, a short call marked as a lead in), per-source default values, and the
call-conversion import for Google call-asset numbers (CLI and scheduled-upload URL)."""

from __future__ import annotations

import base64

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from ctrack import config as config_mod
from ctrack.cli import cli
from ctrack.exports.google_ads import CALL_COLUMNS, ExportSettings, build_calls
from ctrack.services import Services
from ctrack.web.app import create_app
from tests.support.database import digest
from tests.support.report_data import TZ, call, new_db, save_calls, utc

GOOGLE_NUMBER = "+15035550150"  # the business number Google's forwarding numbers ring
OTHER_NUMBER = "+15035550151"
C1, C2, C3, C4, C5, C6 = (f"+1503555085{i}" for i in range(1, 7))
G = "Cj0KCQjwLeadValue"  # gclid prefix
SETTINGS = ExportSettings("Phone lead", TZ, "EUR", 15.0)


def test_call_file_is_googles_template_with_offsets_and_a_conversion_after_the_start():
    start = utc("2024-03-10 06:59:59.6")  # 01:59:59 EST, a second before the clocks jump
    result, marks = build_calls(
        [
            (1, C1, start, start + 0.2, 250.0),  # ends within the same second
            (2, "anonymous", start, start + 90, None),
            (3, "=HYPERLINK(1)", start, start + 90, None),
            (4, C2, utc("2024-07-01 16:00:00"), utc("2024-07-01 16:05:30"), None),
        ],
        SETTINGS,
    )
    assert result.csv.split("\r\n") == [
        "Parameters:TimeZone=America/New_York",
        "Caller's Phone Number,Call Start Time,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
        f"{C1},2024-03-10 01:59:59-05:00,Phone lead,2024-03-10 03:00:00-04:00,250.00,EUR",
        f"{C2},2024-07-01 12:00:00-04:00,Phone lead,2024-07-01 12:05:30-04:00,15.00,EUR",
        "",
    ]
    assert tuple(result.csv.split("\r\n")[1].split(",")) == CALL_COLUMNS
    assert (result.exported, result.skipped) == (2, 2)  # no caller number: cannot match, not marked
    assert [call_id for call_id, _ in marks] == [1, 4]
    assert all("Caller's Phone Number" not in row for _, row in marks)  # kept after an erasure


@pytest.fixture
def env(tmp_path, ctrack_db):
    path = ctrack_db
    conn = new_db(path)
    ini = tmp_path / "ctrack.ini"
    ini.write_text(
        f"[ctrack]\ntimezone = {TZ}\n[conversions]\ncurrency = EUR\nvalue = 15\n"
        "[google_ads]\nconversion_name = Booked call\ncall_conversion_name = Phone lead\n"
        "upload_user = googleads\nupload_password = s3cret-upload-pass\n"
    )

    def run(*args):
        return CliRunner().invoke(cli, ["--config", str(ini), "--db", str(path), *args])

    for args in (
        ("source", "add", "Google Ads", "--channel", "paid_search", "--value", "120"),
        ("source", "add", "GBP", "--channel", "gbp", "--value", "80.5"),
        ("source", "add", "Radio", "--channel", "radio"),
        ("number", "add", GOOGLE_NUMBER, "--source", "GBP", "--google-call-asset"),
        ("number", "add", OTHER_NUMBER, "--source", "Radio"),
    ):
        assert run(*args).exit_code == 0, args
    save_calls(
        path,
        [
            # click conversions (gclid): qualified; qualified but spam; qualified but not a lead;
            # short but marked a lead; short and undecided
            call("k1", "2024-03-10 07:30:00", "Google Ads", C1, "answered", 90, gclid=G + "1"),
            call("k2", "2024-03-10 07:31:00", "Google Ads", C2, "answered", 90, gclid=G + "2"),
            call("k3", "2024-03-10 07:32:00", "Google Ads", C3, "answered", 90, gclid=G + "3"),
            call("k4", "2024-03-10 07:33:00", "Google Ads", C4, "answered", 20, gclid=G + "4"),
            call("k5", "2024-03-10 07:34:00", "Google Ads", C5, "answered", 20, gclid=G + "5"),
            # call conversions (calls to the Google number): qualified, own value; spam; a call
            # to another number; anonymous
            call("a1", "2024-03-10 08:00:00", "GBP", C1, "answered", 75, tracking=GOOGLE_NUMBER),
            call("a2", "2024-03-10 08:10:00", "GBP", C6, "answered", 75, tracking=GOOGLE_NUMBER),
            call("a3", "2024-03-10 08:20:00", "Radio", C2, "answered", 300, tracking=OTHER_NUMBER),
            call("a4", "2024-03-10 08:30:00", "GBP", None, "answered", 300, tracking=GOOGLE_NUMBER),
        ],
    )
    for uid, status, value in (
        ("k2", "spam", None),
        ("k3", "not_lead", None),
        ("k4", "lead", 250),
        ("a1", "lead", 199.99),  # the default rule made it a lead
        ("a2", "spam", None),
    ):
        conn.execute("UPDATE calls SET lead_status = ?, value = ? WHERE uniqueid = ?", (status, value, uid))
    return run, conn, path, ini


CLICK_HEADER = [
    "Parameters:TimeZone=America/New_York",
    "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
]
CALL_HEADER = [
    "Parameters:TimeZone=America/New_York",
    "Caller's Phone Number,Call Start Time,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
]
# a1 answered 10 s after it rang and talked 75 s: the conversion is the end of the call
CALL_ROW_A1 = f"{C1},2024-03-10 04:00:00-04:00,Phone lead,2024-03-10 04:01:25-04:00,199.99,EUR"


def test_click_file_leaves_out_spam_and_not_lead_and_takes_a_marked_lead_with_its_value(env):
    run, conn, _, _ = env
    result = run("export", "google-ads", "--conversion-name", "Booked call")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        *CLICK_HEADER,
        f"{G}1,Booked call,2024-03-10 03:30:00-04:00,120.00,EUR",  # the source's value
        f"{G}4,Booked call,2024-03-10 03:33:00-04:00,250.00,EUR",  # its own value
    ]
    # Clearing the source's value falls back to [conversions] value.
    assert run("source", "edit", "Google Ads", "--value", "").exit_code == 0
    again = run("export", "google-ads", "--conversion-name", "Other", "--since", "2024-03-10")
    assert again.stdout.splitlines()[2] == f"{G}1,Other,2024-03-10 03:30:00-04:00,15.00,EUR"


def test_call_file_exports_calls_to_google_numbers_once(env):
    run, conn, _, _ = env
    result = run("export", "google-ads-calls", "--conversion-name", "Phone lead")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [*CALL_HEADER, CALL_ROW_A1]
    assert result.stderr == "ctrack: warning: left out 1 calls without a caller number in E.164 (anonymous)\n"
    assert run("export", "google-ads-calls", "--conversion-name", "Phone lead").stdout.splitlines() == CALL_HEADER
    # The click file and the call file keep their own marks.
    assert [tuple(r) for r in conn.execute("SELECT kind, target FROM outbox WHERE kind LIKE 'google_ads%'")] == [
        ("google_ads_calls", "Phone lead")
    ]
    # Unmarking the number stops its calls from going out as call conversions.
    assert run("number", "edit", GOOGLE_NUMBER, "--no-google-call-asset").exit_code == 0
    resend = run("export", "google-ads-calls", "--conversion-name", "Phone lead", "--include-exported")
    assert resend.stdout.splitlines() == CALL_HEADER


async def test_call_file_scheduled_upload_url(env):
    run, conn, path, ini = env
    services = Services(config_mod.load(ini), path)
    await services.writer.start()
    client = TestClient(TestServer(create_app(services), host="127.0.0.1"))
    await client.start_server()
    try:
        assert (await client.get("/exports/google-ads-calls.csv")).status == 401
        wrong = {"Authorization": "Basic " + base64.b64encode(b"googleads:guess").decode()}
        assert (await client.get("/exports/google-ads-calls.csv", headers=wrong)).status == 401
        right = {"Authorization": "Basic " + base64.b64encode(b"googleads:s3cret-upload-pass").decode()}
        resp = await client.get("/exports/google-ads-calls.csv", headers=right)
        assert resp.status == 200 and resp.content_type == "text/csv"
        assert (await resp.text()).splitlines() == [*CALL_HEADER, CALL_ROW_A1]
        assert (await (await client.get("/exports/google-ads-calls.csv", headers=right)).text()).splitlines() == (
            CALL_HEADER
        )
        # The click file has its own URL and marks.
        clicks = await (await client.get("/exports/google-ads.csv", headers=right)).text()
        assert [line.split(",")[0] for line in clicks.splitlines()[2:]] == [G + "1", G + "4"]
    finally:
        await client.close()
        await services.writer.close()
    assert run("export", "google-ads-calls", "--conversion-name", "Phone lead").stdout.splitlines() == CALL_HEADER


def snapshot(path) -> dict:
    return digest(path)


@pytest.mark.parametrize(
    "args, reason",
    [
        (
            ("export", "google-ads-calls", "--conversion-name", "=1+1"),
            "conversion name '=1+1': use up to 100 characters, starting with a letter or digit",
        ),
        (
            ("export", "google-ads-calls", "--conversion-name", " "),
            "the conversion name must not be empty (the name of the conversion action in Google Ads)",
        ),
        (
            ("number", "edit", "+15035550859", "--google-call-asset"),
            "+15035550859 is not a tracking number (see `ctrack number list`)",
        ),
        (
            ("source", "add", "TV", "--channel", "tv", "--value", "-5"),
            "--value '-5': expected an amount from 0 such as 250 or 99.50",
        ),
        (
            ("source", "edit", "Radio", "--value", "-0.01"),
            "--value '-0.01': expected an amount from 0 such as 250 or 99.50",
        ),
        (
            ("source", "edit", "Radio", "--value", "12abc"),
            "--value '12abc': expected an amount from 0 such as 250 or 99.50",
        ),
        (("source", "edit", "Nope", "--value", "10"), "unknown source 'Nope' (see `ctrack source list`)"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(env, args, reason):
    run, _, path, _ = env
    before = snapshot(path)
    result = run(*args)
    assert result.exit_code == 1
    assert result.output == f"ctrack: error: {reason}\n"
    assert snapshot(path) == before


def test_number_and_source_show_their_new_fields(env):
    run, *_ = env
    assert run("number", "show", GOOGLE_NUMBER).stdout.splitlines()[-1].split() == ["google_call_asset", "yes"]
    listing = run("source", "list").stdout.splitlines()
    assert listing[0].split() == ["NAME", "CHANNEL", "CAMPAIGN", "VALUE", "NUMBERS"]
    assert "80.5" in next(line for line in listing if line.startswith("GBP"))
