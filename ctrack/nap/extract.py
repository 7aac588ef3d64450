"""Phone numbers on a page (pure): visible text, tel: links, JSON-LD and microdata `telephone`.

Citations and directories copy whatever number they find; a tracking number found on a page
that is not the business's own site is number sprawl (it splits the business's NAP).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

import phonenumbers

from ctrack.dni.attribution import host_matches_site


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tel: list[str] = []
        self.microdata: list[str] = []
        self.jsonld: list[str] = []
        self._skip = 0  # inside <script>/<style> other than JSON-LD
        self._in_jsonld = False
        self._itemprop_open = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script":
            if a.get("type", "").lower() == "application/ld+json":
                self._in_jsonld = True
            else:
                self._skip += 1
        elif tag == "style":
            self._skip += 1
        href = a.get("href", "")
        if href.lower().startswith("tel:"):
            self.tel.append(unquote(href[4:]))
        if a.get("itemprop", "").lower() == "telephone":
            if "content" in a:
                self.microdata.append(a["content"])
            else:
                self._itemprop_open += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            if self._in_jsonld:
                self._in_jsonld = False
            else:
                self._skip = max(0, self._skip - 1)
        elif tag == "style":
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if self._in_jsonld:
            self.jsonld.append(data)
        elif not self._skip:
            self.text.append(data)
            if self._itemprop_open and data.strip():
                self.microdata.append(data)
                self._itemprop_open -= 1


def _telephones(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "telephone" and isinstance(value, str):
                yield value
            else:
                yield from _telephones(value)
    elif isinstance(node, list):
        for item in node:
            yield from _telephones(item)


def _e164(text: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def page_numbers(html: str, region: str = "US") -> dict[str, set[str]]:
    """E.164 numbers found per place: 'text', 'tel', 'jsonld', 'microdata'."""
    page = _Page()
    page.feed(html)
    page.close()
    found: dict[str, set[str]] = {"text": set(), "tel": set(), "jsonld": set(), "microdata": set()}
    for match in phonenumbers.PhoneNumberMatcher(" ".join(page.text), region):
        found["text"].add(phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))
    for place, texts in (("tel", page.tel), ("microdata", page.microdata)):
        found[place].update(n for t in texts if (n := _e164(t, region)))
    for block in page.jsonld:
        try:
            data = json.loads(block)
        except ValueError:
            continue
        found["jsonld"].update(n for t in _telephones(data) if (n := _e164(t, region)))
    return found


def audit_page(
    url_host: str,
    numbers: dict[str, set[str]],
    published: set[str],
    tracking: set[str],
    own_sites: Iterable[str],
) -> dict[str, Any]:
    """One page's verdict: is the published number there, which tracking numbers leak, and
    whether that is sprawl (a tracking number on a page that is not the business's site)."""
    every = set().union(*numbers.values())
    leaked = sorted(every & tracking)
    own = any(host_matches_site(url_host, site) for site in own_sites)
    return {
        "own_site": own,
        "published_present": bool(every & published),
        "tracking_numbers": leaked,
        "found": {place: sorted(values) for place, values in numbers.items()},
        "sprawl": bool(leaked) and not own,
    }
