"""The dashboard's call list filters by the words of the transcripts."""

from functools import partial

from ctrack.store import db
from ctrack.transcription import store
from tests.unit.dashboard.test_http import PERIOD, board, login  # noqa: F401  (board is a fixture)


async def test_the_call_list_filters_by_transcript_words(board):  # noqa: F811
    client, conn = board
    x1 = conn.execute("SELECT id FROM calls WHERE uniqueid = 'x1'").fetchone()[0]
    segment = {"speaker": "caller", "start": 0.0, "end": 1.0, "text": "my water heater leaks"}
    result = {"language": "en", "duration": 1.0, "seconds_taken": 0.1, "segments": [segment]}
    db.write(conn, partial(store.save, call_id=x1, result=result))
    await login(client)
    every = await (await client.get(f"/dashboard/calls?{PERIOD}")).text()
    heater = await (await client.get(f"/dashboard/calls?{PERIOD}&words=Water+heater")).text()
    nothing = await (await client.get(f"/dashboard/calls?{PERIOD}&words=furnace")).text()
    x1_row, x2_row = "+12125550099", "+12125550098"
    assert x1_row in every and x2_row in every
    assert x1_row in heater and x2_row not in heater
    assert x1_row not in nothing and x2_row not in nothing
    assert 'name="words" value="Water heater"' in heater
