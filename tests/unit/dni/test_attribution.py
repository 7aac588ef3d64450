"""DNI source classification, request validation, first/last touch and picking a call's visit."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctrack.core.model import CHANNELS
from ctrack.core.period import DAY
from ctrack.dni.attribution import (
    DIRECT,
    BadRequest,
    Classification,
    SiteRules,
    Touch,
    classify,
    new_visit,
    normalize_site,
    parse_lease_request,
    pick_visit,
    revisit,
    touch_from_url,
)
from ctrack.dni.pools import Grant, GrantKind

SITE = "example.com"


@pytest.mark.parametrize(
    "touch, expected",
    [
        (Touch(gclid="abc"), ("Google Ads", "paid_search")),
        (Touch(gbraid="abc"), ("Google Ads", "paid_search")),
        (Touch(wbraid="abc"), ("Google Ads", "paid_search")),
        (Touch(msclkid="abc"), ("Microsoft Ads", "paid_search")),
        (Touch(fbclid="abc"), ("Meta Ads", "social")),
        # a click id beats the utm tags and the referrer
        (
            Touch(gclid="x", utm_source="newsletter", utm_medium="email", referrer="https://www.bing.com/"),
            ("Google Ads", "paid_search"),
        ),
        (Touch(utm_source="Spring Mailer", utm_medium="email"), ("Spring Mailer", "email")),
        (Touch(utm_source="valpak", utm_medium="Print"), ("valpak", "print")),
        (Touch(utm_source="bing", utm_medium="cpc"), ("bing", "paid_search")),
        (Touch(utm_source="google", utm_medium="organic", utm_campaign="gbp"), ("google", "organic")),
        (Touch(utm_source="gmb", utm_medium="organic"), ("gmb", "gbp")),
        (Touch(utm_source="kpam", utm_medium="radio"), ("kpam", "radio")),
        (Touch(utm_source="partner", utm_medium="carrier-pigeon"), ("partner", "other")),
        (Touch(utm_source="facebook"), ("facebook", "social")),
        (Touch(utm_medium="email", referrer="https://mail.google.com/"), ("Gmail", "email")),
        (Touch(referrer="https://www.google.com/"), ("Google Organic", "organic")),
        (Touch(referrer="https://www.google.co.uk/search?q=plumber"), ("Google Organic", "organic")),
        (Touch(referrer="https://www.bing.com/search?q=x"), ("Bing Organic", "organic")),
        (Touch(referrer="https://duckduckgo.com/"), ("DuckDuckGo Organic", "organic")),
        (Touch(referrer="https://search.brave.com/search?q=x"), ("Brave Organic", "organic")),
        (Touch(referrer="android-app://com.google.android.googlequicksearchbox/"), ("Google Organic", "organic")),
        (Touch(referrer="https://mail.google.com/mail/u/0/"), ("Gmail", "email")),
        (Touch(referrer="https://l.facebook.com/l.php?u=x"), ("Facebook", "social")),
        (Touch(referrer="https://t.co/abc"), ("X", "social")),
        (Touch(referrer="https://www.linkedin.com/feed/"), ("LinkedIn", "social")),
        (Touch(referrer="https://www.yelp.com/biz/joes-plumbing"), ("yelp.com", "referral")),
        (Touch(referrer="https://notgoogle.com/"), ("notgoogle.com", "referral")),
        (Touch(referrer="https://www.example.com/services"), ("Direct", "direct")),  # internal navigation
        (Touch(referrer="https://shop.example.com/"), ("Direct", "direct")),  # own subdomain
        (Touch(), ("Direct", "direct")),
    ],
)
def test_classify(touch, expected):
    assert classify(touch, SITE) == Classification(*expected)


text = st.one_of(st.none(), st.text(max_size=30))


@given(
    st.builds(
        Touch,
        landing_page=text,
        referrer=text,
        utm_source=text,
        utm_medium=text,
        utm_campaign=text,
        utm_term=text,
        gclid=text,
        msclkid=text,
        fbclid=text,
    )
)
def test_classification_always_names_a_known_channel(touch):
    found = classify(touch, SITE)
    assert found.channel in CHANNELS
    assert found.source


def span(visit_id, started_at, expires_at):
    """A lease on the dialed number, as the call store reads it."""
    return Grant(visit_id, "web", "+15035550101", GrantKind.LEASE, started_at, expires_at)


def _body(**over):
    body = {
        "site": "www.Example.com",
        "page_url": "https://www.example.com/?gclid=abc",
        "referrer": "https://www.google.com/",
        "params": {"gclid": "abc", "utm_term": "emergency plumber"},
        "ga_client_id": "1234567890.1700000000",
    }
    body.update(over)
    return body


def test_parse_lease_request():
    req = parse_lease_request(_body(visit_id="A" * 22))
    assert req.site == "example.com"
    assert req.touch.gclid == "abc" and req.touch.utm_term == "emergency plumber"
    assert req.touch.landing_page == "https://www.example.com/?gclid=abc"
    assert req.ga_client_id == "1234567890.1700000000"
    assert req.visit_id == "A" * 22
    assert parse_lease_request({"site": "example.com"}).touch == Touch()


@pytest.mark.parametrize(
    "body, message",
    [
        ([], "expected a JSON object"),
        ({}, "site: required"),
        (_body(site="exa mple.com"), "site: expected a domain"),
        (_body(site="example.com/path"), "site: expected a domain"),
        (_body(site=5), "site: required"),
        (_body(page_url="javascript:alert(1)"), "page_url: expected an http(s) URL"),
        (_body(page_url="https://x/" + "a" * 2048), "page_url: longer than 2048"),
        (_body(referrer="https://x/\x00y"), "referrer: contains control characters"),
        (_body(params=["gclid"]), "params: expected an object"),
        (_body(params={"utm_source": "x", "evil": "y"}), "params: unknown parameter 'evil'"),
        (_body(params={"gclid": "g" * 501}), "gclid: longer than 500"),
        (_body(params={"gclid": 5}), "gclid: expected a string"),
        (_body(visit_id="../../etc/passwd"), "visit_id: not a visit id"),
        (_body(visit_id="short"), "visit_id: not a visit id"),
        (_body(ga_client_id="1" * 101), "ga_client_id: longer than 100"),
        (_body(caller="+15035550100"), "unknown field 'caller'"),
    ],
)
def test_bad_requests_say_which_field(body, message):
    with pytest.raises(BadRequest) as err:
        parse_lease_request(body)
    assert str(err.value).startswith(message)


def test_touch_from_an_amp_page_url():
    touch = touch_from_url(
        "https://example.com/amp/?utm_source=mailer&utm_medium=email&gclid=g1&x=1", "https://www.google.com/"
    )
    assert (touch.utm_source, touch.utm_medium, touch.gclid) == ("mailer", "email", "g1")
    assert touch.referrer == "https://www.google.com/"
    with pytest.raises(BadRequest):
        touch_from_url("ftp://example.com/", None)


def test_normalize_site():
    assert normalize_site(" WWW.Example.COM. ") == "example.com"
    assert normalize_site("shop.example.com") == "shop.example.com"


# --- first and last touch ------------------------------------------------------------------

PAID = Touch(landing_page="https://example.com/?gclid=g1", gclid="g1", utm_term="drain cleaning")
MAIL = Touch(
    landing_page="https://example.com/?utm_source=mailer&utm_medium=email", utm_source="mailer", utm_medium="email"
)
INTERNAL = Touch(landing_page="https://example.com/contact", referrer="https://example.com/")


def test_first_touch_keeps_the_first_source_for_its_window():
    rules = SiteRules("first", 30)
    visit = new_visit("v" * 22, SITE, PAID, None, 1000.0)
    again = revisit(visit, MAIL, "ga.1", rules, 2000.0)
    assert (again.source, again.touch) == ("Google Ads", PAID)
    assert again.last_seen == 2000.0 and again.ga_client_id == "ga.1"
    assert again.expires_at(rules) == 1000.0 + 30 * DAY  # counted from the first visit


def test_last_touch_takes_a_new_non_direct_touch_only():
    rules = SiteRules("last", 7)
    visit = new_visit("v" * 22, SITE, PAID, None, 1000.0)
    assert revisit(visit, INTERNAL, None, rules, 1500.0).touch == PAID  # direct never overrides
    again = revisit(visit, MAIL, None, rules, 2000.0)
    assert (again.source, again.channel, again.touch) == ("mailer", "email", MAIL)
    assert again.expires_at(rules) == 2000.0 + 7 * DAY  # counted from the last visit
    assert again.first_seen == 1000.0


def test_a_direct_first_visit_is_direct():
    visit = new_visit("v" * 22, SITE, Touch(), None, 0.0)
    assert (visit.source, visit.channel) == (DIRECT.source, DIRECT.channel)


# --- which visit a call belongs to ---------------------------------------------------------


def test_pick_the_one_visit_holding_the_number():
    assert pick_visit([span("a", 0, 100)], 50) == ("a", False)
    assert pick_visit([], 50) == (None, False)


def test_a_lease_that_ended_within_grace_still_counts():
    assert pick_visit([span("a", 0, 100)], 150) == ("a", False)


def test_two_candidates_are_ambiguous_and_the_holder_wins():
    spans = [span("old", 0, 100), span("new", 110, 300)]
    assert pick_visit(spans, 120) == ("new", True)


def test_shared_numbers_are_ambiguous_latest_lease_first():
    spans = [span("a", 0, 300), span("b", 50, 300)]
    assert pick_visit(spans, 120) == ("b", True)
    assert pick_visit(spans, 120, preferred="a") == ("a", True)


@given(
    st.lists(st.tuples(st.sampled_from("abcd"), st.floats(0, 1000), st.floats(0, 1000)), max_size=8), st.floats(0, 1000)
)
def test_ambiguity_is_never_silent(raw, at):
    spans = [span(v, min(s, e), max(s, e)) for v, s, e in raw]
    visit, ambiguous = pick_visit(spans, at)
    visits = {s.visit_id for s in spans}
    assert ambiguous == (len(visits) > 1)
    assert (visit is None) == (not visits)
    assert visit is None or visit in visits
