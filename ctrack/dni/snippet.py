"""GET /ctrack.js: the snippet, minified once at startup, gzip when the client takes it.

Sites paste one unversioned URL and keep it for years, so the script is cached for a day
(and used stale for a week while it revalidates); the ETag makes revalidation a 304. An
upgraded daemon reaches every visitor within a day.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from ctrack.dni.minify import minify

CACHE_CONTROL = "public, max-age=86400, stale-while-revalidate=604800"


@dataclass(frozen=True)
class Snippet:
    plain: bytes
    gzipped: bytes
    etag: str  # of the script; each encoding's ETag derives from it

    def etag_for(self, gzipped: bool) -> str:
        return f'"{self.etag}-gz"' if gzipped else f'"{self.etag}"'


def load_snippet() -> Snippet:
    source = resources.files("ctrack.web").joinpath("static/ctrack.js").read_text(encoding="utf-8")
    plain = minify(source).encode()
    return Snippet(plain, gzip.compress(plain, 9, mtime=0), hashlib.sha256(plain).hexdigest()[:20])


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (a q of 0 refuses it)."""
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        if coding.strip() in ("gzip", "x-gzip", "*"):
            q = params.strip()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


SNIPPET = web.AppKey("dni_snippet", Snippet)


async def snippet_handler(request: web.Request) -> web.Response:
    snippet = request.app[SNIPPET]
    gzipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    headers = {
        "ETag": snippet.etag_for(gzipped),
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if snippet.etag in request.headers.get("If-None-Match", ""):  # weak comparison: either encoding
        return web.Response(status=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    body = snippet.gzipped if gzipped else snippet.plain
    return web.Response(body=body, content_type="application/javascript", charset="utf-8", headers=headers)


def setup(app: web.Application) -> None:
    app[SNIPPET] = load_snippet()
    app.router.add_get("/ctrack.js", snippet_handler)
