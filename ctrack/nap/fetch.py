"""Fetching the pages to audit: bounded in time, size and redirects (aiohttp client)."""

from __future__ import annotations

import aiohttp

from ctrack.errors import CtrackError

MAX_BYTES = 2 * 1024 * 1024
TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 5


class FetchError(CtrackError):
    """A page that could not be audited; str() is the one-line reason."""


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[str, str]:
    """(final host, HTML text) of a page; FetchError when it is unreachable, slow, huge or not HTML."""
    try:
        async with session.get(url, max_redirects=MAX_REDIRECTS) as resp:
            if resp.status != 200:
                raise FetchError(f"{url}: HTTP {resp.status}")
            if resp.content_length is not None and resp.content_length > MAX_BYTES:
                raise FetchError(f"{url}: page larger than {MAX_BYTES} bytes")
            body = await resp.content.read(MAX_BYTES + 1)
            if len(body) > MAX_BYTES:
                raise FetchError(f"{url}: page larger than {MAX_BYTES} bytes")
            return resp.url.host or "", body.decode(resp.get_encoding() if resp.charset else "utf-8", "replace")
    except aiohttp.TooManyRedirects:
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects") from None
    except TimeoutError:
        raise FetchError(f"{url}: no answer within {TIMEOUT_SECONDS:g} s") from None
    except aiohttp.ClientError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
