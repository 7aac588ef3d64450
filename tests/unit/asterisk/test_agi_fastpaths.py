"""The AGI hot paths (the environment as res_agi writes it, one encode for all the SET
VARIABLEs) give exactly what the careful versions give, errors included."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrack.asterisk.agi_protocol import (
    MAX_COMMAND_BYTES,
    AgiProtocolError,
    _parse_env_slowly,
    parse_env,
    set_variable,
    set_variables,
)


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except AgiProtocolError:
        return "error", None


line = st.one_of(
    st.builds(
        lambda k, sep, v, cr: f"agi_{k}{sep}{v}{cr}",
        st.text("abc_: \r\t", max_size=6),
        st.sampled_from([":", ": ", ":  ", " :", ""]),
        st.text(max_size=12).filter(lambda t: "\n" not in t),
        st.sampled_from(["", "\r", "\r\r"]),
    ),
    st.text(max_size=12).filter(lambda t: "\n" not in t),
    st.just(""),
    st.just("\r"),
)


@settings(max_examples=800, deadline=None)
@given(st.lists(line, max_size=8))
def test_parse_env_fast_path_is_the_slow_path(lines):
    block = "\n".join(lines).encode("utf-8", "surrogatepass")
    fast = outcome(parse_env, block)
    slow = outcome(_parse_env_slowly, block.decode("utf-8", "replace"))
    assert fast[0] == slow[0]
    if fast[0] == "ok":
        assert dict(fast[1].env) == dict(slow[1].env)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["CTRACK_SOURCE", "CTRACK_WHISPER", "X", "_Y1"]),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    )
)
def test_set_variables_is_every_set_variable(variables):
    assert set_variables(variables) == b"".join(set_variable(k, v) for k, v in variables.items())


def test_set_variables_refuses_what_set_variable_refuses():
    with pytest.raises(AgiProtocolError):
        set_variables({"CTRACK_SOURCE": "x", "CDR(userfield)": "y"})
    room = MAX_COMMAND_BYTES - len(b'SET VARIABLE CTRACK_WHISPER ""\n')
    assert len(set_variables({"A": "a" * 1500, "CTRACK_WHISPER": "a" * room})) > MAX_COMMAND_BYTES
    with pytest.raises(AgiProtocolError):
        set_variables({"A": "a", "CTRACK_WHISPER": "a" * (room + 1)})
    with pytest.raises(AttributeError):
        set_variables({"CTRACK_SOURCE": 5})  # fastagi turns this into "failed": the default line
