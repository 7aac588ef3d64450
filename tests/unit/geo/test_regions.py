"""The offline region of real numbers: US area code → state, other numbers → country."""

import pytest

from ctrack.geo.regions import parse_region, place_of, region_of


@pytest.mark.parametrize(
    ("number", "region"),
    [
        ("+14155550100", "US-CA"),  # San Francisco
        ("+13105550100", "US-CA"),  # the geocoder says only "California"
        ("+15035550101", "US-OR"),  # Portland
        ("+12065550100", "US-WA"),  # Seattle: "Washington State"
        ("+12125550100", "US-NY"),
        ("+12025550100", "US-DC"),
        ("+493012345678", "DE"),
        ("+442071234567", "GB"),
        ("+33142685300", "FR"),
    ],
)
def test_region_of_real_numbers(number, region):
    assert region_of(number) == region


@pytest.mark.parametrize("number", ["+18005550100", "+15005550100", "12345", "", None, "anonymous", "+1415555"])
def test_no_region_for_toll_free_invalid_or_missing_numbers(number):
    assert region_of(number) is None


NON_GEOGRAPHIC = {
    500,
    521,
    522,
    525,
    526,
    527,
    528,
    529,
    532,
    533,
    544,
    566,
    577,
    588,
    800,
    833,
    844,
    855,
    866,
    877,
    888,
    900,
}


def test_every_geographic_us_area_code_has_a_state():
    import phonenumbers

    missing = []
    for area in sorted(set(range(200, 1000)) - NON_GEOGRAPHIC):
        parsed = phonenumbers.parse(f"+1{area}5550100")
        us = phonenumbers.is_valid_number(parsed) and phonenumbers.region_code_for_number(parsed) == "US"
        if us and region_of(f"+1{area}5550100") is None:
            missing.append(area)
    assert missing == []


def test_place_names_the_city_where_known():
    assert place_of("+14155550100") == ("US-CA", "San Francisco")
    assert place_of("+493012345678") == ("DE", "Berlin")
    assert place_of("+15035550101") == ("US-OR", None)


@pytest.mark.parametrize(("text", "region"), [("us-ca", "US-CA"), (" DE ", "DE"), ("US", "US")])
def test_parse_region(text, region):
    assert parse_region(text) == region


@pytest.mark.parametrize("text", ["XX", "US-ZZ", "DE-BE", "California", "", "USA"])
def test_parse_region_refuses_unknown_codes(text):
    with pytest.raises(ValueError, match="unknown region"):
        parse_region(text)
