"""Region codes and the offline region of a phone number (pure).

A region is an ISO 3166 code: a country ("DE", "GB") or, inside the US, a state as
ISO 3166-2 ("US-CA"). US numbers resolve to their area code's state, every other number
to its country, all from phonenumbers' bundled geocoder data (no network).
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

US_STATES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "Washington D.C.",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
}
# The geocoder names a state in full ("Oregon", "Washington State") or after a city ("San Francisco, CA").
_STATE_BY_NAME = {name.lower(): code for code, name in US_STATES.items()} | {
    "washington state": "WA",
    "washington dc": "DC",
    "district of columbia": "DC",
}


def parse_region(text: str) -> str:
    """'us-ca' → 'US-CA', 'de' → 'DE'; ValueError with the reason for anything else."""
    region = text.strip().upper()
    country, sep, state = region.partition("-")
    if country not in phonenumbers.SUPPORTED_REGIONS or len(country) != 2:
        raise ValueError(f"unknown region {text.strip()!r} (a country code such as DE, or US-CA for a US state)")
    if sep and (country != "US" or state not in US_STATES):
        raise ValueError(f"unknown region {text.strip()!r} (US states are written US-CA, US-NY, …)")
    return region


def country_of(region: str) -> str:
    return region.partition("-")[0]


@lru_cache(maxsize=8192)
def place_of(e164: str | None) -> tuple[str | None, str | None]:
    """(region, city) of a number; region None when the number or its place is unknown.

    Toll-free and non-geographic numbers have no region; a city is known only where the
    geocoder names one ("San Francisco, CA", "Berlin").
    """
    if not e164:
        return None, None
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None, None
    if not phonenumbers.is_valid_number(parsed):
        return None, None
    country = phonenumbers.region_code_for_number(parsed)
    if not country or country == "001":
        return None, None
    # Imported on first use: its data costs ~0.4 s to load, which the classic AGI script
    # (one process per call) must not pay unless consent is decided by region.
    from phonenumbers import geocoder

    description = geocoder.description_for_number(parsed, "en")
    if country != "US":
        city = description if description and description != geocoder.country_name_for_number(parsed, "en") else None
        return country, city
    if not description:
        return None, None
    head, _, tail = description.rpartition(", ")
    if head and tail in US_STATES:
        return f"US-{tail}", head
    state = _STATE_BY_NAME.get(description.lower())
    return (f"US-{state}", None) if state else (None, None)


def region_of(e164: str | None) -> str | None:
    """'US-CA' for a San Francisco number, 'DE' for a German one, None when unknown."""
    return place_of(e164)[0]
