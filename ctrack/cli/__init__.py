"""The `ctrack` command. Each command group lives in its own module and registers on `cli`.

Refusals print one line `ctrack: error: REASON` on stderr and exit 1 (2 for configuration
and usage errors); the database is left unchanged.
"""

from __future__ import annotations

import sys

import click

from ctrack import __version__
from ctrack.cli.common import Context, CtrackGroup, pass_ctx


@click.group(cls=CtrackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Configuration file (default: $CTRACK_CONFIG, ./ctrack.ini, /etc/ctrack/ctrack.ini).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Database file, overriding [ctrack] database.",
)
@click.version_option(__version__, prog_name="ctrack")
@click.pass_context
def cli(click_ctx: click.Context, config_path: str | None, db_path: str | None) -> None:
    """Call tracking for your own Asterisk or FreeSWITCH PBX."""
    click_ctx.obj = Context(config_path, db_path)
    if not click_ctx.resilient_parsing and "--help" not in sys.argv[1:] and "-h" not in sys.argv[1:]:
        _ = click_ctx.obj.config  # a bad ctrack.ini is refused before any command runs


# Each module registers its commands on `cli` when imported.
from ctrack.cli import (  # noqa: E402,F401
    calls,
    catalog,
    daemon,
    database,
    dialplan,
    dni,
    doctor,
    leads,
    nap,
    privacy,
    reports,
    spam,
    transcribe,
)


def main() -> None:
    try:
        cli.main(prog_name="ctrack", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["cli", "main", "pass_ctx"]
