"""`ctrack report|spend|export|dashboard|outbox …`: reports, ad spend, conversions out."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from ctrack.cli import cli
from ctrack.cli.common import Context, iso_local, json_option, pass_ctx, print_rows
from ctrack.core.period import WEEKDAYS, Period, local_midnight, parse_day, period_from, today_in
from ctrack.dashboard import users
from ctrack.dashboard.auth import check_password, check_username, hash_password
from ctrack.exports import ExportError, google_ads
from ctrack.exports.csvsafe import to_csv
from ctrack.exports.outbox import DELIVERY_COLUMNS, list_deliveries
from ctrack.geo.report import REGION_COLUMNS
from ctrack.geo.store import region_report
from ctrack.reports import store as reports
from ctrack.reports.rollups import ensure_timezone, rollup_timezone
from ctrack.spend import store as spend_store
from ctrack.spend.rules import SpendError, parse_amount, parse_spend_csv, spread
from ctrack.store import db


def _period_options(fn: Callable) -> Callable:
    fn = click.option("--until", default=None, metavar="YYYY-MM-DD", help="Last day included (default: today).")(fn)
    return click.option(
        "--since",
        default=None,
        metavar="YYYY-MM-DD",
        help="First day (default: [dashboard] default_days before --until).",
    )(fn)


def _format_options(fn: Callable) -> Callable:
    fn = click.option("--csv", "as_csv", is_flag=True, help="Print CSV (safe to open in a spreadsheet).")(fn)
    return json_option(fn)


def _by_option(fn: Callable) -> Callable:
    return click.option(
        "--by",
        type=click.Choice(reports.GROUPINGS),
        default="source",
        show_default=True,
        help="One row per source (with its channel) or per channel.",
    )(fn)


def _filter_options(fn: Callable) -> Callable:
    fn = click.option(
        "--site", default=None, help="Only the calls of this site ([ctrack] site); default: all sites together."
    )(fn)
    fn = click.option("--tag", default=None, help="Only calls with this tag.")(fn)
    return click.option(
        "--lead-status",
        "statuses",
        multiple=True,
        type=click.Choice(reports.STATUS_CHOICES),
        help="Only calls with this lead status (repeatable; default: all but spam).",
    )(fn)


def _filters(statuses: tuple[str, ...], tag: str | None, site: str | None) -> reports.ReportFilter:
    return reports.ReportFilter(statuses or reports.DEFAULT_STATUSES, tag.strip() if tag else None, site)


def _period(ctx: Context, since: str | None, until: str | None) -> Period:
    tz = ctx.config.ctrack.timezone
    return period_from(since, until, tz, today_in(tz, time.time()), ctx.config.dashboard.default_days)


def _report_connection(ctx: Context, period: Period) -> sqlite3.Connection:
    conn = ctx.connect()
    if rollup_timezone(conn) != period.tz:
        db.write(conn, lambda c: ensure_timezone(c, period.tz))
    return conn


def _output(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    as_json: bool,
    as_csv: bool,
    table: Callable[[], None] | None = None,
) -> None:
    if as_json and as_csv:
        raise reports.ReportError("choose one of --json and --csv")
    if as_csv:
        click.echo(to_csv(rows, columns), nl=False)
    elif as_json or table is None:
        print_rows(rows, columns, as_json, empty="(nothing in this period)")
    else:
        table()


# --- reports -------------------------------------------------------------------------------


@cli.group()
def report() -> None:
    """Reports over whole local days in [ctrack] timezone."""


@report.command("sources")
@_period_options
@_by_option
@_filter_options
@_format_options
@pass_ctx
def report_sources(
    ctx: Context,
    since: str | None,
    until: str | None,
    by: str,
    statuses: tuple[str, ...],
    tag: str | None,
    site: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Calls, outcomes, leads, value, spend, cost per lead and ROI by source or channel."""
    period = _period(ctx, since, until)
    rows = reports.sources_report(_report_connection(ctx, period), period, by, _filters(statuses, tag, site))
    columns = reports.SOURCE_COLUMNS if by == "source" else reports.CHANNEL_COLUMNS

    def table() -> None:
        if not rows:
            click.echo(f"no calls or spend {period.label()}")
            return
        total = {by: "TOTAL", **reports.totals(rows)}
        print_rows([*rows, total], columns, False)

    _output(rows, columns, as_json, as_csv, table)


@report.command("leads")
@_period_options
@_filter_options
@_format_options
@pass_ctx
def report_leads(
    ctx: Context,
    since: str | None,
    until: str | None,
    statuses: tuple[str, ...],
    tag: str | None,
    site: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Calls, value and cost per call by lead status (the lead row's cost is the cost per lead)."""
    period = _period(ctx, since, until)
    rows = reports.status_report(_report_connection(ctx, period), period, _filters(statuses, tag, site))
    _output(rows, reports.STATUS_COLUMNS, as_json, as_csv)


@report.command("heatmap")
@_period_options
@_filter_options
@_format_options
@pass_ctx
def report_heatmap(
    ctx: Context,
    since: str | None,
    until: str | None,
    statuses: tuple[str, ...],
    tag: str | None,
    site: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Calls and missed calls by weekday and hour (local time)."""
    period = _period(ctx, since, until)
    cells = reports.heatmap(_report_connection(ctx, period), period, _filters(statuses, tag, site))

    def table() -> None:
        grid = {(c["weekday"], c["hour"]): c for c in cells}
        for metric in ("calls", "missed"):
            width = max(3, *(len(str(c[metric])) + 1 for c in cells))
            click.echo(f"{metric.upper()} ({period.label()}, {period.tz})")
            click.echo("    " + "".join(f"{h:>{width}}" for h in range(24)))
            for d, name in enumerate(WEEKDAYS):
                click.echo(f"{name} " + "".join(f"{grid[(d, h)][metric]:>{width}}" for h in range(24)))
            if metric == "calls":
                click.echo("")

    _output(cells, reports.HEATMAP_COLUMNS, as_json, as_csv, table)


@report.command("daily")
@_period_options
@_by_option
@_filter_options
@_format_options
@pass_ctx
def report_daily(
    ctx: Context,
    since: str | None,
    until: str | None,
    by: str,
    statuses: tuple[str, ...],
    tag: str | None,
    site: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """The trend: calls, outcomes, leads, value and spend per day and source (or channel)."""
    period = _period(ctx, since, until)
    rows = reports.daily_report(_report_connection(ctx, period), period, by, _filters(statuses, tag, site))
    _output(rows, ("day", by, *reports.DAILY_COUNTS), as_json, as_csv)


# --- spend ---------------------------------------------------------------------------------


@cli.group()
def spend() -> None:
    """Ad spend per source and day (for cost per call and cost per lead)."""


@spend.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def spend_import(ctx: Context, csv_file: Path) -> None:
    """Set spend from a CSV with the header date,source,amount (dates YYYY-MM-DD).

    All or nothing: any bad line refuses the whole file, and every bad line is reported.
    A day and source already entered get the file's amount.
    """
    try:
        text = csv_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpendError(f"{csv_file}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    lines, problems = parse_spend_csv(text)
    try:
        if problems:
            raise SpendError("\n".join(problems))
        if not lines:
            raise SpendError("no spend lines in the file")
        added, replaced = spend_store.import_spend(ctx.connect(), lines)
    except SpendError as exc:
        raise SpendError("\n".join(f"{csv_file}: {p}" for p in str(exc).splitlines())) from None
    click.echo(f"imported {len(lines)} spend lines from {csv_file} ({added} new, {replaced} replaced)")


@spend.command("add")
@click.argument("source")
@click.argument("amount")
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD", help="The day (default: today).")
@click.option("--since", default=None, metavar="YYYY-MM-DD", help="Spread AMOUNT evenly from this day …")
@click.option("--until", default=None, metavar="YYYY-MM-DD", help="… to this day (both included).")
@pass_ctx
def spend_add(ctx: Context, source: str, amount: str, day: str | None, since: str | None, until: str | None) -> None:
    """Add AMOUNT to SOURCE's spend on a day, or spread it over days (a monthly invoice)."""
    value = parse_amount(amount)
    today = today_in(ctx.config.ctrack.timezone, time.time())
    if day and (since or until):
        raise SpendError("give either --date or --since/--until")
    if since or until:
        if not (since and until):
            raise SpendError("give both --since and --until to spread an amount")
        entries = spread(value, parse_day(since, "--since"), parse_day(until, "--until"))
    else:
        entries = [(parse_day(day, "--date") if day else today, value)]
    total = spend_store.add_spend(ctx.connect(), source, entries)
    first, last = entries[0][0], entries[-1][0]
    where = f"on {first}" if first == last else f"over {len(entries)} days {first} – {last}"
    click.echo(f"added {value:.2f} for {source!r} {where}; its spend there is now {total:.2f}")


@spend.command("list")
@_period_options
@_format_options
@pass_ctx
def spend_list(ctx: Context, since: str | None, until: str | None, as_json: bool, as_csv: bool) -> None:
    """Spend entries per day and source."""
    period = _period(ctx, since, until)
    rows = spend_store.list_spend(ctx.connect(), period.first, period.last)
    _output(rows, spend_store.SPEND_COLUMNS, as_json, as_csv)


# --- exports -------------------------------------------------------------------------------


@cli.group("export")
def export_group() -> None:
    """Conversions for ad platforms."""


def _export_options(fn: Callable) -> Callable:
    fn = click.option(
        "--include-exported", is_flag=True, help="Also conversions exported before (to re-send a lost file)."
    )(fn)
    fn = click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write the CSV here (default: standard output).",
    )(fn)
    fn = click.option("--since", default=None, metavar="YYYY-MM-DD", help="Only calls from this day on.")(fn)
    return click.option("--conversion-name", required=True, help="The conversion action's name in Google Ads.")(fn)


def _export(
    ctx: Context,
    job: Callable[[sqlite3.Connection, google_ads.ExportSettings, float], google_ads.Export],
    conversion_name: str,
    since: str | None,
    output: Path | None,
    include_exported: bool,
    skipped_what: str,
) -> None:
    """Run an export job, writing the file inside its transaction (a failed write marks nothing)."""
    config = ctx.config
    tz = config.ctrack.timezone
    settings = google_ads.ExportSettings(
        google_ads.check_conversion_name(conversion_name),
        tz,
        config.conversions.currency,
        config.conversions.value,
        since_ts=local_midnight(parse_day(since, "--since"), ZoneInfo(tz)) if since else 0.0,
        include_exported=include_exported,
    )

    def deliver(result: google_ads.Export) -> None:
        if output is None:
            click.echo(result.csv, nl=False)
            return
        try:
            output.write_text(result.csv, encoding="utf-8")
        except OSError as exc:
            raise ExportError(f"{output}: cannot write ({exc.strerror})") from None

    def export_and_deliver(conn: sqlite3.Connection) -> google_ads.Export:
        exported = job(conn, settings, time.time())
        deliver(exported)  # inside the transaction: a file that cannot be written marks nothing
        return exported

    result = db.write(ctx.connect(), export_and_deliver)
    if result.skipped:
        click.echo(f"ctrack: warning: left out {result.skipped} calls {skipped_what}", err=True)
    if output is not None or result.exported == 0:
        click.echo(f"{result.exported} conversions exported" + (f" to {output}" if output else ""), err=True)


@export_group.command("google-ads")
@_export_options
@pass_ctx
def export_google_ads(
    ctx: Context, conversion_name: str, since: str | None, output: Path | None, include_exported: bool
) -> None:
    """Conversions with a Google click id as a click-conversion import CSV.

    Each conversion is exported once per conversion name (here or at the scheduled-upload
    URL); it is marked exported only once the file is written.
    """
    _export(
        ctx,
        google_ads.export,
        conversion_name,
        since,
        output,
        include_exported,
        "whose gclid is not a Google click id",
    )


@export_group.command("google-ads-calls")
@_export_options
@pass_ctx
def export_google_ads_calls(
    ctx: Context, conversion_name: str, since: str | None, output: Path | None, include_exported: bool
) -> None:
    """Conversions from calls to numbers marked --google-call-asset, as Google's
    call-conversion import CSV (caller and call start time; no click id needed).

    Each conversion is exported once per conversion name (here or at the scheduled-upload
    URL); it is marked exported only once the file is written.
    """
    _export(
        ctx,
        google_ads.export_calls,
        conversion_name,
        since,
        output,
        include_exported,
        "without a caller number in E.164 (anonymous)",
    )


# --- dashboard users -----------------------------------------------------------------------


@cli.group()
def dashboard() -> None:
    """Dashboard users (the dashboard itself is served by `ctrack serve`)."""


@dashboard.command("passwd")
@click.argument("user")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@pass_ctx
def dashboard_passwd(ctx: Context, user: str, password_stdin: bool) -> None:
    """Create a dashboard user, or set a new password (which logs them out everywhere)."""
    name = check_username(user)
    conn = ctx.connect()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    created = users.set_password(conn, name, hash_password(check_password(password)))
    click.echo(f"dashboard user {name!r} {'created' if created else 'has a new password'}")


@dashboard.command("users")
@json_option
@pass_ctx
def dashboard_users(ctx: Context, as_json: bool) -> None:
    """List dashboard users."""
    print_rows(
        users.list_users(ctx.connect()),
        ("name", "created", "password_changed"),
        as_json,
        empty="no dashboard users (add one with `ctrack dashboard passwd USER`)",
    )


@dashboard.command("remove")
@click.argument("user")
@pass_ctx
def dashboard_remove(ctx: Context, user: str) -> None:
    """Remove a dashboard user (their sessions end at once)."""
    users.remove_user(ctx.connect(), user)
    click.echo(f"dashboard user {user!r} removed")


# --- outbox --------------------------------------------------------------------------------


@cli.group()
def outbox() -> None:
    """Conversions and alerts waiting to go out to GA4, webhooks, email and chat."""


@outbox.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also deliveries already sent.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@pass_ctx
def outbox_list(ctx: Context, show_all: bool, limit: int, as_json: bool) -> None:
    """Deliveries not sent yet (retrying, or given up with the reason), newest first."""
    rows = list_deliveries(ctx.connect(), show_all, limit)
    tz = ctx.config.ctrack.timezone
    for row in rows:
        row["next_attempt"] = iso_local(row["next_attempt"], tz) if row["state"] == "retrying" else None
    print_rows(rows, DELIVERY_COLUMNS, as_json, empty="nothing waiting")


@report.command("regions")
@_period_options
@_format_options
@pass_ctx
def report_regions(ctx: Context, since: str | None, until: str | None, as_json: bool, as_csv: bool) -> None:
    """Calls by the caller's region and city (from the number, offline), the tracking number's region
    and the region of the pool whose page showed it."""
    period = _period(ctx, since, until)
    _output(region_report(ctx.connect(), period.start_ts, period.end_ts), REGION_COLUMNS, as_json, as_csv)
