"""`ctrack nap check URL…`: find tracking numbers that leaked onto other sites (number sprawl)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from ctrack.cli import cli
from ctrack.cli.common import Context, fail, pass_ctx
from ctrack.core.phone import to_e164
from ctrack.nap.extract import audit_page, page_numbers
from ctrack.nap.fetch import FetchError, fetch, session


@cli.group()
def nap() -> None:
    """NAP audit: the business's published number and stray tracking numbers on web pages."""


def _urls(args: tuple[str, ...], file: Path | None) -> list[str]:
    urls = list(args)
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{file}: cannot read ({exc})")
        urls += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not urls:
        fail("give at least one URL (or --file URLS)")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            fail(f"not an http(s) URL: {url!r}")
    return urls


async def _check(urls: list[str], published: set[str], tracking: set[str], sites: set[str], region: str) -> list:
    async with session() as client:

        async def one(url: str) -> dict[str, Any]:
            try:
                host, html = await fetch(client, url)
            except FetchError as exc:
                return {"url": url, "error": str(exc)}
            return {"url": url} | audit_page(host, page_numbers(html, region), published, tracking, sites)

        return await asyncio.gather(*(one(url) for url in urls))


@nap.command("check")
@click.argument("urls", nargs=-1)
@click.option("--file", "file", type=click.Path(path_type=Path), default=None, help="A file of URLs, one a line.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def nap_check(ctx: Context, urls: tuple[str, ...], file: Path | None, as_json: bool) -> None:
    """Exit 1 when a tracking number is on a page outside the business's own sites."""
    pages = _urls(urls, file)
    config = ctx.config
    conn = ctx.connect()
    tracking = {r[0] for r in conn.execute("SELECT number FROM numbers")}
    sites = {r[0] for r in conn.execute("SELECT site FROM pools")} | set(config.dni.published_numbers)
    published = {n for numbers in config.dni.published_numbers.values() for n in numbers}
    if config.business.published_number:
        published.add(to_e164(config.business.published_number, config.ctrack.default_region))
    results = asyncio.run(_check(pages, published, tracking, sites, config.ctrack.default_region))
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        for r in results:
            if "error" in r:
                continue
            leaked = ", ".join(r["tracking_numbers"]) or "none"
            where = "own site" if r["own_site"] else "other site"
            verdict = "SPRAWL" if r["sprawl"] else "ok"
            published_text = "yes" if r["published_present"] else "no"
            click.echo(f"{verdict:6}  {r['url']}  ({where}; published number: {published_text}; tracking: {leaked})")
    errors = [r["error"] for r in results if "error" in r]
    for error in errors:
        click.echo(f"ctrack: error: {error}", err=True)
    if errors or any(r.get("sprawl") for r in results):
        raise SystemExit(1)
