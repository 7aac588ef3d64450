"""The real faster-whisper with the tiny.en model from the project's setup, on real prompts."""

import wave
from pathlib import Path

import pytest

from ctrack.transcription import engine


@pytest.fixture(scope="module")
def model():
    from ctrack import config
    from tests.unit.transcription.conftest import model_folder

    return engine.load_model(config.build({"transcription.model": model_folder()}).transcription)


def test_a_call_is_two_labelled_directions_merged(model, settings, call_files):
    result = engine.transcribe_call(model, settings, str(call_files))
    speakers = [s.speaker for s in result.segments]
    assert speakers[0] == "business" and "caller" in speakers
    business = " ".join(s.text for s in result.segments if s.speaker == "business").lower()
    caller = " ".join(s.text for s in result.segments if s.speaker == "caller").lower()
    assert "leave your message" in business and "weasels" in caller
    assert "weasels" not in business
    assert result.language == "en" and 9 < result.duration < 11


def _stereo(path: Path, left: Path, right: Path) -> Path:
    """A two-channel WAV as FreeSWITCH's RECORD_STEREO writes it (16-bit, 8 kHz)."""
    import array

    channels = []
    for mono in (left, right):
        with wave.open(str(mono), "rb") as w:
            assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
            rate = w.getframerate()
            channels.append(array.array("h", w.readframes(w.getnframes())))
    n = max(map(len, channels))
    frames = array.array("h", [0]) * (2 * n)
    for i, samples in enumerate(channels):
        frames[i : 2 * len(samples) : 2] = samples
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return path


def test_a_freeswitch_stereo_recording_is_two_labelled_directions(model, settings, call_files):
    """RECORD_STEREO: the caller on the left channel, the business line on the right."""
    folder = call_files.parent
    stereo = _stereo(folder / "fs-call.wav", folder / "call-caller.wav", folder / "call-business.wav")
    result = engine.transcribe_call(model, settings, str(stereo))
    business = " ".join(s.text for s in result.segments if s.speaker == "business").lower()
    caller = " ".join(s.text for s in result.segments if s.speaker == "caller").lower()
    assert "leave your message" in business and "weasels" in caller
    assert "weasels" not in business and "leave your message" not in caller
    assert result.segments[0].speaker == "business" and 9 < result.duration < 11


def test_without_the_directions_the_mixed_file_is_transcribed(model, settings, call_files):
    (call_files.parent / "call-caller.wav").unlink()
    result = engine.transcribe_call(model, settings, str(call_files))
    assert {s.speaker for s in result.segments} == {"mixed"}


def _wav(path: Path, frames: bytes, declared: int | None = None) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames)
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p, "no such recording"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty file"),
        (lambda p: _wav(p, b""), "WAV header only"),
        (lambda p: (p.write_bytes(_wav(p, b"\0\1" * 8000).read_bytes()[:2000]), p)[1], "truncated WAV"),
        (lambda p: (p.write_bytes(b"RIFF\x10\0\0\0WAVEjunk"), p)[1], "unreadable WAV"),
        (lambda p: (p.write_bytes(b"this is a text file, not audio\n" * 50), p)[1], "cannot decode audio"),
    ],
    ids=["missing", "empty", "header-only", "truncated", "bad-header", "not-audio"],
)
def test_bad_input_is_one_line_reason(model, settings, tmp_path, make, reason):
    path = make(tmp_path / "bad.wav")
    with pytest.raises(engine.AudioError) as caught:
        engine.transcribe_call(model, settings, str(path))
    assert reason in str(caught.value) and "\n" not in str(caught.value)


def test_doctor_check(settings):
    assert engine.check(settings) == (True, f"transcription: model {settings.model} loads")
    from dataclasses import replace

    ok, message = engine.check(replace(settings, model="/nonexistent/model"))
    assert not ok and message.startswith("transcription: model '/nonexistent/model' does not load")


def test_ctrack_transcribe_file(tmp_path, call_files):
    import json

    from click.testing import CliRunner

    from ctrack.cli import cli
    from tests.unit.transcription.conftest import model_folder

    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[transcription]\nmodel = {model_folder()}\n")
    out = CliRunner().invoke(cli, ["--config", str(ini), "transcribe", str(call_files), "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    assert set(got) == {"segments", "language", "duration", "seconds_taken"}
    assert got["segments"][0]["speaker"] == "business"
    bad = CliRunner().invoke(cli, ["--config", str(ini), "transcribe", str(tmp_path / "nope.wav")])
    assert bad.exit_code == 1 and bad.output.strip().endswith("nope.wav: no such recording")
