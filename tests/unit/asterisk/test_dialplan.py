"""Rendered PBX configuration: only the CTRACK_* names of ctrack.core.variables, safe values."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctrack import config
from ctrack.asterisk.dialplan import RenderError, render_asterisk, render_manager, templates_dir
from ctrack.cli import cli
from ctrack.core import variables

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "template", sorted(p for p in (ROOT / "dialplan_templates").rglob("*") if p.is_file()), ids=lambda p: p.name
)
def test_templates_use_only_declared_channel_variables(template):
    names = set(re.findall(r"CTRACK_[A-Z0-9_]+", template.read_text()))
    assert names <= set(variables.ALL), f"{template.name} uses undeclared {sorted(names - set(variables.ALL))}"


def test_variable_names_are_unique_and_prefixed():
    assert len(set(variables.ALL)) == len(variables.ALL)
    assert all(name.startswith("CTRACK_") for name in variables.ALL)


def _config(text: str = "") -> config.Config:
    values = config.defaults().as_dict()
    values.update(config.parse_text(text))
    return config.build(values)


def test_asterisk_dialplan_falls_back_to_the_business_line():
    text = render_asterisk(
        _config("[business]\ndefault_forward = PJSIP/frontdesk\nring_timeout = 25\n[fastagi]\nlisten = 0.0.0.0:4600\n")
    )
    assert "[ctrack-inbound]" in text and "exten => _X.,1,Goto(ctrack-call,${EXTEN},1)" in text
    assert "exten => _+X.,1,Goto(ctrack-call,${EXTEN},1)" in text
    assert "AGI(agi://127.0.0.1:4600/route,${CTRACK_DID})" in text
    assert '$["${CTRACK_ROUTE_STATUS}" = "ok"]?routed' in text
    assert "Set(CTRACK_FORWARD=PJSIP/frontdesk)" in text and "Set(CTRACK_RING_TIMEOUT=25)" in text
    for cause in ("Hangup(17)", "Hangup(19)", "Hangup(34)"):
        assert cause in text


def test_classic_agi_variant():
    text = render_asterisk(_config(), agi="script")
    assert "AGI(ctrack-route.agi,${CTRACK_DID})" in text and "agi://" not in text


@pytest.mark.parametrize(
    "forward", ["PJSIP/a,b", "PJSIP/a&PJSIP/b", "Local/s@x)", "PJSIP/a|b", "Local/s@x^y", 'PJSIP/"a"']
)
def test_unsafe_default_forward_is_refused(forward):
    """The same rule as the route's and the CLI's (ctrack/core/dialstring.py): ^ and " too."""
    with pytest.raises(RenderError, match="a dial string may not contain"):
        render_asterisk(_config(f"[business]\ndefault_forward = {forward}\n"))


def test_manager_user_filters_events_and_needs_a_secret():
    with pytest.raises(RenderError, match="secret is empty"):
        render_manager(_config())
    text = render_manager(_config("[ami]\nsecret = s3cret\nusername = tracker\n"))
    assert "[tracker]" in text and "secret = s3cret" in text
    assert "eventfilter = Event: Newchannel" in text and "eventfilter = Event: Hangup" in text
    assert "eventfilter = Variable: (CTRACK_|MIXMONITOR_FILENAME|VM_MESSAGEFILE)" in text
    assert "eventfilter = Event: Newstate.*ChannelState: 6" in text
    assert "write = reporting\n" in text  # status lists (CoreShowChannels), nothing that acts


def test_render_command_writes_a_file(tmp_path, ctrack_db, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "ctrack.conf"
    result = CliRunner().invoke(cli, ["--db", str(ctrack_db), "dialplan", "render", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "[ctrack-call]" in out.read_text()
    result = CliRunner().invoke(cli, ["--db", str(ctrack_db), "dialplan", "render", "--manager"])
    assert result.exit_code == 1 and "secret is empty" in result.stderr


def test_templates_are_found():
    assert (templates_dir() / "asterisk" / "extensions_ctrack.conf.j2").is_file()


def test_context_names_come_from_the_one_definition():
    """The AMI listener and the CDR backstop recognise the inbound leg by the contexts the
    template renders: both read ctrack/core/variables.py, the template has no copy."""
    source = (templates_dir() / "asterisk" / "extensions_ctrack.conf.j2").read_text()
    assert not re.search(r"ctrack-(inbound|call|whisper)", source)
    text = render_asterisk(_config())
    for context in (*variables.INBOUND_CONTEXTS, variables.WHISPER_CONTEXT):
        assert f"\n[{context}]\n" in text
    assert "{{" not in text and ",)" not in text  # no always-empty Dial options left


def test_pass_through_continues_after_the_recording_and_falls_back_without_the_route():
    text = render_asterisk(_config())
    lines = text.splitlines()
    at = {
        name: next(i for i, line in enumerate(lines) if marker in line)
        for name, marker in (
            ("fallback", "Set(CTRACK_GOTO=)"),
            ("routed", "n(routed)"),
            ("record", "n(record),MixMonitor("),
            ("check", '$["${CTRACK_GOTO}" != ""]?passthrough'),
            ("goto", "n(passthrough),Goto(${CTRACK_GOTO})"),
        )
    }
    # the route down: CTRACK_GOTO cleared before `routed`; recording starts before the Goto
    assert at["fallback"] < at["routed"] < at["record"] < at["check"] < at["goto"]
    assert 'exten => _[+0-9].,1,GotoIf($["${CTRACK_INBOUND}" = "1"]?again)' in text  # a target that loops back
    assert "n(again),Set(CTRACK_GOTO=)" in text
