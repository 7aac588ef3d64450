"""`ctrack doctor`: what is wrong with this installation, one line per check."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import click

from ctrack.cli import cli
from ctrack.cli.common import Context, pass_ctx
from ctrack.store import db


def _listen_free(host: str, port: int) -> tuple[bool, str]:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError as exc:
            return False, f"{host}:{port} is taken ({exc.strerror}); is ctrack already running?"
    return True, f"{host}:{port} is free"


def _readable(label: str, path: str, kind: str) -> tuple[bool, str]:
    p = Path(path)
    if kind == "dir" and p.is_dir() and os.access(p, os.R_OK | os.X_OK):
        return True, f"{label} {p} is readable"
    if kind == "file" and p.is_file() and os.access(p, os.R_OK):
        return True, f"{label} {p} is readable"
    return False, f"{label} {p} is missing or not readable by this user"


@cli.command()
@pass_ctx
def doctor(ctx: Context) -> None:
    """Check the configuration, the database and the connections to the PBX."""
    config = ctx.config
    checks: list[tuple[bool, str]] = [(True, f"configuration {config.path or '(defaults)'} is valid")]
    try:
        conn = db.connect(ctx.database_path)
        db.ensure_current(conn)
        checks.append((True, f"database {ctx.database_path} is at schema v{db.schema_version(conn)}"))
    except db.DatabaseError as exc:
        checks.append((False, str(exc)))
    if config.pbx.type == "asterisk":
        from ctrack.asterisk.ami import check as ami_check

        checks.append(_listen_free(*config.fastagi.listen))
        if config.ami.enabled:
            checks.append(
                asyncio.run(
                    ami_check(
                        config.ami.host,
                        config.ami.port,
                        config.ami.username,
                        config.ami.secret,
                    )
                )
            )
        checks.append(_readable("CDR", config.cdr.master_csv, "file"))
        checks.append(_readable("recordings", config.recording.directory, "dir"))
    else:
        from ctrack.freeswitch.dialplan import config_problems
        from ctrack.freeswitch.inbound import check as esl_check

        checks += [(False, problem) for problem in config_problems(config)]
        checks.append(_listen_free(*config.freeswitch.outbound_listen))
        result = asyncio.run(
            esl_check(
                config.freeswitch.esl_host,
                config.freeswitch.esl_port,
                config.freeswitch.esl_password,
            )
        )
        checks.append((result.ok, result.message))
        checks.append(_readable("CDR", config.freeswitch.cdr_csv, "file"))
        checks.append(_readable("recordings", config.freeswitch.recording_directory, "dir"))
    checks.append(_listen_free(*config.http.listen))
    if config.transcription.enabled:
        from ctrack.transcription.engine import check as transcription_check

        checks.append(transcription_check(config.transcription))
    for ok, message in checks:
        click.echo(f"{'ok  ' if ok else 'FAIL'}  {message}")
    sys.exit(0 if all(ok for ok, _ in checks) else 1)
