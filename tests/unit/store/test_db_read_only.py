"""The classic AGI script runs as Asterisk's user, who may read the database but not write in
its folder: the read-only connection must work with and without the daemon holding the WAL."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ctrack.catalog import store as catalog
from ctrack.store import db

pytestmark = pytest.mark.sqlite_only("SQLite's read-only open of a WAL file (the classic AGI script's connection)")

ROOT = Path(__file__).resolve().parents[3]
READ = (
    "import sys; sys.path.insert(0, sys.argv[2]); from ctrack.store import db; from ctrack.catalog import store as catalog; "
    "print(len(catalog.load_catalog(db.connect(sys.argv[1], read_only=True)).sources))"
)


def as_nobody(path: Path) -> subprocess.CompletedProcess:
    assert os.geteuid() == 0, "this test switches to the nobody user: run the suite as root"
    return subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            sys.executable,
            "-c",
            READ,
            str(path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )


def test_read_only_without_write_access():
    folder = Path(tempfile.mkdtemp(prefix="ctrack-ro-"))  # (pytest's tmp_path is private to root)
    folder.chmod(0o755)
    path = folder / "ctrack.db"
    conn = db.connect(path, create=True)
    db.upgrade(conn)
    catalog.add_source(conn, "Radio", "radio")
    conn.close()  # no -wal/-shm: the daemon is not running
    path.chmod(0o644)
    result = as_nobody(path)
    assert (result.returncode, result.stdout.strip()) == (0, "1"), result.stderr

    writer = db.connect(path)  # the daemon running: WAL files held open
    catalog.add_source(writer, "TV", "tv")
    for f in folder.iterdir():
        f.chmod(0o644)
    result = as_nobody(path)
    assert (result.returncode, result.stdout.strip()) == (0, "2"), result.stderr
    writer.close()
    shutil.rmtree(folder)
