"""The route's catalog snapshot reloads when the catalog changes, and only then."""

from ctrack.catalog import store as catalog
from ctrack.services import CatalogCache
from ctrack.store import db


def test_reloads_on_catalog_edits_only(ctrack_db):
    path = ctrack_db
    conn = db.connect(path, create=True)
    db.upgrade(conn)
    cache = CatalogCache(path)
    assert cache.refresh() is True
    assert cache.refresh() is False
    # Calls, visits and leases are written all day long: they must not reload the catalog.
    conn.execute("INSERT INTO calls(uniqueid, pbx, started_at, origin) VALUES ('u1', 'asterisk', 1.0, 'ami')")
    assert cache.refresh() is False
    catalog.add_source(conn, "Radio", "radio")
    assert cache.refresh() is True and "Radio" in cache.catalog.sources
    spec = catalog.NumberSpec("+15035550101", source="Radio")
    catalog.add_number(conn, spec)
    assert cache.refresh() is True and "+15035550101" in cache.catalog.numbers
    catalog.retire_number(conn, "+15035550101")
    assert cache.refresh() is True
    retired = cache.catalog.numbers.get("+15035550101")
    assert retired is None or retired.state == "retired"
    assert cache.refresh() is False
    cache.close()
