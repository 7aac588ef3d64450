"""Configuration: one INI file, every setting declared once in SCHEMA with its default.

Code reads settings only through `Config.get` with a dotted "section.key" name; a unit test checks that every
key read anywhere is declared here and documented in config.example.ini. Errors are
reported as `FILE:LINE: key: reason` so the admin can fix the exact line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers


class ConfigError(Exception):
    """A setting that cannot be used; str() is the one line to show the admin."""


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


def _timezone(text: str) -> str:
    name = text.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use a name such as America/New_York)") from None
    return name


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


@dataclass(frozen=True)
class Setting:
    default: str
    parse: Callable[[str], Any]
    doc: str


SCHEMA: dict[str, dict[str, Setting]] = {
    "ctrack": {
        "database": Setting("", _str, "SQLite database file; empty = /var/lib/ctrack/ctrack.db if that folder exists, else ./ctrack.db"),
        "default_region": Setting("US", _region, "country assumed for numbers typed without +country code"),
        "timezone": Setting("UTC", _timezone, "time zone of reports and exports"),
        "log_level": Setting("info", _choice("debug", "info", "warning", "error"), "daemon log level"),
    },
    "pbx": {
        "type": Setting("asterisk", _choice("asterisk", "freeswitch"), "which PBX this deployment tracks"),
    },
    "business": {
        "default_forward": Setting("Local/s@business-line", _str, "dial string of the real business line; the dialplan rings it whenever ctrack cannot answer"),
        "dial_template": Setting("PJSIP/{number}@trunk", _str, "dial string for a forward target given as a phone number; {number} is its E.164 form"),
        "ring_timeout": Setting("30", _positive_int, "seconds the business line rings before the call counts as missed"),
        "published_number": Setting("", _str, "the business's published (NAP) number; never a tracking number"),
    },
    "calls": {
        "qualified_seconds": Setting("60", _non_negative_int, "talk seconds from which a call counts as qualified (a lead)"),
        "repeat_window_days": Setting("90", _positive_int, "a caller seen within this many days is a repeat caller"),
    },
    "recording": {
        "directory": Setting("/var/spool/asterisk/monitor", _str, "where the PBX writes call recordings"),
        "format": Setting("wav", _choice("wav", "gsm", "wav49"), "recording file format"),
        "consent_prompt": Setting("", _str, "sound played to the caller before a recorded call (e.g. custom/this-call-is-recorded); empty = none"),
    },
    "fastagi": {
        "listen": Setting("127.0.0.1:4573", _listen, "HOST:PORT of the FastAGI route server"),
        "client_timeout": Setting("5", _positive_int, "seconds a FastAGI client may stay silent before it is dropped"),
    },
    "ami": {
        "enabled": Setting("yes", _bool, "run the AMI call-log listener"),
        "host": Setting("127.0.0.1", _str, "Asterisk manager host"),
        "port": Setting("5038", _port, "Asterisk manager port"),
        "username": Setting("ctrack", _str, "manager user (see `ctrack dialplan render --manager`)"),
        "secret": Setting("", _str, "manager secret"),
        "reconnect_max_seconds": Setting("30", _positive_int, "longest wait between reconnect attempts"),
    },
    "cdr": {
        "master_csv": Setting("/var/log/asterisk/cdr-csv/Master.csv", _str, "Asterisk's CDR CSV, read by `ctrack reconcile` and after an AMI reconnect"),
        "timezone": Setting("UTC", _timezone, "time zone of the CDR's times: UTC with usegmtime = yes in cdr.conf [csv], else the PBX's own zone"),
        "reconcile_interval": Setting("300", _positive_int, "seconds between the daemon's CDR reconcile runs (also run after each AMI reconnect)"),
    },
}


def default_config_paths() -> list[Path]:
    paths = []
    if os.environ.get("CTRACK_CONFIG"):
        paths.append(Path(os.environ["CTRACK_CONFIG"]))
    paths += [Path("ctrack.ini"), Path("/etc/ctrack/ctrack.ini")]
    return paths


class Config:
    """Parsed settings: defaults overlaid by the file, each value already typed."""

    def __init__(self, values: dict[str, Any], path: Path | None = None):
        self._values = values
        self.path = path

    def get(self, dotted: str) -> Any:
        """The typed value of 'section.key'; a KeyError for an undeclared key is a bug."""
        return self._values[dotted]

    @property
    def database_path(self) -> Path:
        configured = self.get("ctrack.database")
        if configured:
            return Path(configured)
        var_lib = Path("/var/lib/ctrack")
        return var_lib / "ctrack.db" if var_lib.is_dir() else Path("ctrack.db")

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


_SECTION = re.compile(r"^\[\s*([A-Za-z0-9_.-]+)\s*\]$")
_KEY = re.compile(r"^([A-Za-z0-9_]+)\s*[=:]\s*(.*)$")


def defaults() -> Config:
    return Config({f"{s}.{k}": st.parse(st.default) for s, keys in SCHEMA.items() for k, st in keys.items()})


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
        values = config.as_dict()
        values.update(parse_text(text, str(candidate)))
        return Config(values, candidate)
    return config
