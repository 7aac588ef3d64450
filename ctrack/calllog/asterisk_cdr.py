"""Asterisk's own CDR (cdr_csv's Master.csv) as the backstop: calls ctrack did not see live.

Pure parsing and grouping; the reconcile command reads the file and saves what is missing.
Column order (cdr_csv): accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp,
lastdata, start, answer, end, duration, billsec, disposition, amaflags[, uniqueid, userfield,
peeraccount, linkedid, sequence] — the optional tail depends on the cdr.conf [csv] options.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ctrack.calllog.asterisk_events import display_name, is_anonymous, unescape
from ctrack.core import variables
from ctrack.core.model import CallRecord, Disposition
from ctrack.core.phone import normalize_caller, normalize_did

_QUOTED_CLID = re.compile(r'^"(?P<name>.*)"\s*(?:<(?P<num>[^>]*)>?)?$', re.S)
_BARE_CLID = re.compile(r"^(?P<name>.*?)\s*<(?P<num>[^>]*)>$", re.S)


@dataclass(frozen=True, slots=True)
class CdrRow:
    line: int
    src: str
    dst: str
    dcontext: str
    clid: str
    pbx_channel: str  # Master.csv's channel: the PBX's, never the marketing channel
    pbx_dstchannel: str
    lastapp: str
    start: float
    answer: float | None
    end: float
    billsec: int
    disposition: str
    uniqueid: str
    userfield: str
    linkedid: str


class CdrFormatError(ValueError):
    pass


def _time(text: str, tz: ZoneInfo) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz).timestamp()
    except ValueError:
        raise CdrFormatError(f"bad time {text!r}") from None


def parse_rows(
    lines: Iterable[str], tz: ZoneInfo, on_error: Callable[[int, str], None] | None = None
) -> Iterator[CdrRow]:
    """CDR rows that carry a uniqueid; malformed lines go to on_error and are skipped."""
    for number, fields in enumerate(csv.reader(lines), 1):
        if not fields:
            continue
        try:
            if len(fields) < 17:
                raise CdrFormatError(f"{len(fields)} columns; enable loguniqueid=yes in cdr.conf [csv]")
            start = _time(fields[9], tz)
            end = _time(fields[11], tz)
            if start is None or end is None:
                raise CdrFormatError("no start or end time")
            uniqueid = fields[16]
            yield CdrRow(
                line=number,
                src=fields[1],
                dst=fields[2],
                dcontext=fields[3],
                clid=fields[4],
                pbx_channel=fields[5],
                pbx_dstchannel=fields[6],
                lastapp=fields[7],
                start=start,
                answer=_time(fields[10], tz),
                end=end,
                billsec=int(fields[13] or 0),
                disposition=fields[14].strip().upper(),
                uniqueid=uniqueid,
                userfield=fields[17] if len(fields) > 17 else "",
                linkedid=fields[19] if len(fields) > 19 and fields[19] else uniqueid,
            )
        except (CdrFormatError, ValueError) as exc:
            if on_error:
                on_error(number, str(exc))


def _whole_escapes(text: str) -> str:
    """A cut that split an escape leaves a lone backslash at the end: drop it."""
    trailing = len(text) - len(text.rstrip("\\"))
    return text[:-1] if trailing % 2 else text


def cdr_caller(clid: str, src: str) -> tuple[str | None, str | None]:
    """(name, number) from a Master.csv clid, as the live path would have them.

    Asterisk writes clid as "name" <number>, the name escaped once more (its quotes and
    backslashes, on top of the SIP quoted-pairs chan_pjsip keeps), and cuts the field at
    80 bytes: a long
    name loses its closing quote and <number>, perhaps mid-escape or mid-character. The
    name is kept as far as it goes; the number is src, which is never cut.
    """
    quoted = _QUOTED_CLID.match(clid)
    if quoted:
        raw, number = quoted["name"], quoted["num"]
    elif clid.startswith('"'):
        raw, number = clid[1:], None  # cut inside the name
    elif bare := _BARE_CLID.match(clid):
        raw, number = bare["name"], bare["num"]
    else:
        raw, number = ("" if clid == src else clid), None
    name = display_name(_whole_escapes(unescape(_whole_escapes(raw.rstrip("\ufffd"))))).strip()
    return (name or None), (src or number or None)


def inbound_calls(
    rows: Iterable[CdrRow],
    ring_timeout: int,
    region: str,
    source_of: Callable[[str], tuple[str | None, str | None]],
    pass_through: Collection[str] = (),
) -> list[CallRecord]:
    """One CallRecord per inbound call that went through ctrack's dialplan.

    A call's rows share the inbound channel's uniqueid as linkedid. The Dial row tells the
    truth about answer/busy/no answer; a no-answer that rang shorter than the ring timeout
    means the caller hung up first (abandoned). source_of maps a tracking number to
    (source, channel). pass_through: the tracking numbers (E.164) whose calls continue in the
    admin's dialplan, so that their rows carry the admin's context; a Queue row counts as a
    Dial (unanswered: abandoned in the queue), a VoiceMail row makes it voicemail, and a call
    the PBX answered without reaching anyone (an IVR) is pbx_answered.
    """
    calls: dict[str, list[CdrRow]] = {}
    for row in rows:
        if row.uniqueid != row.linkedid:
            continue
        if row.dcontext in variables.INBOUND_CONTEXTS or (
            pass_through and normalize_did(row.dst, region) in pass_through
        ):
            calls.setdefault(row.uniqueid, []).append(row)
    records = []
    for uniqueid, group in calls.items():
        group.sort(key=lambda r: (r.start, r.line))
        first = group[0]
        dial_rows = [r for r in group if r.lastapp in ("Dial", "Queue")]
        answered = [
            r.answer
            for r in dial_rows
            if r.disposition == "ANSWERED" and r.answer is not None and r.billsec >= 0 and r.pbx_dstchannel
        ]
        start = first.start
        end = max(r.end for r in group)
        name, number = cdr_caller(first.clid, first.src)
        tracking = normalize_did(first.dst, region)
        source, channel = source_of(tracking) if tracking else (None, None)
        if source is None and first.userfield:
            source = first.userfield
        record = CallRecord(
            uniqueid=uniqueid,
            tracking_number=tracking,
            caller_number=normalize_caller(number, region),
            caller_name=name,
            source=source,
            channel=channel,
            started_at=start,
            ended_at=end,
        )
        if is_anonymous(first.src):
            record.extra["caller_anonymous"] = "1"
        voicemail = [r for r in group if r.lastapp == "VoiceMail"]
        if answered:
            record.answered_at = min(answered)
            record.disposition = Disposition.ANSWERED
        elif voicemail:
            record.answered_at = voicemail[0].answer
            record.disposition = Disposition.VOICEMAIL
        elif not dial_rows and first.disposition == "ANSWERED":
            record.disposition = Disposition.PBX_ANSWERED
        elif any(r.lastapp == "Queue" for r in dial_rows):
            record.disposition = Disposition.ABANDONED  # left the queue before a member answered
        else:
            status = {r.disposition for r in dial_rows} or {first.disposition}
            if "BUSY" in status:
                record.disposition = Disposition.BUSY
            elif "NO ANSWER" in status:
                rang = end - start
                record.disposition = Disposition.MISSED if rang >= ring_timeout - 1 else Disposition.ABANDONED
            elif status & {"FAILED", "CONGESTION"}:
                record.disposition = Disposition.FAILED
            else:
                record.disposition = Disposition.ABANDONED if not dial_rows else Disposition.FAILED
        records.append(record)
    return records
