"""The daemon's daily purge task, on the daemon's own Writer: it purges as soon as it starts."""

import asyncio
import time

from ctrack.privacy.retention import Retention
from ctrack.privacy.service import purge_daily
from ctrack.store import db
from ctrack.store.writer import Writer


async def test_the_daily_task_purges_at_start_and_deletes_the_file(tmp_path, ctrack_db):
    path = ctrack_db
    conn = db.connect(path, create=True)
    db.upgrade(conn)
    wav = tmp_path / "old.wav"
    wav.write_bytes(b"RIFF")
    conn.execute(
        "INSERT INTO calls(uniqueid, started_at, caller_number, recording) VALUES ('old', ?, '+14155550100', ?)",
        (time.time() - 10 * 86400, str(wav)),
    )
    writer = Writer(path)
    await writer.start()
    task = asyncio.create_task(purge_daily(writer.run, Retention(recordings_days=7)))
    try:
        for _ in range(200):
            if (
                conn.execute("SELECT count(*) FROM privacy_audit WHERE action = 'purge'").fetchone()[0]
                and not wav.exists()
            ):
                break
            await asyncio.sleep(0.05)
        assert conn.execute("SELECT recording FROM calls").fetchone()[0] is None
        assert not wav.exists()
    finally:
        task.cancel()
        await writer.close()
        conn.close()
