"""Where a call's recording is on disk, and whether it holds any audio at all."""

from __future__ import annotations

from pathlib import Path

WAV_HEADER_BYTES = 44  # MixMonitor leaves just the header when nothing was bridged


def usable_recording(directory: str | Path, name: str | None) -> str | None:
    """The recording's path on this host, or None when it is missing or only a WAV header.

    `name` may be the PBX's own absolute path (MIXMONITOR_FILENAME): only its file name is
    used, so the daemon can see the PBX's spool through a different mount point.
    """
    if not name:
        return None
    path = Path(directory) / Path(name).name
    try:
        size = path.stat().st_size
    except OSError:
        return None
    header = WAV_HEADER_BYTES if path.suffix.lower() == ".wav" else 0
    return str(path) if size > header else None


def find_recording(directory: str | Path, uniqueid: str) -> str | None:
    """The recording the dialplan made for uniqueid (its file name ends with -UNIQUEID.ext)."""
    try:
        candidates = sorted(Path(directory).glob(f"ctrack-*-{uniqueid}.*"))
    except OSError:
        return None
    for candidate in candidates:
        if found := usable_recording(directory, candidate.name):
            return found
    return None
