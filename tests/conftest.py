"""Shared fixtures.  The real test PBX: tests/pbx/harness.py (TestPBX), tests/pbx/ami.py."""

from __future__ import annotations

import os

import pytest

from tests.pbx.ami import AMIClient
from tests.pbx.harness import TestPBX
from tests.support.postgres import TestPostgres


def pytest_collection_modifyitems(items):
    # every test that uses the real PBX carries the 'pbx' marker (-m 'not pbx' to leave them out)
    for item in items:
        if "pbx" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pbx)


@pytest.fixture(scope="session")
def pbx():
    """The real Asterisk, started once per session on free ports, stopped at the end.

    Never skipped: if it cannot start, the tests using it error with the reason."""
    server = TestPBX()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL 15 cluster, started once per session on a free loopback port, removed
    at the end (tests/support/postgres.py). Never skipped: if it cannot start, its tests error."""
    server = TestPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# CTRACK_TEST_DB=sqlite or =postgresql runs the `database` tests on that backend alone.
BACKENDS = [b for b in ("sqlite", "postgresql") if os.environ.get("CTRACK_TEST_DB", b) == b]
if not BACKENDS:
    raise pytest.UsageError(f"CTRACK_TEST_DB={os.environ['CTRACK_TEST_DB']!r}: use sqlite or postgresql")


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path):
    """A new, empty database on each backend in turn: a SQLite file, then a PostgreSQL URL
    (its own database in the session's cluster). Not yet migrated."""
    if request.param == "sqlite":
        return tmp_path / "ctrack.db"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def pbx_dialplan(pbx):
    """load(text): install a dialplan under test for one test; the default comes back after."""
    yield pbx.load_dialplan
    pbx.load_dialplan(None)


@pytest.fixture
async def ami(pbx):
    """An AMI connection (the harness's user: all events), logged in and FullyBooted."""
    client = AMIClient(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret)
    await client.connect()
    try:
        yield client
    finally:
        await client.close()
