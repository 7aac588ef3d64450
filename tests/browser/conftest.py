"""Browser tests: ctrack.js in real headless Chromium against the DNI app on one loopback
origin and test pages on another."""

from __future__ import annotations

import pytest

from tests.browser.chromium import chromium, pages_server
from tests.support.dni_env import make_db, saved, serve


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


@pytest.fixture
def db(ctrack_db):
    return make_db(ctrack_db, site="example.test")


class Dni:
    def __init__(self, base, services, app):
        self.base, self.services, self.app = base, services, app

    async def saved(self) -> None:
        await saved(self.app)


@pytest.fixture
async def dni(db):
    """The daemon's HTTP app."""
    async with serve(db) as (base, services, app):
        yield Dni(base, services, app)


@pytest.fixture
async def pages(dni):
    """url(name, host="www.example.test") of a test page that loads ctrack.js from the DNI app."""
    async with pages_server(dni.base) as url:
        yield url
