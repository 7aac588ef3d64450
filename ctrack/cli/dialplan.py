"""`ctrack dialplan render`: the PBX-side configuration the admin includes."""

from __future__ import annotations

from pathlib import Path

import click

from ctrack.asterisk.dialplan import render_asterisk, render_manager
from ctrack.cli import cli
from ctrack.cli.common import Context, fail, pass_ctx


@cli.group()
def dialplan() -> None:
    """PBX configuration rendered from dialplan_templates/."""


@dialplan.command("render")
@click.option(
    "--pbx",
    type=click.Choice(["asterisk", "freeswitch"]),
    default=None,
    help="PBX to render for (default: [pbx] type, else asterisk).",
)
@click.option(
    "--agi",
    type=click.Choice(["fastagi", "script"]),
    default="fastagi",
    show_default=True,
    help="Asterisk: ask the daemon over FastAGI, or run the classic AGI script (no daemon).",
)
@click.option("--manager", is_flag=True, help="Asterisk: render ctrack's manager.conf user instead.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@pass_ctx
def render(ctx: Context, pbx: str | None, agi: str, manager: bool, out: Path | None) -> None:
    """Render the dialplan (or the manager user) for the PBX."""
    pbx = pbx or ctx.config.pbx.type
    if pbx == "freeswitch":
        from ctrack.catalog.store import list_numbers
        from ctrack.freeswitch.dialplan import render_dialplan

        numbers = [n["number"] for n in list_numbers(ctx.connect(), include_retired=False)]
        text = render_dialplan(ctx.config, numbers)
    elif manager:
        text = render_manager(ctx.config)
    else:
        text = render_asterisk(ctx.config, agi)
    if out is None:
        click.echo(text, nl=False)
        return
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror})")
    click.echo(f"wrote {out}", err=True)
