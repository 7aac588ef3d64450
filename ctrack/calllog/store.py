"""The call log: one row per inbound call, never two.

AMI/ESL records are the rich ones; a record recovered from the CDR backstop only fills a
gap. A call is its site and uniqueid (two PBX sites may number calls alike); saving the
same call again is a no-op, except that a live record replaces a
CDR-recovered one. First-time/repeat is decided here, at write time; the lead rules
(ctrack/leads) run on every save that changed the call.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ctrack.config import Config
from ctrack.core.model import MISSED, CallRecord
from ctrack.core.period import DAY
from ctrack.dni.store import attribute_call
from ctrack.leads import rules as lead_rules
from ctrack.leads import service as leads
from ctrack.leads.store import tags_of
from ctrack.privacy.store import caller_hash
from ctrack.spam.rules import SpamRules
from ctrack.transcription.store import match_query

CALL_COLUMNS = (
    "id",
    "uniqueid",
    "tracking_number",
    "caller_number",
    "caller_name",
    "source",
    "channel",
    "started_at",
    "answered_at",
    "ended_at",
    "ring_seconds",
    "talk_seconds",
    "disposition",
    "first_time",
    "lead_status",
    "value",
    "note",
    "recording",
    "ended_by",
    "caller_anonymous",
    "consent_played",
    "consent_reason",
    "queue_wait_seconds",
    "voicemail_seconds",
    "answered_by",
)


@dataclass(frozen=True, slots=True)
class CallRules:
    qualified_seconds: int = 60
    repeat_window_days: int = 90
    visit_grace_seconds: int = 600  # a pool-number call still belongs to a lease this recently ended
    spam: SpamRules = field(default_factory=SpamRules)  # judged right after the call is saved
    timezone: str = "UTC"  # of business hours in lead rules
    hours: lead_rules.Hours = lead_rules.CLOSED
    site: str = ""  # [ctrack] site: the PBX site this daemon records calls for

    @classmethod
    def from_config(cls, config: Config) -> CallRules:
        return cls(
            config.calls.qualified_seconds,
            config.calls.repeat_window_days,
            config.dni.grace_seconds,
            SpamRules.from_config(config),
            config.ctrack.timezone,
            config.business.hours,
            config.ctrack.site,
        )

    @property
    def leads(self) -> lead_rules.Settings:
        return lead_rules.Settings(self.qualified_seconds, self.timezone, self.hours)


_INSERT = """
INSERT INTO calls(uniqueid, pbx, tracking_number, caller_number, caller_name, source, channel,
                  started_at, answered_at, ended_at, ring_seconds, talk_seconds, disposition,
                  hangup_cause, first_time, recording, visit_id, keyword, landing_page,
                  gclid, ga_client_id, visit_ambiguous, origin, ended_by,
                  caller_anonymous, consent_played, consent_reason,
                  queue_wait_seconds, voicemail_seconds, answered_by, pool_region, site)
VALUES (:uniqueid, :pbx, :tracking_number, :caller_number, :caller_name, :source, :channel,
        :started_at, :answered_at, :ended_at, :ring_seconds, :talk_seconds, :disposition,
        :hangup_cause, :first_time, :recording, :visit_id, :keyword, :landing_page,
        :gclid, :ga_client_id, :visit_ambiguous, :origin, :ended_by,
        :caller_anonymous, :consent_played, :consent_reason,
        :queue_wait_seconds, :voicemail_seconds, :answered_by, :pool_region, :site)
ON CONFLICT(site, uniqueid) DO UPDATE SET
    tracking_number = excluded.tracking_number, caller_number = excluded.caller_number,
    caller_name = excluded.caller_name, source = excluded.source, channel = excluded.channel,
    started_at = excluded.started_at, answered_at = excluded.answered_at, ended_at = excluded.ended_at,
    ring_seconds = excluded.ring_seconds, talk_seconds = excluded.talk_seconds,
    disposition = excluded.disposition, hangup_cause = excluded.hangup_cause,
    recording = excluded.recording, visit_id = excluded.visit_id,
    keyword = excluded.keyword, landing_page = excluded.landing_page, gclid = excluded.gclid,
    ga_client_id = excluded.ga_client_id, visit_ambiguous = excluded.visit_ambiguous,
    origin = excluded.origin, ended_by = excluded.ended_by,
    caller_anonymous = excluded.caller_anonymous, consent_played = excluded.consent_played,
    consent_reason = excluded.consent_reason,
    queue_wait_seconds = excluded.queue_wait_seconds, voicemail_seconds = excluded.voicemail_seconds,
    answered_by = excluded.answered_by, pool_region = excluded.pool_region, site = excluded.site
WHERE calls.origin = 'cdr' AND excluded.origin != 'cdr'
RETURNING id
"""

_SEEN_BEFORE = """
SELECT 1 FROM calls
WHERE caller_number IN (?, ?) AND started_at >= ? AND started_at < ? AND (site != ? OR uniqueid != ?) LIMIT 1
"""
_LATER_ARE_REPEATS = """
UPDATE calls SET first_time = 0
WHERE caller_number = ? AND started_at > ? AND started_at <= ? AND (site != ? OR uniqueid != ?) AND first_time = 1
"""


def _params(record: CallRecord, rules: CallRules, origin: str, first_time: bool | None) -> dict[str, Any]:
    talk = record.talk_seconds
    extra = record.extra
    return {
        "uniqueid": record.uniqueid,
        "pbx": record.pbx,
        "tracking_number": record.tracking_number,
        "caller_number": record.caller_number,
        "caller_name": record.caller_name,
        "source": record.source,
        "channel": record.channel,
        "started_at": record.started_at,
        "answered_at": record.answered_at,
        "ended_at": record.ended_at,
        "ring_seconds": record.ring_seconds,
        "talk_seconds": talk,
        "disposition": str(record.disposition) if record.disposition else None,
        "hangup_cause": record.hangup_cause,
        "first_time": None if first_time is None else int(first_time),
        "recording": record.recording,
        "visit_id": record.visit_id,
        "keyword": extra.get("keyword"),
        "landing_page": extra.get("landing_page"),
        "gclid": extra.get("gclid"),
        "ga_client_id": extra.get("ga_client_id"),
        "visit_ambiguous": int(bool(extra.get("visit_ambiguous"))),
        "origin": origin,
        "ended_by": extra.get("ended_by"),
        "caller_anonymous": int(extra.get("caller_anonymous") == "1"),
        "consent_played": int(extra["consent_played"]) if "consent_played" in extra else None,
        "consent_reason": extra.get("consent_reason"),
        "pool_region": extra.get("pool_region"),
        "queue_wait_seconds": _int(extra.get("queue_wait_seconds")),
        "voicemail_seconds": _int(extra.get("voicemail_seconds")),
        "answered_by": extra.get("answered_by"),
        "site": rules.site,
    }


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def save_call(conn: sqlite3.Connection, record: CallRecord, rules: CallRules, origin: str = "ami") -> int | None:
    """Insert one call (inside the writer's transaction): its id, or None when it was
    already logged."""
    if record.started_at is None:
        raise ValueError(f"call {record.uniqueid}: no start time")
    attribute_call(conn, record, rules.visit_grace_seconds)
    window = rules.repeat_window_days * DAY
    first_time = None
    if record.caller_number:
        hashed = caller_hash(conn, record.caller_number)  # a caller past [retention] caller_data_days
        seen = (
            record.caller_number,
            hashed,
            record.started_at - window,
            record.started_at,
            rules.site,
            record.uniqueid,
        )
        first_time = conn.execute(_SEEN_BEFORE, seen).fetchone() is None
    row = conn.execute(_INSERT, _params(record, rules, origin, first_time)).fetchone()
    if row is None:
        return None
    call_id = int(row[0])
    if first_time and record.caller_number:
        # A call recovered late (CDR backstop) makes the caller's later calls repeats.
        conn.execute(
            _LATER_ARE_REPEATS,
            (record.caller_number, record.started_at, record.started_at + window, rules.site, record.uniqueid),
        )
    leads.run_rules(conn, call_id, rules.leads)
    return call_id


def known_uniqueids(conn: sqlite3.Connection, site: str, uniqueids: list[str]) -> set[str]:
    """The uniqueids the call log already has from this site (another site's are other calls)."""
    found: set[str] = set()
    for i in range(0, len(uniqueids), 500):
        chunk = uniqueids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT uniqueid FROM calls WHERE site = ? AND uniqueid IN ({marks})"
        found.update(row[0] for row in conn.execute(sql, [site, *chunk]))
    return found


LIST_COLUMNS = (
    "id",
    "started_at",
    "caller_number",
    "caller_name",
    "tracking_number",
    "source",
    "channel",
    "disposition",
    "ring_seconds",
    "talk_seconds",
    "first_time",
    "lead_status",
    "value",
    "recording",
    "keyword",
    "landing_page",
    "caller_anonymous",
)
DISPOSITION_FILTERS = ("answered", "missed", "abandoned", "pbx_answered")
LEAD_STATUS_FILTERS = (*lead_rules.LEAD_STATUSES, "none")


@dataclass(frozen=True, slots=True)
class CallFilter:
    since: float | None = None  # started at or after
    until: float | None = None  # started before
    source: str | None = None
    disposition: str | None = None  # answered | missed (the group) | abandoned
    lead_status: str | None = None  # lead | not_lead | spam | none (undecided)
    tag: str | None = None
    first_time: bool | None = None
    search: str | None = None  # part of the caller's number or name
    words: str | None = None  # every one of these words is in the call's transcript
    site: str | None = None  # recorded by this site ([ctrack] site); None = every site


def find_calls(
    conn: sqlite3.Connection,
    filters: CallFilter = CallFilter(),
    limit: int | None = None,
    offset: int = 0,
    columns: tuple[str, ...] = CALL_COLUMNS,
) -> list[dict[str, Any]]:
    """Calls matching the filters, newest first: the one call query of the CLI, the dashboard
    and its CSV download."""
    where: list[str] = []
    params: list[Any] = []
    if filters.since is not None:
        where.append("started_at >= ?")
        params.append(filters.since)
    if filters.until is not None:
        where.append("started_at < ?")
        params.append(filters.until)
    if filters.source:
        where.append("source = ?")
        params.append(filters.source)
    if filters.site is not None:
        where.append("site = ?")
        params.append(filters.site)
    if filters.disposition:
        if filters.disposition not in DISPOSITION_FILTERS:
            raise ValueError(
                f"unknown disposition filter {filters.disposition!r} (one of: {', '.join(DISPOSITION_FILTERS)})"
            )
        if filters.disposition == "missed":
            where.append(f"disposition IN ({', '.join('?' * len(MISSED))})")
            params += MISSED
        else:
            where.append("disposition = ?")
            params.append(filters.disposition)
    if filters.lead_status:
        if filters.lead_status not in LEAD_STATUS_FILTERS:
            raise ValueError(
                f"unknown lead status filter {filters.lead_status!r} (one of: {', '.join(LEAD_STATUS_FILTERS)})"
            )
        if filters.lead_status == "none":
            where.append("lead_status IS NULL")
        else:
            where.append("lead_status = ?")
            params.append(filters.lead_status)
    if filters.tag:
        where.append("id IN (SELECT call_id FROM call_tags WHERE tag = ?)")
        params.append(filters.tag)
    if filters.first_time is not None:
        where.append("first_time = ?")
        params.append(int(filters.first_time))
    if filters.search:
        pattern = "%" + filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(caller_number LIKE ? ESCAPE '\\' OR caller_name LIKE ? ESCAPE '\\')")
        params += [pattern, pattern]
    if filters.words and filters.words.split():
        where.append("id IN (SELECT rowid FROM transcript_search WHERE transcript_search MATCH ?)")
        params.append(match_query(filters.words))
    sql = f"SELECT {', '.join(columns)} FROM calls"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY started_at DESC, id DESC"
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        params += [-1 if limit is None else int(limit), int(offset)]
    rows = [_typed(dict(row)) for row in conn.execute(sql, params)]
    if "id" in columns and ("lead_status" in columns):
        tags = tags_of(conn, [r["id"] for r in rows])
        for row in rows:
            row["tags"] = tags.get(row["id"], [])
    return rows


def call_by_id(
    conn: sqlite3.Connection, call_id: int, columns: tuple[str, ...] = LIST_COLUMNS
) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {', '.join(columns)} FROM calls WHERE id = ?", (call_id,)).fetchone()
    if row is None:
        return None
    call = _typed(dict(row))
    if "lead_status" in columns:
        call["tags"] = tags_of(conn, [call_id]).get(call_id, [])
    return call


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    if "first_time" in row:
        row["first_time"] = None if row["first_time"] is None else bool(row["first_time"])
    if row.get("consent_played") is not None:
        row["consent_played"] = bool(row["consent_played"])
    if "caller_anonymous" in row:
        row["caller_anonymous"] = bool(row["caller_anonymous"])
    return row


def call_sources(conn: sqlite3.Connection) -> list[str]:
    """Source names to filter the call list by: the catalog's and any seen on calls."""
    names = {r[0] for r in conn.execute("SELECT name FROM sources")}
    names |= {r[0] for r in conn.execute("SELECT DISTINCT source FROM daily_rollup WHERE source != ''")}
    return sorted(names)


# -- the calls the AMI listener has open (migration 0016), so a ctrack restart keeps them ------

_UPSERT_OPEN = """
INSERT INTO open_calls(site, linkedid, uniqueid, started_at, answered_at, last_event_at, seen_at, state)
VALUES (:site, :linkedid, :inbound, :started_at, :answered_at, :now, :now, :state)
ON CONFLICT(site, linkedid) DO UPDATE SET
    uniqueid = excluded.uniqueid, started_at = excluded.started_at, answered_at = excluded.answered_at,
    last_event_at = excluded.last_event_at, seen_at = excluded.seen_at, state = excluded.state
"""


def save_open_calls(
    site: str, states: list[dict[str, Any]], gone: list[str], now: float, seen: bool
) -> Callable[[sqlite3.Connection], None]:
    """Write job: store this site's open calls that changed (tracker states), drop the ones that
    are no longer open (saved, expired or closed), and, if `seen`, mark every row of the site
    known up `now`."""

    def job(conn: sqlite3.Connection) -> None:
        conn.executemany(
            _UPSERT_OPEN,
            [{**s, "state": json.dumps(s, separators=(",", ":")), "now": now, "site": site} for s in states],
        )
        conn.executemany("DELETE FROM open_calls WHERE site = ? AND linkedid = ?", [(site, lid) for lid in gone])
        if seen:
            conn.execute("UPDATE open_calls SET seen_at = ? WHERE site = ? AND seen_at < ?", (now, site, now))

    return job


def load_open_calls(site: str) -> Callable[[sqlite3.Connection], list[tuple[dict[str, Any], float]]]:
    """Read job: (tracker state, seen_at) of every call a previous daemon of this site left open
    (another site's open calls are its own daemon's to restore)."""

    def job(conn: sqlite3.Connection) -> list[tuple[dict[str, Any], float]]:
        rows = conn.execute("SELECT state, seen_at FROM open_calls WHERE site = ?", (site,))
        return [(json.loads(state), seen_at) for state, seen_at in rows]

    return job
