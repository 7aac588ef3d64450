"""`ctrack doctor`: what is wrong with this installation, one line per check."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import click

from ctrack.cli import cli
from ctrack.cli.common import Context, pass_ctx
from ctrack.store import db

# A probe as a monitoring check sends it: ctrack answers with its CTRACK_* variables at once
# and, as nothing reads them, counts a probe (not a route failure).
_DOCTOR_AGI = (
    b"agi_network: yes\nagi_network_script: route\nagi_request: agi://doctor/route\n"
    b"agi_channel: ctrack-doctor\nagi_uniqueid: ctrack-doctor\nagi_extension: s\n\n"
)


def _ctrack_on_fastagi(host: str, port: int) -> bool:
    """Does the listener answer a FastAGI request as ctrack does?"""
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(_DOCTOR_AGI)
            first = sock.makefile("rb").readline(200)
    except OSError:
        return False
    return first.startswith(b"SET VARIABLE CTRACK_")


def _ctrack_on_http(host: str, port: int) -> bool:
    """Does GET /healthz say ctrack?"""
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read(4096)).get("service") == "ctrack"
    except (OSError, ValueError, AttributeError):
        return False


def _event_times(host: str, port: int) -> tuple[bool, str]:
    """What the running daemon saw of Asterisk's event timestamps (manager.conf timestampevents)."""
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/metrics"
    seen = None
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            for line in response.read(1 << 20).decode("utf-8", "replace").splitlines():
                if line.startswith("ctrack_ami_event_timestamps "):
                    seen = float(line.split()[1])
    except (OSError, ValueError):
        pass
    if seen == 1:
        return True, "AMI events carry Asterisk's timestamps (timestampevents = yes): times to the millisecond"
    if seen == 0:
        return True, (
            "AMI events carry no timestamps (manager.conf timestampevents = no): ring and talk seconds come "
            "from each call's Dial CDR, to the second (keep cdr_manager on); set timestampevents = yes for more"
        )
    return (
        True,
        "event times: set timestampevents = yes in manager.conf [general] (no call seen by a running daemon yet)",
    )


def _listen_free(host: str, port: int, ours: Callable[[str, int], bool] | None = None) -> tuple[bool, str]:
    """The port is free, or taken by this install's running daemon (asked with `ours`)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError as exc:
            connect_to = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
            if ours is not None and ours(connect_to, port):
                return True, f"{host}:{port} is served by the running ctrack daemon"
            return False, f"{host}:{port} is taken by another program ({exc.strerror}); stop it or change the port"
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
        checks.append((True, f"database {db.describe(ctx.database_path)} is at schema v{db.schema_version(conn)}"))
    except db.SchemaError as exc:
        spooled = (
            "; daemons that cannot bring it to their version keep call records in their spools"
            if db.is_url(ctx.database_path)
            else ""
        )
        checks.append((False, f"{exc}{spooled}"))
    except db.DatabaseError as exc:
        if db.is_url(ctx.database_path):
            reason = " ".join(str(exc).split())  # libpq's reason spans lines
            checks.append((False, f"the center is down: {reason}; daemons route from their catalog copies"))
        else:
            checks.append((False, str(exc)))
    if db.is_url(ctx.database_path):
        from ctrack.catalog.snapshot import CatalogCopyError
        from ctrack.store.spool import catalog_copy_path, depth, load_catalog_copy, old_catalog_copy_path

        waiting = depth(config.spool_path)
        checks.append(
            (not waiting, f"spool {config.spool_path}: {waiting or 0} writes waiting for PostgreSQL to come back")
        )
        copy = catalog_copy_path(config.spool_path)
        if copy.is_file() or old_catalog_copy_path(copy).is_file():
            try:
                saved_copy, saved_at = load_catalog_copy(copy)
            except (CatalogCopyError, OSError) as exc:
                checks.append(
                    (False, f"catalog copy {copy} is unusable ({exc}): without the center, calls ring the fallback")
                )
            else:
                saved = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(saved_at))
                checks.append(
                    (
                        True,
                        f"catalog copy {copy} saved {saved} ({len(saved_copy.numbers)} numbers): "
                        "routing while the center is down",
                    )
                )
        else:
            checks.append((True, f"no catalog copy {copy} yet: a daemon started without the center rings the fallback"))
    if config.pbx.type == "asterisk":
        from ctrack.asterisk.ami import check as ami_check

        checks.append(_listen_free(*config.fastagi.listen, ours=_ctrack_on_fastagi))
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
    checks.append(_listen_free(*config.http.listen, ours=_ctrack_on_http))
    if config.pbx.type == "asterisk" and config.ami.enabled:
        host, port = config.http.listen
        checks.append(_event_times("127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host, port))
    if config.transcription.enabled:
        from ctrack.transcription.engine import check as transcription_check

        checks.append(transcription_check(config.transcription))
    for ok, message in checks:
        click.echo(f"{'ok  ' if ok else 'FAIL'}  {message}")
    sys.exit(0 if all(ok for ok, _ in checks) else 1)
