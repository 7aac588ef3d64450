"""`ctrack db backup`: a consistent copy while the daemon's writer commits, and every refusal
in one line, leaving the destination as it was."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctrack.cli import cli
from ctrack.store import db
from ctrack.store.writer import Writer

pytestmark = pytest.mark.sqlite_only("the backup of a SQLite file (sqlite3's online backup)")

PAD = b"x" * 4000  # about one page a row: a backup of a few thousand rows takes a while


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CTRACK_CONFIG", raising=False)
    database = tmp_path / "ctrack.db"

    def invoke(*args, ok=True, database=database):
        result = CliRunner().invoke(cli, ["--db", str(database), *args])
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    invoke("init")
    invoke("source", "add", "Google Ads", "--channel", "paid_search")
    invoke.db = database
    return invoke


def sources(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM sources ORDER BY name")]
    finally:
        conn.close()


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_backup_is_a_single_file_database_at_the_same_schema(run, tmp_path):
    out = run("db", "backup", str(tmp_path / "copy.db"))
    copy = tmp_path / "copy.db"
    assert out.stdout.startswith(f"backed up {run.db} to {copy} (schema v{db.latest_version()}, ")
    assert sources(copy) == ["Google Ads"]
    assert not (tmp_path / "copy.db-wal").exists()
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_backup_is_as_private_as_the_database(run, tmp_path):
    os.chmod(run.db, 0o640)
    run("db", "backup", str(tmp_path / "copy.db"))
    assert (tmp_path / "copy.db").stat().st_mode & 0o777 == 0o640


def test_an_existing_file_is_kept_unless_forced(run, tmp_path):
    dest = tmp_path / "copy.db"
    dest.write_bytes(b"yesterday's backup")
    refused = run("db", "backup", str(dest), ok=False)
    assert refused.exit_code == 1
    assert refused.stderr == f"ctrack: error: {dest}: already exists (use --force to replace it)\n"
    assert dest.read_bytes() == b"yesterday's backup"
    run("db", "backup", "--force", str(dest))
    assert sources(dest) == ["Google Ads"]


@pytest.mark.parametrize(
    ("dest", "reason"),
    [
        ("missing/copy.db", "{dest}: folder {parent} does not exist"),
        ("ctrack.db", "{dest}: is the database itself"),
    ],
)
def test_bad_destinations_are_refused_in_one_line(run, tmp_path, dest, reason):
    target = tmp_path / dest
    before = dump(run.db)
    refused = run("db", "backup", "--force", str(target), ok=False)
    assert refused.exit_code == 1
    assert refused.stderr == "ctrack: error: " + reason.format(dest=target, parent=target.parent) + "\n"
    assert dump(run.db) == before
    assert not (tmp_path / "missing").exists()


def test_no_database_yet_is_nothing_to_back_up(run, tmp_path):
    refused = run("db", "backup", str(tmp_path / "copy.db"), ok=False, database=tmp_path / "none.db")
    assert (refused.exit_code, refused.stderr) == (
        3,
        f"ctrack: error: {tmp_path / 'none.db'}: no database here, nothing to back up\n",
    )
    assert not (tmp_path / "copy.db").exists()


def test_a_postgresql_database_is_pg_dumps_job(run, tmp_path):
    ini = tmp_path / "pg.ini"
    ini.write_text("[ctrack]\ndatabase = postgresql://ctrack@127.0.0.1/ctrack\n")
    result = CliRunner().invoke(cli, ["--config", str(ini), "db", "backup", str(tmp_path / "copy.db")])
    assert result.exit_code == 3
    assert result.stderr == (
        "ctrack: error: the database is PostgreSQL: back it up with pg_dump (`ctrack db backup` copies SQLite files)\n"
    )
    assert not (tmp_path / "copy.db").exists()


async def test_backup_while_the_daemons_writer_commits(run, tmp_path):
    """The daemon's own Writer commits rows non-stop while `ctrack db backup` runs in its own
    process: the copy opens as a valid database holding every row committed before the backup
    started, as one consistent prefix, and the writer was not held up meanwhile."""
    conn = db.connect(run.db)
    conn.execute("CREATE TABLE backup_probe (n INTEGER PRIMARY KEY, pad BLOB NOT NULL)")
    conn.executemany("INSERT INTO backup_probe (pad) VALUES (?)", [(PAD,)] * 5000)
    writer = Writer(run.db)
    await writer.start()
    stop = asyncio.Event()

    async def write_forever() -> None:
        while not stop.is_set():
            await writer.run(lambda c: c.execute("INSERT INTO backup_probe (pad) VALUES (?)", (PAD,)))

    writing = asyncio.create_task(write_forever())
    await asyncio.sleep(0.05)
    committed_before = conn.execute("SELECT max(n) FROM backup_probe").fetchone()[0]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ctrack",
        "--db",
        str(run.db),
        "db",
        "backup",
        str(tmp_path / "copy.db"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    committed_after = conn.execute("SELECT max(n) FROM backup_probe").fetchone()[0]
    stop.set()
    await writing
    await writer.close()
    assert proc.returncode == 0, err.decode()
    assert committed_after > committed_before, "the writer was held up while the backup ran"
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    count, highest = copy.execute("SELECT count(*), max(n) FROM backup_probe").fetchone()
    assert highest >= committed_before
    assert count == highest, "the copy is not one consistent snapshot"
    assert [row[0] for row in copy.execute("SELECT name FROM sources")] == ["Google Ads"]
