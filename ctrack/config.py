"""Configuration: one INI file, every setting declared once in SCHEMA with its default.

Code reads settings only through `Config.get` with a dotted "section.key" name; a unit test checks that every
key read anywhere is declared here and documented in config.example.ini. Errors are
reported as `FILE:LINE: key: reason` so the admin can fix the exact line.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import time
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from ctrack.alerts.rules import parse_addresses, parse_time_of_day
from ctrack.core.hours import Hours, parse_hours
from ctrack.dni.attribution import normalize_site
from ctrack.errors import CtrackError
from ctrack.geo.regions import parse_region
from ctrack.privacy.consent import DEFAULT_ALL_PARTY, MODES, parse_regions
from ctrack.spam.rules import parse_treatment
from ctrack.store import db

T = TypeVar("T")


class ConfigError(CtrackError):
    """A setting that cannot be used; str() is the one line to show the admin."""

    exit_code = 2


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "yes", "true", "on"):
        return True
    if low in ("0", "no", "false", "off"):
        return False
    raise ValueError("expected yes or no")


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None


def _positive_int(text: str) -> int:
    value = _int(text)
    if value <= 0:
        raise ValueError("expected a number greater than 0")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise ValueError("expected 0 or more")
    return value


def _port(text: str) -> int:
    value = _int(text)
    if not 0 < value < 65536:
        raise ValueError("expected a port between 1 and 65535")
    return value


def _str(text: str) -> str:
    return text.strip()


def _region(text: str) -> str:
    region = text.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("expected a two-letter country code such as US or GB")
    return region


def _optional_region(text: str) -> str:
    return parse_region(text) if text.strip() else ""


def _timezone(text: str) -> str:
    name = text.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use a name such as America/New_York)") from None
    return name


def _hours(text: str) -> Hours:
    return parse_hours(text)


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError("expected HOST:PORT")
    return host.strip("[]"), _port(port)


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError("expected one of " + ", ".join(choices))
        return value

    return parse


def _str_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _site_map(text: str, parse_value: Callable[[str], Any], shape: str) -> dict[str, Any]:
    """'SITE=VALUE, SITE=VALUE' as {normalized site: parsed value}."""
    found: dict[str, Any] = {}
    for item in _str_list(text):
        site, sep, value = item.partition("=")
        site = normalize_site(site)
        if not sep or not site or not value.strip():
            raise ValueError(f"expected {shape}, comma-separated (got {item!r})")
        if site in found:
            raise ValueError(f"site {site} is listed twice")
        found[site] = parse_value(value.strip())
    return found


def _attribution_rule(text: str) -> tuple[str, int | None]:
    model, _, days = text.partition(":")
    if model.strip().lower() not in ("first", "last"):
        raise ValueError(f"expected first or last touch, not {model.strip()!r}")
    return model.strip().lower(), _positive_int(days) if days.strip() else None


def _site_attribution(text: str) -> dict[str, tuple[str, int | None]]:
    return _site_map(text, _attribution_rule, "SITE=first|last[:DAYS]")


def _international_numbers(text: str) -> tuple[str, ...]:
    numbers = []
    for typed in text.split("|"):
        try:
            parsed = phonenumbers.parse(typed.strip(), None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            raise ValueError(f"{typed.strip()!r} is not a valid number in international format (+country code)")
        numbers.append(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    return tuple(numbers)


def _site_numbers(text: str) -> dict[str, tuple[str, ...]]:
    return _site_map(text, _international_numbers, "SITE=+NUMBER[|+NUMBER]")


def _origins(text: str) -> frozenset[str]:
    origins = set()
    for item in _str_list(text):
        parts = urlsplit(item)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.username
        ):
            raise ValueError(f"expected origins such as https://www.example.com (got {item!r})")
        origins.add(f"{parts.scheme}://{parts.netloc.lower()}")
    return frozenset(origins)


def _addresses(text: str) -> frozenset[str]:
    found = set()
    for item in _str_list(text):
        try:
            found.add(str(ipaddress.ip_address(item)))
        except ValueError:
            raise ValueError(f"expected IP addresses, comma-separated (got {item!r})") from None
    return frozenset(found)


def _url(text: str) -> str:
    url = text.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ValueError(f"expected an http:// or https:// URL (got {url!r})")
    return url


def _url_list(text: str) -> tuple[str, ...]:
    return tuple(_url(item) for item in _str_list(text))


def _currency(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError("expected a three-letter currency code such as USD or EUR")
    return code


def _amount(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("expected a number such as 0 or 120.50") from None
    if not 0 <= value < 1e9:
        raise ValueError("expected a number from 0")
    return value


@dataclass(frozen=True)
class Setting:
    """How one setting is written in the INI file: its default text, its parser, its comment."""

    default: str
    parse: Callable[[str], Any]
    doc: str


def setting(default: str, parse: Callable[[str], T], doc: str) -> T:
    """A typed field of a settings section, declared once with its INI default and comment."""
    return field(default_factory=lambda: parse(default), metadata={"setting": Setting(default, parse, doc)})


@dataclass(frozen=True, slots=True)
class CtrackSettings:
    database: str = setting(
        "",
        _str,
        "SQLite database file, or postgresql://user@host:port/db for several sites on one PostgreSQL "
        "(docs/multisite.md); empty = /var/lib/ctrack/ctrack.db if that folder exists, else ./ctrack.db",
    )
    spool: str = setting(
        "",
        _str,
        "with PostgreSQL: the local file that keeps call records while it is unreachable; "
        "empty = /var/lib/ctrack/spool.db if that folder exists, else ./ctrack-spool.db",
    )
    site: str = setting(
        "", _str, "this daemon's PBX site when several share one database: stamped on each call; empty = one site"
    )
    default_region: str = setting("US", _region, "country assumed for numbers typed without +country code")
    timezone: str = setting("UTC", _timezone, "time zone of reports and exports")
    log_level: str = setting("info", _choice("debug", "info", "warning", "error"), "daemon log level")


@dataclass(frozen=True, slots=True)
class PbxSettings:
    type: str = setting("asterisk", _choice("asterisk", "freeswitch"), "which PBX this deployment tracks")


@dataclass(frozen=True, slots=True)
class BusinessSettings:
    default_forward: str = setting(
        "Local/s@business-line",
        _str,
        "dial string of the real business line; the dialplan rings it whenever ctrack cannot answer",
    )
    dial_template: str = setting(
        "PJSIP/{number}@trunk",
        _str,
        "dial string for a forward target given as a phone number; {number} is its E.164 form",
    )
    ring_timeout: int = setting("30", _positive_int, "seconds the business line rings before the call counts as missed")
    published_number: str = setting("", _str, "the business's published (NAP) number; never a tracking number")
    region: str = setting(
        "",
        _optional_region,
        "where the business is, for consent by region: a country (DE) or a US state (US-OR); empty = unknown (announces)",
    )
    hours: Hours = setting(
        "mon-fri 09:00-17:00",
        _hours,
        "opening hours in [ctrack] timezone, for lead rules' business_hours: DAY[-DAY] HH:MM-HH:MM, comma-separated",
    )


@dataclass(frozen=True, slots=True)
class CallsSettings:
    qualified_seconds: int = setting(
        "60", _non_negative_int, "talk seconds the default lead rule asks of an answered call (see docs/leads.md)"
    )
    repeat_window_days: int = setting("90", _positive_int, "a caller seen within this many days is a repeat caller")


@dataclass(frozen=True, slots=True)
class RecordingSettings:
    directory: str = setting("/var/spool/asterisk/monitor", _str, "where the PBX writes call recordings")
    format: str = setting("wav", _choice("wav", "gsm", "wav49"), "recording file format")
    consent_prompt: str = setting(
        "", _str, "sound played to the caller before a recorded call (e.g. custom/this-call-is-recorded); empty = none"
    )
    consent: str = setting(
        "always",
        _choice(*MODES),
        "when a recorded call plays consent_prompt: always, never, or by_region (caller's or business's region is all-party)",
    )
    all_party_regions: frozenset[str] = setting(
        DEFAULT_ALL_PARTY,
        parse_regions,
        "regions whose law asks every party to consent to a recording (US-CA for a state, DE for a country), comma-separated",
    )


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    recordings_days: int = setting(
        "0", _non_negative_int, "days a call's recording file is kept before it is deleted from disk; 0 = keep"
    )
    transcripts_days: int = setting("0", _non_negative_int, "days a call's transcript is kept; 0 = keep")
    caller_data_days: int = setting(
        "0",
        _non_negative_int,
        "days a call keeps its caller's number and name; then the number becomes a keyed hash (repeat callers still count) and the name goes; 0 = keep",
    )
    visits_days: int = setting(
        "0", _non_negative_int, "days a website visit (DNI session) is kept after it was last seen; 0 = keep"
    )


@dataclass(frozen=True, slots=True)
class FastagiSettings:
    listen: tuple[str, int] = setting("127.0.0.1:4573", _listen, "HOST:PORT of the FastAGI route server")
    client_timeout: int = setting("5", _positive_int, "seconds a FastAGI client may stay silent before it is dropped")


@dataclass(frozen=True, slots=True)
class AmiSettings:
    enabled: bool = setting("yes", _bool, "run the AMI call-log listener")
    host: str = setting("127.0.0.1", _str, "Asterisk manager host")
    port: int = setting("5038", _port, "Asterisk manager port")
    username: str = setting("ctrack", _str, "manager user (see `ctrack dialplan render --manager`)")
    secret: str = setting("", _str, "manager secret")
    reconnect_max_seconds: int = setting("30", _positive_int, "longest wait between reconnect attempts")


@dataclass(frozen=True, slots=True)
class CdrSettings:
    master_csv: str = setting(
        "/var/log/asterisk/cdr-csv/Master.csv",
        _str,
        "Asterisk's CDR CSV, read by `ctrack reconcile` and after an AMI reconnect",
    )
    timezone: str = setting(
        "UTC",
        _timezone,
        "time zone of the CDR's times: UTC with usegmtime = yes in cdr.conf [csv], else the PBX's own zone",
    )
    reconcile_interval: int = setting(
        "300", _positive_int, "seconds between the daemon's CDR reconcile runs (also run after each AMI reconnect)"
    )


@dataclass(frozen=True, slots=True)
class FreeswitchSettings:
    esl_host: str = setting("127.0.0.1", _str, "FreeSWITCH event socket host (listen-ip in event_socket.conf.xml)")
    esl_port: int = setting("8021", _port, "FreeSWITCH event socket port (listen-port)")
    esl_password: str = setting(
        "ClueCon", _str, "event socket password (password in event_socket.conf.xml); change both from ClueCon"
    )
    outbound_listen: tuple[str, int] = setting(
        "127.0.0.1:8084", _listen, "HOST:PORT where ctrack answers the dialplan's `socket` application (IPv4)"
    )
    route_timeout: int = setting(
        "2", _positive_int, "seconds ctrack may take to route a call before FreeSWITCH rings the default business line"
    )
    recording_directory: str = setting(
        "/var/lib/freeswitch/recordings",
        _str,
        "folder FreeSWITCH writes record_session files to (replaces [recording] directory on FreeSWITCH)",
    )
    cdr_csv: str = setting(
        "/var/log/freeswitch/cdr-csv/Master.csv",
        _str,
        "mod_cdr_csv file written with ctrack's template, read after an event socket reconnect",
    )
    reconnect_max_seconds: int = setting("30", _positive_int, "longest wait between event socket reconnect attempts")


@dataclass(frozen=True, slots=True)
class HttpSettings:
    listen: tuple[str, int] = setting(
        "127.0.0.1:8080",
        _listen,
        "HOST:PORT of the daemon's web server (DNI API, ctrack.js, dashboard); put a TLS reverse proxy in front for websites",
    )
    trusted_proxies: frozenset[str] = setting(
        "",
        _addresses,
        "addresses of reverse proxies whose X-Forwarded-For names the real client (comma-separated); empty = trust none",
    )
    header_timeout: int = setting(
        "10", _positive_int, "seconds a client has from connecting to the end of its first request's headers"
    )
    body_timeout: int = setting("20", _positive_int, "seconds a client has to send a request's body")
    keepalive_timeout: int = setting(
        "30",
        _positive_int,
        "seconds an idle kept-alive connection stays open; the next request's headers must arrive within them",
    )
    max_connections: int = setting(
        "1000",
        _positive_int,
        "open HTTP connections at most; lowered at start to leave FastAGI a reserve of file descriptors",
    )
    max_connections_per_address: int = setting(
        "50", _positive_int, "open HTTP connections at most from one client address (trusted proxies excepted)"
    )


@dataclass(frozen=True, slots=True)
class DniSettings:
    published_numbers: dict[str, tuple[str, ...]] = setting(
        "",
        _site_numbers,
        "numbers ctrack.js swaps on each site: SITE=+NUMBER[|+NUMBER], comma-separated; a site not listed uses [business] published_number",
    )
    attribution: str = setting(
        "first",
        _choice("first", "last"),
        "which touch a returning visitor's calls are credited to: first, or last non-direct",
    )
    attribution_days: int = setting(
        "30", _positive_int, "days a visitor keeps their visit (first-party cookie) and its attribution"
    )
    site_attribution: dict[str, tuple[str, int | None]] = setting(
        "", _site_attribution, "per-site override: SITE=first|last[:DAYS], comma-separated"
    )
    grace_seconds: int = setting(
        "600", _non_negative_int, "a call still counts for a visit whose lease ended this many seconds before it"
    )
    allowed_origins: frozenset[str] = setting(
        "",
        _origins,
        "extra origins (e.g. https://staging.example.net) allowed to lease besides the pools' sites and their subdomains",
    )
    rate_per_minute: int = setting(
        "120", _non_negative_int, "lease requests per minute one client address may make; 0 = no limit"
    )
    rate_burst: int = setting(
        "60", _positive_int, "lease requests one client may make at once before the per-minute rate applies"
    )
    leases_per_client: int = setting(
        "2",
        _non_negative_int,
        "pool numbers one client (an IPv4 address, an IPv6 /64) may hold per site; its further visits share the number it holds last; 0 = no cap",
    )
    crawlers: tuple[str, ...] = setting(
        "Googlebot, AdsBot-Google, Mediapartners-Google, Google-InspectionTool, GoogleOther, Storebot-Google, "
        "Google-Read-Aloud, bingbot, BingPreview, adidxbot, msnbot, facebookexternalhit, facebookcatalog, "
        "meta-externalagent, Twitterbot, LinkedInBot, Pinterestbot, Slackbot, Discordbot, TelegramBot, WhatsApp, "
        "Applebot, DuckDuckBot, YandexBot, Baiduspider, PetalBot, SeznamBot, Sogou, Bytespider, AhrefsBot, "
        "SemrushBot, MJ12bot, DotBot, rogerbot, Screaming Frog, GPTBot, ChatGPT-User, OAI-SearchBot, ClaudeBot, "
        "Claude-User, PerplexityBot, CCBot, Amazonbot, YisouSpider, ia_archiver, archive.org_bot, Lighthouse, "
        "Chrome-Lighthouse",
        _str_list,
        "user-agent tokens (case-insensitive, comma-separated) of crawlers: they get the published number, never a lease or a visit",
    )


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    enabled: bool = setting("yes", _bool, "serve the dashboard at /dashboard/ (users: `ctrack dashboard passwd USER`)")
    session_hours: int = setting("12", _positive_int, "hours a dashboard login lasts")
    secure_cookie: bool = setting(
        "no",
        _bool,
        "yes when users reach the dashboard over HTTPS (a TLS reverse proxy): the login cookie is then never sent over plain HTTP",
    )
    default_days: int = setting(
        "30", _positive_int, "days the dashboard and `ctrack report` cover when no period is given"
    )
    login_user_failures: int = setting(
        "5",
        _positive_int,
        "wrong passwords for one user name (from any address) before it is locked out; also the Google Ads upload URL",
    )
    login_address_failures: int = setting(
        "20",
        _positive_int,
        "wrong passwords from one client address (an IPv6 /64), whatever the user name, before it is locked out",
    )
    login_lockout_seconds: int = setting(
        "30", _positive_int, "first lockout; each further wrong password after it doubles the lockout"
    )
    login_lockout_max_seconds: int = setting("900", _positive_int, "longest lockout")


@dataclass(frozen=True, slots=True)
class ConversionsSettings:
    currency: str = setting("USD", _currency, "currency of conversion values sent to Google Ads, GA4 and webhooks")
    value: float = setting("0", _amount, "value of a conversion whose call and source have none of their own")


@dataclass(frozen=True, slots=True)
class GoogleAdsSettings:
    conversion_name: str = setting(
        "", _str, "conversion action the scheduled-upload URL /exports/google-ads.csv exports to; empty = no URL"
    )
    call_conversion_name: str = setting(
        "",
        _str,
        "conversion action the scheduled-upload URL /exports/google-ads-calls.csv exports call conversions "
        "(calls to numbers marked --google-call-asset) to; empty = no URL",
    )
    upload_user: str = setting(
        "", _str, "user name Google Ads gives for the scheduled upload (HTTP basic auth); empty = no URL"
    )
    upload_password: str = setting("", _str, "password Google Ads gives for the scheduled upload; empty = no URL")


@dataclass(frozen=True, slots=True)
class Ga4Settings:
    measurement_id: str = setting(
        "", _str, "GA4 measurement id (G-…) to send each conversion's event to; empty = GA4 off"
    )
    api_secret: str = setting("", _str, "Measurement Protocol API secret of that data stream")
    endpoint: str = setting(
        "https://www.google-analytics.com/mp/collect",
        _url,
        "Measurement Protocol endpoint (region-specific or a test receiver)",
    )
    event_name: str = setting("generate_lead", _str, "name of the event sent for a conversion (docs/conversions.md)")


@dataclass(frozen=True, slots=True)
class WebhooksSettings:
    urls: tuple[str, ...] = setting(
        "",
        _url_list,
        "URLs that receive a signed JSON POST for each conversion and call update, comma-separated; empty = none",
    )
    secret: str = setting("", _str, "key of the HMAC-SHA256 signature in X-Ctrack-Signature (required with urls)")
    timeout_seconds: int = setting(
        "10", _positive_int, "seconds a GA4 or webhook delivery may take before it is retried"
    )


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    retry_first_seconds: int = setting(
        "30", _positive_int, "wait after a failed delivery; doubles with each further failure"
    )
    retry_max_seconds: int = setting("3600", _positive_int, "longest wait between delivery attempts")
    give_up_hours: int = setting(
        "168",
        _positive_int,
        "hours after which an undelivered conversion is given up (GA4 itself drops events older than 72 hours)",
    )


@dataclass(frozen=True, slots=True)
class TranscriptionSettings:
    enabled: bool = setting(
        "no", _bool, "transcribe recorded calls offline with faster-whisper (needs ctrack[transcribe])"
    )
    model: str = setting(
        "tiny.en", _str, "faster-whisper model name (tiny.en, base, small) or the folder of a CTranslate2 model"
    )
    language: str = setting("en", _str, "language spoken on the calls; empty = detect per call")
    compute_type: str = setting("int8", _choice("int8", "int8_float32", "float32"), "CTranslate2 compute type")
    cpu_threads: int = setting("2", _positive_int, "CPU threads of each transcription worker")
    beam_size: int = setting("1", _positive_int, "beam search width (1 = greedy, fastest)")
    max_concurrent: int = setting("1", _positive_int, "calls transcribed at the same time (one worker process each)")
    answered_only: bool = setting("yes", _bool, "transcribe only answered calls")
    min_talk_seconds: int = setting("5", _non_negative_int, "skip recorded calls with fewer talk seconds")


@dataclass(frozen=True, slots=True)
class SpamSettings:
    treatment: str = setting(
        "busy", parse_treatment, "what a blocked caller gets: busy, hangup, or a dial string such as voicemail"
    )
    repeat_calls: int = setting(
        "3", _non_negative_int, "a caller with more calls than this within repeat_minutes is spam; 0 = off"
    )
    repeat_minutes: int = setting("10", _positive_int, "the window of repeat_calls")
    repeat_talk_seconds: int = setting("5", _positive_int, "only calls with less talk than this count as repeats")
    anonymous_talk_seconds: int = setting(
        "3", _non_negative_int, "a call without caller id and less talk than this is spam; 0 = off"
    )


def _optional_url(text: str) -> str:
    return _url(text) if text.strip() else ""


@dataclass(frozen=True, slots=True)
class AlertsSettings:
    smtp_host: str = setting("", _str, "mail server for alert emails (local MTA or smarthost); empty = no email")
    smtp_port: int = setting("25", _port, "its port (587 for submission with STARTTLS)")
    smtp_starttls: bool = setting("no", _bool, "upgrade the connection with STARTTLS (the certificate is verified)")
    smtp_ca_file: str = setting("", _str, "CA certificates to verify the server with; empty = the system's")
    smtp_user: str = setting("", _str, "login user; empty = no login")
    smtp_password: str = setting("", _str, "login password")
    email_from: str = setting("ctrack@localhost", _str, "From: address of alert emails")
    email_to: tuple[str, ...] = setting("", parse_addresses, "who gets alert emails, comma-separated")
    chat_webhook_url: str = setting(
        "", _optional_url, "Slack-compatible incoming webhook (JSON POST with text); empty = none"
    )
    missed_calls: bool = setting("yes", _bool, "alert on a missed or abandoned call from a first-time caller")
    missed_hours: Hours = setting(
        "mon-fri 09:00-17:00",
        parse_hours,
        "when missed-call alerts go out, in [ctrack] timezone, such as mon-fri 09:00-17:00, sat 10:00-13:00; "
        "empty = at any time",
    )
    new_leads: bool = setting("yes", _bool, "alert when a call becomes a lead")
    daily_summary: bool = setting("yes", _bool, "send a summary of the previous day (calls, leads, missed, by source)")
    summary_time: time = setting("08:00", parse_time_of_day, "when the daily summary goes out, in [ctrack] timezone")
    max_per_hour: int = setting(
        "20", _non_negative_int, "most call alerts (missed, lead) per hour; more are dropped; 0 = no limit"
    )
    timeout_seconds: int = setting("15", _positive_int, "seconds an email or chat delivery may take before a retry")


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting, typed and resolved once: code reads `config.business.ring_timeout`."""

    ctrack: CtrackSettings = field(default_factory=CtrackSettings)
    pbx: PbxSettings = field(default_factory=PbxSettings)
    business: BusinessSettings = field(default_factory=BusinessSettings)
    calls: CallsSettings = field(default_factory=CallsSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    fastagi: FastagiSettings = field(default_factory=FastagiSettings)
    ami: AmiSettings = field(default_factory=AmiSettings)
    cdr: CdrSettings = field(default_factory=CdrSettings)
    freeswitch: FreeswitchSettings = field(default_factory=FreeswitchSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    dni: DniSettings = field(default_factory=DniSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    conversions: ConversionsSettings = field(default_factory=ConversionsSettings)
    google_ads: GoogleAdsSettings = field(default_factory=GoogleAdsSettings)
    ga4: Ga4Settings = field(default_factory=Ga4Settings)
    webhooks: WebhooksSettings = field(default_factory=WebhooksSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    transcription: TranscriptionSettings = field(default_factory=TranscriptionSettings)
    spam: SpamSettings = field(default_factory=SpamSettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    path: Path | None = None

    @property
    def database_path(self) -> str | Path:
        """The SQLite file, or a postgresql:// URL as written (ctrack.store.db.target)."""
        if self.ctrack.database:
            return db.target(self.ctrack.database)
        var_lib = Path("/var/lib/ctrack")
        return var_lib / "ctrack.db" if var_lib.is_dir() else Path("ctrack.db")

    @property
    def spool_path(self) -> Path:
        if self.ctrack.spool:
            return Path(self.ctrack.spool)
        var_lib = Path("/var/lib/ctrack")
        return var_lib / "spool.db" if var_lib.is_dir() else Path("ctrack-spool.db")

    @property
    def recording_directory(self) -> str:
        """Where this deployment's PBX writes its recordings."""
        return self.freeswitch.recording_directory if self.pbx.type == "freeswitch" else self.recording.directory

    def as_dict(self) -> dict[str, Any]:
        """Every value by its 'section.key' name (for comparisons and diagnostics)."""
        return {
            f"{name}.{f.name}": getattr(getattr(self, name), f.name)
            for name, cls in SECTIONS.items()
            for f in fields(cls)
        }


SECTIONS: dict[str, type] = {
    "ctrack": CtrackSettings,
    "pbx": PbxSettings,
    "business": BusinessSettings,
    "calls": CallsSettings,
    "recording": RecordingSettings,
    "retention": RetentionSettings,
    "fastagi": FastagiSettings,
    "ami": AmiSettings,
    "cdr": CdrSettings,
    "freeswitch": FreeswitchSettings,
    "http": HttpSettings,
    "dni": DniSettings,
    "dashboard": DashboardSettings,
    "conversions": ConversionsSettings,
    "google_ads": GoogleAdsSettings,
    "ga4": Ga4Settings,
    "webhooks": WebhooksSettings,
    "outbox": OutboxSettings,
    "transcription": TranscriptionSettings,
    "spam": SpamSettings,
    "alerts": AlertsSettings,
}
SCHEMA: dict[str, dict[str, Setting]] = {
    name: {f.name: f.metadata["setting"] for f in fields(cls)} for name, cls in SECTIONS.items()
}


_SECTION = re.compile(r"^\[\s*([A-Za-z0-9_.-]+)\s*\]$")
_KEY = re.compile(r"^([A-Za-z0-9_]+)\s*[=:]\s*(.*)$")


def defaults() -> Config:
    return Config()


def build(values: dict[str, Any], path: Path | None = None) -> Config:
    """A Config from 'section.key' values; the settings not given keep their defaults."""
    by_section: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for dotted, value in values.items():
        section, key = dotted.split(".", 1)
        by_section[section][key] = value
    return Config(**{name: SECTIONS[name](**by_section[name]) for name in SECTIONS}, path=path)


def loads(text: str, filename: str = "<config>") -> Config:
    """A Config from INI text (as in a file)."""
    return build(parse_text(text, filename))


def parse_text(text: str, filename: str = "<config>") -> dict[str, Any]:
    """Parse INI text against SCHEMA; raise ConfigError('FILE:LINE: key: reason')."""
    values: dict[str, Any] = {}
    section: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        where = f"{filename}:{lineno}"
        if m := _SECTION.match(line):
            section = m.group(1).lower()
            if section not in SCHEMA:
                raise ConfigError(f"{where}: [{section}]: unknown section (known: {', '.join(SCHEMA)})")
            continue
        m = _KEY.match(line)
        if not m:
            raise ConfigError(f"{where}: {line[:40]}: expected 'key = value'")
        if section is None:
            raise ConfigError(f"{where}: {m.group(1)}: setting outside a [section]")
        key, value = m.group(1).lower(), m.group(2)
        setting = SCHEMA[section].get(key)
        if setting is None:
            raise ConfigError(f"{where}: {key}: unknown setting in [{section}]")
        try:
            values[f"{section}.{key}"] = setting.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {key}: {exc}") from None
    return values


def load(path: str | os.PathLike | None = None) -> Config:
    """--config PATH, else $CTRACK_CONFIG, else ./ctrack.ini, else /etc/ctrack/ctrack.ini, else defaults."""
    if path is not None:
        candidates, must_exist = [Path(path)], True
    elif os.environ.get("CTRACK_CONFIG"):
        candidates, must_exist = [Path(os.environ["CTRACK_CONFIG"])], True
    else:
        candidates, must_exist = [Path("ctrack.ini"), Path("/etc/ctrack/ctrack.ini")], False
    config = defaults()
    for candidate in candidates:
        if not candidate.exists() and not must_exist:
            continue
        try:
            text = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"{candidate}:0: file: cannot read ({reason})") from None
        return build(parse_text(text, str(candidate)), candidate)
    return config
