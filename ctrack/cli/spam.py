"""`ctrack block add|list|remove`: the spam block list of caller numbers and prefixes."""

from __future__ import annotations

import json

import click

from ctrack.cli import cli
from ctrack.cli.common import Context, iso_local, json_option, pass_ctx, print_rows
from ctrack.spam.rules import NUMBER, PREFIX, parse_entry
from ctrack.spam.store import BLOCK_COLUMNS, add_block, list_blocks, remove_block
from ctrack.store import db

_PREFIX_HELP = "Block every number starting with it (+ and digits, such as +1900)."


@cli.group("block")
def block() -> None:
    """Callers the route treats as spam ([spam] treatment: busy, hangup or a dial string)."""


@block.command("add")
@click.argument("number")
@click.option("--prefix", is_flag=True, help=_PREFIX_HELP)
@click.option("--note", default=None, help="Why it is blocked.")
@click.option("--json", "as_json", is_flag=True, help="Print the entry as a JSON object.")
@pass_ctx
def block_add(ctx: Context, number: str, prefix: bool, note: str | None, as_json: bool) -> None:
    """Block a caller NUMBER (or, with --prefix, a number prefix)."""
    pattern = parse_entry(number, prefix, ctx.config.ctrack.default_region)
    entry = db.write(ctx.connect(), lambda conn: add_block(conn, pattern, PREFIX if prefix else NUMBER, note))
    if as_json:
        click.echo(json.dumps(entry, indent=2))
    else:
        click.echo(f"blocked {entry['kind']} {entry['pattern']}")


@block.command("list")
@json_option
@pass_ctx
def block_list(ctx: Context, as_json: bool) -> None:
    """The blocked numbers and prefixes."""
    rows = list_blocks(ctx.connect())
    for row in rows:
        row["added_at"] = iso_local(row["added_at"], ctx.config.ctrack.timezone)
    print_rows(rows, BLOCK_COLUMNS, as_json, empty="(no blocked callers)")


@block.command("remove")
@click.argument("number")
@click.option("--prefix", is_flag=True, help=_PREFIX_HELP)
@pass_ctx
def block_remove(ctx: Context, number: str, prefix: bool) -> None:
    """Unblock a caller NUMBER (or, with --prefix, a number prefix)."""
    pattern = parse_entry(number, prefix, ctx.config.ctrack.default_region)
    db.write(ctx.connect(), lambda conn: remove_block(conn, pattern))
    click.echo(f"unblocked {pattern}")
