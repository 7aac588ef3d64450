"""ACL names in what ctrack tells a FreeSWITCH admin: each one FreeSWITCH defines, or the admin's own.

An unknown name in apply-inbound-acl locks ctrack out (FreeSWITCH refuses every address), so
the docs and the rendered snippets are read here and every list name they use is checked.
"""

import re
from pathlib import Path

import pytest

from ctrack.freeswitch import acl
from ctrack.freeswitch.dialplan import render_dialplan
from tests.unit.freeswitch.test_dialplan import NUMBERS, fs_config

ROOT = Path(__file__).resolve().parents[3]
PARAM = re.compile(r'<param\s+name="(apply-[a-z-]*acl|[a-z-]*acl[a-z-]*)"\s+value="([^"]*)"')
MENTION = re.compile(r"`([A-Za-z0-9_]+\.[A-Za-z0-9_]+)`")  # `loopback.auto` in prose about an ACL
ADMIN_LIST = re.compile(r'<list\s+name="([^"]+)"')


def texts() -> dict[str, str]:
    found = {str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "dialplan_templates" / "freeswitch").iterdir()}
    found["docs/freeswitch.md"] = (ROOT / "docs" / "freeswitch.md").read_text()
    found["README.md"] = (ROOT / "README.md").read_text()
    found["rendered dialplan"] = render_dialplan(fs_config(), NUMBERS)
    return found


def acl_names(text: str) -> set[str]:
    names = {value for _, value in PARAM.findall(text)}
    for line in text.splitlines():
        if "acl" in line.lower():
            names |= {m for m in MENTION.findall(line) if not m.endswith((".xml", ".conf", ".md"))}
    return names


def test_the_docs_set_an_acl_that_lets_ctrack_in():
    doc = (ROOT / "docs" / "freeswitch.md").read_text()
    assert ("apply-inbound-acl", "loopback.auto") in PARAM.findall(doc)


@pytest.mark.parametrize("where", sorted(texts()))
def test_every_acl_name_is_one_freeswitch_defines(where):
    text = texts()[where]
    admin = frozenset(ADMIN_LIST.findall(text))
    unknown = {name for name in acl_names(text) if not acl.known(name, admin)}
    assert not unknown, f"{where}: FreeSWITCH defines no ACL {sorted(unknown)}"


def test_known_names():
    assert acl.known("loopback.auto") and acl.known("rfc1918.auto") and acl.known("any_v4.auto")
    assert acl.known("127.0.0.1/32") and acl.known("10.0.0.0/8,192.168.0.0/16")
    assert acl.known("office", frozenset({"office"}))
    assert not acl.known("loopback.auth") and not acl.known("127.0.0.1") and not acl.known("office")
