"""The regional pool rule: data-ctrack-pool, then utm_campaign, then the longest path prefix,
then the site's default pools."""

import pytest

from ctrack.core.model import Pool
from ctrack.dni.selection import (
    BY_ATTRIBUTE,
    BY_CAMPAIGN,
    BY_DEFAULT,
    BY_PATH,
    BadSelector,
    Choice,
    choose_pools,
    parse_campaign,
    parse_path_prefix,
)

SITE = "example.test"
WEB = Pool("web", SITE)
SPARE = Pool("spare", SITE)
PORTLAND = Pool("portland", SITE, region="US-OR", path_prefix="/portland")
SEATTLE = Pool("seattle", SITE, region="US-WA", path_prefix="/seattle", utm_campaign="seattle-spring")
OREGON_COAST = Pool("coast", SITE, region="US-OR", path_prefix="/portland/coast")
POOLS = [WEB, PORTLAND, SEATTLE, OREGON_COAST, SPARE]


def choose(url, requested=None, *campaigns):
    return choose_pools(POOLS, requested, url, campaigns or (None,))


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://example.test/portland", Choice(("portland",), BY_PATH)),
        ("https://example.test/portland/", Choice(("portland",), BY_PATH)),
        ("https://example.test/Portland/Roofing?x=1#top", Choice(("portland",), BY_PATH)),
        ("https://example.test/portland/coast/astoria", Choice(("coast",), BY_PATH)),  # the longest prefix
        ("https://example.test/seattle/index.html", Choice(("seattle",), BY_PATH)),
        ("https://example.test/portlandia", Choice(("spare", "web"), BY_DEFAULT)),  # whole path segments only
        ("https://example.test/about/portland", Choice(("spare", "web"), BY_DEFAULT)),
        ("https://example.test/", Choice(("spare", "web"), BY_DEFAULT)),
        (None, Choice(("spare", "web"), BY_DEFAULT)),
    ],
)
def test_the_path_prefix_chooses_by_whole_segments_longest_first(url, expected):
    assert choose(url) == expected


def test_data_ctrack_pool_beats_utm_and_path():
    assert choose("https://example.test/portland/x", "seattle", "seattle-spring") == Choice(("seattle",), BY_ATTRIBUTE)
    assert choose("https://example.test/seattle", "web") == Choice(("web",), BY_ATTRIBUTE)  # a default pool by name


def test_utm_campaign_beats_path_and_the_visits_campaign_counts_when_the_page_has_none():
    assert choose("https://example.test/portland", None, "Seattle-Spring") == Choice(("seattle",), BY_CAMPAIGN)
    # The page has no campaign (the visitor clicked on from the landing page): the visit's one.
    assert choose("https://example.test/portland", None, None, "seattle-spring") == Choice(("seattle",), BY_CAMPAIGN)
    # A campaign no pool has is no choice at all.
    assert choose("https://example.test/portland", None, "winter-sale") == Choice(("portland",), BY_PATH)


def test_an_unknown_data_ctrack_pool_falls_through_and_is_named():
    assert choose("https://example.test/", "nowhere") == Choice(("spare", "web"), BY_DEFAULT, unknown="nowhere")
    assert choose("https://example.test/seattle", "nowhere") == Choice(("seattle",), BY_PATH, unknown="nowhere")


def test_a_pool_of_another_site_is_unknown_here():
    other = Pool("other", "other.test")
    assert choose_pools([WEB, PORTLAND], "other", "https://example.test/", [None]).unknown == "other"
    assert other.name not in choose_pools([WEB, PORTLAND], "other", None, [None]).pools


def test_a_site_whose_every_pool_is_regional_defaults_to_all_of_them():
    assert choose_pools([SEATTLE, PORTLAND], None, "https://example.test/", [None]) == Choice(
        ("portland", "seattle"), BY_DEFAULT
    )


@pytest.mark.parametrize(
    "text, stored", [("/portland", "/portland"), (" /Portland/ ", "/portland"), ("/a%20b/c", "/a b/c")]
)
def test_a_path_prefix_is_stored_as_compared(text, stored):
    assert parse_path_prefix(text) == stored


@pytest.mark.parametrize(
    "text, reason",
    [
        ("portland", "must start with /"),
        ("https://example.test/portland", "must start with /"),
        ("/portland?x=1", "a path alone"),
        ("/port land", "a path alone"),
        ("/", "matches every page"),
        ("//", "matches every page"),
        ("/" + "a" * 200, "longer than 200"),
    ],
)
def test_a_bad_path_prefix_says_why(text, reason):
    with pytest.raises(BadSelector, match=reason):
        parse_path_prefix(text)


def test_a_campaign_is_stored_as_compared_and_must_say_something():
    assert parse_campaign(" Seattle-Spring ") == "seattle-spring"
    with pytest.raises(BadSelector, match="must not be empty"):
        parse_campaign("  ")
    with pytest.raises(BadSelector, match="printable"):
        parse_campaign("a\x01b")
