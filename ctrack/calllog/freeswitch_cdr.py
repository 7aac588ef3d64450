"""mod_cdr_csv rows -> call records: the backstop for calls the ESL listener did not see.

FreeSWITCH writes one line per A leg at hangup by expanding a template of channel variables.
ctrack ships its own template (TEMPLATE, shown in docs/freeswitch.md), built from the same
variable names the dialplan and the route set, and reads each row back into the hangup
variables that ctrack.calllog.freeswitch_events already understands. Rows of other calls (no
CTRACK_DID) are skipped, so the template can serve Master.csv for every call.

FreeSWITCH does not escape quotes inside values; every field but the last is a number, a
UUID, a cause or a path, and the free-text caller name comes last, so a quote in a name
cannot shift the other fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ctrack.calllog.freeswitch_events import completed_call
from ctrack.core import variables as v
from ctrack.core.model import CallRecord

# (channel variable in the template, the hangup-event key it stands for)
FIELDS: tuple[tuple[str, str], ...] = (
    ("uuid", "Unique-ID"),
    (v.DID, "variable_" + v.DID),
    (v.TRACKING_NUMBER, "variable_" + v.TRACKING_NUMBER),
    (v.SOURCE, "variable_" + v.SOURCE),
    (v.CHANNEL, "variable_" + v.CHANNEL),
    (v.VISIT_ID, "variable_" + v.VISIT_ID),
    ("caller_id_number", "Caller-Caller-ID-Number"),
    ("start_uepoch", "variable_start_uepoch"),
    ("answer_uepoch", "variable_answer_uepoch"),
    ("bridge_uepoch", "variable_bridge_uepoch"),
    ("end_uepoch", "variable_end_uepoch"),
    ("hangup_cause", "variable_hangup_cause"),
    ("hangup_cause_q850", "variable_hangup_cause_q850"),
    ("DIALSTATUS", "variable_DIALSTATUS"),
    ("originate_disposition", "variable_originate_disposition"),
    ("last_app", "variable_last_app"),
    ("record_ms", "variable_record_ms"),
    (v.RECORDING_FILE, "variable_" + v.RECORDING_FILE),
    ("sip_hangup_disposition", "variable_sip_hangup_disposition"),
    ("caller_id_name", "Caller-Caller-ID-Name"),  # free text: keep it last
)

TEMPLATE = ",".join(f'"${{{name}}}"' for name, _ in FIELDS)
TEMPLATE_NAME = "ctrack"


class CdrLineError(ValueError):
    """A line that is not a row of ctrack's template."""


def parse_line(line: str, default_region: str | None = "US") -> CallRecord | None:
    """One CSV row -> the call record of a tracked call, None for any other call."""
    text = line.rstrip("\r\n")
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise CdrLineError(f"not a quoted CSV row: {text[:60]!r}")
    values = text[1:-1].split('","', len(FIELDS) - 1)
    if len(values) != len(FIELDS):
        raise CdrLineError(f"{len(values)} fields, ctrack's template has {len(FIELDS)}: {text[:60]!r}")
    event = {key: value for (_, key), value in zip(FIELDS, values)}
    return completed_call(event, default_region)


@dataclass(slots=True)
class CdrScan:
    records: list[CallRecord] = field(default_factory=list)
    skipped: int = 0  # lines written with another template, or damaged


def scan(lines: Iterable[str], since: float | None = None, default_region: str | None = "US") -> CdrScan:
    """The tracked calls in CDR lines, only those that ended at or after `since` if given."""
    result = CdrScan()
    for line in lines:
        if not line.strip():
            continue
        try:
            record = parse_line(line, default_region)
        except CdrLineError:
            result.skipped += 1
            continue
        if record is None:
            continue
        if since is not None and (record.ended_at or record.started_at or 0) < since:
            continue
        result.records.append(record)
    return result
