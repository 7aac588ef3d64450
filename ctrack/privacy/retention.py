"""What a purge removes: the cutoffs of [retention] at a moment (pure)."""

from __future__ import annotations

from dataclasses import dataclass

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Retention:
    recordings_days: int = 0  # 0 = keep
    transcripts_days: int = 0
    caller_data_days: int = 0
    visits_days: int = 0

    @classmethod
    def from_config(cls, config) -> Retention:  # type: ignore[no-untyped-def]
        r = config.retention
        return cls(r.recordings_days, r.transcripts_days, r.caller_data_days, r.visits_days)

    def cutoffs(self, now: float) -> dict[str, float | None]:
        """Per kind of data, the time before which it goes (None = kept forever)."""
        kinds = {
            "recordings": self.recordings_days,
            "transcripts": self.transcripts_days,
            "callers": self.caller_data_days,
            "visits": self.visits_days,
        }
        return {kind: (now - days * DAY if days else None) for kind, days in kinds.items()}
