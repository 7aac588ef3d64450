"""The inbound ESL listener and the doctor check against a replaying FreeSWITCH peer."""

import asyncio
import socket

import pytest

from ctrack import config
from ctrack.calllog import freeswitch_cdr as cdr_csv
from ctrack.core.model import Disposition
from ctrack.freeswitch.inbound import SUBSCRIBE, InboundListener, check
from tests.support.freeswitch_peer import InboundPeer
from tests.unit.calllog.test_freeswitch_cdr import expand, tracked_hangup
from tests.unit.calllog.test_freeswitch_events import EXPECTED


class Saved:
    def __init__(self):
        self.records = []
        self.changed = asyncio.Event()

    async def __call__(self, record, origin):
        self.records.append((record, origin))
        self.changed.set()

    async def wait_for(self, n, timeout=5.0):
        async with asyncio.timeout(timeout):
            while len(self.records) < n:
                self.changed.clear()
                await self.changed.wait()


async def listening(peer, save, **kw):
    port = await peer.start()
    listener = InboundListener("127.0.0.1", port, "ClueCon", save, reconnect_min=0.05, reconnect_max=0.2, **kw)
    return listener, asyncio.create_task(listener.run())


async def stop(listener, task, peer):
    await listener.close()
    await asyncio.wait_for(task, 2)
    await peer.stop()


@pytest.mark.parametrize("capture", sorted(EXPECTED))
async def test_capture_becomes_one_call(capture):
    peer, save = InboundPeer([[capture]], seed=7, max_chunk=700), Saved()
    listener, task = await listening(peer, save)
    try:
        await save.wait_for(1)
        await asyncio.sleep(0.05)
        assert len(save.records) == 1
        record, origin = save.records[0]
        want = EXPECTED[capture]
        assert origin == "esl"
        assert (record.uniqueid, record.disposition) == (want["uniqueid"], want["disposition"])
        assert (record.ring_seconds, record.talk_seconds) == (want["ring"], want["talk"])
        answered = want["disposition"] is Disposition.ANSWERED  # unanswered: only ringing was recorded
        assert record.recording == (f"/var/lib/freeswitch/recordings/{want['uniqueid']}.wav" if answered else None)
        assert peer.commands[:2] == ["auth ClueCon", "event plain " + " ".join(SUBSCRIBE)]
        assert listener.connected and listener.last_error is None
    finally:
        await stop(listener, task, peer)


async def test_three_calls_one_byte_at_a_time():
    peer = InboundPeer([["inbound-answered", "inbound-missed", "inbound-abandoned"]], seed=1, max_chunk=1)
    save = Saved()
    listener, task = await listening(peer, save)
    try:
        await save.wait_for(3, timeout=20)
        assert [r.disposition for r, _ in save.records] == [
            Disposition.ANSWERED,
            Disposition.MISSED,
            Disposition.ABANDONED,
        ]
    finally:
        await stop(listener, task, peer)


async def test_reconnects_and_recovers_what_it_missed(tmp_path):
    """The link drops after the first call; the missed call ends while ctrack is away and is in
    the CDR; the abandoned call comes live on the new connection."""
    cdr = tmp_path / "Master.csv"
    cdr.write_text("".join(expand(cdr_csv.TEMPLATE, tracked_hangup(c)) for c in ("inbound-answered", "inbound-missed")))
    answered_events = len(InboundPeer([["inbound-answered"]]).events(0, set(SUBSCRIBE)))
    peer = InboundPeer(
        [["inbound-answered", "inbound-missed"], ["inbound-abandoned"]], drop_after={0: answered_events + 2}
    )
    save = Saved()
    listener, task = await listening(peer, save, cdr_csv_path=cdr)
    try:
        await save.wait_for(4)
        got = {(r.uniqueid, origin) for r, origin in save.records}
        assert got == {
            (EXPECTED["inbound-answered"]["uniqueid"], "esl"),
            (EXPECTED["inbound-answered"]["uniqueid"], "cdr"),  # the store keeps the live one
            (EXPECTED["inbound-missed"]["uniqueid"], "cdr"),
            (EXPECTED["inbound-abandoned"]["uniqueid"], "esl"),
        }
        assert peer.connections == 2
    finally:
        await stop(listener, task, peer)


async def test_wrong_password_is_said_and_retried():
    peer, save = InboundPeer([["inbound-answered"]], password="secret"), Saved()
    listener, task = await listening(peer, save)
    try:
        async with asyncio.timeout(3):
            while peer.connections < 3:
                await asyncio.sleep(0.02)
        assert "wrong password" in listener.last_error
        assert save.records == [] and not listener.connected
    finally:
        await stop(listener, task, peer)


async def test_close_stops_a_listener_that_cannot_connect():
    listener = InboundListener("127.0.0.1", free_port(), "ClueCon", Saved(), reconnect_min=5, reconnect_max=5)
    task = asyncio.create_task(listener.run())
    await asyncio.sleep(0.1)
    assert listener.last_error.startswith("connection refused")
    await listener.close()
    await asyncio.wait_for(task, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_check_all_good():
    peer = InboundPeer([])
    port = await peer.start()
    try:
        result = await check("127.0.0.1", port, "ClueCon")
    finally:
        await peer.stop()
    assert result.ok, result.message
    assert result.message.startswith("FreeSWITCH Version 1.10.12-release")
    assert peer.commands[-1] == "exit" or peer.commands[-1].startswith("event plain")


@pytest.mark.parametrize(
    "peer_kw, password, message",
    [
        (dict(), "wrong", "wrong password: [freeswitch] esl_password differs"),
        (
            dict(acl="loopback.auth"),  # a list FreeSWITCH does not define refuses 127.0.0.1 too
            "ClueCon",
            "FreeSWITCH's apply-inbound-acl refused ctrack's address 127.0.0.1: in event_socket.conf.xml "
            'set <param name="apply-inbound-acl" value="loopback.auto"/>',
        ),
        (dict(acl="10.0.0.0/8"), "ClueCon", "FreeSWITCH's apply-inbound-acl refused ctrack's address 127.0.0.1"),
        (dict(modules=("mod_commands", "mod_dptools")), "ClueCon", "FreeSWITCH lacks mod_sofia, mod_sndfile"),
        (dict(modules=("mod_sofia",)), "ClueCon", "mod_commands is not loaded"),
    ],
)
async def test_check_says_what_is_wrong(peer_kw, password, message):
    peer = InboundPeer([], **peer_kw)
    port = await peer.start()
    try:
        result = await check("127.0.0.1", port, password)
    finally:
        await peer.stop()
    assert not result.ok
    assert result.message.startswith(message), result.message


@pytest.mark.parametrize("acl", ["loopback.auto", "127.0.0.1/32", "ctrack"])
async def test_the_documented_acl_lets_ctrack_in(acl):
    peer = InboundPeer([], acl=acl, lists={"loopback.auto": ("127.0.0.0/8",), "ctrack": ("127.0.0.1/32",)})
    port = await peer.start()
    try:
        result = await check("127.0.0.1", port, "ClueCon")
    finally:
        await peer.stop()
    assert result.ok, result.message


async def test_check_refused_and_not_esl():
    result = await check("127.0.0.1", free_port(), "ClueCon")
    assert not result.ok and result.message.startswith("connection refused by 127.0.0.1:")

    async def http(reader, writer):
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(http, "127.0.0.1", 0)
    try:
        result = await check("127.0.0.1", server.sockets[0].getsockname()[1], "ClueCon")
    finally:
        server.close()
    assert not result.ok and "does not speak the event socket protocol" in result.message


async def test_check_times_out_on_a_silent_port():
    async def silent(reader, writer):
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        result = await check("127.0.0.1", server.sockets[0].getsockname()[1], "ClueCon", timeout=0.2)
    finally:
        server.close()
    assert not result.ok and result.message.startswith("no answer from")


async def test_listener_and_outbound_settings_from_config(tmp_path):
    from ctrack.freeswitch.outbound import OutboundSettings

    ini = tmp_path / "ctrack.ini"
    ini.write_text(
        "[pbx]\ntype = freeswitch\n[freeswitch]\nesl_port = 8022\nesl_password = s3cret\n"
        "route_timeout = 3\ncdr_csv = \nrecording_directory = /srv/rec\n"
    )
    cfg = config.load(ini)
    listener = InboundListener.from_config(cfg, Saved())
    assert (listener.host, listener.port, listener.password) == ("127.0.0.1", 8022, "s3cret")
    assert listener.cdr_csv_path is None and listener.reconnect_max == 30
    assert OutboundSettings.from_config(cfg) == OutboundSettings(recording_directory="/srv/rec", route_timeout=3.0)


def test_doctor_names_the_acl_fix(tmp_path, ctrack_db):
    """`ctrack doctor` against a FreeSWITCH whose apply-inbound-acl is a name it does not know."""
    import threading

    from click.testing import CliRunner

    from ctrack.cli import cli

    loop = asyncio.new_event_loop()
    peer = InboundPeer([], acl="loopback.auth")
    port = loop.run_until_complete(peer.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ini = tmp_path / "ctrack.ini"
    ini.write_text(
        "[pbx]\ntype = freeswitch\n[business]\ndefault_forward = user/1000\n"
        "dial_template = sofia/gateway/trunk/{number}\n"
        f"[freeswitch]\nesl_port = {port}\ncdr_csv = {tmp_path}/Master.csv\nrecording_directory = {tmp_path}\n"
    )
    try:
        result = CliRunner().invoke(cli, ["--config", str(ini), "--db", str(ctrack_db), "doctor"])
    finally:
        asyncio.run_coroutine_threadsafe(peer.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if "apply-inbound-acl" in line]
    assert line.startswith("FAIL  FreeSWITCH's apply-inbound-acl refused ctrack's address 127.0.0.1")
    assert 'value="loopback.auto"' in line and "reload mod_event_socket" in line
