"""Pure rules of transcription: which calls, where the two directions are, the merged timeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Any

CALLER = "caller"
BUSINESS = "business"
MIXED = "mixed"  # a recording without the two directions apart (older calls, another PBX)
MAX_ATTEMPTS = 4
RETRY_FIRST_SECONDS = 60.0
# MixMonitor's r() file is what the inbound channel received (the caller), t() what it sent.
DIRECTION_SUFFIXES = {CALLER: "-caller", BUSINESS: "-business"}


@dataclass(frozen=True, slots=True)
class Segment:
    speaker: str
    start: float
    end: float
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Policy:
    answered_only: bool
    min_talk_seconds: int


def skip_reason(policy: Policy, disposition: str | None, talk_seconds: int) -> str | None:
    """Why a recorded call is not transcribed, or None when it is."""
    if policy.answered_only and disposition != "answered":
        return f"not answered ({disposition or 'unknown'})"
    if talk_seconds < policy.min_talk_seconds:
        return f"talked {talk_seconds} s, under {policy.min_talk_seconds} s"
    return None


def direction_path(recording: str, speaker: str) -> str:
    """The file of one direction beside the mixed recording: call.wav → call-caller.wav."""
    path = PurePath(recording)
    return str(path.with_name(path.stem + DIRECTION_SUFFIXES[speaker] + path.suffix))


def merge(*tracks: list[Segment]) -> list[Segment]:
    """One timeline from the directions' segments, by start time (caller first on a tie)."""
    order = {CALLER: 0, BUSINESS: 1, MIXED: 2}
    return sorted((s for track in tracks for s in track), key=lambda s: (s.start, order.get(s.speaker, 3)))


def plain_text(segments: list[Segment]) -> str:
    """The call's transcript as text: one line per segment, labelled by speaker."""
    return "\n".join(f"{s.speaker}: {s.text}" for s in segments if s.text)


def retry_delay(attempts: int) -> float:
    """Back-off after the n-th failed attempt: 1 min, 2 min, 4 min…"""
    return RETRY_FIRST_SECONDS * 2 ** max(attempts - 1, 0)


def one_line(reason: str, limit: int = 200) -> str:
    line = " ".join(reason.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
