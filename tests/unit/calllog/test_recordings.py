"""A recording counts only when it holds audio: MixMonitor leaves a 44-byte WAV header behind
for a call that was never bridged."""

from ctrack.calllog.recordings import find_recording, usable_recording


def test_header_only_wav_is_no_recording(tmp_path):
    (tmp_path / "ctrack-a-1.5.wav").write_bytes(b"RIFF" + bytes(40))
    (tmp_path / "ctrack-b-1.6.wav").write_bytes(b"RIFF" + bytes(4000))
    assert usable_recording(tmp_path, "ctrack-a-1.5.wav") is None
    assert usable_recording(tmp_path, "/var/spool/asterisk/monitor/ctrack-b-1.6.wav") == str(
        tmp_path / "ctrack-b-1.6.wav"
    )
    assert usable_recording(tmp_path, "missing.wav") is None
    assert usable_recording(tmp_path, None) is None


def test_find_by_call_id(tmp_path):
    (tmp_path / "ctrack-20261127-1-+15035550101-1.5.wav").write_bytes(bytes(44))
    (tmp_path / "ctrack-20261127-1-+15035550101-1.6.gsm").write_bytes(bytes(33))
    assert find_recording(tmp_path, "1.5") is None
    assert find_recording(tmp_path, "1.6").endswith("-1.6.gsm")
    assert find_recording(tmp_path / "nope", "1.6") is None


def test_the_first_byte_after_the_header_is_audio(tmp_path):
    for size in (0, 44, 45):
        (tmp_path / f"ctrack-{size}.wav").write_bytes(bytes(size))
    assert [usable_recording(tmp_path, f"ctrack-{n}.wav") is not None for n in (0, 44, 45)] == [False, False, True]
