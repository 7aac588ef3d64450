"""The rendered FreeSWITCH dialplan: valid XML, the phone always rings, CTRACK_* names only."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ctrack import config
from ctrack.asterisk.dialplan import templates_dir
from ctrack.core import variables as v
from ctrack.freeswitch.dialplan import TEMPLATE, DialplanError, config_problems, did_pattern, render_dialplan

NUMBERS = ["+15035550142", "(503) 555-0143", "+44 20 7183 8750"]


def fs_config(**overrides) -> config.Config:
    values = config.defaults().as_dict()
    values.update(
        {
            "business.default_forward": "sofia/gateway/trunk/15035550100",
            "business.dial_template": "sofia/gateway/trunk/{number}",
        }
    )
    values.update(overrides)
    return config.build(values)


def actions(xml: str) -> list[tuple[str, str]]:
    root = ET.fromstring(xml)
    return [(a.get("application"), a.get("data")) for a in root.iter("action")]


def test_template_names_no_channel_variable_itself():
    assert "CTRACK_" not in (templates_dir() / TEMPLATE).read_text()


def test_rendered_dialplan_sets_defaults_before_asking_ctrack():
    xml = render_dialplan(fs_config(), NUMBERS)
    steps = actions(xml)
    apps = [app for app, _ in steps]
    socket = apps.index("socket")
    assert steps[socket] == ("socket", "127.0.0.1:8084 async full")
    before = dict(data.split("=", 1) for app, data in steps[:socket] if app == "set")
    assert before[v.FORWARD] == "sofia/gateway/trunk/15035550100"
    assert before[v.RING_TIMEOUT] == "30"
    assert before["socket_resume"] == "true"
    assert before[v.DID] == "${destination_number}"
    assert ("bridge", "${%s}" % v.FORWARD) in steps[socket:]
    assert ("set", "call_timeout=${%s}" % v.RING_TIMEOUT) in steps[socket:]
    used = set(re.findall(r"CTRACK_[A-Z_]+", xml))
    assert used and used <= set(v.ALL)


@pytest.mark.parametrize(
    "dialed, matches",
    [
        ("15035550142", True),
        ("+15035550142", True),
        ("5035550142", True),
        ("5035550143", True),
        ("442071838750", True),
        ("+442071838750", True),
        ("2071838750", True),
        ("15035550144", False),
        ("915035550142", False),
        ("50355501420", False),
    ],
)
def test_only_tracking_numbers_match(dialed, matches):
    root = ET.fromstring(render_dialplan(fs_config(), NUMBERS))
    pattern = root.find(".//condition[@field='destination_number']").get("expression")
    assert bool(re.match(pattern, dialed)) is matches


def test_a_call_ctrack_has_seen_passes_the_extension_by():
    """A pass-through back into this context (CTRACK_DID already set when the transfer hunts
    it again) must reach the admin's extensions, not ctrack's socket a second time."""
    first = ET.fromstring(render_dialplan(fs_config(), NUMBERS)).find(".//condition")
    assert (first.get("field"), first.get("expression")) == ("${%s}" % v.DID, "^$")
    assert not first.findall("action")  # a guard only; the actions follow the DID match
    assert not re.match(first.get("expression"), "15035550142") and re.match(first.get("expression"), "")


def test_values_are_xml_escaped():
    xml = render_dialplan(
        fs_config(**{"business.default_forward": "{sip_h_X-A=1&2}user/1000@${domain_name}"}), NUMBERS[:1]
    )
    assert ("set", f"{v.FORWARD}={{sip_h_X-A=1&2}}user/1000@${{domain_name}}") in actions(xml)


def test_asterisk_dial_strings_are_refused_with_the_fix():
    cfg = config.defaults()  # Local/s@business-line, PJSIP/{number}@trunk
    problems = config_problems(cfg)
    assert len(problems) == 2
    assert problems[0].startswith("business.default_forward = Local/s@business-line is an Asterisk dial string")
    with pytest.raises(DialplanError, match="sofia/gateway/trunk"):
        render_dialplan(cfg, NUMBERS)


def test_ipv6_listen_address_is_refused():
    assert "IPv4 only" in config_problems(fs_config(**{"freeswitch.outbound_listen": ("::1", 8084)}))[0]


def test_no_numbers_or_bad_numbers():
    with pytest.raises(DialplanError, match="no active tracking numbers"):
        render_dialplan(fs_config(), [])
    with pytest.raises(DialplanError, match="not a"):
        render_dialplan(fs_config(), ["12"])


def test_docs_name_version_modules_and_settings():
    text = (Path(__file__).resolve().parents[3] / "docs" / "freeswitch.md").read_text()
    for needle in (
        "1.10.12",
        "mod_event_socket",
        "mod_dptools",
        "mod_sofia",
        "mod_sndfile",
        "mod_commands",
        "listen-ip",
        "apply-inbound-acl",
        "password",
        "socket_resume",
        "async full",
    ):
        assert needle in text, needle
    for key in config.SCHEMA["freeswitch"]:
        assert f"{key} = " in text, key


def test_docs_show_what_the_rendered_pattern_matches():
    doc = (Path(__file__).resolve().parents[3] / "docs" / "freeswitch.md").read_text()
    pattern = did_pattern(["+15035550142", "+442071838750"])
    assert pattern in doc
    for dialed in ("+15035550142", "15035550142", "5035550142", "+442071838750", "2071838750"):
        assert re.match(pattern, dialed), dialed
    for other in ("0015035550142", "50355501421", "15035550100", "5035550142#1"):
        assert not re.match(pattern, other), other
    assert "99_business_line.xml" in doc  # how other DIDs ring the business line
