"""The route as a classic AGI script, for admins who run no daemon.

Asterisk starts it per call; it reads the database directly (plain sqlite3, read only) and
answers with the same decision as the FastAGI route. pyst2 reads the AGI environment and
the replies; the commands themselves are written with our own quoting, because pyst2 sends
values unescaped (a quote or line break in a value would inject an AGI command), and its
debug chatter on stderr is sent to /dev/null. Any failure sets nothing (or stops before
CTRACK_ROUTE_STATUS, the last variable): the dialplan then rings the business line.

It starts per call, so it imports as little as it can: the config loader, the pure route
decision, sqlite3 and the catalog reader, never the daemon's side (asyncio,
aiohttp, click, jinja2). tests/unit/test_agi_script.py keeps it that way.
"""

from __future__ import annotations

import os
import sys
import time
import uuid


def main() -> int:
    from asterisk.agi import AGI

    # A caller name in another charset (a Latin-1 trunk) must not cost the call its route.
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    out = sys.stdout.buffer
    with open(os.devnull, "w") as quiet:
        try:
            agi = AGI(stdin=sys.stdin, stdout=sys.stdout, stderr=quiet)
            variables = _decide(agi.env)
        except Exception as exc:  # the call must ring whatever happened here
            sys.stderr.write(f"ctrack-route: {type(exc).__name__}: {exc}\n")
            return 0
        from ctrack.asterisk.agi_protocol import set_variable

        try:
            for name, value in variables.items():
                out.write(set_variable(name, value))
                out.flush()
                agi.get_result()
        except Exception as exc:  # hangup or a refused command: CTRACK_ROUTE_STATUS stays unset
            sys.stderr.write(f"ctrack-route: {type(exc).__name__}: {exc}\n")
    return 0


def _decide(env: dict[str, str]) -> dict[str, str]:
    from ctrack import config as config_mod
    from ctrack.asterisk.agi_protocol import AgiRequest
    from ctrack.catalog.store import load_catalog
    from ctrack.route.rules import RouteSettings, decide
    from ctrack.store import db

    request = AgiRequest(env)
    config = config_mod.load()
    conn = db.connect(config.database_path, read_only=True)
    try:
        catalog = load_catalog(conn)
    finally:
        conn.close()
    did = request.args[0] if request.args and request.args[0] else request.extension
    decision = decide(
        did,
        request.uniqueid or uuid.uuid4().hex,
        time.time(),
        catalog,
        RouteSettings.from_config(config),
        caller=request.callerid,
    )
    return decision.variables()


if __name__ == "__main__":
    sys.exit(main())
