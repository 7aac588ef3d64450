"""The Google Ads scheduled-upload URL: /exports/google-ads.csv behind HTTP basic auth.

Google Ads fetches it on its schedule with the user name and password configured in
[google_ads]; each fetch holds the conversions not exported before (to this conversion
name, by the URL or the CLI) and marks them exported, through the store writer. Password
guessing is locked out as on the dashboard's login ([dashboard] login_* settings).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import time

from aiohttp import web

from ctrack.config import ConfigError
from ctrack.dashboard.http import log_wrong_password, login_throttle
from ctrack.exports import ExportError
from ctrack.exports.google_ads import ExportSettings, check_conversion_name, export
from ctrack.services import Services
from ctrack.web.connections import client_address

PATH = "/exports/google-ads.csv"


def _credentials(request: web.Request) -> tuple[str, str] | None:
    """The user name and password of a basic Authorization header, if there is one."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        given_user, _, given_password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return given_user, given_password


def _matches(given: tuple[str, str], user: str, password: str) -> bool:
    # Both compared in full, so the time taken does not tell which one was wrong.
    return hmac.compare_digest(given[0].encode(), user.encode()) & hmac.compare_digest(
        given[1].encode(), password.encode()
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
    throttle = login_throttle(services, "ctrack_google_ads_upload", "Google Ads upload URL")
    challenge = {"WWW-Authenticate": 'Basic realm="ctrack exports"'}

    async def google_ads(request: web.Request) -> web.Response:
        given = _credentials(request)
        if given is None:  # no password tried: the challenge, not counted
            raise web.HTTPUnauthorized(headers=challenge)
        client = client_address(request, config.http.trusted_proxies)
        wait = throttle.attempt(given[0], client, time.monotonic())
        if wait:
            raise web.HTTPTooManyRequests(
                text="too many wrong passwords; try again later", headers={"Retry-After": str(math.ceil(wait))}
            )
        if not _matches(given, user, password):
            log_wrong_password("Google Ads upload URL", throttle, given[0], client)
            raise web.HTTPUnauthorized(headers=challenge)
        throttle.succeeded(given[0], client)
        result = await services.writer.run(lambda conn: export(conn, settings, time.time()))
        return web.Response(
            text=result.csv, content_type="text/csv", charset="utf-8", headers={"Cache-Control": "no-store"}
        )

    app.router.add_get(PATH, google_ads)
