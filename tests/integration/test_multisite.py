"""A PBX site on PostgreSQL end to end: real SIP calls through a `ctrack serve` whose
database is a PostgreSQL URL and whose [ctrack] site is set; PostgreSQL stopped while calls
go on: every call rings and is attributed from the in-memory catalog, and every record
arrives once, from the spool, when it is back."""

from __future__ import annotations

import pytest

from ctrack.store import db
from tests.integration.conftest import Site, free_port
from tests.pbx.harness import wait_until
from tests.support.postgres import TestPostgres

GOOGLE, RADIO = "15035550101", "15035550102"


class PgSite(Site):
    """A Site whose database is PostgreSQL and which names its site."""

    url = ""

    db_path = property(lambda self: self.url)

    def call_rows(self, where: str = "1=1", params: tuple = ()) -> list[dict]:
        conn = db.connect(self.url)
        try:
            return [dict(r) for r in conn.execute(f"SELECT * FROM calls WHERE {where} ORDER BY id", params)]
        finally:
            conn.close()


@pytest.fixture(scope="module")
def center():
    server = TestPostgres()  # its own: this module stops it
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def east(pbx, center, tmp_path_factory):
    root = tmp_path_factory.mktemp("east")
    PgSite.url = center.new_database()
    site = PgSite(pbx, root, free_port())
    text = site.config_path.read_text()
    site.config_path.write_text(text.replace("[ctrack]\n", f"[ctrack]\nsite = east\nspool = {root / 'spool.db'}\n", 1))
    site.ctrack("init")
    site.ctrack("source", "add", "Google Ads", "--channel", "paid_search")
    site.ctrack("source", "add", "Radio", "--channel", "radio")
    site.ctrack("number", "add", "+" + GOOGLE, "--source", "Google Ads")
    site.ctrack("number", "add", "+" + RADIO, "--source", "Radio")
    pbx.load_dialplan(site.ctrack("dialplan", "render", "--agi", "fastagi").stdout)
    pbx.load_manager(site.ctrack("dialplan", "render", "--manager").stdout)
    site.start()
    yield site
    code = site.stop()
    assert code == 0, f"ctrack serve exited {code}:\n{site.log_tail()}"
    pbx.load_dialplan(None)
    pbx.load_manager(None)


def test_calls_land_in_postgresql_with_their_site_and_none_is_lost_while_it_is_away(east, center):
    assert east.pbx.call(GOOGLE, caller="15035550871", name="Pat Postgres", talk=2).answered
    [first] = east.wait_calls("+15035550871")
    assert (first["source"], first["disposition"]) == ("Google Ads", "answered")
    assert east.call_rows("caller_number = ?", ("+15035550871",))[0]["site"] == "east"

    center.stop_server()
    try:
        away = [
            east.pbx.call(RADIO, caller="15035550872", name="Olive Outage", talk=2),
            east.pbx.call(GOOGLE, caller="15035550873", name="Otto Outage", talk=2),
        ]
        assert all(r.answered for r in away), away  # the phone rings with the center away
        wait_until(lambda: (east.metrics() or {}).get("ctrack_store_spool_depth") == 2.0, timeout=20)
    finally:
        center.start_server()
    wait_until(lambda: (east.metrics() or {}).get("ctrack_store_spool_depth") == 0.0, timeout=30)
    rows = east.call_rows("caller_number IN (?, ?, ?)", ("+15035550871", "+15035550872", "+15035550873"))
    assert [(r["caller_number"], r["source"], r["site"]) for r in rows] == [
        ("+15035550871", "Google Ads", "east"),
        ("+15035550872", "Radio", "east"),
        ("+15035550873", "Google Ads", "east"),
    ]
    assert len({r["uniqueid"] for r in rows}) == 3
