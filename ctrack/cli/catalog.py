"""`ctrack source|number|pool …`: map tracking numbers to marketing sources."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from ctrack.catalog import store as cat
from ctrack.cli import cli
from ctrack.cli.common import Context, json_option, pass_ctx, print_rows
from ctrack.core import dialstring
from ctrack.core.model import CHANNELS
from ctrack.core.phone import InvalidNumber, to_e164
from ctrack.dni.selection import parse_campaign, parse_path_prefix
from ctrack.geo.regions import parse_region
from ctrack.privacy.consent import ALWAYS, NEVER
from ctrack.route.rules import GOTO_RULE, is_pass_through, safe_sound, valid_pass_through
from ctrack.spend.rules import SpendError, parse_amount

NUMBER_COLUMNS = (
    "number",
    "kind",
    "source",
    "pool",
    "forward",
    "record",
    "whisper",
    "vanity",
    "region",
    "state",
    "consent",
    "google_call_asset",
)
IMPORT_COLUMNS = ("number", "source", "pool", "forward", "record", "whisper", "vanity", "region")
_channel = click.Choice(CHANNELS)


def _e164(ctx: Context, text: str) -> str:
    return to_e164(text, ctx.config.ctrack.default_region)


def _forward(ctx: Context, text: str | None) -> str | None:
    """A forward target: a dial string (contains '/') or a pass-through (goto:…) is kept,
    anything else must be a number."""
    if text is None or text == "":
        return text
    text = text.strip()
    if is_pass_through(text):
        if not valid_pass_through(text):
            raise cat.Invalid(f"forward {text!r}: {GOTO_RULE}")
        return text
    if "/" in text:
        if not dialstring.is_safe(text):
            raise cat.Invalid(f"forward {text!r}: {dialstring.RULE}")
        return text
    return _e164(ctx, text)


def _region(text: str) -> str:
    """A pool's region as an ISO 3166 code, so calls by region can compare it with callers'."""
    try:
        return parse_region(text)
    except ValueError as exc:
        raise cat.Invalid(str(exc)) from None


CONSENT_CHOICES = (ALWAYS, NEVER, "default")


def _consent(choice: str) -> str | None:
    """A number's consent override as stored: None follows [recording] consent."""
    return None if choice == "default" else choice


def _whisper(text: str | None) -> str | None:
    """A whisper is a sound file name (played with Playback), such as custom/google-call."""
    if text is None or text == "":
        return text
    if not safe_sound(text.strip()):
        raise cat.Invalid(
            f"whisper {text!r} must be a sound file name such as custom/google-call (letters, digits, _ . / -)"
        )
    return text.strip()


def _value(text: str | None) -> float | None:
    """--value: a source's default conversion value, an amount from 0."""
    if text is None or text == "":
        return None
    try:
        return float(parse_amount(text))
    except SpendError:
        raise cat.Invalid(f"--value {text!r}: expected an amount from 0 such as 250 or 99.50") from None


_VALUE_HELP = "Value of a conversion from this source when the call has none (in [conversions] currency)."


# --- sources -------------------------------------------------------------------------------


@cli.group()
def source() -> None:
    """Marketing sources (Google Ads, radio spot, billboard …)."""


@source.command("add")
@click.argument("name")
@click.option("--channel", required=True, type=_channel, help="Marketing channel.")
@click.option("--campaign", default=None, help="Campaign name.")
@click.option("--value", "value_text", default=None, metavar="AMOUNT", help=_VALUE_HELP)
@pass_ctx
def source_add(ctx: Context, name: str, channel: str, campaign: str | None, value_text: str | None) -> None:
    """Add a source."""
    cat.add_source(ctx.connect(), name, channel, campaign, _value(value_text))
    click.echo(f"source {name!r} added ({channel})")


@source.command("list")
@json_option
@pass_ctx
def source_list(ctx: Context, as_json: bool) -> None:
    """List sources."""
    print_rows(cat.list_sources(ctx.connect()), ("name", "channel", "campaign", "value", "numbers"), as_json)


@source.command("edit")
@click.argument("name")
@click.option("--name", "new_name", default=None, help="Rename the source.")
@click.option("--channel", default=None, type=_channel)
@click.option("--campaign", default=None, help="New campaign ('' clears it).")
@click.option("--value", "value_text", default=None, metavar="AMOUNT", help=_VALUE_HELP + " '' clears it.")
@pass_ctx
def source_edit(
    ctx: Context, name: str, new_name: str | None, channel: str | None, campaign: str | None, value_text: str | None
) -> None:
    """Change a source's name, channel, campaign or default conversion value."""
    if new_name is None and channel is None and campaign is None and value_text is None:
        raise cat.Invalid("nothing to change (give --name, --channel, --campaign or --value)")
    value = None if value_text is None else (cat.CLEAR if value_text == "" else _value(value_text))
    cat.edit_source(ctx.connect(), name, new_name=new_name, channel=channel, campaign=campaign, value=value)
    click.echo(f"source {new_name or name!r} updated")


@source.command("remove")
@click.argument("name")
@pass_ctx
def source_remove(ctx: Context, name: str) -> None:
    """Remove a source no number points at."""
    cat.remove_source(ctx.connect(), name)
    click.echo(f"source {name!r} removed")


# --- numbers -------------------------------------------------------------------------------


@cli.group()
def number() -> None:
    """Tracking numbers (DIDs on the PBX)."""


@number.command("add")
@click.argument("number_text", metavar="NUMBER")
@click.option("--source", "source_name", default=None, help="Static number: the source it tracks.")
@click.option("--pool", "pool_name", default=None, help="DNI number: the pool it belongs to.")
@click.option(
    "--forward",
    default=None,
    help="Number or dial string to ring (default: the business line), or goto:CONTEXT[,EXTEN[,PRIORITY]] "
    "to continue in your own dialplan.",
)
@click.option("--record/--no-record", default=False, help="Record calls to this number.")
@click.option("--whisper", default=None, help="Sound played to whoever answers, e.g. custom/google-call.")
@click.option("--vanity", default=None, help="Vanity label such as 1-800-PLUMBER.")
@click.option("--region", default=None, help="Region the number serves.")
@click.option(
    "--consent",
    type=click.Choice(CONSENT_CHOICES),
    default="default",
    help="Consent prompt for its recorded calls: always, never, or default ([recording] consent).",
)
@click.option(
    "--google-call-asset/--no-google-call-asset",
    default=False,
    help="Calls reach it through Google forwarding numbers or call assets: export them as call conversions.",
)
@pass_ctx
def number_add(
    ctx: Context,
    number_text: str,
    source_name: str | None,
    pool_name: str | None,
    forward: str | None,
    record: bool,
    whisper: str | None,
    vanity: str | None,
    region: str | None,
    consent: str,
    google_call_asset: bool,
) -> None:
    """Add a tracking number for a source (static) or a pool (DNI)."""
    spec = cat.NumberSpec(
        _e164(ctx, number_text),
        source_name,
        pool_name,
        _forward(ctx, forward),
        record,
        _whisper(whisper),
        vanity,
        region,
        _consent(consent),
        google_call_asset,
    )
    row = cat.add_number(ctx.connect(), spec)
    target = f"source {row['source']!r}" if row["source"] else f"pool {row['pool']!r}"
    click.echo(f"{row['number']} added for {target}")


@number.command("list")
@json_option
@pass_ctx
def number_list(ctx: Context, as_json: bool) -> None:
    """List tracking numbers."""
    print_rows(cat.list_numbers(ctx.connect()), NUMBER_COLUMNS, as_json)


@number.command("show")
@click.argument("number_text", metavar="NUMBER")
@json_option
@pass_ctx
def number_show(ctx: Context, number_text: str, as_json: bool) -> None:
    """Show one tracking number."""
    row = cat.get_number(ctx.connect(), _e164(ctx, number_text))
    if as_json:
        print_rows([row], NUMBER_COLUMNS, True)
        return
    width = max(map(len, NUMBER_COLUMNS))
    for column in NUMBER_COLUMNS:
        value = row[column]
        shown = "-" if value is None else ("yes" if value is True else "no" if value is False else value)
        click.echo(f"{column.ljust(width)}  {shown}")


@number.command("edit")
@click.argument("number_text", metavar="NUMBER")
@click.option("--source", "source_name", default=None)
@click.option("--pool", "pool_name", default=None)
@click.option("--forward", default=None, help="'' resets to the business line.")
@click.option("--record/--no-record", default=None)
@click.option("--whisper", default=None, help="'' clears it.")
@click.option("--vanity", default=None, help="'' clears it.")
@click.option("--region", default=None, help="'' clears it.")
@click.option("--consent", type=click.Choice(CONSENT_CHOICES), default=None, help="always, never or default.")
@click.option("--google-call-asset/--no-google-call-asset", default=None, help="Export its calls as call conversions.")
@pass_ctx
def number_edit(
    ctx: Context,
    number_text: str,
    source_name: str | None,
    pool_name: str | None,
    forward: str | None,
    record: bool | None,
    whisper: str | None,
    vanity: str | None,
    region: str | None,
    consent: str | None,
    google_call_asset: bool | None,
) -> None:
    """Change a tracking number."""
    changes = {
        k: v
        for k, v in (
            ("forward", _forward(ctx, forward)),
            ("whisper", _whisper(whisper)),
            ("vanity", vanity),
            ("region", region),
        )
        if v is not None
    }
    if consent is not None:
        changes["consent"] = _consent(consent) or ""
    if source_name is None and pool_name is None and record is None and google_call_asset is None and not changes:
        raise cat.Invalid("nothing to change")
    row = cat.edit_number(
        ctx.connect(),
        _e164(ctx, number_text),
        source=source_name,
        pool=pool_name,
        record=record,
        google_call_asset=google_call_asset,
        **changes,
    )
    click.echo(f"{row['number']} updated")


@number.command("retire")
@click.argument("number_text", metavar="NUMBER")
@pass_ctx
def number_retire(ctx: Context, number_text: str) -> None:
    """Stop tracking a number (its calls stay in the log)."""
    e164 = _e164(ctx, number_text)
    cat.retire_number(ctx.connect(), e164)
    click.echo(f"{e164} retired")


def _parse_import(ctx: Context, path: Path) -> tuple[list[tuple[int, cat.NumberSpec]], list[tuple[int, str]]]:
    """Parse the CSV into specs, collecting every bad line instead of stopping at the first."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise cat.Invalid(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if "number" not in header or unknown:
        raise cat.Invalid(
            f"{path}: line 1: header must name 'number' and only {', '.join(IMPORT_COLUMNS)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    reader.fieldnames = header
    specs: list[tuple[int, cat.NumberSpec]] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}  # number -> the line it is first on
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append((line, "more fields than the header"))
            continue
        row = {k: (v or "").strip() for k, v in row.items()}
        if not any(row.values()):
            continue
        try:
            e164 = _e164(ctx, row["number"])
            if e164 in seen:
                raise cat.Conflict(f"{e164} is also on line {seen[e164]}")
            seen[e164] = line
            record = row.get("record", "").lower()
            if record not in ("", "yes", "no", "true", "false", "1", "0"):
                raise cat.Invalid(f"record must be yes or no, not {row['record']!r}")
            specs.append(
                (
                    line,
                    cat.NumberSpec(
                        e164,
                        row.get("source") or None,
                        row.get("pool") or None,
                        _forward(ctx, row.get("forward") or None),
                        record in ("yes", "true", "1"),
                        _whisper(row.get("whisper") or None),
                        row.get("vanity") or None,
                        row.get("region") or None,
                    ),
                )
            )
        except (InvalidNumber, cat.CatalogError) as exc:
            problems.append((line, str(exc)))
    return specs, problems


@number.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def number_import(ctx: Context, csv_file: Path) -> None:
    """Add many numbers from a CSV (header: number,source,pool,forward,record,whisper,vanity,region).

    All or nothing: any bad line refuses the whole file, and every bad line is reported.
    """
    specs, problems = _parse_import(ctx, csv_file)
    try:
        count = cat.import_numbers(ctx.connect(), specs, problems)
    except cat.Invalid as exc:
        raise cat.Invalid("\n".join(f"{csv_file}: {p}" for p in str(exc).splitlines())) from None
    click.echo(f"imported {count} numbers from {csv_file}")


# --- pools ---------------------------------------------------------------------------------


@cli.group()
def pool() -> None:
    """DNI number pools for websites."""


@pool.command("add")
@click.argument("name")
@click.option("--site", required=True, help="Website domain, e.g. example.com.")
@click.option("--lease-seconds", default=1800, show_default=True, type=int)
@click.option("--fallback", default=None, help="Number shown when every pool number is leased.")
@click.option("--region", default=None, help="Region it serves: US-OR, DE … (calls and visits carry it).")
@click.option("--path-prefix", default=None, help="Pages under this path use the pool, e.g. /portland.")
@click.option("--utm-campaign", default=None, help="Visits from this utm_campaign use the pool.")
@click.option(
    "--overflow",
    type=click.Choice(["fallback", "share"]),
    default="fallback",
    show_default=True,
    help="When the pool is exhausted: serve the fallback number, or share the least recently used.",
)
@pass_ctx
def pool_add(
    ctx: Context,
    name: str,
    site: str,
    lease_seconds: int,
    fallback: str | None,
    region: str | None,
    path_prefix: str | None,
    utm_campaign: str | None,
    overflow: str,
) -> None:
    """Add a pool; with --path-prefix or --utm-campaign it is a regional pool, else a site default."""
    fallback_e164 = _e164(ctx, fallback) if fallback else None
    cat.add_pool(
        ctx.connect(),
        name,
        site,
        lease_seconds,
        fallback_e164,
        _region(region) if region else None,
        overflow,
        parse_path_prefix(path_prefix) if path_prefix is not None else None,
        parse_campaign(utm_campaign) if utm_campaign is not None else None,
    )
    click.echo(f"pool {name!r} added for {site}")


@pool.command("edit")
@click.argument("name")
@click.option("--region", default=None, help="'' clears it.")
@click.option("--path-prefix", default=None, help="'' clears it.")
@click.option("--utm-campaign", default=None, help="'' clears it.")
@pass_ctx
def pool_edit(ctx: Context, name: str, region: str | None, path_prefix: str | None, utm_campaign: str | None) -> None:
    """Change the region a pool serves and the pages that choose it."""
    changes = {}
    if region is not None:
        changes["region"] = _region(region) if region else ""
    if path_prefix is not None:
        changes["path_prefix"] = parse_path_prefix(path_prefix) if path_prefix else ""
    if utm_campaign is not None:
        changes["utm_campaign"] = parse_campaign(utm_campaign) if utm_campaign else ""
    if not changes:
        raise cat.Invalid("nothing to change (give --region, --path-prefix or --utm-campaign)")
    row = cat.edit_pool(ctx.connect(), name, **changes)
    click.echo(f"pool {name!r} updated")
    if not (row["path_prefix"] or row["utm_campaign"]):
        click.echo(f"pool {name!r} is a default pool of {row['site']}")


@pool.command("list")
@json_option
@pass_ctx
def pool_list(ctx: Context, as_json: bool) -> None:
    """List pools."""
    print_rows(
        cat.list_pools(ctx.connect()),
        ("name", "site", "region", "path_prefix", "utm_campaign", "lease_seconds", "fallback", "overflow", "numbers"),
        as_json,
    )
