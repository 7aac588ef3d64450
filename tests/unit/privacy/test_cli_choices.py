"""A bad choice for an option (`--consent maybe`) is refused like every other bad input: one
line naming the reason and the help to read, exit 2, nothing changed."""

import pytest
from click.testing import CliRunner

from ctrack.cli import cli
from tests.support.database import digest
from tests.support.dni_env import make_db


def dump(db) -> dict:
    return digest(db)


@pytest.fixture
def db(ctrack_db):
    path = make_db(ctrack_db)
    result = CliRunner().invoke(cli, ["--db", str(path), "number", "add", "+15035550150", "--pool", "web"])
    assert result.exit_code == 0, result.stderr
    return path


@pytest.mark.parametrize(
    "args, reason",
    [
        (
            ("number", "add", "+15035550151", "--pool", "web", "--consent", "maybe"),
            "Invalid value for '--consent': 'maybe' is not one of 'always', 'never', 'default'. "
            "(see `ctrack number add --help`)",
        ),
        (
            ("number", "edit", "+15035550150", "--consent", "ALWAYS!"),
            "Invalid value for '--consent': 'ALWAYS!' is not one of 'always', 'never', 'default'. "
            "(see `ctrack number edit --help`)",
        ),
        (("number", "edit", "+15035550150", "--consent"), "Option '--consent' requires an argument."),
        (
            ("pool", "add", "p2", "--site", "example.test", "--overflow", "spill"),
            "Invalid value for '--overflow': 'spill' is not one of 'fallback', 'share'. (see `ctrack pool add --help`)",
        ),
        (("pool", "add", "p2"), "Missing option '--site'. (see `ctrack pool add --help`)"),
        (("number", "frobnicate"), "No such command 'frobnicate'. (see `ctrack number --help`)"),
    ],
)
def test_a_bad_option_is_one_line_exit_2_and_changes_nothing(db, args, reason):
    before = dump(db)
    result = CliRunner().invoke(cli, ["--db", str(db), *args], prog_name="ctrack")
    assert result.exit_code == 2
    assert result.stderr == f"ctrack: error: {reason}\n"
    assert result.stdout == ""
    assert dump(db) == before


def test_a_group_without_its_command_still_shows_its_help(db):
    result = CliRunner().invoke(cli, ["--db", str(db), "number"], prog_name="ctrack")
    assert "Usage: ctrack number" in result.output and "ctrack: error" not in result.output
