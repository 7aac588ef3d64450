"""Privacy writes and reads as plain sqlite3 jobs (run by the daemon's writer or `db.write`).

Recording files are deleted only after the job committed (see service.py), so a rolled-back
purge or erasure never loses a file whose row still names it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from typing import Any

HASH_PREFIX = "h:"


def caller_hash(conn: sqlite3.Connection, number: str) -> str:
    """The keyed hash a caller number becomes: the same number always hashes alike, so a
    repeat caller is still recognised, but the number cannot be read back without the key."""
    key = conn.execute("SELECT key FROM privacy_key WHERE id = 1").fetchone()[0]
    return HASH_PREFIX + hmac.new(key, number.encode(), hashlib.sha256).hexdigest()[:32]


def audit(
    conn: sqlite3.Connection,
    action: str,
    actor: str,
    *,
    call_id: int | None = None,
    subject: str | None = None,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO privacy_audit(action, actor, call_id, subject, address, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (action, actor, call_id, subject, address, json.dumps(detail, sort_keys=True) if detail else None),
    )


def list_audit(conn: sqlite3.Connection, limit: int = 1000) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, at, action, actor, call_id, subject, address, detail FROM privacy_audit ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [dict(r) | {"detail": json.loads(r["detail"]) if r["detail"] else None} for r in rows]


def purge(conn: sqlite3.Connection, cutoffs: dict[str, float | None], dry_run: bool) -> dict[str, Any]:
    """Apply the retention cutoffs (or only count, with dry_run); returns the counts and the
    recording files to delete. Call rows stay, so the reports keep their counts."""
    found: dict[str, Any] = {"recordings": 0, "transcripts": 0, "callers": 0, "visits": 0, "files": []}
    if (before := cutoffs["recordings"]) is not None:
        rows = conn.execute(
            "SELECT id, recording FROM calls WHERE recording IS NOT NULL AND started_at < ?", (before,)
        ).fetchall()
        found["recordings"], found["files"] = len(rows), [r["recording"] for r in rows]
        if not dry_run:
            conn.execute("UPDATE calls SET recording = NULL WHERE recording IS NOT NULL AND started_at < ?", (before,))
    if (before := cutoffs["transcripts"]) is not None:
        where = "transcript IS NOT NULL AND started_at < ?"
        found["transcripts"] = conn.execute(f"SELECT count(*) FROM calls WHERE {where}", (before,)).fetchone()[0]
        if not dry_run:
            conn.execute(f"UPDATE calls SET transcript = NULL WHERE {where}", (before,))
    if (before := cutoffs["callers"]) is not None:
        rows = conn.execute(
            "SELECT id, caller_number FROM calls WHERE started_at < ? AND "
            "((caller_number IS NOT NULL AND caller_number NOT LIKE 'h:%') OR caller_name IS NOT NULL)",
            (before,),
        ).fetchall()
        found["callers"] = len(rows)
        if not dry_run:
            for r in rows:
                number = r["caller_number"]
                hashed = caller_hash(conn, number) if number and not number.startswith(HASH_PREFIX) else number
                conn.execute("UPDATE calls SET caller_number = ?, caller_name = NULL WHERE id = ?", (hashed, r["id"]))
    if (before := cutoffs["visits"]) is not None:
        found["visits"] = conn.execute("SELECT count(*) FROM visits WHERE last_seen < ?", (before,)).fetchone()[0]
        if not dry_run:
            _delete_visits(conn, "SELECT id FROM visits WHERE last_seen < ?", (before,))
    if not dry_run:
        audit(conn, "purge", "retention", detail={k: v for k, v in found.items() if k != "files"})
    return found


def _delete_visits(conn: sqlite3.Connection, select: str, params: tuple[Any, ...]) -> None:
    """Visits go; the calls credited to them keep their source and lose only the link."""
    conn.execute(f"UPDATE calls SET visit_id = NULL WHERE visit_id IN ({select})", params)
    conn.execute(f"DELETE FROM leases WHERE visit_id IN ({select})", params)
    conn.execute(f"DELETE FROM visits WHERE id IN ({select})", params)


def _caller_calls(conn: sqlite3.Connection, number: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM calls WHERE caller_number IN (?, ?) ORDER BY started_at", (number, caller_hash(conn, number))
    ).fetchall()


def export_caller(conn: sqlite3.Connection, number: str) -> dict[str, Any]:
    """Everything ctrack holds about one caller (GDPR art. 15, CCPA): their calls, the visits
    tied to them, recording file names and transcripts."""
    calls = [dict(r) for r in _caller_calls(conn, number)]
    visit_ids = sorted({c["visit_id"] for c in calls if c["visit_id"]})
    marks = ",".join("?" * len(visit_ids)) or "NULL"  # IN () is SQLite-only
    visits = [dict(r) for r in conn.execute(f"SELECT * FROM visits WHERE id IN ({marks})", visit_ids)]
    return {
        "caller": number,
        "calls": calls,
        "visits": visits,
        "recordings": [c["recording"] for c in calls if c["recording"]],
        "transcripts": [{"call_id": c["id"], "transcript": c["transcript"]} for c in calls if c["transcript"]],
    }


def erase_caller(conn: sqlite3.Connection, number: str, actor: str) -> dict[str, Any]:
    """Erase one caller (GDPR art. 17, CCPA): number and name off their calls, recordings,
    transcripts, the visits tied to those calls and unsent outbox payloads about them. The
    anonymised call rows stay, so counts stay right. Running it again finds nothing."""
    hashed = caller_hash(conn, number)
    rows = _caller_calls(conn, number)
    ids = [r["id"] for r in rows]
    marks = ",".join("?" * len(ids)) or "NULL"  # IN () is SQLite-only
    visit_ids = sorted({r["visit_id"] for r in rows if r["visit_id"]})
    found: dict[str, Any] = {
        "calls": len(ids),
        "recordings": sum(1 for r in rows if r["recording"]),
        "transcripts": sum(1 for r in rows if r["transcript"]),
        "visits": len(visit_ids),
        "outbox": conn.execute(
            f"SELECT count(*) FROM outbox WHERE sent_at IS NULL AND call_id IN ({marks})", ids
        ).fetchone()[0],
        "files": [r["recording"] for r in rows if r["recording"]],
    }
    conn.execute(f"DELETE FROM outbox WHERE sent_at IS NULL AND call_id IN ({marks})", ids)
    conn.execute(
        f"UPDATE calls SET caller_number = NULL, caller_name = NULL, recording = NULL, transcript = NULL, "
        f"gclid = NULL, ga_client_id = NULL, keyword = NULL, landing_page = NULL WHERE id IN ({marks})",
        ids,
    )
    vmarks = ",".join("?" * len(visit_ids)) or "NULL"
    _delete_visits(conn, f"SELECT id FROM visits WHERE id IN ({vmarks})", tuple(visit_ids))
    audit(conn, "erase", actor, subject=hashed, detail={k: v for k, v in found.items() if k != "files"})
    return found
