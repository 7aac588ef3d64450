"""Two PBX sites on one PostgreSQL end to end: two real Asterisk instances, each with its own
`ctrack serve` ([ctrack] site = east / west) writing to one PostgreSQL URL. Then PostgreSQL is
stopped for 30 s while calls go on, and east's daemon is restarted in the middle of it: every
call rings and is attributed (the catalog's saved copy), and every record arrives once, from
the spools, when PostgreSQL is back."""

from __future__ import annotations

import os
import time

import pytest

from ctrack.store import db
from tests.integration.conftest import Site, free_port
from tests.pbx.harness import TestPBX, wait_until
from tests.support.postgres import TestPostgres

GOOGLE, RADIO = "15035550101", "15035550102"
OUTAGE_SECONDS = 30


class PgSite(Site):
    """A Site whose database is a PostgreSQL URL and which names its site."""

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
    PgSite.url = server.new_database()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def west_pbx():
    pbx = TestPBX(instance=f"pytest-{os.getpid()}-west")
    pbx.start()
    yield pbx
    pbx.stop()


def pg_site(pbx: TestPBX, name: str, root) -> PgSite:
    site = PgSite(pbx, root, free_port())
    text = site.config_path.read_text()
    site.config_path.write_text(
        text.replace("[ctrack]\n", f"[ctrack]\nsite = {name}\nspool = {root / 'spool.db'}\n", 1)
    )
    return site


@pytest.fixture(scope="module")
def sites(pbx, west_pbx, center, tmp_path_factory):
    east = pg_site(pbx, "east", tmp_path_factory.mktemp("east"))
    west = pg_site(west_pbx, "west", tmp_path_factory.mktemp("west"))
    east.ctrack("init")  # one schema, one catalog for both sites
    east.ctrack("source", "add", "Google Ads", "--channel", "paid_search")
    east.ctrack("source", "add", "Radio", "--channel", "radio")
    east.ctrack("number", "add", "+" + GOOGLE, "--source", "Google Ads")
    east.ctrack("number", "add", "+" + RADIO, "--source", "Radio")
    for site in (east, west):
        site.pbx.load_dialplan(site.ctrack("dialplan", "render", "--agi", "fastagi").stdout)
        site.pbx.load_manager(site.ctrack("dialplan", "render", "--manager").stdout)
        site.start()
    yield east, west
    for site in (east, west):
        code = site.stop()
        assert code == 0, f"ctrack serve exited {code}:\n{site.log_tail()}"
        site.pbx.load_dialplan(None)
        site.pbx.load_manager(None)


def spool_depth(site: Site) -> float | None:
    return (site.metrics() or {}).get("ctrack_store_spool_depth")


def test_calls_from_two_sites_land_in_one_database_with_their_sites(sites):
    east, west = sites
    assert east.pbx.call(GOOGLE, caller="15035550931", name="Erin East", talk=1).answered
    assert west.pbx.call(RADIO, caller="15035550941", name="Wes West", talk=1).answered
    east.wait_calls("+15035550931")
    east.wait_calls("+15035550941")
    [from_east] = east.call_rows("caller_number = ?", ("+15035550931",))
    [from_west] = east.call_rows("caller_number = ?", ("+15035550941",))
    assert (from_east["source"], from_east["site"]) == ("Google Ads", "east")
    assert (from_west["source"], from_west["site"]) == ("Radio", "west")


def test_postgresql_away_for_30_s_with_a_daemon_restart_loses_no_call(sites, center):
    east, west = sites
    callers = {
        "+15035550951": ("east", "Radio"),
        "+15035550942": ("west", "Google Ads"),
        "+15035550952": ("east", "Google Ads"),  # through the restarted daemon
        "+15035550943": ("west", "Radio"),
        "+15035550944": ("west", None),  # no saved copy either: the fallback rings, unattributed
    }
    center.stop_server()
    stopped = time.monotonic()
    try:
        assert east.pbx.call(RADIO, caller="15035550951", name="Olive Outage", talk=1).answered
        assert west.pbx.call(GOOGLE, caller="15035550942", name="Otto Outage", talk=1).answered
        wait_until(lambda: spool_depth(east) == 1.0 and spool_depth(west) == 1.0, timeout=20)
        assert east.stop() == 0
        east.start()  # with PostgreSQL still away: from the catalog's saved copy
        doctor = east.ctrack("doctor", check=False)
        assert "FAIL  the center is down: " in doctor.stdout, doctor.stdout
        assert "FAIL  spool " in doctor.stdout and ": 1 writes waiting" in doctor.stdout, doctor.stdout
        assert east.pbx.call(GOOGLE, caller="15035550952", name="Rita Restart", talk=1).answered
        assert west.pbx.call(RADIO, caller="15035550943", name="Otis Outage", talk=1).answered
        wait_until(lambda: spool_depth(east) == 2.0 and spool_depth(west) == 2.0, timeout=20)
        assert "unreachable" in east.log_path.read_text()
        assert west.stop() == 0
        (west.root / "spool-catalog.json").unlink()  # store/spool.py catalog_copy_path
        west.start()
        assert west.pbx.call(RADIO, caller="15035550944", name="Fay Fallback", talk=1).answered
        wait_until(lambda: spool_depth(west) == 3.0, timeout=20)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
    finally:
        center.start_server()
    wait_until(lambda: spool_depth(east) == 0.0 and spool_depth(west) == 0.0, timeout=30)
    rows = east.call_rows(f"caller_number IN ({', '.join('?' * len(callers))})", tuple(callers))
    assert sorted((r["caller_number"], (r["site"], r["source"])) for r in rows) == sorted(callers.items())
    assert len({r["uniqueid"] for r in rows}) == len(callers)  # 0 duplicates
