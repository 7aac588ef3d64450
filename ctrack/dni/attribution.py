"""Website visits: validate a lease request, classify its source, keep first or last touch,
and pick the visit a pool-number call belongs to.

Pure functions over plain data, so the HTTP handler, the call store and the tests share
one definition of "where did this visitor come from".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ctrack.core.model import CallRecord
from ctrack.core.period import DAY
from ctrack.dni.pools import Grant
from ctrack.errors import CtrackError

PARAM_KEYS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "gclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "fbclid",
)
_PARAM_SET = frozenset(PARAM_KEYS)
_FIELDS = frozenset(("site", "page_url", "referrer", "params", "ga_client_id", "visit_id", "pool"))
MAX_URL = 2048
MAX_PARAM = 500
MAX_SITE = 253
MAX_CLIENT_ID = 100
MAX_POOL = 100  # the catalog's limit on a pool name

_SITE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_VISIT_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadRequest(CtrackError, ValueError):
    """A lease request that cannot be used; str() names the field and the reason."""


def normalize_site(text: str) -> str:
    """'WWW.Example.com.' -> 'example.com': the form pools and settings are keyed by."""
    site = (text or "").strip().lower().rstrip(".")
    return site[4:] if site.startswith("www.") else site


def host_matches_site(host: str | None, site: str) -> bool:
    """True for the site itself and its subdomains (www.example.com, shop.example.com)."""
    host = normalize_site(host or "")
    return host == site or host.endswith("." + site)


# --- the request -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Touch:
    """How a visitor arrived: the landing page, the referrer and the ad parameters."""

    landing_page: str | None = None
    referrer: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    gclid: str | None = None
    gbraid: str | None = None
    wbraid: str | None = None
    msclkid: str | None = None
    fbclid: str | None = None


@dataclass(frozen=True, slots=True)
class LeaseRequest:
    site: str
    touch: Touch
    ga_client_id: str | None = None
    visit_id: str | None = None
    pool: str | None = None  # the page's data-ctrack-pool (dni/selection.py)


def _text(data: dict, key: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key}: expected a string")
    value = value.strip()
    if len(value) > limit:
        raise BadRequest(f"{key}: longer than {limit} characters")
    if _CONTROL.search(value):
        raise BadRequest(f"{key}: contains control characters")
    return value or None


def parse_site(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("site: required, a domain such as example.com")
    site = normalize_site(text)
    if len(site) > MAX_SITE or not _SITE.match(site):
        raise BadRequest("site: expected a domain such as example.com")
    return site


def parse_lease_request(data: Any) -> LeaseRequest:
    """The JSON body of POST /dni/v1/lease, checked field by field; raise BadRequest."""
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}")
    site = parse_site(data.get("site"))
    page_url = _text(data, "page_url", MAX_URL)
    if page_url and urlsplit(page_url).scheme not in ("http", "https"):
        raise BadRequest("page_url: expected an http(s) URL")
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise BadRequest("params: expected an object")
    values = {}
    for key in params:
        if key not in _PARAM_SET:
            raise BadRequest(f"params: unknown parameter {key!r}")
        values[key] = _text(params, key, MAX_PARAM)
    touch = Touch(landing_page=page_url, referrer=_text(data, "referrer", MAX_URL), **values)
    visit_id = _text(data, "visit_id", 64)
    if visit_id is not None and not _VISIT_ID.match(visit_id):
        raise BadRequest("visit_id: not a visit id")
    return LeaseRequest(
        site, touch, _text(data, "ga_client_id", MAX_CLIENT_ID), visit_id, _text(data, "pool", MAX_POOL)
    )


def touch_from_url(page_url: str | None, referrer: str | None) -> Touch:
    """A touch whose ad parameters come from the page URL's query (AMP pages send only URLs)."""
    data = {"page_url": page_url, "referrer": referrer}
    page_url, referrer = _text(data, "page_url", MAX_URL), _text(data, "referrer", MAX_URL)
    params: dict[str, str] = {}
    if page_url:
        parts = urlsplit(page_url)
        if parts.scheme not in ("http", "https"):
            raise BadRequest("page_url: expected an http(s) URL")
        for key, value in parse_qsl(parts.query):
            params.setdefault(key, value)
    values = {key: _text(params, key, MAX_PARAM) for key in PARAM_KEYS}
    return Touch(landing_page=page_url, referrer=referrer, **values)


# --- classification ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Classification:
    source: str
    channel: str


DIRECT = Classification("Direct", "direct")

# Host suffix -> name; the first match wins, so webmail comes before the search engines.
_EMAIL = (
    ("mail.google.com", "Gmail"),
    ("outlook.live.com", "Outlook"),
    ("outlook.office.com", "Outlook"),
    ("outlook.office365.com", "Outlook"),
    ("mail.yahoo.com", "Yahoo Mail"),
    ("mail.aol.com", "AOL Mail"),
)
_SEARCH = re.compile(
    r"(^|\.)(?P<name>google|bing|yahoo|duckduckgo|yandex|baidu|ecosia|startpage|qwant|ask|aol|naver|seznam)"
    r"\.[a-z.]{2,12}$|(^|\.)search\.brave\.com$"
)
_SEARCH_NAMES = {
    "google": "Google",
    "bing": "Bing",
    "yahoo": "Yahoo",
    "duckduckgo": "DuckDuckGo",
    "yandex": "Yandex",
    "baidu": "Baidu",
    "ecosia": "Ecosia",
    "startpage": "Startpage",
    "qwant": "Qwant",
    "ask": "Ask",
    "aol": "AOL",
    "naver": "Naver",
    "seznam": "Seznam",
}
_SOCIAL = (
    ("facebook.com", "Facebook"),
    ("fb.com", "Facebook"),
    ("fb.me", "Facebook"),
    ("instagram.com", "Instagram"),
    ("t.co", "X"),
    ("twitter.com", "X"),
    ("x.com", "X"),
    ("linkedin.com", "LinkedIn"),
    ("lnkd.in", "LinkedIn"),
    ("pinterest.com", "Pinterest"),
    ("reddit.com", "Reddit"),
    ("youtube.com", "YouTube"),
    ("youtu.be", "YouTube"),
    ("tiktok.com", "TikTok"),
    ("nextdoor.com", "Nextdoor"),
    ("threads.net", "Threads"),
    ("snapchat.com", "Snapchat"),
)
# Android apps send android-app://PACKAGE/ as the referrer.
_APPS = {
    "com.google.android.googlequicksearchbox": Classification("Google Organic", "organic"),
    "com.google.android.gm": Classification("Gmail", "email"),
    "com.facebook.katana": Classification("Facebook", "social"),
    "com.instagram.android": Classification("Instagram", "social"),
    "com.linkedin.android": Classification("LinkedIn", "social"),
    "com.twitter.android": Classification("X", "social"),
    "com.reddit.frontpage": Classification("Reddit", "social"),
}
_MEDIUMS = {
    "paid_search": ("cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "sem"),
    "display": ("display", "banner", "cpm", "programmatic"),
    "social": (
        "social",
        "social-network",
        "social_network",
        "social-media",
        "social_media",
        "sm",
        "paid_social",
        "paid-social",
        "paidsocial",
    ),
    "email": ("email", "e-mail", "e_mail", "newsletter"),
    "organic": ("organic", "seo"),
    "referral": ("referral", "affiliate"),
    "gbp": ("gbp", "gmb"),
    "lsa": ("lsa",),
    "print": ("print", "direct_mail", "direct-mail", "mail", "qr"),
    "radio": ("radio",),
    "tv": ("tv", "television"),
    "billboard": ("billboard", "ooh", "outdoor"),
}
_MEDIUM_CHANNEL = {medium: channel for channel, mediums in _MEDIUMS.items() for medium in mediums}
_SOCIAL_SOURCES = (
    "facebook",
    "fb",
    "instagram",
    "ig",
    "twitter",
    "x",
    "linkedin",
    "pinterest",
    "reddit",
    "youtube",
    "tiktok",
    "nextdoor",
    "threads",
    "snapchat",
)
_GBP_SOURCES = ("gbp", "gmb", "google_business_profile", "google-business-profile", "google my business")


def _suffix_match(host: str, table: Iterable[tuple[str, str]]) -> str | None:
    for suffix, name in table:
        if host == suffix or host.endswith("." + suffix):
            return name
    return None


def classify_referrer(referrer: str | None, site: str) -> Classification:
    """Search engine -> organic, social site -> social, webmail -> email, other site -> referral."""
    if not referrer:
        return DIRECT
    parts = urlsplit(referrer)
    host = normalize_site(parts.hostname or "")
    if parts.scheme == "android-app":
        return _APPS.get(host, Classification(host or "app", "referral"))
    if not host or host_matches_site(host, site):
        return DIRECT  # internal navigation, or a referrer with no host
    if name := _suffix_match(host, _EMAIL):
        return Classification(name, "email")
    if m := _SEARCH.search(host):
        return Classification(f"{_SEARCH_NAMES.get(m.group('name') or '', 'Brave')} Organic", "organic")
    if name := _suffix_match(host, _SOCIAL):
        return Classification(name, "social")
    return Classification(host, "referral")


def classify(touch: Touch, site: str) -> Classification:
    """Click ids mean paid; then utm_* as given; then the referrer; nothing at all is direct."""
    if touch.gclid or touch.gbraid or touch.wbraid:
        return Classification("Google Ads", "paid_search")
    if touch.msclkid:
        return Classification("Microsoft Ads", "paid_search")
    if touch.fbclid:
        return Classification("Meta Ads", "social")
    if touch.utm_source or touch.utm_medium:
        source = touch.utm_source or classify_referrer(touch.referrer, site).source
        medium = (touch.utm_medium or "").strip().lower()
        if (touch.utm_source or "").strip().lower() in _GBP_SOURCES:
            channel = "gbp"
        elif medium:
            channel = _MEDIUM_CHANNEL.get(medium, "other")
        else:
            channel = "social" if source.strip().lower() in _SOCIAL_SOURCES else "other"
        return Classification(source, channel)
    return classify_referrer(touch.referrer, site)


# --- visits and the attribution model ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteRules:
    """Per site: credit a returning visitor's calls to the first touch or the last non-direct one."""

    model: str = "first"  # "first" or "last"
    days: int = 30


@dataclass(frozen=True, slots=True)
class Visit:
    """One visitor of one site (a first-party cookie), with the touch their calls are credited to."""

    id: str
    site: str
    first_seen: float
    last_seen: float
    touch: Touch
    source: str
    channel: str
    ga_client_id: str | None = None
    pool_region: str | None = None  # the region of the pool that served its latest page

    def expires_at(self, rules: SiteRules) -> float:
        """When the visitor's cookie, and with it this attribution, runs out."""
        start = self.first_seen if rules.model == "first" else self.last_seen
        return start + rules.days * DAY


def new_visit(visit_id: str, site: str, touch: Touch, ga_client_id: str | None, now: float) -> Visit:
    found = classify(touch, site)
    return Visit(visit_id, site, now, now, touch, found.source, found.channel, ga_client_id)


def revisit(visit: Visit, touch: Touch, ga_client_id: str | None, rules: SiteRules, now: float) -> Visit:
    """The visit seen again: last touch takes a new non-direct touch, first touch keeps its own."""
    kept, source, channel = visit.touch, visit.source, visit.channel
    if rules.model == "last":
        found = classify(touch, visit.site)
        if found != DIRECT and (touch, found.source) != (kept, source):
            kept, source, channel = touch, found.source, found.channel
    return Visit(
        visit.id,
        visit.site,
        visit.first_seen,
        max(visit.last_seen, now),
        kept,
        source,
        channel,
        ga_client_id or visit.ga_client_id,
        visit.pool_region,
    )


# --- calls -------------------------------------------------------------------------------


def pick_visit(spans: Iterable[Grant], at: float, preferred: str | None = None) -> tuple[str | None, bool]:
    """The visit a call at `at` belongs to, and whether other visits could claim it too.

    `spans` are the leases on the dialed number that covered the call or ended within the
    grace period. A lease holding the number at call time beats one that had ended; among
    equals the latest lease wins; `preferred` (the visit the route saw) wins if it is a
    candidate. More than one candidate visit is ambiguous, and the caller must say so.
    """
    spans = list(spans)
    visits = {s.visit_id for s in spans}
    if not visits:
        return None, False
    if preferred in visits:
        return preferred, len(visits) > 1
    best = max(spans, key=lambda s: (s.started_at <= at <= s.expires_at, s.started_at, s.expires_at))
    return best.visit_id, len(visits) > 1


def credit_call(record: CallRecord, visit: Visit, ambiguous: bool, pool_region: str | None = None) -> None:
    """Credit a call to the visit pick_visit chose: its source and channel, the keyword,
    landing page, gclid and GA client id, and the region of the pool whose number was dialed
    (a visitor who saw Portland and Seattle pages held a number of each); flagged when other
    visits could claim it."""
    record.visit_id = visit.id
    record.source = visit.source
    record.channel = visit.channel
    extra = {
        "keyword": visit.touch.utm_term,
        "landing_page": visit.touch.landing_page,
        "gclid": visit.touch.gclid,
        "ga_client_id": visit.ga_client_id,
        "pool_region": pool_region,
    }
    record.extra.update({k: v for k, v in extra.items() if v})
    if ambiguous:
        record.extra["visit_ambiguous"] = "1"
    else:
        record.extra.pop("visit_ambiguous", None)
