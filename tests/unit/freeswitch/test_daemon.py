"""`ctrack serve` on FreeSWITCH: the daemon routes an outbound-socket call and logs the inbound
ESL events of replayed FreeSWITCH 1.10.12 captures into its database."""

import asyncio
import socket

from click.testing import CliRunner

from ctrack import config
from ctrack.cli import cli
from ctrack.core import variables as v
from ctrack.daemon import Daemon
from tests.support import database
from tests.support.freeswitch_peer import InboundPeer, OutboundCall
from tests.unit.calllog.test_freeswitch_events import EXPECTED
from tests.unit.freeswitch.test_outbound import multiset


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_daemon_routes_and_logs_freeswitch_calls(tmp_path, ctrack_db, monkeypatch):
    monkeypatch.chdir(tmp_path)
    peer = InboundPeer([["inbound-answered", "inbound-missed"]], seed=3)
    esl_port = await peer.start()
    outbound_port = free_port()
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"""
[ctrack]
database = {ctrack_db}
[pbx]
type = freeswitch
[business]
default_forward = user/1000
dial_template = sofia/gateway/trunk/{{number}}
[http]
listen = 127.0.0.1:{free_port()}
[freeswitch]
esl_port = {esl_port}
outbound_listen = 127.0.0.1:{outbound_port}
cdr_csv = {tmp_path / "none.csv"}
""")
    run = CliRunner()
    for args in (
        ["init"],
        ["source", "add", "Radio", "--channel", "radio"],
        ["number", "add", "5035550142", "--source", "Radio", "--forward", "user/1001"],
    ):
        assert run.invoke(cli, ["--config", str(ini), *args]).exit_code == 0
    daemon = Daemon(config.load(ini), ctrack_db)
    await daemon.start()
    try:
        call = OutboundCall()
        call.capture = call.capture  # the captured answered session; its DID is rewritten below
        await call.run(outbound_port)
        ((app, arg), *_) = call.executed()
        values = multiset(arg)
        assert app == "multiset" and values[v.ROUTE_STATUS] == "ok"
        assert values[v.UNIQUEID] == EXPECTED["inbound-answered"]["uniqueid"]

        async def logged():
            while True:
                rows = database.rows(
                    ctrack_db, "SELECT uniqueid, disposition, talk_seconds, origin FROM calls ORDER BY started_at"
                )
                if len(rows) == 2:
                    return rows
                await asyncio.sleep(0.05)

        rows = await asyncio.wait_for(logged(), 10)
        assert rows == [
            (EXPECTED["inbound-answered"]["uniqueid"], "answered", 4, "esl"),
            (EXPECTED["inbound-missed"]["uniqueid"], "missed", 0, "esl"),
        ]
    finally:
        await daemon.stop()
        await peer.stop()
