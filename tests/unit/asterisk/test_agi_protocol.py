"""AGI: the environment block, command quoting against res_agi's own parser, and replies."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrack.asterisk.agi_protocol import (
    HANGUP,
    MAX_COMMAND_BYTES,
    AgiProtocolError,
    AgiReply,
    AgiReplyReader,
    parse_env,
    parse_reply,
    quote,
    set_variable,
)
from tests.support.agi_sim import parse_args, read_commands

# What Asterisk 22 sends for AGI(agi://127.0.0.1:4573/track,one,two) on the capture's call.
ENV = (
    b"agi_network: yes\n"
    b"agi_network_script: track\n"
    b"agi_request: agi://127.0.0.1:4573/track\n"
    b"agi_channel: PJSIP/trunk-00000000\n"
    b"agi_language: en\n"
    b"agi_type: PJSIP\n"
    b"agi_uniqueid: 1795798665.12\n"
    b"agi_version: 22.10.1\n"
    b"agi_callerid: 15035550123\n"
    b"agi_calleridname: Jos\xc3\xa9 M\xc3\xbcller\n"
    b"agi_callingpres: 0\n"
    b"agi_dnid: 15551230001\n"
    b"agi_rdnis: unknown\n"
    b"agi_context: from-trunk\n"
    b"agi_extension: 15551230001\n"
    b"agi_priority: 3\n"
    b"agi_enhanced: 0.0\n"
    b"agi_accountcode: \n"
    b"agi_threadid: 140067383727808\n"
    b"agi_arg_1: one\n"
    b"agi_arg_2: two: with colon\n"
)


def test_parse_env():
    request = parse_env(ENV)
    assert request.uniqueid == "1795798665.12"
    assert request.extension == "15551230001"
    assert request.callerid == "15035550123"
    assert request.calleridname == "José Müller"
    assert request.pbx_channel == "PJSIP/trunk-00000000"
    assert request.context == "from-trunk"
    assert request.script == "track"
    assert request.args == ("one", "two: with colon")
    assert request.env["agi_accountcode"] == ""
    assert parse_env(ENV.replace(b"\n", b"\r\n")).env == request.env


@pytest.mark.parametrize(
    "block",
    [
        b"",
        b"\n",
        b"GET / HTTP/1.1\nHost: x\n",
        b"agi_request agi://x\n",
        b"agi_x: 1\nnot a line\n",
        b"\x16\x03\x01\x02\x00\x01\x00",
    ],
)
def test_parse_env_refuses_what_is_not_agi(block):
    with pytest.raises(AgiProtocolError):
        parse_env(block)


def asterisk_reads(data: bytes) -> list[list[bytes]]:
    return [parse_args(line) for line in read_commands(data)]


@pytest.mark.parametrize(
    "value",
    [
        "google-ads",
        "",
        "two words",
        'say "hi"',
        "back\\slash",
        "trailing\\",
        '\\"',
        "tab\there",
        "Local/s@business-line",
        "PJSIP/100&PJSIP/101",
        "José Müller 山田 🙂",
    ],
)
def test_set_variable_reaches_asterisk_intact(value):
    assert asterisk_reads(set_variable("CTRACK_SOURCE", value)) == [
        [b"SET", b"VARIABLE", b"CTRACK_SOURCE", value.encode()]
    ]


@pytest.mark.parametrize(
    "evil",
    [
        'x"\nEXEC Dial PJSIP/premium\n',
        "x\nEXEC Dial PJSIP/premium",
        "x\r\nHANGUP",
        '" \nSET VARIABLE CTRACK_ROUTE_STATUS "ok',
        "x\\\nEXEC System rm",
        "x\0\nEXEC System rm",
        "\u2028EXEC\x85 System\u2029",
    ],
)
def test_values_cannot_inject_another_command(evil):
    [command] = asterisk_reads(set_variable("CTRACK_WHISPER", evil))
    assert command[:3] == [b"SET", b"VARIABLE", b"CTRACK_WHISPER"] and len(command) == 4
    clean = evil.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    assert command[3] == clean.encode()


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_value_is_one_command_with_exactly_that_value(value):
    [command] = asterisk_reads(set_variable("CTRACK_SOURCE", value))
    clean = value.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    assert command == [b"SET", b"VARIABLE", b"CTRACK_SOURCE", clean.encode()]


def test_lines_longer_than_asterisks_buffer_are_refused():
    # res_agi would run the 2048th byte onwards as a second command
    room = MAX_COMMAND_BYTES - len(b'SET VARIABLE CTRACK_WHISPER ""\n')
    assert len(set_variable("CTRACK_WHISPER", "a" * room)) == MAX_COMMAND_BYTES
    with pytest.raises(AgiProtocolError):
        set_variable("CTRACK_WHISPER", "a" * (room + 1))
    with pytest.raises(AgiProtocolError):
        set_variable("CTRACK_WHISPER", '"' * (room // 2 + 1))  # escaping doubles them


@pytest.mark.parametrize("name", ["", "CTRACK SOURCE", "X\nEXEC", 'X"', "CDR(userfield)", "${EVIL}", "1ABC"])
def test_variable_names_are_checked(name):
    with pytest.raises(AgiProtocolError):
        set_variable(name, "x")


def test_quote():
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert asterisk_reads(b"SET VARIABLE X " + quote('a"b\\c').encode() + b"\n") == [
        [b"SET", b"VARIABLE", b"X", b'a"b\\c']
    ]


@pytest.mark.parametrize(
    "line, reply",
    [
        ("200 result=1", AgiReply(200, result="1")),
        ("200 result=0", AgiReply(200, result="0")),
        ("200 result=-1", AgiReply(200, result="-1")),
        ("200 result=1 (google-ads)", AgiReply(200, result="1", data="google-ads")),
        (
            "200 result=1 (with (nested) parens) endpos=1234",
            AgiReply(200, result="1", data="with (nested) parens", fields={"endpos": "1234"}),
        ),
        ("200 result=0 endpos=0", AgiReply(200, result="0", fields={"endpos": "0"})),
        ("510 Invalid or unknown command", AgiReply(510, text="Invalid or unknown command")),
        (
            "511 Command Not Permitted on a dead channel or intercept routine",
            AgiReply(511, text="Command Not Permitted on a dead channel or intercept routine"),
        ),
        (
            "520 Invalid command syntax.  Proper usage not available.",
            AgiReply(520, text="Invalid command syntax.  Proper usage not available."),
        ),
    ],
)
def test_parse_reply(line, reply):
    assert parse_reply(line) == reply
    assert parse_reply(line).ok is (reply.code == 200)


@pytest.mark.parametrize("line", ["", "HANGUP", "hello", "20 result=1", "200", "200 ok", "2000 result=1"])
def test_parse_reply_refuses(line):
    with pytest.raises(AgiProtocolError):
        parse_reply(line)


STREAM = (
    b"200 result=1\n"
    b"HANGUP\n"
    b"520-Invalid command syntax.  Proper usage follows:\n"
    b" Usage: SET VARIABLE <variablename> <value>\n"
    b"   Sets a variable to the current channel.\n"
    b"520 End of proper usage.\n"
    b"510 Invalid or unknown command\n"
    b"200 result=0 (timeout)\n"
)


def test_reply_reader_at_every_chunk_boundary():
    want = [
        AgiReply(200, result="1"),
        HANGUP,
        AgiReply(
            520,
            text="Invalid command syntax.  Proper usage follows:\n"
            " Usage: SET VARIABLE <variablename> <value>\n"
            "   Sets a variable to the current channel.\n"
            "End of proper usage.",
        ),
        AgiReply(510, text="Invalid or unknown command"),
        AgiReply(200, result="0", data="timeout"),
    ]
    for cut in range(len(STREAM) + 1):
        reader = AgiReplyReader()
        assert reader.feed(STREAM[:cut]) + reader.feed(STREAM[cut:]) == want
    assert AgiReplyReader().feed(STREAM.replace(b"\n", b"\r\n")) == want


def test_reply_reader_bounds():
    with pytest.raises(AgiProtocolError):
        AgiReplyReader(max_line=100).feed(b"2" * 101)
    with pytest.raises(AgiProtocolError):
        AgiReplyReader(max_line=100).feed(b"520-start\n" + b"usage line\n" * 20)
    with pytest.raises(AgiProtocolError):
        AgiReplyReader().feed(b"garbage\n")
