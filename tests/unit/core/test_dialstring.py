"""One dial-string rule: the route, the dialplan render and the CLI refuse the same strings."""

import pytest
from click.testing import CliRunner

from ctrack import config
from ctrack.asterisk.dialplan import RenderError, render_asterisk
from ctrack.cli import cli
from ctrack.core import dialstring
from ctrack.route.rules import RouteSettings, forward_dial_string

UNSAFE = [
    "PJSIP/a,b",
    "PJSIP/a&PJSIP/b",
    "Local/s@x)",
    "PJSIP/a|b",
    "Local/s@x^y",
    'PJSIP/"a"',
    "PJSIP/a;b",
    "PJSIP/a\nb",
]
SETTINGS = RouteSettings(default_forward="PJSIP/frontdesk")


@pytest.mark.parametrize("dial", UNSAFE)
def test_every_face_refuses_the_same_unsafe_dial_string(dial, tmp_path, ctrack_db, monkeypatch):
    assert not dialstring.is_safe(dial)
    assert forward_dial_string(dial, SETTINGS) == "PJSIP/frontdesk"  # the route rings the business
    cfg = config.build({**config.defaults().as_dict(), "business.default_forward": dial})
    with pytest.raises(RenderError, match="a dial string may not contain"):
        render_asterisk(cfg)
    monkeypatch.chdir(tmp_path)
    db = str(ctrack_db)
    assert CliRunner().invoke(cli, ["--db", db, "init"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--db", db, "number", "add", "+15035550101", "--forward", dial])
    assert result.exit_code == 1 and "a dial string may not contain" in result.stderr


def test_a_plain_dial_string_passes_everywhere():
    assert dialstring.is_safe("PJSIP/frontdesk@trunk") and not dialstring.is_safe("")
    assert forward_dial_string("Local/s@business-line", SETTINGS) == "Local/s@business-line"
