"""The call path's two benchmarks in one run (issue 3): the route (FastAGI, classic AGI
script, no-op floor) and AMI ingest (the real captures through parser, call state and the
store writer). Prints both tables; about a minute and a half on 2 cores.

    .venv/bin/python bench/call_path.py [--quick]

Each part also runs on its own, with more knobs: bench/bench_route.py, bench/bench_ami_ingest.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_ami_ingest
import bench_route


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 40 s), for a smoke test")
    args = parser.parse_args()
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    route_args = argparse.Namespace(
        seconds=2.0 if args.quick else 4.0,
        rounds=4,
        clients=50,
        rates="200,1000",
        script_requests=10 if args.quick else 20,
        script_concurrency="1,4",
    )
    bench_route.run(route_args)
    print()
    bench_ami_ingest.run(1000 if args.quick else 3000)
    print(
        f"\n(both benchmarks in {time.perf_counter() - t0:.0f} s; 1-min load average {load0:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after: other work on these 2 CPUs shows up as noise)"
    )


if __name__ == "__main__":
    main()
