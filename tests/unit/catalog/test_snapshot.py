"""The catalog copy's format (catalog/snapshot.py): plain versioned JSON that a later ctrack
reads, and that is refused, never guessed at, when it is not one this ctrack knows."""

from __future__ import annotations

import json
import pickle

import pytest

from ctrack.catalog.snapshot import FORMAT, KEY, CatalogCopyError, dumps, loads
from ctrack.core.model import NumberKind, NumberState, Pool, Source, TrackingNumber
from ctrack.route.rules import Catalog
from ctrack.spam.rules import BlockList

CATALOG = Catalog(
    numbers={
        "+15035551310": TrackingNumber("+15035551310", NumberKind.STATIC, source="Radio", record=True, consent="never"),
        "+15035551311": TrackingNumber("+15035551311", NumberKind.POOL, pool="web", forward="+15035551399"),
    },
    sources={"Radio": Source("Radio", "radio", "spring"), "Web": Source("Web", "organic")},
    pools={"web": Pool("web", "east", 900, "+15035551312", "share", "US-OR", "/promo", "spring")},
    blocked=BlockList(frozenset({"+15035551313"}), frozenset({"+1900"})),
)


def test_a_copy_reads_back_as_the_same_catalog():
    catalog, saved_at = loads(dumps(CATALOG, 1700000000.5))
    assert catalog == CATALOG and saved_at == 1700000000.5
    assert isinstance(catalog.numbers["+15035551311"].kind, NumberKind)
    assert catalog.numbers["+15035551310"].state is NumberState.ACTIVE
    assert catalog.blocked.match("+19005551234") == "+1900"


def test_a_newer_ctrack_s_extra_fields_are_ignored_and_missing_ones_take_their_default():
    document = json.loads(dumps(CATALOG, 1.0))
    document["numbers"][0]["ring_group"] = "sales"  # a field a later version added
    document["later_section"] = {"anything": 1}
    del document["numbers"][1]["consent"]  # a field an earlier version did not write
    catalog, _ = loads(json.dumps(document).encode())
    assert catalog.numbers["+15035551310"] == CATALOG.numbers["+15035551310"]
    assert catalog.numbers["+15035551311"].consent is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (pickle.dumps(CATALOG), "not JSON"),  # the format before this one
        (dumps(CATALOG, 1.0)[:40], "not JSON"),  # cut short
        (b"", "not JSON"),
        (b'{"numbers": []}', "not a ctrack catalog copy"),
        (json.dumps({KEY: FORMAT + 1}).encode(), f"format {FORMAT + 1}; this ctrack reads format {FORMAT}"),
        (json.dumps({KEY: FORMAT, "saved_at": 1, "sources": []}).encode(), "incomplete"),
        (
            json.dumps(
                {
                    KEY: FORMAT,
                    "saved_at": 1,
                    "sources": [],
                    "pools": [],
                    "numbers": [{"number": "+15035551314", "kind": "rented"}],
                    "blocked": {"numbers": [], "prefixes": []},
                }
            ).encode(),
            "incomplete",
        ),
    ],
)
def test_what_is_not_a_copy_this_ctrack_reads_is_refused(data, reason):
    with pytest.raises(CatalogCopyError, match=reason):
        loads(data)
