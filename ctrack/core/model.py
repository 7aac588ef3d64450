"""Domain model shared by every adapter: sources, tracking numbers, pools, calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

CHANNELS = (
    "paid_search",
    "organic",
    "gbp",
    "lsa",
    "print",
    "radio",
    "tv",
    "billboard",
    "direct",
    "referral",
    "email",
    "social",
    "display",
    "other",
)


class NumberKind(StrEnum):
    STATIC = "static"
    POOL = "pool"


class NumberState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class Disposition(StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"
    ABANDONED = "abandoned"
    BUSY = "busy"
    FAILED = "failed"
    VOICEMAIL = "voicemail"
    PBX_ANSWERED = "pbx_answered"  # an IVR or announcement answered; the caller left before reaching a person


# Reports count these as missed: nobody answered, and the caller did not give up (abandoned).
MISSED = (Disposition.MISSED, Disposition.BUSY, Disposition.FAILED, Disposition.VOICEMAIL)


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    channel: str
    campaign: str | None = None


@dataclass(frozen=True, slots=True)
class TrackingNumber:
    number: str  # E.164
    kind: NumberKind
    source: str | None = None  # static numbers
    pool: str | None = None  # pool numbers
    forward: str | None = None  # dial string or E.164; None = the default business line
    record: bool = False
    whisper: str | None = None
    vanity: str | None = None
    region: str | None = None
    state: NumberState = NumberState.ACTIVE
    consent: str | None = None  # "always" / "never" overrides [recording] consent; None = the setting


@dataclass(frozen=True, slots=True)
class Pool:
    name: str
    site: str
    lease_seconds: int = 1800
    fallback: str | None = None  # E.164 served when every number is leased
    overflow: str = "fallback"  # when every number is leased: "fallback", or "share" the least recently used
    region: str | None = None  # the region it serves (ISO 3166: US-OR, DE); visits and calls carry it
    path_prefix: str | None = None  # pages under this path lease from it (dni/selection.py)
    utm_campaign: str | None = None  # visits from this campaign lease from it


@dataclass(slots=True)
class CallRecord:
    """One inbound call as ctrack logs it, keyed by the inbound channel's uniqueid."""

    uniqueid: str
    tracking_number: str | None = None
    caller_number: str | None = None
    caller_name: str | None = None
    source: str | None = None
    channel: str | None = None
    started_at: float | None = None  # unix seconds
    answered_at: float | None = None
    ended_at: float | None = None
    disposition: Disposition | None = None
    hangup_cause: int | None = None
    recording: str | None = None
    visit_id: str | None = None
    pbx: str = "asterisk"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ring_seconds(self) -> int | None:
        if self.started_at is None:
            return None
        until = self.answered_at if self.answered_at is not None else self.ended_at
        return None if until is None else max(0, round(until - self.started_at))

    @property
    def talk_seconds(self) -> int:
        """Seconds with a person: none for voicemail (answered_at is when it picked up)."""
        if self.answered_at is None or self.ended_at is None or self.disposition is Disposition.VOICEMAIL:
            return 0
        return max(0, round(self.ended_at - self.answered_at))
