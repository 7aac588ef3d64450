"""The route decision: source, forward target, recording and whisper from a dialed DID."""

import pytest

from ctrack.core import variables as v
from ctrack.core.model import NumberKind, NumberState, Source, TrackingNumber
from ctrack.route.rules import Catalog, RouteSettings, decide, valid_pass_through

CATALOG = Catalog(
    numbers={
        "+15035550101": TrackingNumber(
            "+15035550101",
            NumberKind.STATIC,
            source="Google",
            record=True,
            whisper="custom/google-call",
            forward="+15035550100",
        ),
        "+15035550102": TrackingNumber("+15035550102", NumberKind.STATIC, source="Radio", forward="PJSIP/desk"),
        "+15035550103": TrackingNumber("+15035550103", NumberKind.STATIC, source="Radio", state=NumberState.RETIRED),
        "+15035550104": TrackingNumber("+15035550104", NumberKind.POOL, pool="web"),
    },
    sources={"Google": Source("Google", "paid_search"), "Radio": Source("Radio", "radio")},
)
SETTINGS = RouteSettings(
    default_forward="PJSIP/frontdesk",
    dial_template="PJSIP/{number}@trunk",
    ring_timeout=25,
    consent_prompt="custom/recorded",
)


def test_static_number_with_recording_and_consent():
    d = decide("15035550101", "1700000000.1", 1_700_000_000, CATALOG, SETTINGS)
    assert (d.tracked, d.source, d.channel, d.tracking_number) == (True, "Google", "paid_search", "+15035550101")
    assert d.forward == "PJSIP/+15035550100@trunk"
    assert d.record and d.consent_prompt == "custom/recorded" and d.whisper == "custom/google-call"
    variables = d.variables()
    assert variables[v.RECORD] == "1" and variables[v.RING_TIMEOUT] == "25"
    assert variables[v.RECORDING_FILE].startswith("ctrack-20231114-221320-+15035550101-1700000000.1")
    assert set(variables) == set(v.ROUTE_VARIABLES)
    assert all(isinstance(value, str) for value in variables.values())


def test_dial_string_forward_and_no_recording():
    d = decide("+15035550102", "x.2", 0, CATALOG, SETTINGS)
    assert d.forward == "PJSIP/desk" and not d.record
    assert d.variables()[v.CONSENT_PROMPT] == "" and d.variables()[v.RECORDING_FILE] == ""


@pytest.mark.parametrize("did", ["15035550103", "15035550999", "s", "", "'; DROP"])
def test_unknown_or_retired_numbers_still_ring_the_business(did):
    d = decide(did, "x.3", 0, CATALOG, SETTINGS)
    assert not d.tracked and d.source is None
    assert d.forward == "PJSIP/frontdesk" and d.variables()[v.ROUTE_STATUS] == "ok"
    assert "/" not in d.recording_file and "'" not in d.recording_file


def test_pool_number_asks_for_the_visit():
    asked = []

    def visit_for(number, at):
        asked.append((number, at))
        return "visit-1"

    d = decide("15035550104", "x.4", 42.0, CATALOG, SETTINGS, visit_for)
    assert asked == [("+15035550104", 42.0)] and d.visit_id == "visit-1" and d.tracked


@pytest.mark.parametrize("forward", ["PJSIP/a,b", "PJSIP/a&PJSIP/b", "Local/s@x)", "PJSIP/x\nHangup"])
def test_unsafe_forward_rings_the_default_line(forward):
    catalog = Catalog(
        numbers={
            "+15035550106": TrackingNumber(
                "+15035550106", NumberKind.STATIC, source="Radio", forward=forward, whisper="x^y"
            )
        },
        sources=CATALOG.sources,
    )
    d = decide("15035550106", "x.5", 0, catalog, SETTINGS)
    assert d.forward == "PJSIP/frontdesk" and d.whisper == "" and d.source == "Radio"


PASS_THROUGH = Catalog(
    numbers={
        "+15035550111": TrackingNumber(
            "+15035550111", NumberKind.STATIC, source="Google", record=True, forward="goto:from-pstn"
        ),
        "+15035550112": TrackingNumber("+15035550112", NumberKind.STATIC, source="Radio", forward="goto:inbound,s,2"),
        "+15035550113": TrackingNumber("+15035550113", NumberKind.STATIC, source="Radio", forward="goto:ext-did,,1"),
        "+15035550114": TrackingNumber("+15035550114", NumberKind.STATIC, source="Radio", forward="goto:ivr,s,menu"),
    },
    sources={"Google": Source("Google", "paid_search"), "Radio": Source("Radio", "radio")},
)


def test_pass_through_keeps_the_did_as_the_extension_and_the_other_settings():
    d = decide("15035550111", "x.11", 0, PASS_THROUGH, SETTINGS, caller="+15035550123")
    variables = d.variables()
    assert variables[v.GOTO] == "from-pstn,15035550111,1"  # as dialed: the admin's inbound route matches it
    assert (d.source, d.record, d.consent_prompt) == ("Google", True, "custom/recorded")
    assert d.forward == "PJSIP/frontdesk"  # what the dialplan rings should the target send the call back
    assert decide("+15035550111", "x.12", 0, PASS_THROUGH, SETTINGS).goto == "from-pstn,+15035550111,1"


@pytest.mark.parametrize(
    ("did", "goto"), [("15035550112", "inbound,s,2"), ("15035550114", "ivr,s,menu"), ("15035550113", "")]
)
def test_pass_through_with_extension_and_priority(did, goto):
    """A named extension and priority (number or label) are kept; a malformed target rings the business."""
    d = decide(did, "x.13", 0, PASS_THROUGH, SETTINGS)
    assert d.goto == goto and d.forward == "PJSIP/frontdesk"


def test_other_forwards_have_no_pass_through():
    assert decide("15035550101", "x.14", 0, CATALOG, SETTINGS).variables()[v.GOTO] == ""
    assert decide("15035550999", "x.15", 0, CATALOG, SETTINGS).goto == ""


@pytest.mark.parametrize(
    ("forward", "ok"),
    [
        ("goto:from-pstn", True),
        ("goto:from-pstn,15035550101", True),
        ("goto:inbound,s,1", True),
        ("goto:", False),
        ("goto:from pstn", False),
        ("goto:a,b,c,d", False),
        ("goto:a),b", False),
        ("goto:a,${EXTEN}", False),
    ],
)
def test_pass_through_syntax(forward, ok):
    assert valid_pass_through(forward) is ok
