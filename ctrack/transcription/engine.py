"""faster-whisper behind two functions: check a recording, transcribe a call's directions.

Imported only where transcription runs (the worker process, `ctrack transcribe`, doctor):
the daemon never imports faster-whisper unless `[transcription] enabled = yes`. The model
is loaded with local_files_only: nothing is downloaded at call time.
"""

from __future__ import annotations

import os
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctrack.config import TranscriptionSettings
from ctrack.transcription.rules import BUSINESS, CALLER, MIXED, Segment, direction_path, merge, one_line


class AudioError(Exception):
    """A recording that cannot be transcribed; str() is the one-line reason stored on the call."""


@dataclass(frozen=True, slots=True)
class Transcript:
    segments: list[Segment]
    language: str
    duration: float
    seconds_taken: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "duration": round(self.duration, 3),
            "seconds_taken": round(self.seconds_taken, 3),
            "segments": [s.as_dict() for s in self.segments],
        }


def check_audio(path: str) -> None:
    """Refuse, with a reason, what would make the decoder fail or hang: missing, empty,
    header-only, truncated or non-audio files."""
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{path}: no such recording")
    size = p.stat().st_size
    if size == 0:
        raise AudioError(f"{path}: empty file")
    with p.open("rb") as f:
        head = f.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        try:
            with wave.open(str(p), "rb") as w:
                frames, width, channels = w.getnframes(), w.getsampwidth(), w.getnchannels()
        except (wave.Error, EOFError) as exc:
            raise AudioError(f"{path}: unreadable WAV ({exc or 'truncated header'})") from None
        if frames == 0:
            raise AudioError(f"{path}: WAV header only, no audio")
        if size < frames * width * channels:  # the header promises more audio than the file holds
            raise AudioError(f"{path}: truncated WAV")


def load_model(settings: TranscriptionSettings) -> Any:
    """The configured model (a name in the local cache, or a folder); never downloads."""
    from faster_whisper import WhisperModel

    return WhisperModel(
        settings.model,
        device="cpu",
        compute_type=settings.compute_type,
        cpu_threads=settings.cpu_threads,
        local_files_only=True,
    )


def transcribe_file(model: Any, settings: TranscriptionSettings, path: str, speaker: str = MIXED) -> Transcript:
    check_audio(path)
    return _transcribe(model, settings, path, speaker, path)


def _transcribe(model: Any, settings: TranscriptionSettings, audio: Any, speaker: str, path: str) -> Transcript:
    """One direction (a file, or decoded samples) as labelled segments."""
    started = time.perf_counter()
    try:
        pieces, info = model.transcribe(
            audio,
            language=settings.language or None,
            beam_size=settings.beam_size,
            vad_filter=True,  # skips the other side's silence, so the timestamps are true
            condition_on_previous_text=False,
        )
        segments = [Segment(speaker, round(s.start, 2), round(s.end, 2), s.text.strip()) for s in pieces]
    except Exception as exc:  # the decoder's errors (av, numpy) are many and all mean "bad audio"
        raise AudioError(one_line(f"{path}: cannot decode audio ({type(exc).__name__}: {exc})")) from None
    return Transcript(
        [s for s in segments if s.text], info.language, float(info.duration), time.perf_counter() - started
    )


def _stereo(path: str) -> bool:
    """A two-channel WAV: FreeSWITCH's RECORD_STEREO file, the caller left, the business right."""
    if not path.lower().endswith(".wav"):
        return False
    try:
        with wave.open(path, "rb") as w:
            return w.getnchannels() == 2
    except (wave.Error, EOFError, OSError):
        return False  # check_audio gives the reason


def transcribe_call(model: Any, settings: TranscriptionSettings, recording: str) -> Transcript:
    """Both directions apart when the PBX recorded them (Asterisk: two files beside the
    mixed one; FreeSWITCH: one stereo file), merged into one labelled timeline; else the
    mixed recording."""
    caller, business = direction_path(recording, CALLER), direction_path(recording, BUSINESS)
    if os.path.exists(caller) and os.path.exists(business):
        a = transcribe_file(model, settings, caller, CALLER)
        b = transcribe_file(model, settings, business, BUSINESS)
    else:
        check_audio(recording)
        if not _stereo(recording):
            return transcribe_file(model, settings, recording)
        from faster_whisper import decode_audio

        try:
            left, right = decode_audio(recording, split_stereo=True)
        except Exception as exc:
            raise AudioError(one_line(f"{recording}: cannot decode audio ({type(exc).__name__}: {exc})")) from None
        a = _transcribe(model, settings, left, CALLER, recording)
        b = _transcribe(model, settings, right, BUSINESS, recording)
    return Transcript(
        merge(a.segments, b.segments), a.language, max(a.duration, b.duration), a.seconds_taken + b.seconds_taken
    )


def check(settings: TranscriptionSettings) -> tuple[bool, str]:
    """`ctrack doctor`: the model loads (only asked when transcription is enabled)."""
    try:
        load_model(settings)
    except ImportError:
        return False, "transcription: faster-whisper is not installed (pip install 'ctrack[transcribe]')"
    except Exception as exc:
        return False, one_line(f"transcription: model {settings.model!r} does not load ({exc})")
    return True, f"transcription: model {settings.model} loads"


# The worker process's model, loaded once by `init_worker`.
_model: Any = None
_settings: TranscriptionSettings | None = None


WORKER_NICE = 10  # the worker yields the CPU to the route and the call log whenever they need it


def init_worker(settings: TranscriptionSettings) -> None:
    global _model, _settings
    os.nice(WORKER_NICE)
    _settings = settings
    _model = load_model(settings)


def work(recording: str) -> tuple[bool, Any]:
    """One job in the worker process: (True, transcript dict) or (False, reason)."""
    assert _settings is not None
    try:
        return True, transcribe_call(_model, _settings, recording).as_dict()
    except AudioError as exc:
        return False, str(exc)
