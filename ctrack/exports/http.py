"""The Google Ads scheduled-upload URLs behind HTTP basic auth: /exports/google-ads.csv
(click conversions, [google_ads] conversion_name) and /exports/google-ads-calls.csv (call
conversions, [google_ads] call_conversion_name).

Google Ads fetches them on its schedule with the user name and password configured in
[google_ads]; each fetch holds the conversions not exported before (to this conversion
name, by the URL or the CLI) and marks them exported, through the store writer. Password
guessing is locked out as on the dashboard's login ([dashboard] login_* settings), one
lockout for both URLs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import sqlite3
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from ctrack.config import ConfigError
from ctrack.dashboard.http import log_wrong_password, login_throttle
from ctrack.exports import ExportError
from ctrack.exports.google_ads import Export, ExportSettings, check_conversion_name, export, export_calls
from ctrack.services import Services
from ctrack.web.connections import client_address

PATH = "/exports/google-ads.csv"
CALLS_PATH = "/exports/google-ads-calls.csv"
Job = Callable[[sqlite3.Connection, ExportSettings, float], Export]


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
    user, password = config.google_ads.upload_user, config.google_ads.upload_password
    files = [
        (PATH, "conversion_name", config.google_ads.conversion_name, export),
        (CALLS_PATH, "call_conversion_name", config.google_ads.call_conversion_name, export_calls),
    ]
    if not (user and password and any(name for _, _, name, _ in files)):
        return
    throttle = login_throttle(services, "ctrack_google_ads_upload", "Google Ads upload URL")
    challenge = {"WWW-Authenticate": 'Basic realm="ctrack exports"'}

    def serve(settings: ExportSettings, job: Job) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def upload(request: web.Request) -> web.Response:
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
            result = await services.writer.run(lambda conn: job(conn, settings, time.time()))
            return web.Response(
                text=result.csv, content_type="text/csv", charset="utf-8", headers={"Cache-Control": "no-store"}
            )

        return upload

    for path, key, name, job in files:
        if not name:
            continue
        try:
            name = check_conversion_name(name)
        except ExportError as exc:
            raise ConfigError(f"[google_ads] {key}: {exc}") from None
        settings = ExportSettings(name, config.ctrack.timezone, config.conversions.currency, config.conversions.value)
        app.router.add_get(path, serve(settings, job))
