"""The AMI wire parser and action encoder, replayed on real captures and cut at every boundary."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrack.asterisk.ami_protocol import AmiParser, AmiProtocolError, encode_action
from tests.support.fixtures_ami import CAPTURES, load, to_wire, wire


def feed_all(parser, chunks):
    out = []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out


@pytest.mark.parametrize("name", CAPTURES)
def test_captures_replay_to_the_same_events(name):
    parser = AmiParser()
    messages = parser.feed(wire(name))
    assert [dict(m) for m in messages] == load(name)
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert parser.dropped == 0


@pytest.mark.parametrize("name", CAPTURES)
@pytest.mark.parametrize("size", [1, 7, 100, 1460])
def test_captures_in_small_reads(name, size):
    data = wire(name)
    messages = feed_all(AmiParser(), [data[i : i + size] for i in range(0, len(data), size)])
    assert [dict(m) for m in messages] == load(name)


def test_repeated_header_is_a_list_in_wire_order():
    test_event = next(e for e in load("sipp-answered") if isinstance(e.get("State"), list))
    [message] = AmiParser().feed(to_wire(test_event))
    assert message["State"] == ["CallIDChange", "CallIDChange"]
    assert message.getlist("State") == ["CallIDChange", "CallIDChange"]
    assert message.getlist("Event") == ["TestEvent"]
    assert message.getlist("Missing") == []
    assert list(message) == list(test_event)  # header order kept


def utf8_newchannel():
    """The capture's Newchannel with a caller name that needs 2-, 3- and 4-byte UTF-8 sequences."""
    event = dict(next(e for e in load("sipp-answered") if e["Event"] == "Newchannel"))
    event["CallerIDName"] = "José Müller 山田 🙂"
    return event


def test_utf8_name_split_at_every_byte_boundary():
    event = utf8_newchannel()
    data = to_wire(event)
    for cut in range(len(data) + 1):
        parser = AmiParser()
        messages = parser.feed(data[:cut]) + parser.feed(data[cut:])
        assert [dict(m) for m in messages] == [event], cut


def test_utf8_name_byte_by_byte_amid_a_capture():
    event = utf8_newchannel()
    data = wire("sipp-missed") + to_wire(event) + to_wire(event)
    messages = feed_all(AmiParser(), [data[i : i + 1] for i in range(len(data))])
    assert [m["CallerIDName"] for m in messages[-2:]] == ["José Müller 山田 🙂"] * 2


def test_values_with_colons_and_empty_values():
    data = (
        b'Event: Newexten\r\nAppData: CT inbound did=1555 cid="Bob" <1503> a:b: c\r\n'
        b"AccountCode: \r\nValue:no-space\r\nTimestamp: 1795798665.007900\r\n\r\n"
    )
    [message] = AmiParser().feed(data)
    assert message["AppData"] == 'CT inbound did=1555 cid="Bob" <1503> a:b: c'
    assert message["AccountCode"] == ""
    assert message["Value"] == "no-space"
    assert message["Timestamp"] == "1795798665.007900"


def test_stray_blank_lines_are_no_message():
    assert AmiParser().feed(b"\r\n\r\nEvent: A\r\n\r\n\r\n\r\n\r\nEvent: B\r\n\r\n") == [{"Event": "A"}, {"Event": "B"}]


def test_invalid_utf8_is_replaced_and_the_stream_goes_on():
    data = b"Event: Newchannel\r\nCallerIDName: Bad \xff\xfe name \xe6\x97\r\n\r\n" + b"Event: Hangup\r\n\r\n"
    messages = AmiParser().feed(data)
    assert messages[0]["CallerIDName"] == "Bad \ufffd\ufffd name \ufffd"
    assert messages[1]["Event"] == "Hangup"


def test_banner_split_and_banner_absent():
    parser = AmiParser()
    assert parser.feed(b"Asterisk Call") == []
    assert parser.feed(b" Manager/9.0.0\r") == []
    assert parser.feed(b"\nResponse: Success\r\nMessage: Authentication accepted\r\n\r\n") == [
        {"Response": "Success", "Message": "Authentication accepted"}
    ]
    assert parser.banner == "Asterisk Call Manager/9.0.0"

    bare = AmiParser()
    assert bare.feed(b"Event: FullyBooted\r\n\r\n") == [{"Event": "FullyBooted"}]
    assert bare.banner is None


def test_command_output_old_and_new_style():
    old = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\n"
        b"Channel   Location   State\n\nPJSIP/trunk-1  s@from-trunk:1  Up\n"
        b"--END COMMAND--\r\n\r\n"
    )
    new = (
        b"Response: Success\r\nActionID: 8\r\nMessage: Command output follows\r\n"
        b"Output: Channel   Location   State\r\nOutput: PJSIP/trunk-1  s@from-trunk:1  Up\r\n\r\n"
    )
    data = old + new
    for cut in range(len(data) + 1):
        parser = AmiParser()
        first, second = parser.feed(data[:cut]) + parser.feed(data[cut:])
        assert first["ActionID"] == "7"
        assert first["Output"] == ["Channel   Location   State", "", "PJSIP/trunk-1  s@from-trunk:1  Up"]
        assert second.getlist("Output") == ["Channel   Location   State", "PJSIP/trunk-1  s@from-trunk:1  Up"]


def test_oversized_garbage_is_dropped_and_the_parser_resyncs():
    parser = AmiParser(max_message_bytes=4096)
    junk = b"x" * 1000
    for _ in range(50):  # 50 kB without a message end
        assert parser.feed(junk) == []
        assert len(parser._buf) <= 4096 + len(junk)
    messages = parser.feed(b"\r\n\r\nEvent: Hangup\r\nUniqueid: 1.2\r\n\r\n")
    assert messages == [{"Event": "Hangup", "Uniqueid": "1.2"}]
    assert parser.dropped == 1


def test_oversized_complete_message_is_dropped():
    parser = AmiParser(max_message_bytes=100)
    data = b"Event: VarSet\r\nValue: " + b"v" * 200 + b"\r\n\r\nEvent: Hangup\r\n\r\n"
    assert parser.feed(data) == [{"Event": "Hangup"}]
    assert parser.dropped == 1


header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True)
header_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40)
messages = st.lists(st.tuples(header_names, header_values), min_size=1, max_size=8)


def as_wire(headers):
    return "".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n"


def expected(headers):
    out = {}
    for key, value in headers:
        out.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


@settings(max_examples=300, deadline=None)
@given(st.lists(messages, min_size=1, max_size=5), st.lists(st.integers(0, 10_000), max_size=12), st.booleans())
def test_any_chunking_gives_the_same_messages(batch, cuts, banner):
    data = (b"Asterisk Call Manager/11.0.0\r\n" if banner else b"") + b"".join(as_wire(m) for m in batch)
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]
    assert [dict(m) for m in feed_all(AmiParser(), chunks)] == [expected(m) for m in batch]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=6))
def test_random_bytes_never_crash_and_stay_bounded(data, cuts):
    parser = AmiParser(max_message_bytes=512)
    points = sorted({c % (len(data) + 1) for c in cuts})
    for a, b in zip([0, *points], [*points, len(data)]):
        parser.feed(data[a:b])
        assert len(parser._buf) <= 512 + (b - a)
    if b"Response: Follows" not in data:  # a legacy command block ends only at --END COMMAND--
        assert parser.feed(b"\r\n\r\nEvent: Hangup\r\n\r\n")[-1] == {"Event": "Hangup"}


def test_encode_action():
    data = encode_action(
        "Originate", {"Channel": "Local/s@sim", "Variable": ["A=1", "B=2"], "Async": "true", "ActionID": None}
    )
    assert data == (
        b"Action: Originate\r\nChannel: Local/s@sim\r\nVariable: A=1\r\nVariable: B=2\r\nAsync: true\r\n\r\n"
    )
    assert encode_action("Ping") == b"Action: Ping\r\n\r\n"
    assert encode_action("Login", [("Username", "ctrack"), ("Secret", 1234)]).endswith(b"Secret: 1234\r\n\r\n")


@pytest.mark.parametrize(
    "evil",
    [
        "x\r\nAction: Hangup\r\nChannel: PJSIP/trunk-1\r\n\r\n",
        "x\nAction: Hangup\n\n",
        "x\rAction: Hangup",
        "x\0\r\n\r\nAction: Hangup",
    ],
)
def test_values_cannot_inject_a_header_or_an_action(evil):
    data = encode_action("Setvar", {"Channel": "PJSIP/trunk-1", "Variable": "CTRACK_SOURCE", "Value": evil})
    assert data.count(b"\r\n\r\n") == 1 and data.endswith(b"\r\n\r\n")
    assert data.count(b"\n") == 5 and b"\r" not in data.replace(b"\r\n", b"")
    [message] = AmiParser().feed(data)
    assert list(message) == ["Action", "Channel", "Variable", "Value"]
    assert message["Action"] == "Setvar"


@pytest.mark.parametrize(
    "action, fields",
    [
        ("Hang up", {}),
        ("Ping\r\nAction: Hangup", {}),
        ("", {}),
        ("Setvar", {"Value\r\nAction": "x"}),
        ("Setvar", {"Action": "Hangup"}),
        ("Setvar", {"Bad Name": "x"}),
    ],
)
def test_bad_names_are_refused(action, fields):
    with pytest.raises(AmiProtocolError):
        encode_action(action, fields)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        header_names.filter(lambda k: k.lower() != "action"),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
        max_size=6,
    )
)
def test_encoded_actions_parse_back_as_one_message(fields):
    [message] = AmiParser().feed(encode_action("Setvar", fields))
    clean = {k: v.replace("\r", " ").replace("\n", " ").replace("\0", " ") for k, v in fields.items()}
    assert dict(message) == {"Action": "Setvar", **clean}


@pytest.mark.parametrize(
    "text, headers",
    [
        ("Event: VarSet\r\nValue: a: b", {"Event": "VarSet", "Value": "a: b"}),
        ("Event: X\r\nKey:value\r\nEmpty: \r\nBare:", {"Event": "X", "Key": "value", "Empty": "", "Bare": ""}),
        ("Event: X\r\na:b: c", {"Event": "X", "a": "b: c"}),  # the key ends at the first ':'
        ("Event: X\r\nno colon here\r\nK:  two spaces", {"Event": "X", "K": " two spaces"}),
        ("Event: X\r\nK: 1\r\nK: 2", {"Event": "X", "K": ["1", "2"]}),
        ("Event: X\r\nK: line\nbreak\r\nL: x\ry", {"Event": "X", "K": "line\nbreak", "L": "x\ry"}),
        (": no key\r\nEvent: X", {"": "no key", "Event": "X"}),
    ],
)
def test_every_header_shape_parses_as_asterisk_meant_it(text, headers):
    """The parser's one-split-per-line fast path and its line-by-line path give one answer."""
    (message,) = AmiParser().feed(text.encode() + b"\r\n\r\n")
    assert dict(message) == headers and list(message) == list(headers)
