"""The Google Ads scheduled-upload URL: /exports/google-ads.csv behind HTTP basic auth.

Google Ads fetches it on its schedule with the user name and password configured in
[google_ads]; each fetch holds the conversions not exported before (to this conversion
name, by the URL or the CLI) and marks them exported, through the store writer.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time

from aiohttp import web

from ctrack.config import ConfigError
from ctrack.exports import ExportError
from ctrack.exports.google_ads import ExportSettings, check_conversion_name, export
from ctrack.services import Services

PATH = "/exports/google-ads.csv"


def _authorized(request: web.Request, user: str, password: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given_user, _, given_password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # Both compared in full, so the time taken does not tell which one was wrong.
    return hmac.compare_digest(given_user.encode(), user.encode()) & hmac.compare_digest(
        given_password.encode(), password.encode()
    )


def setup(app: web.Application, services: Services) -> None:
    config = services.config
    name = config.google_ads.conversion_name
    user, password = config.google_ads.upload_user, config.google_ads.upload_password
    if not (name and user and password):
        return
    try:
        name = check_conversion_name(name)
    except ExportError as exc:
        raise ConfigError(f"[google_ads] conversion_name: {exc}") from None
    settings = ExportSettings(name, config.ctrack.timezone, config.conversions.currency, config.conversions.value)

    async def google_ads(request: web.Request) -> web.Response:
        if not _authorized(request, user, password):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="ctrack exports"'})
        result = await services.writer.run(lambda conn: export(conn, settings, time.time()))
        return web.Response(
            text=result.csv, content_type="text/csv", charset="utf-8", headers={"Cache-Control": "no-store"}
        )

    app.router.add_get(PATH, google_ads)
