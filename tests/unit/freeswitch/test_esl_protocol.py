"""ESL framing, event decoding and command encoding against real FreeSWITCH 1.10.12 bytes."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrack.freeswitch import esl_protocol as esl
from tests.support.freeswitch_peer import CAPTURES, OUTBOUND, RAW, read_capture, read_command, received

ALL = CAPTURES + OUTBOUND + ("control/control-answered", "control/control-missed", "control/control-abandoned")


def frames_of(data: bytes, chunks) -> list[esl.Frame]:
    parser, out, pos = esl.EslParser(), [], 0
    for size in chunks:
        out += parser.feed(data[pos : pos + size])
        pos += size
    out += parser.feed(data[pos:])
    assert parser.buffered == 0
    return out


def raw_frame(msg: bytes) -> esl.Frame:
    head, _, body = msg.partition(b"\n\n")
    return esl.Frame(dict(line.split(": ", 1) for line in head.decode().split("\n")), body)


@pytest.mark.parametrize("name", ALL)
def test_each_captured_message_is_one_frame(name):
    msgs = received(name)
    frames = frames_of(b"".join(msgs), [])
    assert frames == [raw_frame(m) for m in msgs]


@pytest.mark.parametrize("name", CAPTURES + OUTBOUND)
def test_rx_file_byte_by_byte(name):
    data = (RAW / f"{name}.rx").read_bytes()
    parser = esl.EslParser()
    frames = [f for i in range(len(data)) for f in parser.feed(data[i : i + 1])]
    assert frames == frames_of(data, [])
    assert len(frames) == len(received(name))


@pytest.mark.parametrize("name", ("control/control-answered", "control/control-abandoned"))
def test_every_two_way_split(name):
    data = b"".join(received(name))
    whole = frames_of(data, [])
    for cut in range(len(data) + 1):
        assert frames_of(data, [cut]) == whole, cut


@pytest.mark.parametrize("name", CAPTURES + OUTBOUND)
def test_splits_around_every_message_boundary(name):
    msgs = received(name)
    data = b"".join(msgs)
    whole = frames_of(data, [])
    boundary = 0
    for msg in msgs:
        header_end = boundary + msg.index(b"\n\n")
        for anchor in (boundary, header_end, header_end + 1, header_end + 2):
            for cut in range(max(0, anchor - 3), min(len(data), anchor + 4)):
                assert frames_of(data, [cut]) == whole, (name, cut)
        boundary += len(msg)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=5000), max_size=200))
def test_any_chunking_of_a_session(chunks):
    data = (RAW / "inbound-missed.rx").read_bytes()
    assert frames_of(data, chunks) == frames_of(data, [])


def test_outbound_connect_reply_is_the_channel():
    frame = frames_of(received("outbound-socket-session")[0], [])[0]
    assert frame.content_type == "command/reply" and frame.body == b""
    assert frame.reply_text == "+OK" and frame.ok  # sent URL-encoded: %2BOK%0A
    data = esl.channel_data(frame)
    assert data["Socket-Mode"] == "async" and data["Control"] == "full"
    assert data["Unique-ID"] == "9204c0cf-cad3-4ef1-98b9-5379f5411439"
    assert data["Channel-Caller-ID-Name"] == "Bob Caller"
    assert data["FreeSWITCH-IPv6"] == "fd00::2"
    assert data["variable_current_application_data"] == "127.0.0.1:8084 async full"


def test_raw_reply_text_is_not_decoded():
    frames = frames_of(b"".join(received("control/control-answered")), [])
    assert [f.reply_text for f in frames if f.content_type == "command/reply"] == [
        "+OK accepted",
        "+OK Job-UUID: 296eda3b-caad-42c9-b70b-0d406c8fd66e",
        "+OK bye",
    ]


def test_event_plain_values_are_url_decoded():
    msgs = received("inbound-answered")
    frames = frames_of(b"".join(msgs), [])
    events = [esl.parse_event(f.body) for f in frames if f.content_type == "text/event-plain"]
    assert [e.name for e in events][:3] == ["CHANNEL_CREATE", "CHANNEL_CREATE", "RECORD_START"]
    create = events[1].headers
    assert create["Event-Date-Local"] == "2026-11-27 17:10:02"
    assert create["Caller-Caller-ID-Name"] == "Bob Caller"
    assert create["Channel-Name"] == "sofia/external/15035550123@127.0.0.1"


@pytest.mark.parametrize(
    "name, body",
    [
        ("inbound-answered", "+OK 72b9a69b-6284-4663-874f-8bd84a443fd9\n"),
        ("inbound-missed", "-ERR NO_ANSWER\n"),
    ],
)
def test_background_job_inner_body(name, body):
    frames = frames_of(b"".join(received(name)), [])
    jobs = [
        esl.parse_event(f.body)
        for f in frames
        if f.content_type == "text/event-plain" and esl.parse_event(f.body).name == "BACKGROUND_JOB"
    ]
    assert [j.body for j in jobs] == [body]


def test_disconnect_notices():
    frames = frames_of(b"".join(received("outbound-socket-session-abandoned")), [])
    notices = [f for f in frames if f.content_type == "text/disconnect-notice"]
    assert [n.headers["Content-Disposition"] for n in notices] == ["linger", "disconnect"]
    assert notices[0].body == b""
    assert notices[1].body.startswith(b"Disconnected, goodbye.\n")


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nhello world\n\n",
        b"Content-Length: lots\n\n",
        b"Content-Length: -5\n\n",
        b"Content-Length: 99999999999\n\n",
        b"no colon here\n\n",
    ],
)
def test_garbage_is_a_typed_error(garbage):
    with pytest.raises(esl.EslProtocolError):
        esl.EslParser().feed(garbage)


def test_endless_headers_are_bounded():
    parser = esl.EslParser(max_header_bytes=1000)
    parser.feed(b"X-Junk: " + b"a" * 900)
    with pytest.raises(esl.EslProtocolError):
        parser.feed(b"b" * 200)


def test_half_frame_waits():
    msg = received("inbound-answered")[5]
    parser = esl.EslParser()
    assert parser.feed(msg[:-1]) == []
    assert parser.buffered > 0
    assert len(parser.feed(msg[-1:])) == 1
    assert parser.buffered == 0


# -- encoders: what mod_event_socket would read -------------------------------------------------


async def fs_reads(data: bytes) -> list[tuple[str, dict, bytes]]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    out = []
    while not reader.at_eof():
        out.append(await read_command(reader))
    return out


async def test_execute_argument_cannot_inject_a_command():
    arg = "CTRACK_SOURCE=x\n\napi system rm -rf /\n\n"
    commands = await fs_reads(esl.execute("set", arg, event_uuid="e1"))
    assert len(commands) == 1
    line, headers, body = commands[0]
    assert line == "sendmsg"
    assert headers["call-command"] == "execute" and headers["execute-app-name"] == "set"
    assert headers["event-uuid"] == "e1" and headers["content-type"] == "text/plain"
    assert body.decode() == arg


async def test_execute_matches_the_captured_shape():
    sent = [p for d, _, p in read_capture("outbound-socket-session") if d == ">>"]
    ours = esl.execute("record_session", "/var/lib/freeswitch/recordings/x.wav", event_uuid="u")
    ((line, headers, body),) = await fs_reads(ours)
    ((cline, cheaders, _),) = await fs_reads(sent[6])
    assert line == cline == "sendmsg"
    assert set(cheaders) - set(headers) == {"execute-app-arg"}  # ours travels as the body
    assert body == b"/var/lib/freeswitch/recordings/x.wav"


@pytest.mark.parametrize(
    "call",
    [
        lambda: esl.command("event plain ALL\n\napi status"),
        lambda: esl.auth("ClueCon\nexit"),
        lambda: esl.api("status\r"),
        lambda: esl.execute("set; api", "x"),
        lambda: esl.execute("set", "a\0b"),
        lambda: esl.execute("set", "a", event_uuid="u\nx: y"),
        lambda: esl.multiset_arg({"CTRACK_SOURCE": "a\nb"}),
        lambda: esl.multiset_arg({"bad name": "x"}),
    ],
)
def test_unsafe_commands_are_refused(call):
    with pytest.raises(esl.EslCommandError):
        call()


def test_multiset_picks_a_separator_no_value_uses():
    arg = esl.multiset_arg({"CTRACK_SOURCE": "Google Ads | Brand", "CTRACK_FORWARD": "user/100"})
    assert arg == "^^~CTRACK_SOURCE=Google Ads | Brand~CTRACK_FORWARD=user/100"
    with pytest.raises(esl.EslCommandError):
        esl.multiset_arg({"A": "|~^!#;"})
