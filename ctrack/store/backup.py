"""`ctrack db backup`: a consistent copy of the SQLite database while the daemon writes.

SQLite's online backup API copies the pages in one read transaction, so the copy holds
exactly what was committed when it started and the daemon's writer is never blocked (WAL).
The copy is written beside its destination under a temporary name, checked, switched to a
single self-contained file (no -wal), and only then linked into place: a half-written or
failed backup never takes the destination's name, and an existing file is kept unless the
caller forces.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ctrack.errors import CtrackError
from ctrack.store import db

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class BackupError(CtrackError):
    """The backup could not be made; the destination is as it was."""


class NothingToBackUp(BackupError):
    """There is no SQLite database file to copy (none yet, or the database is PostgreSQL).

    Its own exit status lets the package's upgrade step tell this from a failed backup."""

    exit_code = 3


@dataclass(frozen=True)
class Backup:
    path: Path
    schema_version: int
    size: int


def is_postgres(location: str) -> bool:
    return location.strip().lower().startswith(_POSTGRES_SCHEMES)


def backup(source: str | Path, dest: str | Path, *, force: bool = False) -> Backup:
    """Copy the database at `source` to the file `dest` (refused if it exists, unless force)."""
    if is_postgres(str(source)):
        raise NothingToBackUp(
            "the database is PostgreSQL: back it up with pg_dump (`ctrack db backup` copies SQLite files)"
        )
    source, dest = Path(source), Path(dest)
    if not source.is_file():
        raise NothingToBackUp(f"{source}: no database here, nothing to back up")
    _check_destination(source, dest, force)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        version = _copy(source, tmp)
        os.chmod(tmp, source.stat().st_mode & 0o666)  # as private as the database itself
        _fsync(tmp)
        if force:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # atomic, and never replaces a file that appeared meanwhile
            except FileExistsError:
                raise BackupError(f"{dest}: already exists (use --force to replace it)") from None
            except OSError:  # a file system without hard links
                if dest.exists():
                    raise BackupError(f"{dest}: already exists (use --force to replace it)") from None
                os.rename(tmp, dest)
        _fsync(dest.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return Backup(dest, version, dest.stat().st_size)


def _check_destination(source: Path, dest: Path, force: bool) -> None:
    if not dest.parent.is_dir():
        raise BackupError(f"{dest}: folder {dest.parent} does not exist")
    if dest.is_dir():
        raise BackupError(f"{dest}: is a folder; give the backup's file name")
    if dest.exists():
        if dest.resolve() == source.resolve():
            raise BackupError(f"{dest}: is the database itself")
        if not force:
            raise BackupError(f"{dest}: already exists (use --force to replace it)")
    if not os.access(dest.parent, os.W_OK):
        raise BackupError(f"{dest}: folder {dest.parent} is not writable")


def _copy(source: Path, tmp: Path) -> int:
    """Copy in one step (one read transaction: a consistent snapshot); return its schema version."""
    try:
        src = db.connect(source)
    except CtrackError as exc:
        raise BackupError(str(exc)) from None
    try:
        dst = sqlite3.connect(tmp, isolation_level=None)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")  # one file, whatever the source's mode
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"{source}: the copy does not check out ({check}); the database may be damaged")
            return int(dst.execute("PRAGMA user_version").fetchone()[0])
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{source}: backup failed ({exc})") from None
    finally:
        src.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
