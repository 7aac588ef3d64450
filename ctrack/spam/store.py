"""The block list and the spam marks, in SQL. Every change runs in one transaction; a refusal
raises a CtrackError and leaves the database unchanged."""

from __future__ import annotations

import sqlite3
from typing import Any

from ctrack.errors import CtrackError
from ctrack.spam.rules import BlockList

BLOCK_COLUMNS = ("pattern", "kind", "note", "added_at")


class BlockConflict(CtrackError):
    pass


class BlockNotFound(CtrackError):
    pass


def add_block(conn: sqlite3.Connection, pattern: str, kind: str, note: str | None) -> dict[str, Any]:
    """Write job: block a number or prefix (already parsed by spam.rules.parse_entry)."""
    if conn.execute("SELECT 1 FROM blocked_callers WHERE pattern = ?", (pattern,)).fetchone():
        raise BlockConflict(f"{pattern} is already blocked")
    conn.execute("INSERT INTO blocked_callers(pattern, kind, note) VALUES (?, ?, ?)", (pattern, kind, note or None))
    return get_block(conn, pattern)


def remove_block(conn: sqlite3.Connection, pattern: str) -> None:
    """Write job: unblock; an entry that is not on the list is refused."""
    if conn.execute("DELETE FROM blocked_callers WHERE pattern = ?", (pattern,)).rowcount == 0:
        raise BlockNotFound(f"{pattern} is not on the block list (see `ctrack block list`)")


def get_block(conn: sqlite3.Connection, pattern: str) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {', '.join(BLOCK_COLUMNS)} FROM blocked_callers WHERE pattern = ?", (pattern,)
    ).fetchone()
    return dict(row)


def list_blocks(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(BLOCK_COLUMNS)} FROM blocked_callers ORDER BY kind, pattern"
    return [dict(r) for r in conn.execute(sql)]


def load_block_list(conn: sqlite3.Connection) -> BlockList:
    return BlockList.of([(r[0], r[1]) for r in conn.execute("SELECT pattern, kind FROM blocked_callers")])


def blocking_entry(conn: sqlite3.Connection, caller: str) -> str | None:
    """The entry that blocks this caller now, or None (the call log's check, by SQL)."""
    row = conn.execute(
        """SELECT pattern FROM blocked_callers
           WHERE pattern = ? OR (kind = 'prefix' AND substr(?, 1, length(pattern)) = pattern) LIMIT 1""",
        (caller, caller),
    ).fetchone()
    return row[0] if row else None


def short_calls(conn: sqlite3.Connection, caller: str, since: float, until: float, talk_below: float) -> list[int]:
    """Ids of this caller's calls started in [since, until] with less talk than `talk_below`."""
    return [
        r[0]
        for r in conn.execute(
            """SELECT id FROM calls WHERE caller_number = ? AND started_at >= ? AND started_at <= ?
               AND coalesce(talk_seconds, 0) < ?""",
            (caller, since, until, talk_below),
        )
    ]


def unmarked(conn: sqlite3.Connection, call_ids: list[int]) -> list[int]:
    """The calls among call_ids that no person (or spam) has marked yet."""
    marks = ",".join("?" * len(call_ids))
    sql = f"SELECT id FROM calls WHERE id IN ({marks}) AND marked_by IS NULL ORDER BY id"
    return [row[0] for row in conn.execute(sql, call_ids)]


def set_reason(conn: sqlite3.Connection, call_id: int, reason: str) -> None:
    conn.execute("UPDATE calls SET spam_reason = ? WHERE id = ?", (reason, call_id))
