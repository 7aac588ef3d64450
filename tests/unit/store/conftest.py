"""The store tests' database connection, on each backend in turn (the `database` fixture)."""

import pytest

from ctrack.store import db


@pytest.fixture
def conn(database):
    """A connection to a new database at the latest schema."""
    conn = db.connect(database, create=True)
    db.upgrade(conn)
    yield conn
    conn.close()
