"""The store on both backends: the same job functions, migrations and reports on a SQLite
file and on the session's real PostgreSQL (tests/support/postgres.py)."""

from __future__ import annotations

import pytest

from ctrack.store import db


@pytest.fixture
def conn(database):
    conn = db.connect(database, create=True)
    db.upgrade(conn)
    yield conn
    conn.close()


def test_upgrade_reaches_the_latest_version_and_repeating_it_applies_nothing(database):
    conn = db.connect(database, create=True)
    assert db.upgrade(conn) == [v for v, _, _ in db.migrations()]
    assert db.schema_version(conn) == db.latest_version()
    assert db.upgrade(conn) == []
    db.ensure_current(conn)
