#!/usr/bin/env bash
# demo.sh - ctrack end to end on a real Asterisk, on this machine (as root, Debian 12).
#
#   bash scripts/demo.sh            # everything is stopped and removed at the end
#   DEMO_KEEP=1 bash scripts/demo.sh   # leave the PBX instance 'demo' and the files
#
# Steps: provision + start the test PBX (instance 'demo', free ports on 127.0.0.1),
# create a throw-away ctrack database with two sources and two tracking numbers,
# render ctrack's dialplan and AMI user into the PBX, run the daemon (ctrack serve),
# place one real SIP call (SIPp) to +15035550101 and show what ctrack logged; then a
# website visit from a Google Ads click leases a DNI pool number (the request ctrack.js
# makes), a second real call dials that number, and ctrack credits it to the visit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
REPO=$PWD
CTRACK="$REPO/.venv/bin/ctrack"
PY="$REPO/.venv/bin/python"
PBX=(env PBX_ROOT="${CTRACK_PBX_ROOT:-/opt/ctrack-pbx}" PBX_INSTANCE=demo bash "$REPO/tests/pbx/testpbx.sh")

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
WORK=$(mktemp -d /tmp/ctrack-demo.XXXXXX)
DAEMON_PID=
cleanup() {
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
  fi
  if [ -z "${DEMO_KEEP:-}" ]; then
    "${PBX[@]}" clean >/dev/null 2>&1 || true
    rm -rf "$WORK"
  else
    echo "kept: $WORK and the PBX instance 'demo' (stop it: PBX_INSTANCE=demo bash tests/pbx/testpbx.sh clean)"
  fi
}
trap cleanup EXIT

say "test PBX: start (instance 'demo')"
if [ -n "${DEMO_KEEP:-}" ]; then watch=(); else watch=(PBX_WATCH_PID=$$ PBX_WATCH_CLEAN=1); fi
env "${watch[@]}" SIP_PORT=auto AMI_PORT=auto RTP_START=auto FASTAGI_PORT=auto SIPP_MEDIA_START=auto "${PBX[@]}" start
eval "$("${PBX[@]}" env | grep -E '^(AMI_PORT|SIP_PORT|FASTAGI_PORT|CDR_CSV|RECORDINGS_DIR)=')"
HTTP_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

say "ctrack: database, sources, numbers ($WORK)"
cat >"$WORK/ctrack.ini" <<EOF
[ctrack]
database = $WORK/ctrack.db
[business]
default_forward = Local/s@business-line
[fastagi]
listen = 127.0.0.1:$FASTAGI_PORT
[ami]
host = 127.0.0.1
port = $AMI_PORT
username = ctrack
secret = demo-$RANDOM$RANDOM
[cdr]
master_csv = $CDR_CSV
[recording]
directory = $RECORDINGS_DIR
[http]
listen = 127.0.0.1:$HTTP_PORT
[dni]
published_numbers = example.com=+15035550100
EOF
export CTRACK_CONFIG="$WORK/ctrack.ini"
"$CTRACK" init
"$CTRACK" source add Google --channel paid_search
"$CTRACK" source add Radio --channel radio
"$CTRACK" number add +15035550101 --source Google --forward Local/s@business-line
"$CTRACK" number add +15035550102 --source Radio
"$CTRACK" pool add website --site example.com --fallback +15035550199
"$CTRACK" number add +15035550111 --pool website
"$CTRACK" number add +15035550112 --pool website

say "PBX: ctrack's dialplan and AMI user"
"$CTRACK" dialplan render --out "$WORK/ctrack-test.conf"
"$CTRACK" dialplan render --manager --out "$WORK/ctrack-manager.conf"
"${PBX[@]}" dialplan "$WORK/ctrack-test.conf"
"${PBX[@]}" manager "$WORK/ctrack-manager.conf"

say "ctrack serve (FastAGI 127.0.0.1:$FASTAGI_PORT, HTTP 127.0.0.1:$HTTP_PORT)"
"$CTRACK" serve >"$WORK/serve.log" 2>&1 &
DAEMON_PID=$!
# ready when FastAGI listens and ctrack's AMI user is logged in
ready=
for _ in $(seq 100); do
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then cat "$WORK/serve.log" >&2; echo "ctrack serve exited" >&2; exit 1; fi
  if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $FASTAGI_PORT), 0.2).close()" 2>/dev/null \
     && "${PBX[@]}" cli 'manager show connected' | grep -q '^ *ctrack '; then ready=1; break; fi
  sleep 0.1
done
[ -n "$ready" ] || echo "WARNING: ctrack serve not ready after 10 s (log: $WORK/serve.log); the call still rings" >&2

say "a real call: +15035550101 from +15035550123 'Zoë Müller', 3 s of talk"
"${PBX[@]}" call +15035550101 15035550123 'Zoë Müller' 3 | grep -E '^(SIPP_RC|INVITE_STATUS|HANGUP_BY|CALL_SECONDS)='
# the call is logged once its Hangup/Cdr events are processed
logged=
for _ in $(seq 50); do
  if "$CTRACK" calls --json 2>/dev/null | grep -q '+15035550101'; then logged=1; break; fi
  sleep 0.1
done
[ -n "$logged" ] || echo "WARNING: the call is not in ctrack's log after 5 s (log: $WORK/serve.log)" >&2

say "ctrack number list"
"$CTRACK" number list
say "ctrack calls"
"$CTRACK" calls

say "a website visit: www.example.com/?gclid=DEMO-GCLID-1&utm_term=burst+pipe (the request ctrack.js makes)"
LEASE=$("$PY" - "$HTTP_PORT" <<'PYEOF'
import json, sys, urllib.request
body = {"site": "example.com", "page_url": "https://www.example.com/?gclid=DEMO-GCLID-1&utm_term=burst+pipe",
        "referrer": "https://www.google.com/", "params": {"gclid": "DEMO-GCLID-1", "utm_term": "burst pipe"}}
request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/dni/v1/lease", json.dumps(body).encode(),
                                 {"Origin": "https://www.example.com", "Content-Type": "text/plain"})
print(urllib.request.urlopen(request, timeout=5).read().decode())
PYEOF
)
echo "$LEASE"
NUMBER=$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["number"])' "$LEASE")

say "the visitor calls the number the page showed: $NUMBER from +15035550124, 3 s of talk"
"${PBX[@]}" call "$NUMBER" 15035550124 'Vi Visitor' 3 | grep -E '^(SIPP_RC|INVITE_STATUS|HANGUP_BY|CALL_SECONDS)='
logged=
for _ in $(seq 50); do
  if "$CTRACK" calls --json 2>/dev/null | grep -q "$NUMBER"; then logged=1; break; fi
  sleep 0.1
done
[ -n "$logged" ] || echo "WARNING: the call is not in ctrack's log after 5 s (log: $WORK/serve.log)" >&2

say "ctrack dni visits: the visit, its number and its call"
"$CTRACK" dni visits
say "the call, credited to the visit"
"$PY" - "$WORK/ctrack.db" "$NUMBER" <<'PYEOF'
import sqlite3, sys
columns = ("tracking_number", "caller_number", "source", "channel", "visit_id", "gclid", "keyword", "landing_page",
           "visit_ambiguous")
row = sqlite3.connect(sys.argv[1]).execute(
    f"SELECT {', '.join(columns)} FROM calls WHERE tracking_number = ?", (sys.argv[2],)).fetchone()
for name, value in zip(columns, row or ()):
    print(f"{name:16} {value}")
PYEOF
