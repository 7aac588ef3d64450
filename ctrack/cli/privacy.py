"""`ctrack purge`, `ctrack privacy export|erase`, `ctrack audit list`: callers' personal data."""

from __future__ import annotations

import json
import sqlite3
import time

import click

from ctrack.cli import cli
from ctrack.cli.common import Context, fail, json_option, pass_ctx, print_rows
from ctrack.core.phone import to_e164
from ctrack.privacy import store
from ctrack.privacy.retention import Retention
from ctrack.privacy.service import delete_files, purge_job
from ctrack.store import db

KINDS = ("recordings", "transcripts", "callers", "visits")


@cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@json_option
@pass_ctx
def purge(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """Apply [retention] now: delete old recordings, transcripts, caller data and visits."""
    retention = Retention.from_config(ctx.config)
    found = db.write(ctx.connect(), purge_job(retention, time.time(), dry_run))
    if not dry_run:
        delete_files(found["files"])
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run} | found, indent=2))
        return
    verb = "would delete" if dry_run else "deleted"
    kept = [kind for kind, cutoff in retention.cutoffs(0).items() if cutoff is None]
    click.echo(f"{verb}: " + ", ".join(f"{found[k]} {k}" for k in KINDS))
    if kept:
        click.echo("kept forever ([retention] 0 days): " + ", ".join(kept))


@cli.group()
def privacy() -> None:
    """One caller's data: export it or erase it."""


def _caller(ctx: Context, text: str) -> str:
    return to_e164(text, ctx.config.ctrack.default_region)


@privacy.command("export")
@click.option("--caller", "caller_text", required=True, help="The caller's number.")
@pass_ctx
def privacy_export(ctx: Context, caller_text: str) -> None:
    """Everything held about one caller, as JSON (GDPR art. 15, CCPA)."""
    number = _caller(ctx, caller_text)
    conn = ctx.connect()

    def job(c: sqlite3.Connection) -> dict:
        data = store.export_caller(c, number)
        store.audit(c, "export", "cli", subject=store.caller_hash(c, number), detail={"calls": len(data["calls"])})
        return data

    click.echo(json.dumps(db.write(conn, job), indent=2, default=str))


@privacy.command("erase")
@click.option("--caller", "caller_text", required=True, help="The caller's number.")
@click.option("--yes", is_flag=True, help="Do not ask before deleting.")
@pass_ctx
def privacy_erase(ctx: Context, caller_text: str, yes: bool) -> None:
    """Erase one caller (GDPR art. 17, CCPA); their anonymised calls stay counted."""
    number = _caller(ctx, caller_text)
    conn = ctx.connect()
    if not yes:
        held = store.export_caller(conn, number)
        prompt = f"erase {number}: {len(held['calls'])} calls, {len(held['recordings'])} recordings, {len(held['visits'])} visits?"
        if not click.confirm(prompt, default=False):
            fail("nothing erased")
    found = db.write(conn, lambda c: store.erase_caller(c, number, "cli"))
    delete_files(found["files"])
    click.echo(
        f"erased {number}: {found['calls']} calls anonymised, {found['recordings']} recordings, "
        f"{found['transcripts']} transcripts, {found['visits']} visits, {found['outbox']} unsent outbox payloads"
    )


@cli.group()
def audit() -> None:
    """The privacy audit trail."""


@audit.command("list")
@json_option
@pass_ctx
def audit_list(ctx: Context, as_json: bool) -> None:
    """Recording playbacks and downloads, exports, erasures and purges, newest first."""
    rows = store.list_audit(ctx.connect())
    print_rows(rows, ("id", "at", "action", "actor", "call_id", "subject", "address", "detail"), as_json)
