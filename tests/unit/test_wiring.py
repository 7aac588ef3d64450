"""The daemon's wiring is explicit: components get a Lifecycle (never the Daemon's privates),
the route handlers get the DNI service's lease lookup from the daemon, and the CDR reconcile
reads its settings from ctrack.ini in one place."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ctrack import config
from ctrack.calllog.reconcile import ReconcileSettings
from ctrack.daemon import Daemon
from ctrack.dni.http import DNI
from ctrack.lifecycle import Lifecycle
from ctrack.services import Services


async def test_lifecycle_drains_in_reverse_and_survives_a_failing_closer():
    lifecycle, closed = Lifecycle(), []

    async def close(name: str) -> None:
        closed.append(name)
        if name == "b":
            raise RuntimeError("boom")

    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    lifecycle.spawn(forever(), "forever")
    for name in "abc":
        lifecycle.on_stop(lambda name=name: close(name))
    lifecycle.listening("x", ("127.0.0.1", 1))
    await started.wait()
    await lifecycle.drain()
    assert closed == ["c", "b", "a"] and lifecycle.addresses == {"x": ("127.0.0.1", 1)}
    assert all(task.cancelled() for task in lifecycle._tasks)


def test_the_daemon_hands_the_dni_lookup_to_the_route(ctrack_db):
    daemon = Daemon(config.defaults(), ctrack_db)
    assert daemon.visit_for == daemon.app[DNI].visit_for
    assert not hasattr(Services, "visit_for") and not hasattr(daemon.services, "visit_for")


def test_reconcile_settings_come_from_the_config_once(tmp_path):
    ini = tmp_path / "ctrack.ini"
    ini.write_text(
        "[ctrack]\ndefault_region = GB\n[business]\nring_timeout = 17\n"
        f"[cdr]\nmaster_csv = {tmp_path / 'Master.csv'}\ntimezone = Europe/London\n"
        f"[recording]\ndirectory = {tmp_path / 'rec'}\n"
    )
    cfg = config.load(ini)
    assert ReconcileSettings.from_config(cfg) == ReconcileSettings(
        cdr_path=Path(tmp_path / "Master.csv"),
        cdr_timezone="Europe/London",
        ring_timeout=17,
        region="GB",
        recording_dir=cfg.recording_directory,
    )
