"""The dashboard: the reports with charts, the call list with recordings, pool usage.

Served by the daemon under /dashboard/, behind a login (users and scrypt hashes from
`ctrack dashboard passwd`). Pages are server-rendered HTML with inline SVG charts and one
local stylesheet; the call page's one local script only seeks the player (no inline
script, nothing from a CDN). Database work runs in a thread so
the event loop keeps routing calls while a report is computed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import mimetypes
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from ctrack.calllog import store as calls
from ctrack.core.period import WEEKDAYS, Period, PeriodError, local_datetime, period_from, today_in
from ctrack.dashboard import auth, charts, users
from ctrack.errors import CtrackError
from ctrack.exports.csvsafe import to_csv
from ctrack.geo.report import served_regions
from ctrack.geo.store import region_report
from ctrack.leads import service as leads
from ctrack.leads.rules import LEAD_STATUSES, parse_amount
from ctrack.privacy.http import log_recording_access
from ctrack.reports import store as reports
from ctrack.reports.rollups import ensure_timezone, rollup_timezone
from ctrack.services import Services
from ctrack.web.connections import client_address

log = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UserHandler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]  # called with the logged-in user

PREFIX = "/dashboard"
SESSION_COOKIE = "ctrack_session"
CSRF_COOKIE = "ctrack_login_csrf"
STATIC = Path(__file__).resolve().parents[1] / "web" / "static"
PAGE_SIZE = 50
DAILY_TABLE_MAX = 400  # longer per-day tables are offered as CSV: megabytes of HTML help nobody
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
AUDIO_TYPES = {".wav": "audio/wav", ".gsm": "audio/x-gsm", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}
REPORTS = ("sources", "heatmap", "daily", "calls")

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("ctrack.web", "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True
)


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _percent(part: float, whole: float) -> str:
    return "–" if not whole else f"{100 * part / whole:.0f} %"


def _shown(value: Any) -> str:
    """A changed field's old or new value as a person reads it."""
    if value is None or value == []:
        return "–"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return _money(value)
    return str(value)


_env.filters.update(money=_money, duration=_duration, shown=_shown)
_env.globals.update(percent=_percent, weekdays=WEEKDAYS)


class Dashboard:
    def __init__(self, services: Services):
        self.services = services
        self.config = services.config
        self.tz = self.config.ctrack.timezone
        self.session_seconds = self.config.dashboard.session_hours * 3600
        self.default_days = self.config.dashboard.default_days
        self.secure_cookie = self.config.dashboard.secure_cookie
        self.grace = self.config.dni.grace_seconds
        self.trusted_proxies = self.config.http.trusted_proxies
        self.throttle = login_throttle(services, "ctrack_dashboard_login", "dashboard login")

    # -- plumbing -------------------------------------------------------------------------

    async def _db(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(connection) in a thread on a fresh read connection."""

        def work() -> T:
            conn = self.services.read_connection()
            try:
                return fn(conn)
            finally:
                conn.close()

        return await asyncio.to_thread(work)

    async def _write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """A write job (a session) on the daemon's one writer."""
        return await self.services.writer.run(job)

    async def _reports_ready(self) -> None:
        """Re-bucket the roll-ups through the writer if they are not in the configured zone."""
        if await self._db(rollup_timezone) != self.tz:
            await self.services.writer.run(lambda conn: ensure_timezone(conn, self.tz))

    def _render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        html = _env.get_template(template).render(prefix=PREFIX, **context)
        return web.Response(text=html, content_type="text/html", status=status)

    def _period(self, request: web.Request) -> Period:
        q = request.query
        today = today_in(self.tz, time.time())
        if q.get("days") and not (q.get("since") or q.get("until")):
            try:
                days = int(q["days"])
            except ValueError:
                raise PeriodError(f"days {q['days']!r}: not a whole number") from None
            if not 1 <= days <= 3660:
                raise PeriodError("days must be from 1 to 3660")
            return Period(today - timedelta(days=days - 1), today, self.tz)
        return period_from(q.get("since") or None, q.get("until") or None, self.tz, today, self.default_days)

    # -- login ----------------------------------------------------------------------------

    async def current_user(self, request: web.Request) -> str | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        digest = auth.session_digest(token)
        user: str | None = await self._db(lambda c: users.session_user(c, digest, time.time()))
        return user

    def login_required(self, handler: UserHandler) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            user = await self.current_user(request)
            if user is None:
                if request.path.endswith((".csv", ".json")) or request.path.endswith("/recording"):
                    raise web.HTTPUnauthorized(text="log in to the dashboard first")
                raise web.HTTPSeeOther(f"{PREFIX}/login?" + urlencode({"next": request.path_qs}))
            return await handler(request, user)

        return wrapper

    async def login_form(self, request: web.Request) -> web.Response:
        return await self._login_page(request, error=None, status=200)

    async def _login_page(
        self, request: web.Request, error: str | None, status: int, username: str = "", next_path: str | None = None
    ) -> web.Response:
        has_users = await self._db(lambda c: c.execute("SELECT 1 FROM dashboard_users LIMIT 1").fetchone() is not None)
        token = secrets.token_urlsafe(24)
        response = self._render(
            "dashboard_login.html",
            status=status,
            csrf=token,
            error=error,
            next=_safe_next(request.query.get("next", "") if next_path is None else next_path),
            has_users=has_users,
            username=username,
        )
        response.set_cookie(
            CSRF_COOKIE,
            token,
            path=f"{PREFIX}/login",
            httponly=True,
            samesite="Strict",
            secure=self.secure_cookie,
            max_age=3600,
        )
        return response

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        cookie = request.cookies.get(CSRF_COOKIE, "")
        sent = str(form.get("csrf", ""))
        origin = request.headers.get("Origin")
        if not cookie or not hmac.compare_digest(cookie, sent) or (origin and not _same_origin(origin, request)):
            return await self._login_page(
                request, "The login form expired; please try again.", 400, next_path=str(form.get("next", ""))
            )
        name, password = str(form.get("user", "")).strip(), str(form.get("password", ""))
        next_path = str(form.get("next", ""))
        client = client_address(request, self.trusted_proxies)
        wait = self.throttle.attempt(name, client, time.monotonic())
        if wait:
            seconds = math.ceil(wait)
            response = await self._login_page(
                request, f"Too many wrong passwords; try again in {seconds} s.", 429, name, next_path
            )
            response.headers["Retry-After"] = str(seconds)
            return response
        key, stored = await self._db(lambda c: (users.session_key(c), users.password_hash(c, name)))
        # An unknown user costs the same scrypt as a known one: the answer time tells nothing.
        ok = await asyncio.to_thread(auth.verify_password, password[: auth.MAX_PASSWORD], stored or _unknown_user())
        token = auth.new_session_token()
        now = time.time()
        if ok and key and stored:
            digest = auth.session_digest(token)
            expires = now + self.session_seconds
            ok = await self._write(lambda c: users.start_session(c, name, stored, digest, now, expires))
        if not (ok and key and stored):
            log_wrong_password("dashboard login", self.throttle, name, client)
            return await self._login_page(request, "Wrong user name or password.", 401, name, next_path)
        self.throttle.succeeded(name, client)
        response = _see_other(_safe_next(next_path) or f"{PREFIX}/")
        response.set_cookie(
            SESSION_COOKIE,
            token,
            path=PREFIX,
            httponly=True,
            samesite="Lax",
            secure=self.secure_cookie,
            max_age=self.session_seconds,
        )
        response.del_cookie(CSRF_COOKIE, path=f"{PREFIX}/login")
        return response

    async def logout(self, request: web.Request) -> web.Response:
        form = await request.post()
        key = await self._db(users.session_key)
        token = request.cookies.get(SESSION_COOKIE, "")
        if not key or not hmac.compare_digest(auth.csrf_token(key, token), str(form.get("csrf", ""))):
            raise web.HTTPBadRequest(text="stale logout form; reload the page")
        digest = auth.session_digest(token)
        await self._write(lambda c: users.end_session(c, digest))
        response = _see_other(f"{PREFIX}/login")
        response.del_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    async def _logout_token(self, request: web.Request) -> str:
        key = await self._db(users.session_key)
        return auth.csrf_token(key or "", request.cookies.get(SESSION_COOKIE, ""))

    # -- pages ----------------------------------------------------------------------------

    async def overview(self, request: web.Request, user: str) -> web.Response:
        try:
            period = self._period(request)
            by = request.query.get("by", "source")
            if by not in reports.GROUPINGS:
                raise PeriodError(f"cannot group by {by!r}")
            filters = _report_filter(request.query)
        except (PeriodError, reports.ReportError) as exc:
            return await self._error_page(request, user, str(exc))
        await self._reports_ready()
        now = time.time()

        def load(conn: sqlite3.Connection) -> dict[str, Any]:
            rows = reports.sources_report(conn, period, by, filters)
            daily = reports.daily_report(conn, period, by, filters)
            return {
                "rows": rows,
                "total": reports.totals(rows),
                "cells": reports.heatmap(conn, period, filters),
                "daily": daily,
                "days": reports.trend(daily, period),
                "pools": reports.pool_utilization(conn, period, now, self.grace),
            }

        data = await self._db(load)
        return self._render(
            "dashboard_main.html",
            user=user,
            logout_csrf=await self._logout_token(request),
            period=period,
            by=by,
            query=_period_query(request),
            tz=self.tz,
            daily_table_max=DAILY_TABLE_MAX,
            status_choices=reports.STATUS_CHOICES,
            lead_status=request.query.get("lead_status", ""),
            tag=filters.tag,
            filter_hidden=[(k, v) for k, v in request.query.items() if k in ("since", "until", "days", "by")],
            **data,
            bars=charts.source_bars(data["rows"], by),
            heat_calls=charts.heatmap(data["cells"], "calls"),
            heat_missed=charts.heatmap(data["cells"], "missed"),
            trend=charts.trend(data["days"]),
        )

    async def calls(self, request: web.Request, user: str) -> web.Response:
        q = request.query
        try:
            period = self._period(request)
            filters = _call_filter(q, period)
            page = int(q.get("page", "1"))
            if not 1 <= page <= 10000:
                raise ValueError
        except (PeriodError, reports.ReportError) as exc:
            return await self._error_page(request, user, str(exc))
        except ValueError:
            return await self._error_page(request, user, "page must be a whole number from 1")

        def load(conn: sqlite3.Connection) -> dict[str, Any]:
            rows = calls.find_calls(conn, filters, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE, calls.LIST_COLUMNS)
            for row in rows[:PAGE_SIZE]:  # a player only where the recording link would serve a file
                row["playable"] = self._recording_path(row["recording"]) is not None
            return {"rows": rows[:PAGE_SIZE], "more": len(rows) > PAGE_SIZE, "sources": calls.call_sources(conn)}

        data = await self._db(load)
        for row in data["rows"]:
            row["local"] = local_datetime(row["started_at"], self.tz).strftime("%Y-%m-%d %H:%M:%S")
        base = {k: v for k, v in q.items() if k != "page"}
        return self._render(
            "dashboard_calls.html",
            user=user,
            logout_csrf=await self._logout_token(request),
            period=period,
            filters=filters,
            page=page,
            tz=self.tz,
            query=_period_query(request),
            prev_url=f"?{urlencode({**base, 'page': page - 1})}" if page > 1 else None,
            next_url=f"?{urlencode({**base, 'page': page + 1})}" if data["more"] else None,
            export_query=urlencode(base),
            dispositions=calls.DISPOSITION_FILTERS,
            lead_statuses=calls.LEAD_STATUS_FILTERS,
            **data,
        )

    async def regions(self, request: web.Request, user: str) -> web.Response:
        """Calls by the caller's region against the regions marketed to (ctrack/geo)."""
        try:
            period = self._period(request)
        except PeriodError as exc:
            return await self._error_page(request, user, str(exc))
        rows = await self._db(lambda conn: region_report(conn, period.start_ts, period.end_ts))
        return self._render(
            "dashboard_regions.html",
            user=user,
            logout_csrf=await self._logout_token(request),
            period=period,
            query=_period_query(request),
            tz=self.tz,
            rows=rows,
            served=served_regions(rows),
        )

    async def call_page(self, request: web.Request, user: str) -> web.Response:
        saved = request.query.get("saved")
        message = None if saved is None else ("Saved." if saved != "0" else "Nothing changed.")
        return await self._call_page(request, user, self._call_id(request), message=message)

    def _call_id(self, request: web.Request) -> int:
        try:
            return int(request.match_info["call_id"])
        except ValueError:
            raise web.HTTPNotFound(text="no such call") from None

    async def _call_page(
        self, request: web.Request, user: str, call_id: int, message: str | None = None, error: str | None = None
    ) -> web.Response:
        def load(conn: sqlite3.Connection) -> dict[str, Any] | None:
            try:
                return leads.details(conn, call_id)
            except leads.UnknownCall:
                return None

        call = await self._db(load)
        if call is None:
            raise web.HTTPNotFound(text="no such call")
        call["local"] = local_datetime(call["started_at"], self.tz).strftime("%Y-%m-%d %H:%M:%S")
        for change in call["changes"]:
            change["local"] = local_datetime(change["at"], self.tz).strftime("%Y-%m-%d %H:%M:%S")
        return self._render(
            "dashboard_call.html",
            status=400 if error else 200,
            user=user,
            logout_csrf=await self._logout_token(request),
            mark_csrf=await self._logout_token(request),
            query="",
            call=call,
            playable=self._recording_path(call["recording"]) is not None,
            lead_statuses=LEAD_STATUSES,
            currency=self.config.conversions.currency,
            message=message,
            error=error,
        )

    async def mark_call(self, request: web.Request, user: str) -> web.Response:
        """The call page's form: lead status, tags, value, note, as the logged-in user."""
        call_id = self._call_id(request)
        form = await request.post()
        origin = request.headers.get("Origin")
        if not hmac.compare_digest(await self._logout_token(request), str(form.get("csrf", ""))) or (
            origin and not _same_origin(origin, request)
        ):
            raise web.HTTPBadRequest(text="stale form; reload the page")
        try:
            mark = _mark_from(form, await self._db(lambda c: leads.store.tags(c, call_id)))
            found = await self._write(partial(leads.mark, call_id=call_id, request=mark, who=f"dashboard:{user}"))
        except leads.UnknownCall:
            raise web.HTTPNotFound(text="no such call") from None
        except CtrackError as exc:
            return await self._call_page(request, user, call_id, error=str(exc))
        response = _see_other(f"{PREFIX}/calls/{call_id}?saved={len(found)}")
        return response

    async def _error_page(self, request: web.Request, user: str, message: str) -> web.Response:
        return self._render(
            "dashboard_error.html",
            status=400,
            user=user,
            logout_csrf=await self._logout_token(request),
            message=message,
        )

    async def recording(self, request: web.Request, user: str) -> web.StreamResponse:
        try:
            call_id = int(request.match_info["call_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        call = await self._db(lambda c: calls.call_by_id(c, call_id))
        path = self._recording_path(call["recording"] if call else None)
        if path is None:
            raise web.HTTPNotFound(text="no recording for this call")
        await log_recording_access(self.services, request, user, call_id)
        content_type = (
            AUDIO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        return web.FileResponse(
            path,
            headers={"Content-Type": content_type, "Content-Disposition": content_disposition("inline", path.name)},
        )

    def _recording_path(self, recording: str | None) -> Path | None:
        """The recording file, only if it lies inside the configured recording folder."""
        if not recording:
            return None
        folder = Path(self.config.recording_directory).resolve()
        path = Path(recording)
        path = (path if path.is_absolute() else folder / path).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            return None
        return path

    async def download(self, request: web.Request, user: str) -> web.Response:
        name, fmt = request.match_info["name"], request.match_info["fmt"]
        if name not in REPORTS:
            raise web.HTTPNotFound()
        period = self._period(request)  # a refusal is a 400 from the app's one translation
        by = request.query.get("by", "source")
        filters = _call_filter(request.query, period) if name == "calls" else calls.CallFilter()
        report_filter = _report_filter(request.query)
        if name in ("sources", "daily") and by not in reports.GROUPINGS:
            raise PeriodError(f"cannot group by {by!r}")
        await self._reports_ready()

        def load(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
            if name == "sources":
                return (
                    reports.sources_report(conn, period, by, report_filter),
                    reports.SOURCE_COLUMNS if by == "source" else reports.CHANNEL_COLUMNS,
                )
            if name == "heatmap":
                return reports.heatmap(conn, period, report_filter), reports.HEATMAP_COLUMNS
            if name == "daily":
                return reports.daily_report(conn, period, by, report_filter), ("day", by, *reports.DAILY_COUNTS)
            return calls.find_calls(conn, filters, 100_000, 0, calls.LIST_COLUMNS), calls.LIST_COLUMNS

        rows, columns = await self._db(load)
        filename = f"ctrack-{name}-{period.first}-{period.last}.{fmt}"
        headers = {"Content-Disposition": content_disposition("attachment", filename)}
        if fmt == "json":
            return web.Response(
                text=json.dumps(rows, ensure_ascii=False, default=str), headers=headers, content_type="application/json"
            )
        return web.Response(text=to_csv(rows, columns), headers=headers, content_type="text/csv", charset="utf-8")


def _call_filter(q: Mapping[str, str], period: Period) -> calls.CallFilter:
    def flag(name: str) -> bool | None:
        value = q.get(name, "")
        if value in ("", "any"):
            return None
        if value not in ("yes", "no"):
            raise reports.ReportError(f"{name} must be yes, no or any")
        return value == "yes"

    disposition = q.get("disposition") or None
    if disposition and disposition not in calls.DISPOSITION_FILTERS:
        raise reports.ReportError(f"unknown disposition {disposition!r}")
    lead_status = q.get("lead_status") or None
    if lead_status and lead_status not in calls.LEAD_STATUS_FILTERS:
        raise reports.ReportError(f"unknown lead status {lead_status!r}")
    return calls.CallFilter(
        since=period.start_ts,
        until=period.end_ts,
        source=q.get("source") or None,
        disposition=disposition,
        lead_status=lead_status,
        tag=(q.get("tag") or "").strip()[:40] or None,
        first_time=flag("first_time"),
        search=(q.get("q") or "").strip()[:100] or None,
        words=(q.get("words") or "").strip()[:200] or None,
        site=q.get("site") or None,
    )


def _report_filter(q: Mapping[str, str]) -> reports.ReportFilter:
    """?lead_status=S (one status; empty = all but spam) &tag=T &site=NAME ([ctrack] site;
    empty = all sites together)."""
    status = q.get("lead_status") or ""
    tag = (q.get("tag") or "").strip()[:40] or None
    return reports.ReportFilter((status,) if status else reports.DEFAULT_STATUSES, tag, q.get("site") or None)


def _mark_from(form: Mapping[str, Any], current_tags: list[str]) -> leads.Mark:
    """The call page's form as a mark: the tags field is the whole list (added and removed)."""
    status = str(form.get("lead_status", "")).strip() or None
    wanted = [t.strip() for t in str(form.get("tags", "")).split(",") if t.strip()]
    keep = {t.casefold() for t in wanted}
    value_text = str(form.get("value", "")).strip()
    return leads.Mark(
        lead_status=status,
        add_tags=tuple(wanted),
        remove_tags=tuple(t for t in current_tags if t.casefold() not in keep),
        value=parse_amount(value_text) if value_text else None,
        clear_value=not value_text,
        note=str(form.get("note", "")),
    ).checked()


def login_throttle(services: Services, metric: str, what: str) -> auth.LoginThrottle:
    """The [dashboard] login_* numbers, for the dashboard's login and the Google Ads upload
    URL; its counts as metrics (refusals are counted, not logged: a flood writes no log)."""
    d = services.config.dashboard
    throttle = auth.LoginThrottle(
        auth.LockoutRule(d.login_user_failures, d.login_lockout_seconds, d.login_lockout_max_seconds),
        auth.LockoutRule(d.login_address_failures, d.login_lockout_seconds, d.login_lockout_max_seconds),
    )
    services.add_metric(
        f"{metric}_wrong_passwords_total", "counter", f"Wrong passwords at the {what}", lambda: throttle.wrong_total
    )
    services.add_metric(
        f"{metric}_locked_out_total",
        "counter",
        f"Attempts at the {what} refused unchecked during a lockout",
        lambda: throttle.refused_total,
    )
    return throttle


def log_wrong_password(what: str, throttle: auth.LoginThrottle, user: str, client: str) -> None:
    """One line per wrong password; a warning when it locks the user or the address out."""
    states = throttle.wrong(user, client, time.monotonic())
    counts = ", ".join(f"{s.kind} {s.failures} in a row" for s in states)
    locked = [f"{s.kind} {s.key!r} locked out for {math.ceil(s.locked_for)} s" for s in states if s.locked_for]
    if locked:
        log.warning("%s: wrong password for user %r from %s (%s); %s", what, user, client, counts, "; ".join(locked))
    else:
        log.info("%s: wrong password for user %r from %s (%s)", what, user, client, counts)


def content_disposition(kind: str, filename: str) -> str:
    """RFC 6266: an ASCII fallback that cannot break out of its quotes, then the exact name
    as RFC 5987 UTF-8 (which browsers prefer)."""
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in filename)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@lru_cache(maxsize=1)
def _unknown_user() -> str:
    """A hash to check passwords against when the user does not exist."""
    return auth.hash_password(secrets.token_urlsafe(16))


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _period_query(request: web.Request) -> str:
    return urlencode({k: v for k, v in request.query.items() if k in ("since", "until", "days")})


def _safe_next(target: str) -> str:
    """Only a dashboard path: never another site (open redirect)."""
    if target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""


def _same_origin(origin: str, request: web.Request) -> bool:
    return origin.split("://", 1)[-1].rstrip("/") == request.host


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == PREFIX or request.path.startswith(f"{PREFIX}/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.path.startswith(f"{PREFIX}/static/"):
            response.headers["Cache-Control"] = "no-store"


async def _stylesheet(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        STATIC / "dashboard.css", headers={"Content-Type": "text/css", "Cache-Control": "max-age=3600"}
    )


async def _call_script(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        STATIC / "call.js", headers={"Content-Type": "text/javascript", "Cache-Control": "max-age=3600"}
    )


async def _to_overview(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"{PREFIX}/")


def setup(app: web.Application, services: Services) -> None:
    if not services.config.dashboard.enabled:
        return
    board = Dashboard(services)
    need = board.login_required
    app.router.add_get(PREFIX, _to_overview)
    app.router.add_get(f"{PREFIX}/login", board.login_form)
    app.router.add_post(f"{PREFIX}/login", board.login)
    app.router.add_post(f"{PREFIX}/logout", board.logout)
    app.router.add_get(f"{PREFIX}/", need(board.overview))
    app.router.add_get(f"{PREFIX}/calls", need(board.calls))
    app.router.add_get(f"{PREFIX}/calls/{{call_id}}", need(board.call_page))
    app.router.add_post(f"{PREFIX}/calls/{{call_id}}", need(board.mark_call))
    app.router.add_get(f"{PREFIX}/calls/{{call_id}}/recording", need(board.recording))
    app.router.add_get(f"{PREFIX}/regions", need(board.regions))
    app.router.add_get(PREFIX + "/reports/{name}.{fmt:csv|json}", need(board.download))
    app.router.add_get(f"{PREFIX}/static/dashboard.css", _stylesheet)
    app.router.add_get(f"{PREFIX}/static/call.js", _call_script)
    app.on_response_prepare.append(_security_headers)
