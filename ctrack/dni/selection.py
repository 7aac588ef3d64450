"""Which of a site's pools a page leases from (regional pools), decided once for the lease
endpoint, the AMP endpoint and the tests.

A pool may serve a region and say which pages are its own: a landing-page path prefix
(`/portland` takes /portland and /portland/roofing, not /portlandia) and/or a utm_campaign.
The page's choice, first match wins:

1. `data-ctrack-pool` on the page names the pool (a name the site does not have is ignored,
   and the caller logs it);
2. the utm_campaign of this page, else of the touch the visit is credited to, is a pool's;
3. the longest path prefix that matches the page's path;
4. the site's default pools: those with neither a prefix nor a campaign (all of the site's
   pools when every one has a selector), the first with a free number leasing.

Pure: the lease service asks with the site's pools and the request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ctrack.core.model import Pool
from ctrack.errors import CtrackError

MAX_PREFIX = 200
MAX_CAMPAIGN = 500  # the lease request's limit on a utm parameter
_BAD_PREFIX = re.compile(r"[\s?#\x00-\x1f\x7f]")

BY_ATTRIBUTE = "data-ctrack-pool"
BY_CAMPAIGN = "utm_campaign"
BY_PATH = "path_prefix"
BY_DEFAULT = "default"


class BadSelector(CtrackError, ValueError):
    """A path prefix or campaign a pool cannot be chosen by; str() is the reason."""


def parse_path_prefix(text: str) -> str:
    """'/Portland/' -> '/portland': how a prefix is stored and compared (paths compare
    without case, as admins and marketers type them)."""
    prefix = text.strip()
    if not prefix.startswith("/"):
        raise BadSelector(f"path prefix {prefix!r} must start with / (such as /portland)")
    if _BAD_PREFIX.search(prefix):
        raise BadSelector(f"path prefix {prefix!r} must be a path alone: no spaces, ? or #")
    if len(prefix) > MAX_PREFIX:
        raise BadSelector(f"path prefix is longer than {MAX_PREFIX} characters")
    prefix = unquote(prefix).rstrip("/").casefold()
    if not prefix:
        raise BadSelector("path prefix / matches every page: leave the prefix out to make a site's default pool")
    return prefix


def parse_campaign(text: str) -> str:
    """A utm_campaign as stored and compared: trimmed, without case."""
    campaign = text.strip().casefold()
    if not campaign:
        raise BadSelector("utm campaign must not be empty")
    if len(campaign) > MAX_CAMPAIGN or re.search(r"[\x00-\x1f\x7f]", campaign):
        raise BadSelector(f"utm campaign must be at most {MAX_CAMPAIGN} printable characters")
    return campaign


def page_path(page_url: str | None) -> str | None:
    """The page's path as prefixes are compared: decoded, without case."""
    if not page_url:
        return None
    return unquote(urlsplit(page_url).path).casefold() or "/"


def path_matches(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def is_regional(pool: Pool) -> bool:
    """A pool chosen only by its pages; the others are the site's default."""
    return bool(pool.path_prefix or pool.utm_campaign)


@dataclass(frozen=True, slots=True)
class Choice:
    pools: tuple[str, ...]  # lease from these, in order
    by: str  # BY_ATTRIBUTE, BY_CAMPAIGN, BY_PATH or BY_DEFAULT
    unknown: str | None = None  # a data-ctrack-pool the site has no pool by


def choose_pools(
    site_pools: Sequence[Pool], requested: str | None, page_url: str | None, campaigns: Sequence[str | None]
) -> Choice:
    """The pools a page leases from; `campaigns` are the page's utm_campaign, then the one
    of the touch its visit is credited to (either may be None)."""
    names = {p.name for p in site_pools}
    unknown = None
    if requested:
        if requested in names:
            return Choice((requested,), BY_ATTRIBUTE)
        unknown = requested
    regional = [p for p in site_pools if is_regional(p)]
    if regional:
        by_campaign = sorted((p for p in regional if p.utm_campaign), key=lambda p: p.name)
        for campaign in campaigns if by_campaign else ():
            wanted = campaign.strip().casefold() if campaign else ""
            named = [p.name for p in by_campaign if p.utm_campaign == wanted]
            if named:
                return Choice((named[0],), BY_CAMPAIGN, unknown)
        path = page_path(page_url)
        if path is not None:
            hits = sorted(
                (p for p in regional if p.path_prefix and path_matches(path, p.path_prefix)), key=lambda p: p.name
            )
            if hits:
                best = max(hits, key=lambda p: len(p.path_prefix or ""))
                return Choice((best.name,), BY_PATH, unknown)
    defaults = sorted(p.name for p in site_pools if not is_regional(p)) or sorted(names)
    return Choice(tuple(defaults), BY_DEFAULT, unknown)
