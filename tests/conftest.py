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


# The switch for the rest of the suite: CTRACK_TEST_DB=postgresql runs every test that takes
# `ctrack_db` on PostgreSQL; unset or =sqlite, on SQLite (the `database` tests above run on both).
SUITE_BACKEND = os.environ.get("CTRACK_TEST_DB", "sqlite")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): the test is about SQLite itself; `ctrack_db` is a SQLite file whatever the switch",
    )


@pytest.fixture
def ctrack_dbs(request, tmp_path):
    """new(name) -> one more empty database target for this test (not yet initialised): a
    SQLite file `tmp_path/name.db`, or with CTRACK_TEST_DB=postgresql a database of its own in
    the session's cluster — unless the test is marked sqlite_only("why")."""
    marker = request.node.get_closest_marker("sqlite_only")
    if marker is not None and not (marker.args and isinstance(marker.args[0], str)):
        raise pytest.UsageError(f"{request.node.nodeid}: sqlite_only needs its reason")
    on_postgresql = SUITE_BACKEND == "postgresql" and marker is None

    if on_postgresql:  # the spool and its catalog copy default to ./ (config.spool_path): not the repository
        request.getfixturevalue("monkeypatch").chdir(tmp_path)

    def new(name: str = "ctrack"):
        if on_postgresql:
            return request.getfixturevalue("postgres").new_database()
        return tmp_path / f"{name}.db"

    return new


@pytest.fixture(scope="session")
def suite_database(request):
    """new(folder) -> a database target for a module-scoped setup (the integration tests'
    sites): `folder/ctrack.db`, or a new PostgreSQL database with CTRACK_TEST_DB=postgresql."""

    def new(folder):
        if SUITE_BACKEND == "postgresql":
            return request.getfixturevalue("postgres").new_database()
        return folder / "ctrack.db"

    return new


@pytest.fixture
def ctrack_db(ctrack_dbs):
    """The test's database, as `--db`, `[ctrack] database` and `db.connect` take it: a SQLite
    path (tmp_path/ctrack.db) or a postgresql:// URL, chosen by CTRACK_TEST_DB (see above).
    Read it back with tests/support/database.py, never with sqlite3 directly."""
    return ctrack_dbs()


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
