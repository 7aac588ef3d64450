"""`ctrack transcribe`: one file's text, or the backlog of recorded calls since a time."""

from __future__ import annotations

import json
from functools import partial

import click

from ctrack.cli import cli
from ctrack.cli.common import Context, fail, parse_when, pass_ctx
from ctrack.leads import service as leads
from ctrack.store import db
from ctrack.transcription import store
from ctrack.transcription.rules import Policy, plain_text, skip_reason


@cli.command("transcribe")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--since", default=None, help="Transcribe the recorded calls from this time (e.g. 30d) that have no transcript."
)
@click.option("--json", "as_json", is_flag=True, help="FILE: print segments, language, duration and seconds taken.")
@pass_ctx
def transcribe(ctx: Context, file: str | None, since: str | None, as_json: bool) -> None:
    """Transcribe one recording (FILE), or the calls recorded since --since."""
    if (file is None) == (since is None):
        fail("give either FILE or --since", 2)
    try:
        from ctrack.transcription import engine
    except ImportError:
        fail("faster-whisper is not installed (pip install 'ctrack[transcribe]')")
    settings = ctx.config.transcription
    if file is not None:
        try:
            engine.check_audio(file)
            model = engine.load_model(settings)
            result = engine.transcribe_call(model, settings, file)
        except engine.AudioError as exc:
            fail(str(exc))
        click.echo(json.dumps(result.as_dict(), indent=2) if as_json else plain_text(result.segments))
        return
    assert since is not None
    conn = ctx.connect()
    db.write(conn, partial(store.enqueue_since, since=parse_when(since, ctx.config.ctrack.timezone)))
    policy = Policy(settings.answered_only, settings.min_talk_seconds)
    lead_settings = leads.settings_from(ctx.config)
    model = None
    counts = {"done": 0, "failed": 0, "skipped": 0}
    for job in store.due_jobs(conn, limit=1_000_000):
        if reason := skip_reason(policy, job.disposition, job.talk_seconds):
            db.write(conn, partial(store.skip, call_id=job.call_id, reason=reason))
            counts["skipped"] += 1
            continue
        db.write(conn, partial(store.claim, call_id=job.call_id))
        try:
            model = model or engine.load_model(settings)
            result = engine.transcribe_call(model, settings, job.recording)
        except engine.AudioError as exc:
            db.write(conn, partial(store.fail, call_id=job.call_id, reason=str(exc)))
            counts["failed"] += 1
            continue
        db.write(
            conn,
            partial(leads.save_transcript, call_id=job.call_id, result=result.as_dict(), settings=lead_settings),
        )
        counts["done"] += 1
    click.echo(", ".join(f"{n} {k}" for k, n in counts.items()))
