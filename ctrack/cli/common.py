"""What every command shares: the lazily loaded config and database, the one translation of
refusals (CtrackError) into `ctrack: error: …` and an exit status, output."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

import click

from ctrack import config as config_mod
from ctrack.core.period import DAY
from ctrack.errors import CtrackError
from ctrack.store import db


class Context:
    def __init__(self, config_path: str | None, db_path: str | None):
        self._config_path = config_path
        self._db_path = db_path
        self._config: config_mod.Config | None = None
        self._conn: sqlite3.Connection | None = None

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self._config_path)
        return self._config

    @property
    def database_path(self) -> db.Target:
        return db.target(self._db_path) if self._db_path else self.config.database_path

    def connect(self, *, create: bool = False, upgrade: bool = False) -> sqlite3.Connection:
        """The database, checked to be at the current schema version (or upgraded)."""
        if self._conn is None:
            conn = db.connect(self.database_path, create=create)
            if upgrade:
                db.upgrade(conn)
            else:
                db.ensure_current(conn)
            self._conn = conn
        return self._conn


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"ctrack: error: {message}", err=True)
    sys.exit(code)


def refuse(exc: CtrackError) -> NoReturn:
    """A refusal as `ctrack: error: …` lines on stderr and its exit status."""
    for line in str(exc).splitlines() or [type(exc).__name__]:
        click.echo(f"ctrack: error: {line}", err=True)
    sys.exit(exc.exit_code)


_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click 8.2+


def usage_error(exc: click.UsageError) -> NoReturn:
    """A bad option or argument (an unknown --consent choice, a missing --site) as one line,
    like every other refusal, naming the help to read; exit 2. A group given no command
    still shows its help."""
    if isinstance(exc, _NO_ARGS_IS_HELP):
        raise exc
    reason = " ".join(line.strip() for line in exc.format_message().splitlines() if line.strip())
    hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    fail(reason + hint, exc.exit_code)


class CtrackGroup(click.Group):
    """The command group that translates every refusal once, at the CLI's boundary."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            usage_error(exc)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CtrackError as exc:
            refuse(exc)
        except click.UsageError as exc:
            usage_error(exc)
        except sqlite3.OperationalError as exc:
            fail(f"database: {exc}")


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print a JSON array of objects.")(fn)


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], as_json: bool, empty: str = "(none)") -> None:
    if as_json:
        click.echo(json.dumps(list(rows), indent=2, ensure_ascii=False, default=str))
        return
    if not rows:
        click.echo(empty)
        return
    click.echo(format_table(rows, columns))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("\n", " ")


def format_table(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


_RELATIVE = {"m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}


def parse_when(text: str, tz_name: str, now: float | None = None) -> float:
    """A point in time as unix seconds: '2026-11-01', '2026-11-01 14:30', or '7d'/'24h'/'30m' ago.

    Dates and times without an offset are in the configured time zone.
    """
    import re
    import time
    from datetime import datetime
    from zoneinfo import ZoneInfo

    text = text.strip()
    if m := re.fullmatch(r"(\d+)\s*([mhdw])", text):
        return (time.time() if now is None else now) - int(m.group(1)) * _RELATIVE[m.group(2)]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: use YYYY-MM-DD, 'YYYY-MM-DD HH:MM' or an age such as 7d or 24h") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz_name))
    return parsed.timestamp()


def iso_local(ts: float | None, tz_name: str) -> str | None:
    """unix seconds → ISO 8601 with the configured zone's offset (None stays None)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if ts is None:
        return None
    return datetime.fromtimestamp(ts, ZoneInfo(tz_name)).isoformat(timespec="seconds")
