"""What the block list costs the route: one decision with block lists of growing size, for a
blocked and an unblocked caller, and the catalog reload that carries the list.

    .venv/bin/python bench/bench_block_list.py [--decisions 20000]

New callers are all different (each one a phone-number parse); a repeat caller's parse is
cached. The catalog: 200 tracking numbers; the block list: N/2 numbers and N/2 prefixes of 4 to 8
digits after +1. A decision is ctrack.route.rules.decide(), as FastAGI, the classic AGI
script and FreeSWITCH call it; the reload is ctrack.catalog.store.load_catalog() from SQLite
(what the daemon's CatalogCache does after `ctrack block add`, off the event loop).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from ctrack.catalog import store as catalog
from ctrack.route.rules import RouteSettings, decide
from ctrack.store import db

SIZES = (0, 100, 10_000, 100_000)


def make_db(path: Path, blocked: int) -> None:
    conn = db.connect(path, create=True)
    db.upgrade(conn)
    catalog.add_source(conn, "Google", "paid_search")
    for i in range(200):
        catalog.add_number(conn, catalog.NumberSpec(f"+1971555{i:04d}", source="Google"))
    rng = random.Random(7)
    rows = {(f"+1{rng.randrange(200, 999)}{rng.randrange(10**6, 10**7)}", "number") for _ in range(blocked // 2)}
    rows |= {
        (f"+1{rng.randrange(10 ** (n - 1), 10**n)}", "prefix") for n in (4, 5, 6, 7, 8) for _ in range(blocked // 10)
    }
    with conn:
        conn.executemany("INSERT OR IGNORE INTO blocked_callers(pattern, kind) VALUES (?, ?)", sorted(rows))
    conn.close()


def per_decision(cat, settings: RouteSettings, callers: list[str]) -> float:
    """µs per decision, one per caller (as Asterisk sends them: digits without '+')."""
    start = time.perf_counter()
    for i, caller in enumerate(callers):
        decide("19715550042", f"b.{i}", 1_800_000_000.0, cat, settings, caller=caller)
    return (time.perf_counter() - start) / len(callers) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20_000)
    args = parser.parse_args()
    settings = RouteSettings()
    n = args.decisions
    print(
        f"{'blocked':>8}  {'entries':>8}  {'new caller µs':>13}  {'repeat caller µs':>16}  {'blocked µs':>10}  {'reload ms':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            path = Path(tmp) / f"b{size}.db"
            make_db(path, size)
            conn = db.connect(path)
            start = time.perf_counter()
            cat = catalog.load_catalog(conn)
            reload_ms = (time.perf_counter() - start) * 1e3
            conn.close()
            k = SIZES.index(size) + 1  # callers no earlier run saw (their parse not cached)
            first = per_decision(cat, settings, [f"150355{k}{i:04d}" for i in range(n)])
            repeat = per_decision(cat, settings, ["15035550123"] * n)
            blocked_caller = next(iter(cat.blocked.numbers), None)
            blocked = per_decision(cat, settings, [blocked_caller[1:]] * n) if blocked_caller else float("nan")
            print(
                f"{size:>8}  {len(cat.blocked):>8}  {first:>13.1f}  {repeat:>16.1f}  {blocked:>10.1f}  {reload_ms:>9.1f}"
            )


if __name__ == "__main__":
    main()
