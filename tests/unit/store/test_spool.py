"""Nothing lost while PostgreSQL is away: calls go to the local spool and are replayed, in
order and once each, when it is back. A PostgreSQL of its own (stopped mid-test)."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import time

import pytest

from ctrack import config
from ctrack.calllog.service import log_call
from ctrack.catalog import store as catalog
from ctrack.core.hours import parse_hours
from ctrack.core.model import CallRecord, Disposition
from ctrack.route.rules import RouteSettings, decide, forward_dial_string
from ctrack.services import CatalogCache, Services
from ctrack.store import db
from ctrack.store.spool import catalog_copy_path, depth
from ctrack.store.writer import RETRY_SECONDS, WriterUnavailable
from tests.support.postgres import TestPostgres
from tests.support.schema import migrate_to


@pytest.fixture
def outage_pg():
    server = TestPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def call(i: int, start: float) -> CallRecord:
    return CallRecord(
        f"spool-{i}",
        tracking_number="+15035550880",
        caller_number=f"+1503555088{i % 10}",
        started_at=start + i,
        answered_at=start + i + 3,
        ended_at=start + i + 90,
        disposition=Disposition.ANSWERED,
    )


async def wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_calls_recorded_while_postgresql_is_away_arrive_once_when_it_is_back(outage_pg, tmp_path):
    url = outage_pg.new_database()
    conn = db.connect(url)
    db.upgrade(conn)
    catalog.add_source(conn, "Radio", "radio")
    catalog.add_number(conn, catalog.NumberSpec("+15035550880", source="Radio"))
    conn.close()
    spool_file = tmp_path / "spool.db"
    # business hours and spam rules travel in the spool with each call (CallRules as JSON)
    cfg = config.build(
        {
            "ctrack.database": url,
            "ctrack.spool": str(spool_file),
            "ctrack.site": "east",
            "business.hours": parse_hours("mon-sun 00:00-24:00"),
            "spam.repeat_calls": 50,
        }
    )
    services = Services(cfg, cfg.database_path)
    services.catalog.refresh()
    await services.writer.start()
    start = time.time() - 3600
    try:
        assert await asyncio.gather(*(log_call(services, call(i, start), "ami", "") for i in range(5))) == [True] * 5
        outage_pg.stop_server()
        away = [await log_call(services, call(i, start), "ami", "") for i in range(5, 25)]
        assert away == [None] * 20  # kept in the spool, not lost
        assert services.metrics()["ctrack_store_spool_depth"][2] == 20
        assert depth(spool_file) == 20
        with pytest.raises(WriterUnavailable, match="unreachable"):
            await services.writer.run(lambda c: c.execute("DELETE FROM outbox"))
        # the route still answers from the in-memory catalog
        with pytest.raises(Exception):  # noqa: B017 - the refresh fails, whatever the driver says
            services.catalog.refresh()
        assert services.catalog.catalog.source_of("+15035550880")[0] == "Radio"
        # the same call again (an AMI reconnect repeating it) is spooled twice, saved once
        await log_call(services, call(24, start), "ami", "")
        outage_pg.start_server()
        await wait_for(lambda: services.writer.spooled == 0)
        assert await log_call(services, call(25, start), "ami", "") is True
        services.catalog.refresh()
    finally:
        await services.writer.close()
        services.catalog.close()
    conn = db.connect(url)
    rows = conn.execute("SELECT uniqueid, site FROM calls ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [f"spool-{i}" for i in range(26)]  # in order, no duplicates
    assert {r[1] for r in rows} == {"east"}
    assert conn.execute("SELECT sum(calls) FROM daily_rollup").fetchone()[0] == 26
    assert depth(spool_file) == 0


def test_doctor_shows_the_spool_depth(postgres, tmp_path):
    from click.testing import CliRunner

    from ctrack.cli import cli
    from ctrack.store.spool import Spool

    url = postgres.new_database()
    spool = Spool(tmp_path / "spool.db")
    spool.open()
    spool.append([("ctrack.calllog.service:replay_call", {}), ("ctrack.calllog.service:replay_call", {})])
    spool.close()
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[ctrack]\nspool = {tmp_path / 'spool.db'}\n[ami]\nenabled = no\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(ini), "--db", url, "init"]).exit_code == 0
    result = runner.invoke(cli, ["--config", str(ini), "--db", url, "doctor"])
    assert f"FAIL  spool {tmp_path / 'spool.db'}: 2 writes waiting for PostgreSQL to come back" in result.output
    assert result.exit_code != 0


def test_a_restart_while_postgresql_is_away_routes_from_the_saved_catalog(outage_pg, tmp_path):
    url = outage_pg.new_database()
    conn = db.connect(url)
    db.upgrade(conn)
    catalog.add_source(conn, "Radio", "radio")
    catalog.add_number(conn, catalog.NumberSpec("+15035550950", source="Radio"))
    conn.close()
    cfg = config.build({"ctrack.database": url, "ctrack.spool": str(tmp_path / "spool.db")})
    first = Services(cfg, cfg.database_path)
    first.catalog.refresh()  # loaded from the center: saved beside the spool
    first.catalog.close()
    outage_pg.stop_server()
    restarted = Services(cfg, cfg.database_path)
    with pytest.raises(db.DatabaseError, match="cannot connect"):
        restarted.catalog.refresh()
    assert restarted.catalog.restore() is True
    assert restarted.catalog.catalog.source_of("+15035550950") == ("Radio", "radio")
    # no copy and no center: nothing is tracked, so the route rings the fallback
    copy = catalog_copy_path(tmp_path / "spool.db")
    assert json.loads(copy.read_bytes())["ctrack_catalog_copy"] == 1  # plain JSON, not a pickle
    copy.unlink()
    bare = Services(cfg, cfg.database_path)
    assert bare.catalog.restore() is False
    decision = decide("+15035550950", "x.1", time.time(), bare.catalog.catalog, bare.route_settings)
    assert not decision.tracked and decision.forward == forward_dial_string(None, bare.route_settings)


def _cache_with_a_copy(tmp_path):
    """A catalog cache that keeps its copy beside a spool, loaded once from a database."""
    path = tmp_path / "ctrack.db"
    conn = db.connect(path, create=True)
    db.upgrade(conn)
    catalog.add_source(conn, "Radio", "radio")
    catalog.add_number(conn, catalog.NumberSpec("+15035551320", source="Radio"))
    conn.close()
    cache = CatalogCache(path, saved=catalog_copy_path(tmp_path / "spool.db"))
    cache.refresh()
    cache.close()
    return path, cache.saved


def _restore(path, copy, caplog):
    restarted = CatalogCache(path, saved=copy)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ctrack.services"):
        ok = restarted.restore()
    return ok, restarted, [r.getMessage() for r in caplog.records]


def test_a_copy_from_an_earlier_ctrack_or_a_corrupt_one_rings_the_fallback_with_one_log_line(tmp_path, caplog):
    path, copy = _cache_with_a_copy(tmp_path)
    good = copy.read_bytes()
    # the pickle an earlier ctrack left beside the spool, and no JSON copy yet
    copy.unlink()
    old = copy.with_suffix(".pickle")
    old.write_bytes(pickle.dumps({"numbers": {}}))
    ok, restarted, logged = _restore(path, copy, caplog)
    assert not ok and len(logged) == 1 and "earlier ctrack's format" in logged[0] and "fallback" in logged[0]
    assert restarted.catalog.numbers == {}
    # corrupt (a disk fault), or written by a ctrack whose format this one does not know
    for data in (good[: len(good) // 2], json.dumps({"ctrack_catalog_copy": 99}).encode()):
        copy.write_bytes(data)
        ok, restarted, logged = _restore(path, copy, caplog)
        assert not ok and len(logged) == 1 and "unusable" in logged[0], logged
        decision = decide("+15035551320", "x.1", time.time(), restarted.catalog, RouteSettings())
        assert not decision.tracked and decision.forward == forward_dial_string(None, RouteSettings())
    # the next load from the center writes a good copy and drops the earlier ctrack's file
    restarted = CatalogCache(path, saved=copy)
    restarted.refresh()
    restarted.close()
    assert not old.exists()
    ok, restarted, logged = _restore(path, copy, caplog)
    assert ok and restarted.catalog.source_of("+15035551320") == ("Radio", "radio")
    assert len(logged) == 1 and "routing from the catalog copy" in logged[0]


def test_a_write_cut_short_keeps_the_previous_copy(tmp_path, caplog):
    path, copy = _cache_with_a_copy(tmp_path)
    # a crash while the next copy was being written leaves only its temporary file
    copy.with_name(copy.name + ".new").write_bytes(b'{"ctrack_catalog_co')
    ok, restarted, _ = _restore(path, copy, caplog)
    assert ok and restarted.catalog.source_of("+15035551320") == ("Radio", "radio")
    # a copy that cannot be written (its folder is a file) is logged; routing goes on
    (tmp_path / "blocked").write_text("")
    cache = CatalogCache(path, saved=tmp_path / "blocked" / "spool-catalog.json")
    with caplog.at_level(logging.ERROR, logger="ctrack.services"):
        assert cache.refresh() is True
    cache.close()
    assert cache.catalog.source_of("+15035551320") == ("Radio", "radio")
    assert any("cannot save the catalog's copy" in r.getMessage() for r in caplog.records)


def _site_config(url: str, tmp_path) -> config.Config:
    return config.build({"ctrack.database": url, "ctrack.spool": str(tmp_path / "spool.db"), "ctrack.site": "east"})


async def test_a_daemon_started_without_the_center_upgrades_its_schema_when_it_returns(outage_pg, tmp_path):
    """As `ctrack serve` does at start: the center comes back at an older schema (restored from
    a backup of the previous ctrack) and is brought to this one's before the spool is replayed."""
    url = outage_pg.new_database()
    conn = db.connect(url)
    migrate_to(conn, 17)
    conn.close()
    outage_pg.stop_server()
    services = Services(_site_config(url, tmp_path), url)
    await services.writer.start()  # the center is down: durable writes go to the spool
    start = time.time() - 600
    try:
        assert await log_call(services, call(40, start), "ami", "") is None
        outage_pg.start_server()
        await wait_for(lambda: services.writer.spooled == 0)
        assert await log_call(services, call(41, start), "ami", "") is True
    finally:
        await services.writer.close()
    conn = db.connect(url)
    assert db.schema_version(conn) == db.latest_version()
    assert conn.execute("SELECT site, uniqueid FROM calls ORDER BY id").fetchall() == [
        ("east", "spool-40"),
        ("east", "spool-41"),
    ]
    conn.close()


async def test_a_center_back_with_a_newer_schema_gets_no_writes_one_log_line_and_doctor_says_why(
    outage_pg, tmp_path, caplog
):
    from click.testing import CliRunner

    from ctrack.cli import cli

    url = outage_pg.new_database()
    conn = db.connect(url)
    db.upgrade(conn)
    newer = db.latest_version() + 1
    conn.execute("INSERT INTO schema_version(version) VALUES (?)", (newer,))  # a later ctrack upgraded it
    conn.close()
    outage_pg.stop_server()
    cfg = _site_config(url, tmp_path)
    services = Services(cfg, url)
    caplog.set_level(logging.ERROR, logger="ctrack.store.writer")
    await services.writer.start()
    start = time.time() - 600
    try:
        assert await log_call(services, call(42, start), "ami", "") is None
        outage_pg.start_server()
        await asyncio.sleep(4 * RETRY_SECONDS)  # several reconnects
        assert services.writer.spooled == 1 and depth(tmp_path / "spool.db") == 1
        refused = [r.getMessage() for r in caplog.records if "writes stay in the spool" in r.getMessage()]
        assert refused == [
            f"the database is back, but database schema v{newer} is newer than this ctrack "
            f"(v{db.latest_version()}); upgrade ctrack: writes stay in the spool {tmp_path / 'spool.db'}"
        ]
        with pytest.raises(db.SchemaError, match="newer than this ctrack"):
            services.catalog.refresh()  # routing keeps the snapshot it has
        ini = tmp_path / "ctrack.ini"
        ini.write_text(f"[ctrack]\nspool = {tmp_path / 'spool.db'}\n[ami]\nenabled = no\n")
        doctor = CliRunner().invoke(cli, ["--config", str(ini), "--db", url, "doctor"])
        assert (
            f"FAIL  database schema v{newer} is newer than this ctrack (v{db.latest_version()}); upgrade ctrack; "
            "daemons that cannot bring it to their version keep call records in their spools" in doctor.output
        ), doctor.output
        conn = db.connect(url)
        assert conn.execute("SELECT count(*) FROM calls").fetchone()[0] == 0  # nothing written into it
        # this ctrack's schema again (here: the later version's row taken back): the spool drains
        conn.execute("DELETE FROM schema_version WHERE version = ?", (newer,))
        await wait_for(lambda: services.writer.spooled == 0)
        assert conn.execute("SELECT uniqueid FROM calls").fetchall() == [("spool-42",)]
        conn.close()
    finally:
        await services.writer.close()
        services.catalog.close()


def test_doctor_says_run_db_upgrade_for_an_older_schema(postgres, tmp_path):
    from click.testing import CliRunner

    from ctrack.cli import cli

    url = postgres.new_database()
    conn = db.connect(url)
    migrate_to(conn, 17)
    conn.close()
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[ctrack]\nspool = {tmp_path / 'spool.db'}\n[ami]\nenabled = no\n")
    result = CliRunner().invoke(cli, ["--config", str(ini), "--db", url, "doctor"])
    assert (
        f"FAIL  database schema v17 is out of date, this ctrack's is v{db.latest_version()} (run `ctrack db upgrade`)"
        in result.output
    ), result.output
    assert "the center is down" not in result.output and result.exit_code != 0
