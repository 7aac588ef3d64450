"""Whether a recorded call announces the recording, from the caller's and the business's region (pure).

Where any party's law asks every party to consent, the caller hears the prompt; an unknown
caller region announces too, because announcing is always lawful and silence may not be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ctrack.geo.regions import country_of, parse_region, region_of

ALWAYS, NEVER, BY_REGION = "always", "never", "by_region"
MODES = (ALWAYS, NEVER, BY_REGION)
# US states whose wiretap laws require every party's consent to record a phone call, and the
# EU/EEA countries (GDPR: callers are told before a call is recorded). Sources in docs/privacy.md.
DEFAULT_ALL_PARTY = (
    "US-CA, US-CT, US-DE, US-FL, US-IL, US-MD, US-MA, US-MI, US-MT, US-NV, US-NH, US-PA, US-WA, "
    "AT, BE, BG, HR, CY, CZ, DK, EE, FI, FR, DE, GR, HU, IE, IT, LV, LT, LU, MT, NL, PL, PT, RO, SK, SI, ES, SE, "
    "IS, LI, NO"
)


def parse_regions(text: str) -> frozenset[str]:
    """A comma-separated region list ('US-CA, DE'); ValueError naming the first bad entry."""
    return frozenset(parse_region(item) for item in text.split(",") if item.strip())


@dataclass(frozen=True, slots=True)
class ConsentRules:
    mode: str = ALWAYS
    business_region: str = ""  # "" = not configured
    all_party: frozenset[str] = field(default_factory=lambda: parse_regions(DEFAULT_ALL_PARTY))

    def all_party_region(self, region: str) -> bool:
        """A state is covered by its own entry or by its whole country's."""
        return region in self.all_party or country_of(region) in self.all_party


class Consent(NamedTuple):
    announce: bool
    why: str  # logged on the call: which rule decided


def decide_consent(rules: ConsentRules, caller: str | None, override: str | None = None) -> Consent:
    """Announce or not for one recorded call; `override` is the tracking number's own consent setting."""
    mode = override or rules.mode
    origin = "number" if override else "mode"
    if mode == ALWAYS:
        return Consent(True, f"{origin} always")
    if mode == NEVER:
        return Consent(False, f"{origin} never")
    region = region_of(caller)
    if region is None:
        return Consent(True, "caller region unknown")
    if rules.all_party_region(region):
        return Consent(True, f"caller {region} all-party")
    if not rules.business_region:
        return Consent(True, "business region not set")
    if rules.all_party_region(rules.business_region):
        return Consent(True, f"business {rules.business_region} all-party")
    return Consent(False, f"caller {region}, business {rules.business_region} one-party")


def logged_consent(record: str | None, prompt: str | None, why: str | None) -> dict[str, str]:
    """The call record's consent fields from the route's channel variables (CTRACK_RECORD,
    CTRACK_CONSENT, CTRACK_CONSENT_WHY); nothing when the route never answered."""
    if why is None:
        return {}
    return {"consent_played": "1" if record == "1" and prompt else "0", "consent_reason": why}
