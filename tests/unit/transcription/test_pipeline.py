"""The durable job: a recorded call gets one from the migration's triggers; the daemon's
loop hands it to a real worker process and writes the result through the real Writer."""

import asyncio
import sqlite3
from functools import partial

from ctrack import config
from ctrack.services import Services
from ctrack.store import db
from ctrack.transcription import store
from ctrack.transcription.service import run_transcription
from tests.unit.transcription.conftest import model_folder


def _db(path: db.Target) -> db.Target:
    conn = db.connect(path, create=True)
    db.upgrade(conn)
    conn.close()
    return path


def _call(conn: sqlite3.Connection, uniqueid: str, recording: str | None, disposition="answered", talk=30) -> int:
    cur = conn.execute(
        "INSERT INTO calls(uniqueid, started_at, disposition, talk_seconds, recording) VALUES (?, 1.0e9, ?, ?, ?) RETURNING id",
        (uniqueid, disposition, talk, recording),
    )
    return int(cur.fetchone()[0])


def test_a_recorded_call_gets_a_job_and_one_without_gets_none(ctrack_db):
    conn = db.connect(_db(ctrack_db))
    recorded = _call(conn, "a", "/spool/a.wav")
    plain = _call(conn, "b", None)
    assert store.status(conn, recorded) == ("pending", None)
    assert store.status(conn, plain) is None
    conn.execute("UPDATE calls SET recording = '/spool/b.wav' WHERE id = ?", (plain,))  # a CDR found it later
    assert store.status(conn, plain) == ("pending", None)
    assert [j.call_id for j in store.due_jobs(conn, 10)] == [recorded, plain]


def test_worker_trouble_backs_off_then_gives_up(ctrack_db):
    conn = db.connect(_db(ctrack_db))
    call = _call(conn, "a", "/spool/a.wav")
    for _ in range(store.MAX_ATTEMPTS - 1):
        db.write(conn, partial(store.claim, call_id=call))
        db.write(conn, partial(store.retry_later, call_id=call, reason="worker: died"))
        assert store.status(conn, call) == ("pending", "worker: died")
        assert store.due_jobs(conn, 10) == []  # not before its back-off
    db.write(conn, partial(store.claim, call_id=call))
    db.write(conn, partial(store.retry_later, call_id=call, reason="worker: died"))
    assert store.status(conn, call) == ("failed", f"worker: died (gave up after {store.MAX_ATTEMPTS} attempts)")


def test_search_finds_words(ctrack_db):
    conn = db.connect(_db(ctrack_db))
    call = _call(conn, "a", "/spool/a.wav")
    result = {
        "language": "en",
        "duration": 3.0,
        "seconds_taken": 0.1,
        "segments": [{"speaker": "caller", "start": 0.0, "end": 3.0, "text": "My water heater is leaking"}],
    }
    db.write(conn, partial(store.save, call_id=call, result=result))
    q = store.match_query('water "heater')
    rows = conn.execute("SELECT rowid FROM transcript_search WHERE transcript_search MATCH ?", (q,)).fetchall()
    assert [tuple(r) for r in rows] == [(call,)]
    assert conn.execute("SELECT transcript FROM calls WHERE id = ?", (call,)).fetchone()[0] == (
        "caller: My water heater is leaking"
    )


async def test_the_daemon_loop_transcribes_fails_and_skips(tmp_path, ctrack_db, call_files):
    path = _db(ctrack_db)
    conn = db.connect(path)
    good = _call(conn, "good", str(call_files))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    bad = _call(conn, "bad", str(empty))
    short = _call(conn, "short", str(call_files), talk=1)
    missed = _call(conn, "missed", str(call_files), disposition="missed", talk=0)
    cfg = config.build({"transcription.enabled": True, "transcription.model": model_folder()})
    services = Services(cfg, path)
    await services.writer.start()
    stop = asyncio.Event()
    loop_task = asyncio.create_task(run_transcription(services, stop, poll_seconds=0.1))
    try:
        for _ in range(600):
            await asyncio.sleep(0.1)
            if all(store.status(conn, c)[0] != "pending" for c in (good, bad, short, missed)):
                break
    finally:
        stop.set()
        await loop_task
        await services.writer.close()
    assert store.status(conn, good) == ("done", None)
    speakers = {s.speaker for s in store.segments(conn, good)}
    assert speakers == {"caller", "business"}
    assert "leave your message" in conn.execute("SELECT transcript FROM calls WHERE id = ?", (good,)).fetchone()[0]
    assert store.status(conn, bad) == ("failed", f"{empty}: empty file")
    assert store.status(conn, short) == ("skipped", "talked 1 s, under 5 s")
    assert store.status(conn, missed) == ("skipped", "not answered (missed)")


def test_off_costs_nothing():
    """The daemon imports no faster-whisper when transcription is off."""
    import subprocess
    import sys

    code = (
        "import sys, ctrack.daemon, ctrack.cli\n"
        "assert 'faster_whisper' not in sys.modules and 'ctranslate2' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ctrack_calls_search_finds_calls_by_transcript_words(ctrack_db):
    from click.testing import CliRunner

    from ctrack.cli import cli

    path = _db(ctrack_db)
    conn = db.connect(path)
    heater, other = _call(conn, "heater", "/spool/a.wav"), _call(conn, "other", "/spool/b.wav")
    for call, text in ((heater, "the water heater is leaking"), (other, "I need a water softener")):
        segment = {"speaker": "caller", "start": 0.0, "end": 1.0, "text": text}
        result = {"language": "en", "duration": 1.0, "seconds_taken": 0.1, "segments": [segment]}
        db.write(conn, partial(store.save, call_id=call, result=result))
    found = CliRunner().invoke(cli, ["--db", str(path), "calls", "--search", "Water heater", "--json"])
    assert found.exit_code == 0, found.output
    import json

    assert [c["uniqueid"] for c in json.loads(found.output)] == ["heater"]
    both = CliRunner().invoke(cli, ["--db", str(path), "calls", "--search", "water", "--json"])
    assert sorted(c["uniqueid"] for c in json.loads(both.output)) == ["heater", "other"]


def test_backfill_transcribes_recorded_calls_since(tmp_path, ctrack_db, call_files):
    import time

    from click.testing import CliRunner

    from ctrack.cli import cli

    path = _db(ctrack_db)
    conn = db.connect(path)
    new = _call(conn, "new", str(call_files))
    conn.execute("UPDATE calls SET started_at = ? WHERE id = ?", (time.time() - 86400, new))
    old = _call(conn, "old", str(call_files))  # 2001: before --since
    db.write(conn, partial(store.skip, call_id=old, reason="left alone"))
    ini = tmp_path / "ctrack.ini"
    ini.write_text(f"[ctrack]\ndatabase = {path}\n[transcription]\nmodel = {model_folder()}\n")
    out = CliRunner().invoke(cli, ["--config", str(ini), "transcribe", "--since", "30d"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == "1 done, 0 failed, 0 skipped"
    assert store.status(conn, new) == ("done", None)
    assert store.status(conn, old) == ("skipped", "left alone")
