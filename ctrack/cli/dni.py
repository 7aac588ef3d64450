"""`ctrack pool stats` and `ctrack dni …`: how the website's number pools are doing."""

from __future__ import annotations

import json
import time

import click

from ctrack.cli import cli
from ctrack.cli.catalog import pool
from ctrack.cli.common import Context, iso_local, json_option, pass_ctx, print_rows
from ctrack.dni.attribution import normalize_site
from ctrack.dni.store import recent_visits
from ctrack.reports.store import pool_stats

VISIT_COLUMNS = ("id", "site", "last_seen", "source", "channel", "number", "pool_region", "keyword", "gclid", "calls")


@pool.command("stats")
@click.argument("name")
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True, help="Look back this many days.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_ctx
def pool_stats_command(ctx: Context, name: str, days: int, as_json: bool) -> None:
    """Utilization, pressure, peak concurrent visits and a recommended size for a pool."""
    stats = pool_stats(ctx.connect(), name, days, time.time(), ctx.config.dni.grace_seconds)
    stats["since"] = iso_local(stats["since"], ctx.config.ctrack.timezone)
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    recommended = stats["recommended_size"]
    advice = (
        "-"
        if recommended is None
        else f"{recommended} numbers"
        + (f" (add {recommended - stats['numbers']})" if recommended > stats["numbers"] else "")
    )
    for label, value in (
        ("pool", f"{stats['pool']} ({stats['site']})"),
        ("since", f"{stats['since'][:16].replace('T', ' ')} ({stats['days']:g} days)"),
        ("numbers", f"{stats['numbers']} ({stats['leased_now']} leased now)"),
        ("visits", stats["visits"]),
        ("utilization", f"{stats['utilization']:.1%} of number-time leased"),
        (
            "pressure",
            f"{stats['pressure_visits']} visits ({stats['pressure']:.1%}) got the fallback or a shared number",
        ),
        ("peak", f"{stats['peak_visits']} visits at once"),
        ("recommended", advice),
    ):
        click.echo(f"{label:<12} {value}")


@cli.group("dni")
def dni_group() -> None:
    """Website visits and their tracking numbers."""


@dni_group.command("visits")
@click.option("--site", default=None, help="Only this site.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@json_option
@pass_ctx
def dni_visits(ctx: Context, site: str | None, limit: int, as_json: bool) -> None:
    """Recent visits, newest first: source, leased number, keyword, gclid and calls."""
    tz = ctx.config.ctrack.timezone
    rows = recent_visits(ctx.connect(), limit, normalize_site(site) if site else None)
    for row in rows:
        for key in ("first_seen", "last_seen", "lease_expires_at"):
            row[key] = iso_local(row[key], tz)
        if not as_json:
            row["last_seen"] = row["last_seen"][:19].replace("T", " ")
    print_rows(rows, VISIT_COLUMNS, as_json, empty="no visits")
