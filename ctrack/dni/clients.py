"""Who is asking for a number: the client a lease is counted against, and requests that
must never lease (declared crawlers, prefetches and prerenders).

A crawler that leased would index a tracking number instead of the business's published
(NAP) number, and take a pool number from a real visitor; a prefetch may never be shown.
Both get the published number and no visit.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

# Headers browsers put on speculative requests (Chromium: Sec-Purpose; older Chromium and
# Safari: Purpose; Firefox: X-Moz; link previews: X-Purpose) and the values that mean "not
# shown to anyone yet".
PURPOSE_HEADERS = ("Sec-Purpose", "Purpose", "X-Purpose", "X-Moz")
_SPECULATIVE = re.compile(r"prefetch|prerender|preview", re.IGNORECASE)


@lru_cache(maxsize=4096)
def client_key(address: str) -> str:
    """The key leases and the rate limit are counted by: an IPv4 address as it is, an IPv6
    address by its /64 (one subscriber's LAN, where addresses are free to rotate), an
    IPv4-mapped IPv6 address as its IPv4 address."""
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))


class Crawlers:
    """Declared crawlers by user-agent token (case-insensitive, anywhere in the header)."""

    SEEN = 4096  # user agents remembered: a site's visitors send few distinct ones

    def __init__(self, tokens: Iterable[str]) -> None:
        self.tokens = tuple(t for t in tokens if t)
        self._pattern = re.compile("|".join(re.escape(t) for t in self.tokens), re.IGNORECASE) if self.tokens else None
        self._seen: dict[str, bool] = {}  # searching 50 tokens in a user agent costs microseconds

    def match(self, user_agent: str | None) -> bool:
        if not user_agent or self._pattern is None:
            return False
        found = self._seen.get(user_agent)
        if found is None:
            found = self._pattern.search(user_agent) is not None
            if len(self._seen) >= self.SEEN:
                self._seen.clear()
            self._seen[user_agent] = found
        return found


def speculative(headers: Mapping[str, str]) -> bool:
    """A prefetch or prerender (nobody sees the page yet), or a request the page's own
    script did not make: a script's fetch has Sec-Fetch-Dest "empty"; a navigation, frame
    or <link> to the endpoint has another destination."""
    for name in PURPOSE_HEADERS:
        value = headers.get(name)
        if value and _SPECULATIVE.search(value):
            return True
    dest = headers.get("Sec-Fetch-Dest")
    return dest is not None and dest != "empty"
