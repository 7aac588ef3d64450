"""SQL of conversions out: which calls are conversions, what each is worth, and the
`call.updated` event a change to a call leaves in the outbox.

The rule lives here once; the Google Ads files (click and call conversions) and the outbox
sender (GA4, webhooks) all select with it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ctrack.exports import ExportError
from ctrack.exports.conversions import UPDATE_FIELDS, encode

# A conversion: a call marked as a lead, by a person or a rule (the default rule: talked at
# least [calls] qualified_seconds). Spam, not_lead and undecided calls are not.
CONVERSION = "c.lead_status IS NOT DISTINCT FROM 'lead'"  # the same on SQLite and PostgreSQL

# Its value before [conversions] value: the call's own, else its source's default.
VALUE = "coalesce(c.value, (SELECT s.value FROM sources s WHERE s.name = c.source))"

# The call's tags (table call_tags, ctrack/leads) as one JSON array, in name order.
TAGS = "(SELECT json_group_array(tag) FROM (SELECT tag FROM call_tags t WHERE t.call_id = c.id ORDER BY tag) AS ts)"

UPDATED = "updated"  # outbox kind of a call.updated event, fanned out to the webhooks


def _plain(value: Any) -> Any:
    """A changed value as JSON holds it: amounts as numbers, tags as a list."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def call_updated(conn: sqlite3.Connection, call_id: int, changes: Mapping[str, tuple[Any, Any]]) -> bool:
    """Write job step, run in the transaction that changed the call: leave one call.updated
    event in the outbox when its lead status, tags or value changed.

    `changes` maps a field to (before, after); other fields (such as a note) and fields
    whose value did not change are ignored. Returns whether an event was left."""
    changed = {
        name: {"from": _plain(before), "to": _plain(after)}
        for name, (before, after) in changes.items()
        if name in UPDATE_FIELDS and _plain(before) != _plain(after)
    }
    if not changed:
        return False
    if conn.execute("SELECT 1 FROM calls WHERE id = ?", (call_id,)).fetchone() is None:
        raise ExportError(f"unknown call id {call_id}")
    (count,) = conn.execute("SELECT count(*) FROM outbox WHERE kind = ? AND call_id = ?", (UPDATED, call_id)).fetchone()
    conn.execute(
        "INSERT INTO outbox(kind, call_id, target, payload) VALUES (?, ?, ?, ?)",
        (UPDATED, call_id, str(count + 1), encode({"changes": changed})),
    )
    return True
