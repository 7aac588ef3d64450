"""`ctrack call show|mark` and `ctrack rule add|list|remove|test`: which calls were leads."""

from __future__ import annotations

import getpass
import json
from functools import partial

import click

from ctrack.cli import cli
from ctrack.cli.common import Context, format_table, iso_local, json_option, parse_when, pass_ctx, print_rows
from ctrack.leads import service, store
from ctrack.leads.rules import Rule, RuleError, parse_amount
from ctrack.store import db

RULE_TABLE = ("id", "position", "condition", "actions", "created_by")
SHOW_FIELDS = (
    "id",
    "started_at",
    "caller_number",
    "caller_name",
    "tracking_number",
    "source",
    "channel",
    "disposition",
    "ring_seconds",
    "talk_seconds",
    "first_time",
    "lead_status",
    "tags",
    "value",
    "note",
    "marked_by",
    "recording",
    "transcript_status",
)


def cli_user() -> str:
    """Who the audit trail names for a change made here."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@cli.group("call")
def call_group() -> None:
    """One call: show it, mark it (lead status, tags, value, note)."""


@call_group.command("show")
@click.argument("call_id", type=int)
@json_option
@pass_ctx
def call_show(ctx: Context, call_id: int, as_json: bool) -> None:
    """A call's fields, lead status, tags, value, note, transcript and change history."""
    tz = ctx.config.ctrack.timezone
    call = service.details(ctx.connect(), call_id)
    for key in ("started_at", "answered_at", "ended_at", "marked_at"):
        if key in call:
            call[key] = iso_local(call[key], tz)
    for change in call["changes"]:
        change["at"] = iso_local(change["at"], tz)
    if as_json:
        click.echo(json.dumps(call, indent=2, ensure_ascii=False, default=str))
        return
    for name in SHOW_FIELDS:
        value = call.get(name)
        if name == "tags":
            value = ", ".join(value or ()) or None
        click.echo(f"{name + ':':<18} {'-' if value is None else value}")
    if call["segments"]:
        click.echo("\ntranscript:")
        for s in call["segments"]:
            click.echo(f"  [{s['start']:7.1f}] {s['speaker']}: {s['text']}")
    if call["changes"]:
        click.echo("\nchanges:")
        rows = [{**c, "old": json.dumps(c["old"]), "new": json.dumps(c["new"])} for c in call["changes"]]
        click.echo(format_table(rows, ("at", "who", "field", "old", "new")))


@call_group.command("mark")
@click.argument("call_id", type=int)
@click.option("--lead", "status", flag_value="lead", help="Mark the call as a lead.")
@click.option("--not-lead", "status", flag_value="not_lead", help="Mark it as not a lead.")
@click.option("--spam", "status", flag_value="spam", help="Mark it as spam (left out of reports).")
@click.option("--tag", "add_tags", multiple=True, metavar="TAG", help="Add a tag (repeatable).")
@click.option("--untag", "remove_tags", multiple=True, metavar="TAG", help="Remove a tag (repeatable).")
@click.option("--value", default=None, metavar="AMOUNT", help="What the call was worth ([conversions] currency).")
@click.option("--no-value", is_flag=True, help="Clear the value.")
@click.option("--note", default=None, help="A note (empty to clear it).")
@pass_ctx
def call_mark(
    ctx: Context,
    call_id: int,
    status: str | None,
    add_tags: tuple[str, ...],
    remove_tags: tuple[str, ...],
    value: str | None,
    no_value: bool,
    note: str | None,
) -> None:
    """Set a call's lead status, tags, value or note. A person's mark wins over every rule."""
    if value is not None and no_value:
        raise RuleError("give either --value or --no-value")
    request = service.Mark(
        status, add_tags, remove_tags, None if value is None else parse_amount(value), no_value, note
    ).checked()
    if request.empty():
        raise RuleError("nothing to mark: give --lead, --not-lead, --spam, --tag, --untag, --value or --note")
    found = db.write(ctx.connect(), partial(service.mark, call_id=call_id, request=request, who=cli_user()))
    if not found:
        click.echo(f"call {call_id}: nothing changed")
    for name, (old, new) in found.items():
        click.echo(f"call {call_id}: {name} {json.dumps(old)} → {json.dumps(new)}")


@cli.group("rule")
def rule_group() -> None:
    """Lead rules: they mark calls when they end and when a transcript arrives (docs/leads.md)."""


def _rule_options(fn: click.decorators.FC) -> click.decorators.FC:
    fn = click.option(
        "--then", "actions", required=True, help="Actions: lead | not_lead | spam, tag NAME, value AMOUNT."
    )(fn)
    return click.option(
        "--when", "condition", required=True, help="Condition, e.g. 'answered and said(\"estimate\")'."
    )(fn)


@rule_group.command("add")
@_rule_options
@click.option("--position", type=click.IntRange(min=1), default=None, help="Run it at this place (default: last).")
@pass_ctx
def rule_add(ctx: Context, condition: str, actions: str, position: int | None) -> None:
    """Add a rule; it applies to calls from now on (`rule test` shows past calls it would change)."""
    rule_id = db.write(ctx.connect(), service.add_rule(condition, actions, cli_user(), position))
    click.echo(f"rule {rule_id} added")


@rule_group.command("list")
@json_option
@pass_ctx
def rule_list(ctx: Context, as_json: bool) -> None:
    """The rules, in the order they run."""
    rows = store.rule_rows(ctx.connect())
    tz = ctx.config.ctrack.timezone
    for row in rows:
        row["created_at"] = iso_local(row["created_at"], tz)
    print_rows(rows, RULE_TABLE, as_json, empty="no rules: no call is marked automatically")


@rule_group.command("remove")
@click.argument("rule_id", type=int)
@pass_ctx
def rule_remove(ctx: Context, rule_id: int) -> None:
    """Remove a rule (calls it marked keep their marks)."""
    db.write(ctx.connect(), service.remove_rule(rule_id))
    click.echo(f"rule {rule_id} removed")


@rule_group.command("test")
@_rule_options
@click.option("--since", default="30d", show_default=True, help="Past calls from this time (date or age).")
@json_option
@pass_ctx
def rule_test(ctx: Context, condition: str, actions: str, since: str, as_json: bool) -> None:
    """Which past calls the rule (added last) would change, and how; nothing is changed."""
    condition, actions = service.check_rule(condition, actions)
    tz = ctx.config.ctrack.timezone
    found = service.preview(
        ctx.connect(), Rule(0, condition, actions), service.settings_from(ctx.config), parse_when(since, tz)
    )
    for row in found:
        row["started_at"] = iso_local(row["started_at"], tz)
    if as_json:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    rows = [
        {
            **r,
            "change": "; ".join(
                f"{k} {json.dumps(c['old'])} → {json.dumps(c['new'])}" for k, c in r["changes"].items()
            ),
        }
        for r in found
    ]
    print_rows(
        rows, ("id", "started_at", "caller_number", "source", "change"), False, empty="no past call would change"
    )
