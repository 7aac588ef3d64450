"""The route catalog as a plain, versioned JSON document: the copy a daemon keeps beside its
spool (store/spool.py) to route from when it starts while the center is down.

Plain data, not pickle, so that a copy written by one ctrack version is read by the next:
readers ignore fields they do not know and take the default for fields a copy lacks. FORMAT
changes only when an older reader would route wrongly from a newer copy; a reader refuses a
format it does not know (and the route rings the fallback) rather than guess. Pure.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TypeVar

from ctrack.core.model import NumberKind, NumberState, Pool, Source, TrackingNumber
from ctrack.errors import CtrackError
from ctrack.route.rules import Catalog
from ctrack.spam.rules import BlockList

T = TypeVar("T")
FORMAT = 1
KEY = "ctrack_catalog_copy"  # its value is the format


class CatalogCopyError(CtrackError):
    """A catalog copy this ctrack cannot route from; str() says why."""


def dumps(catalog: Catalog, saved_at: float) -> bytes:
    document = {
        KEY: FORMAT,
        "saved_at": saved_at,
        "sources": [dataclasses.asdict(s) for s in catalog.sources.values()],
        "pools": [dataclasses.asdict(p) for p in catalog.pools.values()],
        "numbers": [_number(n) for n in catalog.numbers.values()],
        "blocked": {"numbers": sorted(catalog.blocked.numbers), "prefixes": sorted(catalog.blocked.prefixes)},
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _number(n: TrackingNumber) -> dict[str, Any]:
    fields = dataclasses.asdict(n)
    fields["kind"], fields["state"] = str(n.kind), str(n.state)
    return fields


def loads(data: bytes) -> tuple[Catalog, float]:
    """(catalog, saved_at) of a copy; CatalogCopyError when it is not one this ctrack reads."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise CatalogCopyError("not a ctrack catalog copy (not JSON: corrupt, or from an older ctrack)") from None
    if not isinstance(document, dict) or KEY not in document:
        raise CatalogCopyError("not a ctrack catalog copy")
    version = document[KEY]
    if version != FORMAT:
        raise CatalogCopyError(f"catalog copy format {version!r}; this ctrack reads format {FORMAT}")
    try:
        sources = [_build(Source, s) for s in document["sources"]]
        pools = [_build(Pool, p) for p in document["pools"]]
        numbers = [_build(TrackingNumber, n) for n in document["numbers"]]
        numbers = [dataclasses.replace(n, kind=NumberKind(n.kind), state=NumberState(n.state)) for n in numbers]
        blocked = BlockList(frozenset(document["blocked"]["numbers"]), frozenset(document["blocked"]["prefixes"]))
        saved_at = float(document["saved_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogCopyError(f"catalog copy is incomplete ({type(exc).__name__}: {exc})") from None
    catalog = Catalog(
        numbers={n.number: n for n in numbers},
        sources={s.name: s for s in sources},
        pools={p.name: p for p in pools},
        blocked=blocked,
    )
    return catalog, saved_at


def _build(cls: type[T], fields: Any) -> T:
    """cls from a JSON object: fields it does not know are a newer ctrack's, left out."""
    if not isinstance(fields, dict):
        raise TypeError(f"{cls.__name__}: expected an object")
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in fields.items() if k in known})
