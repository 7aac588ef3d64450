"""Lead status, tags, value, note, the audit trail and the rules table: plain SQL on a connection.

Writes are parts of writer jobs (ctrack/leads/service.py composes them); reads run on any
connection.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ctrack.geo.regions import region_of
from ctrack.leads.rules import Facts, Rule

_FACT_COLUMNS = (
    "started_at, answered_at, talk_seconds, ring_seconds, disposition, first_time, source, channel, "
    "tracking_number, caller_number"
)
_FACTS = f"SELECT {_FACT_COLUMNS} FROM calls WHERE id = ?"


def exists(conn: sqlite3.Connection, call_id: int) -> bool:
    return conn.execute("SELECT 1 FROM calls WHERE id = ?", (call_id,)).fetchone() is not None


def call_id_of(conn: sqlite3.Connection, site: str, uniqueid: str) -> int | None:
    """The call a site's PBX knows by uniqueid (unique per site, migration 0018)."""
    row = conn.execute("SELECT id FROM calls WHERE site = ? AND uniqueid = ?", (site, uniqueid)).fetchone()
    return None if row is None else int(row[0])


def facts(conn: sqlite3.Connection, call_id: int) -> Facts:
    row = conn.execute(_FACTS, (call_id,)).fetchone()
    segments = conn.execute(
        "SELECT speaker, text FROM transcript_segments WHERE call_id = ? ORDER BY seq", (call_id,)
    ).fetchall()
    return _facts(row, tuple((s[0], s[1]) for s in segments))


def _facts(row: Any, transcript: tuple[tuple[str, str], ...]) -> Facts:
    started, answered_at, talk, ring, disposition, first_time, source, channel, tracking, caller = tuple(row)
    return Facts(
        started_at=started,
        answered=answered_at is not None,
        talk_seconds=talk or 0,
        ring_seconds=ring,
        disposition=disposition,
        first_time=None if first_time is None else bool(first_time),
        source=source,
        channel=channel,
        tracking_number=tracking,
        caller_number=caller,
        region=region_of(caller),
        transcript=transcript,
    )


def past_facts(conn: sqlite3.Connection, since: float, limit: int) -> list[tuple[dict[str, Any], Facts]]:
    """Recent calls no person has marked (the ones rules may change), with their facts and state."""
    rows = conn.execute(
        f"""SELECT id, {_FACT_COLUMNS}, lead_status, value
            FROM calls WHERE started_at >= ? AND marked_by IS NULL ORDER BY started_at DESC, id DESC LIMIT ?""",
        (since, limit),
    ).fetchall()
    ids = [r[0] for r in rows]
    transcripts: dict[int, list[tuple[str, str]]] = {}
    tags: dict[int, list[str]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for call_id, speaker, text in conn.execute(
            f"SELECT call_id, speaker, text FROM transcript_segments WHERE call_id IN ({marks}) ORDER BY call_id, seq",
            chunk,
        ):
            transcripts.setdefault(call_id, []).append((speaker, text))
        for call_id, tag in conn.execute(
            f"SELECT call_id, tag FROM call_tags WHERE call_id IN ({marks}) ORDER BY call_id, tag", chunk
        ):
            tags.setdefault(call_id, []).append(tag)
    out = []
    for r in rows:
        state = {
            "id": r[0],
            "started_at": r[1],
            "caller_number": r[10],
            "source": r[7],
            "lead_status": r[11],
            "tags": tags.get(r[0], []),
            "value": r[12],
        }
        out.append((state, _facts(r[1:11], tuple(transcripts.get(r[0], ())))))
    return out


def state(conn: sqlite3.Connection, call_id: int) -> dict[str, Any] | None:
    """The markable fields of a call and who last marked it; None for an unknown call."""
    row = conn.execute(
        "SELECT lead_status, value, note, marked_by, marked_at FROM calls WHERE id = ?", (call_id,)
    ).fetchone()
    if row is None:
        return None
    return {
        "lead_status": row[0],
        "tags": tags(conn, call_id),
        "value": row[1],
        "note": row[2],
        "marked_by": row[3],
        "marked_at": row[4],
    }


def tags(conn: sqlite3.Connection, call_id: int) -> list[str]:
    return [r[0] for r in conn.execute("SELECT tag FROM call_tags WHERE call_id = ? ORDER BY tag", (call_id,))]


def tags_of(conn: sqlite3.Connection, call_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for i in range(0, len(call_ids), 500):
        chunk = call_ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for call_id, tag in conn.execute(
            f"SELECT call_id, tag FROM call_tags WHERE call_id IN ({marks}) ORDER BY call_id, tag", chunk
        ):
            found.setdefault(call_id, []).append(tag)
    return found


def write_field(conn: sqlite3.Connection, call_id: int, name: str, value: Any) -> None:
    if name == "tags":
        conn.execute("DELETE FROM call_tags WHERE call_id = ?", (call_id,))
        conn.executemany(
            "INSERT INTO call_tags(call_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING", [(call_id, t) for t in value]
        )
    elif name in ("lead_status", "value", "note"):
        conn.execute(f"UPDATE calls SET {name} = ? WHERE id = ?", (value, call_id))
    else:
        raise ValueError(f"not a markable field: {name}")


def set_marked(conn: sqlite3.Connection, call_id: int, who: str, at: float) -> None:
    conn.execute("UPDATE calls SET marked_by = ?, marked_at = ? WHERE id = ?", (who, at, call_id))


def record_change(conn: sqlite3.Connection, call_id: int, at: float, who: str, name: str, old: Any, new: Any) -> None:
    conn.execute(
        "INSERT INTO call_changes(call_id, at, who, field, old, new) VALUES (?, ?, ?, ?, ?, ?)",
        (call_id, at, who, name, json.dumps(old), json.dumps(new)),
    )


def history(conn: sqlite3.Connection, call_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT at, who, field, old, new FROM call_changes WHERE call_id = ? ORDER BY id", (call_id,)
    ).fetchall()
    return [{"at": r[0], "who": r[1], "field": r[2], "old": json.loads(r[3]), "new": json.loads(r[4])} for r in rows]


# --- rules -------------------------------------------------------------------------------


def rules(conn: sqlite3.Connection) -> list[Rule]:
    return [
        Rule(r[0], r[1], r[2])
        for r in conn.execute("SELECT id, condition, actions FROM lead_rules ORDER BY position, id")
    ]


def rule_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, position, condition, actions, created_by, created_at FROM lead_rules ORDER BY position, id"
    )
    return [dict(zip(("id", "position", "condition", "actions", "created_by", "created_at"), r)) for r in rows]


def insert_rule(conn: sqlite3.Connection, condition: str, actions: str, who: str, position: int | None) -> int:
    """Insert at 1-based position (None = last), moving later rules down."""
    count = conn.execute("SELECT count(*) FROM lead_rules").fetchone()[0]
    at = count + 1 if position is None else max(1, min(position, count + 1))
    _renumber(conn)
    conn.execute("UPDATE lead_rules SET position = position + 1 WHERE position >= ?", (at,))
    cur = conn.execute(
        "INSERT INTO lead_rules(position, condition, actions, created_by) VALUES (?, ?, ?, ?) RETURNING id",
        (at, condition, actions, who),
    )
    return int(cur.fetchone()[0])


def delete_rule(conn: sqlite3.Connection, rule_id: int) -> bool:
    gone = conn.execute("DELETE FROM lead_rules WHERE id = ?", (rule_id,)).rowcount > 0
    _renumber(conn)
    return gone


def _renumber(conn: sqlite3.Connection) -> None:
    ids = [r[0] for r in conn.execute("SELECT id FROM lead_rules ORDER BY position, id")]
    conn.executemany("UPDATE lead_rules SET position = ? WHERE id = ?", [(i + 1, rid) for i, rid in enumerate(ids)])
