"""Transcript jobs, segments and the search index: plain sqlite3 jobs for the writer (or
the CLI's `store.db.write`) and reads on any connection."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ctrack.transcription.rules import MAX_ATTEMPTS, Segment, one_line, plain_text, retry_delay


@dataclass(frozen=True, slots=True)
class Job:
    call_id: int
    recording: str
    disposition: str | None
    talk_seconds: int
    attempts: int


def due_jobs(conn: sqlite3.Connection, limit: int, now: float | None = None) -> list[Job]:
    rows = conn.execute(
        """SELECT j.call_id, c.recording, c.disposition, c.talk_seconds, j.attempts
           FROM transcript_jobs j JOIN calls c ON c.id = j.call_id
           WHERE j.status = 'pending' AND j.next_attempt <= ? ORDER BY j.next_attempt, j.call_id LIMIT ?""",
        (time.time() if now is None else now, limit),
    ).fetchall()
    return [Job(r[0], r[1] or "", r[2], r[3] or 0, r[4]) for r in rows]


def enqueue_since(conn: sqlite3.Connection, since: float) -> int:
    """Backfill: a pending job for every recorded call since then that has none (or failed)."""
    cur = conn.execute(
        """INSERT INTO transcript_jobs(call_id) SELECT id FROM calls
           WHERE recording IS NOT NULL AND started_at >= ? AND true
           ON CONFLICT(call_id) DO UPDATE SET status = 'pending', attempts = 0, next_attempt = 0, reason = NULL
           WHERE transcript_jobs.status = 'failed'""",
        (since,),
    )
    return cur.rowcount


def claim(conn: sqlite3.Connection, call_id: int, hold_seconds: float = 3600.0) -> None:
    """Count the attempt before it runs: a worker that dies mid-call still uses one up,
    and the job comes back after hold_seconds if the daemon stops before the result."""
    conn.execute(
        "UPDATE transcript_jobs SET attempts = attempts + 1, next_attempt = ?, updated_at = ? WHERE call_id = ?",
        (time.time() + hold_seconds, time.time(), call_id),
    )


def skip(conn: sqlite3.Connection, call_id: int, reason: str) -> None:
    _finish(conn, call_id, "skipped", reason)


def fail(conn: sqlite3.Connection, call_id: int, reason: str) -> None:
    """A bad recording: failed for good, with the reason (retrying cannot fix the file)."""
    _finish(conn, call_id, "failed", reason)


def retry_later(conn: sqlite3.Connection, call_id: int, reason: str) -> None:
    """A passing trouble (the worker died): back off; give up after MAX_ATTEMPTS."""
    attempts = conn.execute("SELECT attempts FROM transcript_jobs WHERE call_id = ?", (call_id,)).fetchone()[0]
    if attempts >= MAX_ATTEMPTS:
        _finish(conn, call_id, "failed", f"{reason} (gave up after {attempts} attempts)")
        return
    conn.execute(
        "UPDATE transcript_jobs SET reason = ?, next_attempt = ?, updated_at = ? WHERE call_id = ?",
        (one_line(reason), time.time() + retry_delay(attempts), time.time(), call_id),
    )


def save(conn: sqlite3.Connection, call_id: int, result: dict[str, Any]) -> None:
    """The finished transcript: segments, the call's plain text, the search index, the job."""
    segments = [Segment(s["speaker"], s["start"], s["end"], s["text"]) for s in result["segments"]]
    text = plain_text(segments)
    conn.execute("DELETE FROM transcript_segments WHERE call_id = ?", (call_id,))
    conn.executemany(
        'INSERT INTO transcript_segments(call_id, seq, speaker, start, "end", text) VALUES (?, ?, ?, ?, ?, ?)',
        [(call_id, i, s.speaker, s.start, s.end, s.text) for i, s in enumerate(segments)],
    )
    conn.execute("UPDATE calls SET transcript = ? WHERE id = ?", (text, call_id))
    conn.execute("DELETE FROM transcript_search WHERE rowid = ?", (call_id,))
    conn.execute("INSERT INTO transcript_search(rowid, text) VALUES (?, ?)", (call_id, text))
    conn.execute(
        """UPDATE transcript_jobs SET status = 'done', reason = NULL, language = ?, duration = ?,
           seconds_taken = ?, updated_at = ? WHERE call_id = ?""",
        (result["language"], result["duration"], result["seconds_taken"], time.time(), call_id),
    )


def _finish(conn: sqlite3.Connection, call_id: int, status: str, reason: str) -> None:
    conn.execute(
        "UPDATE transcript_jobs SET status = ?, reason = ?, updated_at = ? WHERE call_id = ?",
        (status, one_line(reason), time.time(), call_id),
    )


def status(conn: sqlite3.Connection, call_id: int) -> tuple[str, str | None] | None:
    row = conn.execute("SELECT status, reason FROM transcript_jobs WHERE call_id = ?", (call_id,)).fetchone()
    return None if row is None else (row[0], row[1])


def segments(conn: sqlite3.Connection, call_id: int) -> list[Segment]:
    rows = conn.execute(
        'SELECT speaker, start, "end", text FROM transcript_segments WHERE call_id = ? ORDER BY seq', (call_id,)
    ).fetchall()
    return [Segment(r[0], r[1], r[2], r[3]) for r in rows]


def match_query(words: str) -> str:
    """Words typed by a person as an FTS5 query: every word must appear (quoted, so no syntax)."""
    return " ".join('"' + w.replace('"', '""') + '"' for w in words.split())
