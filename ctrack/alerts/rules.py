"""What an alert says and when one is due, as pure rules: the rate limit, and
the subject and text of each kind of alert. The sender (alerts/service.py) does the I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ctrack.core.phone import national_format

MISSED, LEAD, SUMMARY = "alert_missed", "alert_lead", "alert_summary"  # outbox event kinds
EVENT_KINDS = (MISSED, LEAD, SUMMARY)
EMAIL, CHAT = "email", "chat"  # outbox delivery kinds
DELIVERY_KINDS = (EMAIL, CHAT)
_EMAIL = re.compile(r"[^@\s,<>]+@[^@\s,<>]+")


def parse_time_of_day(text: str) -> time:
    """'08:00' as a time of day."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError("expected a time of day such as 08:00")
    return time(int(m.group(1)), int(m.group(2)))


def parse_addresses(text: str) -> tuple[str, ...]:
    """Email addresses, comma-separated."""
    found = tuple(item.strip() for item in text.split(",") if item.strip())
    for item in found:
        if not _EMAIL.fullmatch(item):
            raise ValueError(f"expected email addresses such as office@example.com (got {item!r})")
    return found


def within_limit(sent_last_hour: int, max_per_hour: int) -> bool:
    """Whether one more call alert may go out (0 = no limit). The daily summary is never limited."""
    return max_per_hour == 0 or sent_last_hour < max_per_hour


def summary_day(now: float, tz: str, at: time) -> str | None:
    """The local day whose summary is due at `now` (yesterday, once today's `at` has passed)."""
    local = datetime.fromtimestamp(now, ZoneInfo(tz))
    if local.time() < at:
        return None
    return (local.date() - timedelta(days=1)).isoformat()


def day_bounds(day: str, tz: str) -> tuple[float, float]:
    """Unix seconds of a local day's start and of the next day's start."""
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(tz))
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str


def _caller(call: Mapping[str, Any]) -> str:
    number = call.get("caller_number")
    shown = national_format(number) if number and number.startswith("+1") else number or "anonymous caller"
    name = call.get("caller_name")
    return f"{name} ({shown})" if name else shown


def _when(at: float, tz: str) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M %Z")


def _details(call: Mapping[str, Any], tz: str) -> list[str]:
    return [
        f"Caller: {_caller(call)}",
        f"When: {_when(call['started_at'], tz)}",
        f"Source: {call.get('source') or 'untracked'}" + (f" ({call['channel']})" if call.get("channel") else ""),
        f"Tracking number: {call.get('tracking_number') or '-'}",
        f"Call id: {call['id']} (ctrack call show {call['id']})",
    ]


def missed_message(call: Mapping[str, Any], tz: str) -> Message:
    """A first-time caller did not reach anyone: call them back."""
    how = "abandoned" if call.get("disposition") == "abandoned" else "missed"
    source = call.get("source") or "untracked"
    lines = [
        f"A first-time caller {'hung up before anyone answered' if how == 'abandoned' else 'was not answered'}"
        f" ({call.get('disposition')}, rang {call.get('ring_seconds') or 0:.0f} s). Call them back.",
        "",
        *_details(call, tz),
    ]
    return Message(
        f"[ctrack] {how.capitalize()} call from a new caller: {_caller(call)} via {source}", "\n".join(lines)
    )


def lead_message(call: Mapping[str, Any], tz: str, currency: str) -> Message:
    """A call became a lead."""
    value = call.get("value")
    lines = [
        f"A call was marked a lead ({call.get('disposition')}, talked {call.get('talk_seconds') or 0:.0f} s)"
        + (f", value {value:.2f} {currency}" if value else "")
        + ".",
        "",
        *_details(call, tz),
    ]
    return Message(f"[ctrack] New lead: {_caller(call)} via {call.get('source') or 'untracked'}", "\n".join(lines))


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_message(day: str, rows: Sequence[Mapping[str, Any]]) -> Message:
    """The day's calls, leads and missed calls, by source (spam apart)."""
    total = {k: sum(r[k] for r in rows) for k in ("calls", "leads", "missed", "spam")}
    figures = f"{_count(total['calls'], 'call')}, {_count(total['leads'], 'lead')}, {total['missed']} missed"
    width = max([len("Source")] + [len(r["source"]) for r in rows])
    lines = [
        f"Calls on {day}: {figures}"
        + (f" ({_count(total['spam'], 'spam call')} not counted)" if total["spam"] else "")
        + ".",
        "",
        f"{'Source'.ljust(width)}  {'Calls':>5}  {'Leads':>5}  {'Missed':>6}",
    ]
    lines += [f"{r['source'].ljust(width)}  {r['calls']:>5}  {r['leads']:>5}  {r['missed']:>6}" for r in rows]
    if not rows:
        lines.append("(no calls)")
    return Message(f"[ctrack] Daily summary {day}: {figures}", "\n".join(lines))


def chat_body(message: Message) -> dict[str, str]:
    """The Slack-compatible incoming-webhook body (Mattermost, Rocket.Chat, Teams' Slack mode)."""
    return {"text": f"*{message.subject}*\n{message.text}"}
