"""The number-to-source CLI: the happy paths, --json, and every refusal leaving the DB unchanged."""

import json

import pytest
from click.testing import CliRunner

from ctrack.cli import cli
from tests.support.database import digest


@pytest.fixture
def run(tmp_path, monkeypatch, ctrack_db):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CTRACK_CONFIG", raising=False)
    db = ctrack_db

    def invoke(*args, ok=True):
        result = CliRunner().invoke(cli, ["--db", str(db), *args])
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    invoke("init")
    invoke("source", "add", "Google Ads", "--channel", "paid_search", "--campaign", "Spring")
    invoke("source", "add", "Radio", "--channel", "radio")
    invoke("pool", "add", "website", "--site", "example.com", "--fallback", "+1 503 555 0199")
    invoke.db = db
    return invoke


def numbers(run):
    return json.loads(run("number", "list", "--json").stdout)


def test_init_is_idempotent(run):
    before = digest(run.db)
    assert "up to date" in run("init").stdout
    assert digest(run.db) == before


def test_number_add_national_format_and_json_contract(run):
    run(
        "number",
        "add",
        "(503) 555-0123",
        "--source",
        "Google Ads",
        "--forward",
        "503-555-0100",
        "--record",
        "--whisper",
        "custom/google-call",
        "--vanity",
        "555-PLUMB",
        "--region",
        "Portland",
    )
    run("number", "add", "+1 503 555 0124", "--pool", "website")
    assert numbers(run) == [
        {
            "number": "+15035550123",
            "kind": "static",
            "source": "Google Ads",
            "pool": None,
            "forward": "+15035550100",
            "record": True,
            "whisper": "custom/google-call",
            "vanity": "555-PLUMB",
            "region": "Portland",
            "state": "active",
            "consent": None,
            "google_call_asset": False,
        },
        {
            "number": "+15035550124",
            "kind": "pool",
            "source": None,
            "pool": "website",
            "forward": None,
            "record": False,
            "whisper": None,
            "vanity": None,
            "region": None,
            "state": "active",
            "consent": None,
            "google_call_asset": False,
        },
    ]
    table = run("number", "list").stdout
    assert table.splitlines()[0].split()[:3] == ["NUMBER", "KIND", "SOURCE"]
    assert "+15035550123  static  Google Ads" in table


def test_listings_have_json(run):
    sources = json.loads(run("source", "list", "--json").stdout)
    assert sources == [
        {"name": "Google Ads", "channel": "paid_search", "campaign": "Spring", "value": None, "numbers": 0},
        {"name": "Radio", "channel": "radio", "campaign": None, "value": None, "numbers": 0},
    ]
    pools = json.loads(run("pool", "list", "--json").stdout)
    assert pools[0]["name"] == "website" and pools[0]["fallback"] == "+15035550199"
    assert pools[0]["lease_seconds"] == 1800


def test_show_edit_retire(run):
    run("number", "add", "5035550123", "--source", "Radio")
    run("number", "edit", "+15035550123", "--source", "Google Ads", "--record", "--forward", "PJSIP/desk")
    shown = json.loads(run("number", "show", "503.555.0123", "--json").stdout)[0]
    assert (shown["source"], shown["record"], shown["forward"]) == ("Google Ads", True, "PJSIP/desk")
    run("number", "edit", "+15035550123", "--forward", "")
    assert json.loads(run("number", "show", "+15035550123", "--json").stdout)[0]["forward"] is None
    run("number", "retire", "+15035550123")
    assert numbers(run)[0]["state"] == "retired"
    assert "Google Ads" in run("number", "show", "+15035550123").stdout


def test_source_edit_and_remove(run):
    run("source", "edit", "Radio", "--name", "KXL Radio", "--channel", "radio", "--campaign", "Morning")
    run("source", "remove", "KXL Radio")
    names = [s["name"] for s in json.loads(run("source", "list", "--json").stdout)]
    assert names == ["Google Ads"]


REFUSALS = [
    (("number", "add", "(503) 555-012", "--source", "Radio"), "is not a valid phone number"),
    (("number", "add", "call me", "--source", "Radio"), "is not a phone number"),
    (("number", "add", "5035550123", "--source", "Nobody"), "unknown source 'Nobody'"),
    (("number", "add", "5035550123", "--pool", "nopool"), "unknown pool 'nopool'"),
    (("number", "add", "5035550123"), "exactly one of --source or --pool"),
    (("number", "add", "5035550123", "--source", "Radio", "--pool", "website"), "exactly one of --source or --pool"),
    (("number", "add", "5035550111", "--source", "Radio"), "+15035550111 is already a tracking number"),
    (("number", "add", "5035550199", "--source", "Radio"), "is a pool's fallback number"),
    (("number", "add", "5035550123", "--source", "Radio", "--forward", "PJSIP/a,b"), "may not contain"),
    (("number", "add", "5035550123", "--source", "Radio", "--forward", "nope"), "is not a phone number"),
    (("number", "add", "5035550123", "--source", "Radio", "--forward", "goto:from pstn"), "goto:CONTEXT[,EXTEN"),
    (("number", "add", "5035550123", "--source", "Radio", "--forward", "goto:a,${EXTEN},1"), "goto:CONTEXT[,EXTEN"),
    (("number", "add", "5035550123", "--source", "Radio", "--whisper", "hi there^x"), "must be a sound file name"),
    (("source", "add", "Radio", "--channel", "radio"), "source 'Radio' already exists"),
    (("source", "add", "TV", "--channel", "telepathy"), "Invalid value for '--channel'"),
    (("source", "add", "", "--channel", "tv"), "source name must not be empty"),
    (("source", "remove", "Radio"), "source 'Radio' is used by +15035550111"),
    (("source", "remove", "Nobody"), "unknown source 'Nobody'"),
    (("source", "edit", "Radio", "--name", "Google Ads"), "source 'Google Ads' already exists"),
    (("source", "edit", "Radio"), "nothing to change"),
    (("number", "show", "5035550177"), "+15035550177 is not a tracking number"),
    (("number", "edit", "5035550177", "--record"), "+15035550177 is not a tracking number"),
    (("number", "edit", "5035550111", "--pool", "nopool"), "unknown pool 'nopool'"),
    (("number", "retire", "5035550177"), "is not a tracking number"),
    (("pool", "add", "website", "--site", "example.org"), "pool 'website' already exists"),
    (("pool", "add", "p2", "--site", "not a domain"), "must be a domain"),
    (("pool", "add", "p2", "--site", "example.org", "--lease-seconds", "0"), "lease seconds must be greater than 0"),
    (("pool", "add", "p2", "--site", "example.org", "--fallback", "12"), "is not a valid phone number"),
]


@pytest.mark.parametrize("args, reason", REFUSALS, ids=[" ".join(a) for a, _ in REFUSALS])
def test_refusals_explain_and_change_nothing(run, args, reason):
    run("number", "add", "+15035550111", "--source", "Radio")
    before = digest(run.db)
    result = run(*args, ok=False)
    assert result.exit_code != 0
    assert reason in result.stderr
    assert result.stderr.startswith("ctrack: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert digest(run.db) == before


def test_retiring_twice_is_refused(run):
    run("number", "add", "5035550123", "--source", "Radio")
    run("number", "retire", "5035550123")
    before = digest(run.db)
    result = run("number", "retire", "5035550123", ok=False)
    assert result.exit_code == 1 and "already retired" in result.stderr
    assert digest(run.db) == before


@pytest.mark.sqlite_only("a missing SQLite file is not created")
def test_commands_refuse_without_a_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.db"), "source", "list"])
    assert result.exit_code == 1
    assert "no database here (run `ctrack init`)" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_import_is_all_or_nothing_and_reports_every_bad_line(run, tmp_path):
    csv_file = tmp_path / "numbers.csv"
    csv_file.write_text(
        "number,source,pool,forward,record\n"
        "(503) 555-0140,Radio,,,yes\n"
        "555-01,Radio,,,\n"  # line 3: invalid number
        "503 555 0142,Nobody,,,\n"  # line 4: unknown source
        "503 555 0140,Radio,,,\n"  # line 5: duplicate within the file
        "503 555 0143,,website,,maybe\n"  # line 6: bad record flag
        "503 555 0144,,website,,no\n"
    )
    before = digest(run.db)
    result = run("number", "import", str(csv_file), ok=False)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ")[3] for line in lines] == ["line 3", "line 4", "line 5", "line 6"]
    assert "unknown source 'Nobody'" in lines[1] and "also on line 2" in lines[2]
    assert digest(run.db) == before

    csv_file.write_text("number,source,pool,record\n(503) 555-0140,Radio,,yes\n503 555 0144,,website,no\n")
    assert "imported 2 numbers" in run("number", "import", str(csv_file)).stdout
    assert [n["number"] for n in numbers(run)] == ["+15035550140", "+15035550144"]
    assert numbers(run)[0]["record"] is True


def test_import_refuses_a_number_already_in_the_database(run, tmp_path):
    run("number", "add", "5035550140", "--source", "Radio")
    csv_file = tmp_path / "numbers.csv"
    csv_file.write_text("number,source\n503 555 0150,Radio\n503 555 0140,Radio\n")
    before = digest(run.db)
    result = run("number", "import", str(csv_file), ok=False)
    assert "line 3: +15035550140 is already a tracking number" in result.stderr
    assert digest(run.db) == before


def test_import_refuses_a_bad_header(run, tmp_path):
    csv_file = tmp_path / "numbers.csv"
    csv_file.write_text("phone,source\n5035550140,Radio\n")
    result = run("number", "import", str(csv_file), ok=False)
    assert result.exit_code == 1 and "line 1: header must name 'number'" in result.stderr


def test_pass_through_forward_is_kept_as_given(run):
    run("number", "add", "+15035550123", "--source", "Radio", "--forward", "goto:from-pstn")
    run("number", "add", "+15035550124", "--source", "Radio", "--forward", " goto:ivr-3,s,1 ")
    forwards = {n["number"]: n["forward"] for n in json.loads(run("number", "list", "--json").stdout)}
    assert forwards == {"+15035550123": "goto:from-pstn", "+15035550124": "goto:ivr-3,s,1"}
