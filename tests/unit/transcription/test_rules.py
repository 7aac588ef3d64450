from ctrack.transcription.rules import (
    BUSINESS,
    CALLER,
    MAX_ATTEMPTS,
    Policy,
    Segment,
    direction_path,
    merge,
    one_line,
    plain_text,
    retry_delay,
    skip_reason,
)


def test_direction_files_sit_beside_the_mixed_recording():
    assert direction_path("/spool/ctrack-1-abc.wav", CALLER) == "/spool/ctrack-1-abc-caller.wav"
    assert direction_path("/spool/ctrack-1-abc.wav", BUSINESS) == "/spool/ctrack-1-abc-business.wav"


def test_merge_is_one_timeline_by_start():
    caller = [Segment(CALLER, 0.0, 1.0, "hi"), Segment(CALLER, 5.0, 6.0, "thanks")]
    business = [Segment(BUSINESS, 2.0, 4.0, "how can I help"), Segment(BUSINESS, 0.0, 0.5, "hello")]
    merged = merge(caller, business)
    assert [s.text for s in merged] == ["hi", "hello", "how can I help", "thanks"]
    assert plain_text(merged).splitlines()[1] == "business: hello"


def test_policy():
    policy = Policy(answered_only=True, min_talk_seconds=5)
    assert skip_reason(policy, "answered", 5) is None
    assert skip_reason(policy, "missed", 30) == "not answered (missed)"
    assert skip_reason(policy, "answered", 2) == "talked 2 s, under 5 s"
    assert skip_reason(Policy(False, 0), "missed", 0) is None


def test_back_off_doubles_and_attempts_are_bounded():
    assert [retry_delay(n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    assert MAX_ATTEMPTS >= 2


def test_reasons_are_one_line():
    assert one_line("a\nb  c") == "a b c"
    assert len(one_line("x" * 500)) == 200
