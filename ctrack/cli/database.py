"""`ctrack init` and `ctrack db …`: create and upgrade the database."""

from __future__ import annotations

from pathlib import Path

import click

from ctrack.cli import cli
from ctrack.cli.common import Context, pass_ctx
from ctrack.store import backup, db


@cli.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create the database and its folders, or bring them up to date (safe to repeat)."""
    path = ctx.database_path
    existed = db.is_url(path) or Path(path).exists()
    conn = ctx.connect(create=True, upgrade=True)
    verb = "up to date" if existed else "created"
    click.echo(f"database {db.describe(path)} {verb} (schema v{db.schema_version(conn)})")


@cli.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Apply pending schema migrations."""
    conn = db.connect(ctx.database_path)
    applied = db.upgrade(conn)
    if applied:
        click.echo(f"applied migrations {', '.join(map(str, applied))}; schema v{db.schema_version(conn)}")
    else:
        click.echo(f"schema v{db.schema_version(conn)} is current")


@db_group.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@pass_ctx
def db_backup(ctx: Context, file: str, force: bool) -> None:
    """Copy the database to FILE, safely while the daemon writes.

    The copy holds what was committed when the backup started. Exit status 3: nothing to
    back up (no database file yet, or a PostgreSQL database: use pg_dump).
    """
    location = click.get_current_context().find_root().params.get("db_path") or ctx.config.ctrack.database
    source = location if backup.is_postgres(location or "") else ctx.database_path
    made = backup.backup(source, file, force=force)
    click.echo(f"backed up {source} to {made.path} (schema v{made.schema_version}, {made.size} bytes)")


@db_group.command("copy")
@click.option("--to", "to", required=True, metavar="URL", help="the empty PostgreSQL database, postgresql://…")
@pass_ctx
def db_copy(ctx: Context, to: str) -> None:
    """Copy this SQLite database, whole, into an empty PostgreSQL database (refuses a
    non-empty one); then point [ctrack] database at it."""
    from ctrack.store.copy import copy

    if not db.is_url(to):
        raise db.DatabaseError(f"--to {to!r}: not a postgresql:// URL")
    source = db.connect(ctx.database_path)
    target = db.connect(to)
    try:
        written = copy(source, target, lambda table, rows: click.echo(f"{table}: {rows} rows"))
    finally:
        target.close()
    click.echo(f"copied {written} rows from {db.describe(ctx.database_path)} to {db.describe(to)}")
