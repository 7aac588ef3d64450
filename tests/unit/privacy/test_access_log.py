"""Every recording the dashboard serves leaves an audit entry: user, call, time, address."""

import json
import time

from click.testing import CliRunner

from ctrack.cli import cli
from tests.unit.dashboard.test_http import board, login  # noqa: F401 (the dashboard fixture)


async def test_playback_and_download_are_logged(board, ctrack_db):  # noqa: F811
    client, conn = board
    await login(client)
    ids = dict(conn.execute("SELECT uniqueid, id FROM calls").fetchall())
    before = time.time()
    assert (await client.get(f"/dashboard/calls/{ids['x1']}/recording")).status == 200
    assert (await client.get(f"/dashboard/calls/{ids['x1']}/recording?download=1")).status == 200
    assert (await client.get(f"/dashboard/calls/{ids['x2']}/recording")).status == 404  # nothing served, nothing logged
    rows = conn.execute("SELECT action, actor, call_id, address, at FROM privacy_audit ORDER BY id").fetchall()
    assert [tuple(r)[:4] for r in rows] == [
        ("play", "alice", ids["x1"], "127.0.0.1"),
        ("download", "alice", ids["x1"], "127.0.0.1"),
    ]
    assert all(before <= r[4] <= time.time() for r in rows)
    out = CliRunner().invoke(cli, ["--db", str(ctrack_db), "audit", "list", "--json"]).stdout
    assert [(e["action"], e["actor"], e["call_id"]) for e in json.loads(out)] == [
        ("download", "alice", ids["x1"]),
        ("play", "alice", ids["x1"]),
    ]
