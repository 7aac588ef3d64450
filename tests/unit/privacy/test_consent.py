"""Consent by region: who hears the recording prompt, decided from real numbers."""

import pytest

from ctrack import config
from ctrack.core import variables as v
from ctrack.core.model import NumberKind, Source, TrackingNumber
from ctrack.privacy.consent import ConsentRules, decide_consent, logged_consent, parse_regions
from ctrack.route.rules import Catalog, RouteSettings, decide

OREGON = ConsentRules("by_region", "US-OR")  # one-party state
CALIFORNIA = ConsentRules("by_region", "US-CA")  # all-party state


@pytest.mark.parametrize(
    ("rules", "caller", "announce", "why"),
    [
        (OREGON, "+14155550100", True, "caller US-CA all-party"),
        (OREGON, "+12065550100", True, "caller US-WA all-party"),
        (OREGON, "+493012345678", True, "caller DE all-party"),
        (OREGON, "+12125550100", False, "caller US-NY, business US-OR one-party"),
        (OREGON, "+15035550101", False, "caller US-OR, business US-OR one-party"),
        (OREGON, "+442071234567", False, "caller GB, business US-OR one-party"),
        (OREGON, "+18005550100", True, "caller region unknown"),
        (OREGON, None, True, "caller region unknown"),
        (OREGON, "12345", True, "caller region unknown"),
        (CALIFORNIA, "+12125550100", True, "business US-CA all-party"),
        (ConsentRules("by_region", ""), "+12125550100", True, "business region not set"),
        (ConsentRules("always", "US-OR"), "+12125550100", True, "mode always"),
        (ConsentRules("never", "US-CA"), "+14155550100", False, "mode never"),
    ],
)
def test_decide_consent(rules, caller, announce, why):
    assert decide_consent(rules, caller) == (announce, why)


def test_a_number_override_wins_over_the_mode():
    assert decide_consent(OREGON, "+12125550100", "always") == (True, "number always")
    assert decide_consent(OREGON, "+14155550100", "never") == (False, "number never")


def test_a_whole_country_in_the_list_covers_its_states():
    rules = ConsentRules("by_region", "US-OR", parse_regions("US"))
    assert decide_consent(rules, "+12125550100").announce is True
    assert decide_consent(ConsentRules("by_region", "US-OR", frozenset()), "+14155550100").announce is False


def test_the_default_list_is_the_documented_one():
    rules = config.defaults().recording.all_party_regions
    assert {"US-CA", "US-WA", "US-FL", "US-IL", "DE", "FR", "NO"} <= rules
    assert not {"US-OR", "US-NY", "US-TX", "GB"} & rules


CATALOG = Catalog(
    numbers={
        "+15035550101": TrackingNumber("+15035550101", NumberKind.STATIC, source="Google", record=True),
        "+15035550102": TrackingNumber("+15035550102", NumberKind.STATIC, source="Google"),
        "+15035550103": TrackingNumber(
            "+15035550103", NumberKind.STATIC, source="Google", record=True, consent="always"
        ),
    },
    sources={"Google": Source("Google", "paid_search")},
)
SETTINGS = RouteSettings(consent_prompt="custom/recorded", consent=OREGON)


def test_the_route_plays_the_prompt_by_the_callers_region():
    ca = decide("15035550101", "c.1", 0, CATALOG, SETTINGS, caller="4155550100").variables()
    assert (ca[v.CONSENT_PROMPT], ca[v.CONSENT_WHY]) == ("custom/recorded", "caller US-CA all-party")
    ny = decide("15035550101", "c.2", 0, CATALOG, SETTINGS, caller="+12125550100").variables()
    assert (ny[v.RECORD], ny[v.CONSENT_PROMPT], ny[v.CONSENT_WHY]) == (
        "1",
        "",
        "caller US-NY, business US-OR one-party",
    )
    forced = decide("15035550103", "c.3", 0, CATALOG, SETTINGS, caller="+12125550100").variables()
    assert (forced[v.CONSENT_PROMPT], forced[v.CONSENT_WHY]) == ("custom/recorded", "number always")


def test_no_prompt_without_recording_or_without_a_sound():
    unrecorded = decide("15035550102", "c.4", 0, CATALOG, SETTINGS, caller="+14155550100").variables()
    assert (unrecorded[v.CONSENT_PROMPT], unrecorded[v.CONSENT_WHY]) == ("", "not recorded")
    silent = RouteSettings(consent=OREGON)
    d = decide("15035550101", "c.5", 0, CATALOG, silent, caller="+14155550100").variables()
    assert (d[v.CONSENT_PROMPT], d[v.CONSENT_WHY]) == ("", "no consent_prompt")


def test_the_default_settings_keep_todays_prompt_on_every_recorded_call():
    settings = RouteSettings.from_config(config.loads("[recording]\nconsent_prompt = custom/recorded\n"))
    d = decide("15035550101", "c.6", 0, CATALOG, settings, caller="+12125550100").variables()
    assert (d[v.CONSENT_PROMPT], d[v.CONSENT_WHY]) == ("custom/recorded", "mode always")


def test_logged_consent_from_the_route_variables():
    assert logged_consent("1", "custom/recorded", "caller US-CA all-party") == {
        "consent_played": "1",
        "consent_reason": "caller US-CA all-party",
    }
    assert logged_consent("1", "", "mode never")["consent_played"] == "0"
    assert logged_consent(None, None, None) == {}  # the route never answered


@pytest.mark.parametrize(
    ("ini", "reason"),
    [
        ("[recording]\nconsent = sometimes\n", "consent: expected one of always, never, by_region"),
        ("[business]\nregion = US-ZZ\n", "region: unknown region 'US-ZZ'"),
        ("[recording]\nall_party_regions = US-CA, Narnia\n", "all_party_regions: unknown region 'Narnia'"),
    ],
)
def test_bad_consent_settings_name_the_line(ini, reason):
    with pytest.raises(config.ConfigError, match=reason):
        config.loads(ini, "ctrack.ini")
