"""`ctrack serve`: run the daemon in the foreground (systemd runs it this way)."""

from __future__ import annotations

import logging
import sys

import click

from ctrack.cli import cli
from ctrack.cli.common import Context, fail, pass_ctx


@cli.command()
@click.option(
    "--only",
    type=click.Choice(["http"]),
    default=None,
    help="Run only the HTTP side (DNI, dashboard, exports): a web node beside others on one PostgreSQL.",
)
@pass_ctx
def serve(ctx: Context, only: str | None) -> None:
    """Run FastAGI, the AMI (or ESL) call log and the HTTP side until SIGTERM."""
    from ctrack.daemon import serve_forever

    config = ctx.config
    logging.basicConfig(
        level=config.ctrack.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code = serve_forever(config, ctx.database_path, http_only=only == "http")
    except OSError as exc:
        fail(f"cannot start: {exc.strerror or exc}")
    sys.exit(code)
