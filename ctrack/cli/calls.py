"""`ctrack calls` and `ctrack reconcile`: the call log and its CDR backstop."""

from __future__ import annotations

from pathlib import Path

import click

from ctrack.calllog.store import LEAD_STATUS_FILTERS, CallFilter, CallRules, find_calls
from ctrack.catalog.store import load_catalog
from ctrack.cli import cli
from ctrack.cli.common import Context, fail, iso_local, json_option, parse_when, pass_ctx, print_rows
from ctrack.store import db

CALL_TABLE = (
    "id",
    "started_at",
    "tracking_number",
    "source",
    "caller_number",
    "caller_name",
    "disposition",
    "ring_seconds",
    "talk_seconds",
    "first_time",
    "lead_status",
    "value",
    "recording",
)


@cli.command("calls")
@click.option("--since", default=None, help="From this time: YYYY-MM-DD[ HH:MM] or an age such as 7d, 24h.")
@click.option("--until", default=None, help="Before this time (same formats).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many calls.")
@click.option(
    "--search", "words", default=None, help='Only calls whose transcript has all these words ("water heater").'
)
@click.option("--lead-status", type=click.Choice(LEAD_STATUS_FILTERS), default=None, help="Only calls with it.")
@click.option("--tag", default=None, help="Only calls with this tag.")
@click.option("--site", default=None, help="Only the calls of this site ([ctrack] site); default: every site.")
@json_option
@pass_ctx
def calls(
    ctx: Context,
    since: str | None,
    until: str | None,
    limit: int | None,
    words: str | None,
    lead_status: str | None,
    tag: str | None,
    site: str | None,
    as_json: bool,
) -> None:
    """List calls, newest first."""
    tz = ctx.config.ctrack.timezone
    rows = find_calls(
        ctx.connect(),
        CallFilter(
            since=parse_when(since, tz) if since else None,
            until=parse_when(until, tz) if until else None,
            words=words,
            lead_status=lead_status,
            tag=tag,
            site=site,
        ),
        limit=limit,
    )
    for row in rows:
        for key in ("started_at", "answered_at", "ended_at"):
            row[key] = iso_local(row[key], tz)
    if not as_json:
        for row in rows:
            row["started_at"] = row["started_at"][:19].replace("T", " ")
    print_rows(rows, CALL_TABLE, as_json, empty="no calls")


@cli.command("reconcile")
@click.option(
    "--cdr",
    "cdr_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Asterisk's Master.csv (default: [cdr] master_csv).",
)
@click.option("--since", default=None, help="Only CDRs from this time (YYYY-MM-DD or an age such as 7d).")
@pass_ctx
def reconcile_command(ctx: Context, cdr_path: Path | None, since: str | None) -> None:
    """Log calls from Asterisk's CDR that the call log lacks (no duplicates)."""
    from ctrack.calllog.reconcile import ReconcileSettings, save_missing

    config = ctx.config
    settings = ReconcileSettings.from_config(config)
    path = cdr_path or settings.cdr_path
    if not path.is_file():
        fail(f"{path}: no such CDR file (set [cdr] master_csv or pass --cdr)")
    conn = ctx.connect()
    since_ts = parse_when(since, config.ctrack.timezone) if since else None
    try:
        result = settings.read(load_catalog(conn), path, since=since_ts)
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror})")
    result.added = db.write(conn, save_missing(result.records, CallRules.from_config(config)))
    for line, reason in result.bad_lines:
        click.echo(f"ctrack: warning: {path}:{line}: skipped: {reason}", err=True)
    click.echo(f"{result.calls} inbound calls in the CDR, {result.added} added to the call log")
