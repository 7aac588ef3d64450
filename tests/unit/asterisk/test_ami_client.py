"""The daemon's AMI connection against a scripted AMI peer on 127.0.0.1: login, FullyBooted,
garbage on the wire, a UTF-8 name split across reads, a dropped link and a refused login."""

import asyncio
import time

import pytest

from ctrack.asterisk.ami import AmiActionError, AmiClient, check

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
BOOTED = b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"

CHANNELS = (
    b"Action: CoreShowChannels",
    # all in one write, as Asterisk sends a short list: the response, the items, the end
    b"Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
    b"Event: CoreShowChannel\r\nActionID: {id}\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n"
    b"Event: CoreShowChannel\r\nActionID: {id}\r\nUniqueid: 1.2\r\nLinkedid: 1.1\r\n\r\n"
    b"Event: CoreShowChannelsComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 2\r\n\r\n",
)
DENIED = (b"Action: CoreShowChannels", b"Response: Error\r\nActionID: {id}\r\nMessage: Permission denied\r\n\r\n")


class Peer:
    """Each connection runs the next script: a list of byte strings, or 'login' / 'close'."""

    def __init__(self, *sessions, secret="s3cret"):
        self.sessions = list(sessions)
        self.secret = secret
        self.connections = 0
        self.actions: list[bytes] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def serve(self, reader, writer):
        script = self.sessions[min(self.connections, len(self.sessions) - 1)]
        self.connections += 1
        writer.write(BANNER)
        try:
            for step in script:
                if step == "login":
                    action = await reader.readuntil(b"\r\n\r\n")
                    self.actions.append(action)
                    action_id = next(
                        line.split(b": ", 1)[1] for line in action.split(b"\r\n") if line.startswith(b"ActionID")
                    )
                    ok = b"Secret: " + self.secret.encode() in action
                    writer.write(
                        b"Response: "
                        + (b"Success" if ok else b"Error")
                        + b"\r\nActionID: "
                        + action_id
                        + b"\r\nMessage: "
                        + (b"Authentication accepted" if ok else b"Authentication failed")
                        + b"\r\n\r\n"
                    )
                elif step == "close":
                    writer.close()
                    return
                elif isinstance(step, tuple):  # (action expected, reply with {id} for its ActionID)
                    action = await reader.readuntil(b"\r\n\r\n")
                    self.actions.append(action)
                    assert step[0] in action
                    action_id = next(
                        line.split(b": ", 1)[1] for line in action.split(b"\r\n") if line.startswith(b"ActionID")
                    )
                    writer.write(step[1].replace(b"{id}", action_id))
                elif step == "hold":
                    await asyncio.sleep(30)
                else:
                    writer.write(step)
                    await writer.drain()
                    await asyncio.sleep(0.01)
            await asyncio.sleep(30)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def wait_for(predicate, timeout=5.0):
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


NAME = "Zoë Müller".encode()
EVENT = (
    b"Event: Newchannel\r\nChannel: PJSIP/trunk-1\r\nCallerIDName: " + NAME + b"\r\nUniqueid: 1.1\r\n"
    b"Linkedid: 1.1\r\n\r\n"
)


async def test_events_flow_after_login_and_a_split_utf8_name_survives():
    split = EVENT.index(NAME) + 2  # inside the two bytes of 'ë'
    peer = Peer(["login", BOOTED, b"\x00\xffgarbage: \xfe\r\n\r\n", EVENT[:split], EVENT[split:]])
    port = await peer.start()
    seen = []
    client = AmiClient("127.0.0.1", port, "ctrack", "s3cret", seen.append)
    task = asyncio.create_task(client.run())
    try:
        await wait_for(lambda: any(e.get("Event") == "Newchannel" for e in seen))
        assert client.ready.is_set()
        [newchannel] = [e for e in seen if e.get("Event") == "Newchannel"]
        assert newchannel["CallerIDName"] == "Zoë Müller"
        assert b"Username: ctrack" in peer.actions[0] and b"Secret: s3cret" in peer.actions[0]
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)


async def test_reconnects_after_the_link_drops():
    peer = Peer(["login", BOOTED, "close"], ["login", BOOTED, EVENT])
    port = await peer.start()
    seen, ready_calls = [], []
    client = AmiClient(
        "127.0.0.1", port, "ctrack", "s3cret", seen.append, lambda: ready_calls.append(1), reconnect_max=0.2
    )
    task = asyncio.create_task(client.run())
    try:
        await wait_for(lambda: any(e.get("Event") == "Newchannel" for e in seen))
        assert peer.connections == 2 and client.sessions == 2 and len(ready_calls) == 2
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)


async def test_no_fullybooted_means_not_ready():
    peer = Peer(["login", "hold"])
    port = await peer.start()
    client = AmiClient("127.0.0.1", port, "ctrack", "s3cret", lambda e: None)
    task = asyncio.create_task(client.run())
    try:
        await asyncio.sleep(0.3)
        assert not client.ready.is_set()
    finally:
        await client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_refused_login_is_reported_and_retried_slowly():
    peer = Peer(["login"], secret="other")
    port = await peer.start()
    client = AmiClient("127.0.0.1", port, "ctrack", "s3cret", lambda e: None, reconnect_max=0.3)
    task = asyncio.create_task(client.run())
    try:
        await wait_for(lambda: client.last_error is not None)
        assert "login refused" in client.last_error and "Authentication failed" in client.last_error
        assert not client.ready.is_set()
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)


@pytest.mark.parametrize(
    "script, secret, expect",
    [
        (["login", BOOTED, CHANNELS], "s3cret", (True, "logged in as 'ctrack'")),
        (["login", BOOTED, DENIED], "s3cret", (False, "may not list channels (Permission denied): give it")),
        (["login", BOOTED], "s3cret", (False, "no answer to CoreShowChannels")),
        (["login"], "other", (False, "login refused for 'ctrack'")),
        (["close"], "s3cret", (False, "closed the connection")),
    ],
)
async def test_doctor_check(script, secret, expect):
    peer = Peer(script, secret=secret)
    port = await peer.start()
    ok, message = await check("127.0.0.1", port, "ctrack", "s3cret", timeout=2)
    assert ok is expect[0] and expect[1] in message


async def test_doctor_check_refused_port():
    peer = Peer(["close"])
    port = await peer.start()
    peer.server.close()
    await peer.server.wait_closed()
    ok, message = await check("127.0.0.1", port, "ctrack", "x", timeout=2)
    assert not ok and "connection refused" in message


async def test_a_lost_session_reports_when_asterisk_was_last_heard():
    peer = Peer(["login", BOOTED, "close"], ["login", BOOTED, EVENT])
    port = await peer.start()
    seen, lost = [], []
    client = AmiClient("127.0.0.1", port, "ctrack", "s3cret", seen.append, None, lost.append, reconnect_max=0.2)
    before = time.time()
    task = asyncio.create_task(client.run())
    try:
        await wait_for(lambda: any(e.get("Event") == "Newchannel" for e in seen))
        [at] = lost  # once, for the session that ended; the live one has not
        assert before <= at <= time.time()
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)


async def test_a_list_action_returns_its_items_apart_from_the_call_events():
    peer = Peer(["login", BOOTED, CHANNELS, EVENT, DENIED])
    port = await peer.start()
    seen = []
    client = AmiClient("127.0.0.1", port, "ctrack", "s3cret", seen.append)
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(client.ready.wait(), 5)
        channels = await client.action_list("CoreShowChannels")
        assert [(c["Event"], c["Uniqueid"]) for c in channels] == [
            ("CoreShowChannel", "1.1"),
            ("CoreShowChannel", "1.2"),
        ]
        await wait_for(lambda: any(e.get("Event") == "Newchannel" for e in seen))
        assert [e["Event"] for e in seen] == ["FullyBooted", "Newchannel"]  # the list is not call events
        with pytest.raises(AmiActionError, match="CoreShowChannels: Permission denied"):
            await client.action_list("CoreShowChannels")
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)
