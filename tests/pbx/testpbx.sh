#!/usr/bin/env bash
# testpbx.sh - a real Asterisk 22 (Debian sid packages) in a sid chroot on a
# Debian 12 host, for ctrack's integration tests and demo.
#
# Usage:  testpbx.sh setup      # debootstrap + apt install in the chroot (idempotent; cold 45-70 s)
#         testpbx.sh start      # setup if needed, write the configs, start, wait for AMI FullyBooted
#         testpbx.sh stop       # graceful 'core stop now', then TERM/KILL by PID
#         testpbx.sh restart    # stop + start, keeping the loaded dialplan/manager includes
#         testpbx.sh kill       # SIGKILL Asterisk (a crash: no hangups, no CDRs); 'restart' starts it again
#         testpbx.sh status     # exit 0 if running and AMI answers
#         testpbx.sh env        # the instance's connection settings as shell variables
#         testpbx.sh cli 'core show channels'
#         testpbx.sh dialplan FILE   # install FILE as ctrack-test.conf, 'dialplan reload'
#         testpbx.sh manager FILE    # install FILE as ctrack-manager.conf, 'manager reload'
#                                    # (FILE may be '-' for stdin, or --default)
#         testpbx.sh call DID [CALLER] [NAME] [TALK_SECONDS]      # answered call (SIPp)
#         testpbx.sh call-press1 DID [CALLER] [NAME] [TALK_SECONDS]  # answered call that
#                                      # presses 1 (RFC 2833) 2 s after the answer: an IVR menu
#         testpbx.sh config NAME.conf FILE|- [CLI-COMMAND]  # install a config file of the
#                                      # instance, then run CLI-COMMAND: e.g. queues.conf +
#                                      # 'module load app_queue.so', or ctrack-pjsip.conf (pjsip.conf
#                                      # includes it) + 'module reload res_pjsip.so'; a start keeps only ctrack-*.conf
#         testpbx.sh call-cancel DID [CALLER] [NAME] [RING_SECONDS]  # abandoned call: the
#                                      # caller waits for 180/183, rings RING_SECONDS, sends CANCEL
#         Both print KEY=VALUE lines: SIPP_RC, INVITE_STATUS (final SIP status of the
#         INVITE), HANGUP_BY (caller|pbx), CALL_SECONDS, MESSAGE_LOG (SIPp's SIP trace)...
#         testpbx.sh run CMD [ARG...] # run CMD inside the chroot (clean environment, as
#                                    # Asterisk's own; 'run env VAR=x CMD' to add variables)
#         testpbx.sh clean      # stop, then delete this (named) instance's directory
#         testpbx.sh instances  # list instances and whether they run
#         testpbx.sh destroy    # stop the default instance, delete the whole chroot
#
# Nothing is added to the host's apt sources and no host package is upgraded:
# only 'debootstrap' (a bookworm package) is installed on the host.  All
# traffic is on 127.0.0.1.
#
# Instances.  One chroot can run several independent Asterisks (one per test
# session, engineers working in parallel, the demo): PBX_INSTANCE=NAME gives
# each its own config/run/log/spool/db tree inside the chroot
# (/var/lib/ctrack-pbx/instances/NAME/...) and its own ports.  The instance
# 'default' uses Debian's standard paths (/etc/asterisk, /var/log/asterisk...),
# so 'chroot /opt/ctrack-pbx asterisk -r' attaches to it.  Each named instance
# also has its own AGI directory (astagidir, $I_STATE/agi-bin: classic AGI
# scripts under test; the default instance keeps /usr/share/asterisk/agi-bin).
# The ports an
# instance was started with are saved in its instance.env and reused by every
# later command on it (call, cli, env, restart); the environment wins.
#
# Dialplan:  extensions.conf has [from-trunk] (every DID: Goto(ctrack-inbound,
# ${EXTEN},1)), the business lines below, and '#include ctrack-test.conf': the
# dialplan under test, which must define [ctrack-inbound].  The default
# ctrack-test.conf sends every DID to Local/s@business-line.
#   [business-line]      s: answers at once, talks until the caller hangs up
#                        (or ${TESTPBX_TALK} seconds if that variable is set)
#                        talk-T: answers, hangs up itself after T seconds
#                        ring-R: rings R seconds, then as s;  ring-R-talk-T: both
#   [business-speaks]    s: answers, plays the prompt vm-intro, talks until hangup
#   [business-noanswer]  s: rings, never answers (missed call)
#   [business-busy]      s: busy
#   [sim-caller]         s: caller half of an AMI Originate to a Local channel
# Manager: manager.conf defines the harness's own AMI user (read/write all) and
# '#include ctrack-manager.conf' (empty by default) for the users under test.
#
# Knobs (environment):
#   PBX_ROOT=/opt/ctrack-pbx  PBX_INSTANCE=default  PBX_SUITE=sid  PBX_MIRROR=<host's apt mirror>
#   SIP_PORT=5060  AMI_PORT=5038  RTP_START=10000 RTP_END=10199  FASTAGI_PORT=4573
#   SIPP_MEDIA_START=16000 SIPP_MEDIA_END=16255   (a call takes 4 ports: SIPP_MEDIA_PORT..+3)
#     any of the ports may be 'auto': a free one (a free block) is picked at start
#   AMI_USER=testpbx AMI_SECRET=testpbx-secret  PBX_START_TIMEOUT=30
#   PBX_DIALPLAN=FILE  PBX_MANAGER=FILE   the includes to install at start
#                                         (start: default when unset; restart: kept)
#   SIPP_MEDIA_PORT=N   first port of one call's 4 (RTP, RTCP, SIP, SIPp control;
#                       default: a free slot in the SIPp block)
#   PBX_WATCH_PID=PID   start: stop the instance when PID exits (a test session
#                       killed hard must not leave Asterisk running)
#   PBX_WATCH_CLEAN=1   ... and delete the (named) instance's directory too
#   PBX_EXTRA_MODULES='func_foo.so app_bar.so'  more modules to load
#   PBX_TIMESTAMPEVENTS=no   manager.conf's timestampevents (default: yes; Asterisk's own default is no)
#   PBX_CDR_NEWCOLUMNS=yes   Master.csv gets peeraccount,linkedid,sequence too (default: no,
#                            as on a stock Asterisk: ...,uniqueid,userfield)
#   PBX_EXTRA_CONF_DIR=<dir>: its *.conf files are copied over the generated ones
#   PBX_PACKAGES: extra sid packages to install in the chroot.  The package list
#     is part of the setup stamp: 'setup' and 'start' install whatever is missing
#     in an already provisioned chroot (under a lock, so parallel sessions wait).
set -euo pipefail

SELF=$(readlink -f "$0")
PBX_ROOT=${PBX_ROOT:-/opt/ctrack-pbx}
PBX_ROOT=${PBX_ROOT%/}
PBX_INSTANCE=${PBX_INSTANCE:-default}
PBX_SUITE=${PBX_SUITE:-sid}
PBX_START_TIMEOUT=${PBX_START_TIMEOUT:-30}
PBX_PACKAGES=${PBX_PACKAGES:-}
PBX_EXTRA_MODULES=${PBX_EXTRA_MODULES:-}
STAMP="$PBX_ROOT/.pbx-fixture-installed"
PKG_STAMP="$PBX_ROOT/.pbx-fixture-packages"   # the package list the chroot has
SETUP_LOCK="$PBX_ROOT.setup.lock"             # beside the root: a cold setup recreates the root
# Asterisk + sounds (hello-world, tt-monkeys...) + SIPp (Debian calls it sip-tester)
# + what ctrack's classic AGI script (agi_scripts/ctrack-route.agi) needs at run time
# besides its own pure-Python code: python3 and phonenumbers (the tests copy ctrack,
# pyst2's 'asterisk' package and six into the instance; pyst2 is not packaged in Debian).
CHROOT_PACKAGES="asterisk asterisk-modules asterisk-core-sounds-en sip-tester python3 python3-phonenumbers $PBX_PACKAGES"
SCEN_DIR=/usr/local/share/ctrack-pbx   # inside the chroot

log() { printf '[testpbx %s %(%H:%M:%S)T] %s\n' "$PBX_INSTANCE" -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap/chroot)"
[[ "$PBX_INSTANCE" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "bad PBX_INSTANCE '$PBX_INSTANCE'"

# --- instance layout (paths inside the chroot) ------------------------------
if [ "$PBX_INSTANCE" = default ]; then
  I_ETC=/etc/asterisk I_RUN=/run/asterisk I_LOG=/var/log/asterisk I_SPOOL=/var/spool/asterisk
  I_LIB=/var/lib/asterisk I_CACHE=/var/cache/asterisk I_STATE=/var/lib/ctrack-pbx/default
  I_AGI=/usr/share/asterisk/agi-bin
else
  I_STATE=/var/lib/ctrack-pbx/instances/$PBX_INSTANCE
  I_ETC=$I_STATE/etc I_RUN=$I_STATE/run I_LOG=$I_STATE/log I_SPOOL=$I_STATE/spool
  I_LIB=$I_STATE/lib I_CACHE=$I_STATE/cache I_AGI=$I_STATE/agi-bin
fi
I_CALLS=$I_STATE/calls                        # SIPp scenarios and message logs
E="$PBX_ROOT$I_ETC"                           # host paths
STATE="$PBX_ROOT$I_STATE"
PIDFILE="$STATE/asterisk.pid"
INSTANCE_ENV="$STATE/instance.env"
CONSOLE_LOG="$PBX_ROOT$I_LOG/console.log"
ASTERISK=(asterisk -C "$I_ETC/asterisk.conf")

# Settings: the environment wins; then (except for a fresh 'start') what the
# instance was started with (instance.env); then the defaults.
SAVED_VARS="SIP_PORT AMI_PORT AMI_USER AMI_SECRET RTP_START RTP_END FASTAGI_PORT SIPP_MEDIA_START SIPP_MEDIA_END"
declare -A DEFAULTS=([SIP_PORT]=5060 [AMI_PORT]=5038 [AMI_USER]=testpbx [AMI_SECRET]=testpbx-secret
  [RTP_START]=10000 [RTP_END]=10199 [FASTAGI_PORT]=4573 [SIPP_MEDIA_START]=16000 [SIPP_MEDIA_END]=16255)
declare -A FROM_ENV=() SAVED=()
for _v in $SAVED_VARS; do [ -z "${!_v:-}" ] || FROM_ENV[$_v]=${!_v}; done
# apply_settings 1|0: use the saved instance.env (1) or not (0)
apply_settings() {
  local v k val
  SAVED=()
  if [ "$1" = 1 ] && [ -f "$INSTANCE_ENV" ]; then
    while IFS='=' read -r k val; do SAVED[$k]=$val; done <"$INSTANCE_ENV"
  fi
  for v in $SAVED_VARS; do
    if [ -n "${FROM_ENV[$v]:-}" ]; then printf -v "$v" '%s' "${FROM_ENV[$v]}"
    elif [ -n "${SAVED[$v]:-}" ]; then printf -v "$v" '%s' "${SAVED[$v]}"
    else printf -v "$v" '%s' "${DEFAULTS[$v]}"; fi
  done
  # a block given by its start alone ends where the default block would
  if [ -z "${FROM_ENV[RTP_END]:-}" ] && [ -n "${FROM_ENV[RTP_START]:-}" ] && [ "$RTP_START" != auto ]; then RTP_END=$((RTP_START + 199)); fi
  if [ -z "${FROM_ENV[SIPP_MEDIA_END]:-}" ] && [ -n "${FROM_ENV[SIPP_MEDIA_START]:-}" ] && [ "$SIPP_MEDIA_START" != auto ]; then SIPP_MEDIA_END=$((SIPP_MEDIA_START + 255)); fi
}
apply_settings 1

host_mirror() {
  if [ -n "${PBX_MIRROR:-}" ]; then echo "$PBX_MIRROR"; return; fi
  # The same Debian archive the host's apt already uses (no host name hard-coded).
  local m try
  for try in 1 2; do
    m=$(apt-get indextargets --format '$(REPO_URI)' 'Identifier: Packages' 'Origin: Debian' 2>/dev/null \
        | grep -v -- '-security' | head -n1) || true
    [ -n "$m" ] || [ "$try" = 2 ] || apt-get update -qq >&2
  done
  [ -n "$m" ] || die "cannot find the host's Debian mirror (run apt-get update, or set PBX_MIRROR)"
  echo "${m%/}"
}

in_root() { chroot "$PBX_ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"; }
ast_rx() { in_root "${ASTERISK[@]}" -rx "$*"; }

mount_proc() { mountpoint -q "$PBX_ROOT/proc" || mount -t proc proc "$PBX_ROOT/proc"; }
umount_all() {
  local m
  for m in dev/pts dev proc; do
    if mountpoint -q "$PBX_ROOT/$m" 2>/dev/null; then umount "$PBX_ROOT/$m" || umount -l "$PBX_ROOT/$m"; fi
  done
}

# --- setup: the chroot itself (shared by all instances) ---------------------
# Asterisk itself must not reach any resolver but loopback.  (pjsip still opens
# two unconnected DNS client sockets on 0.0.0.0/[::] ephemeral ports.)
chroot_net_files() {
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$PBX_ROOT/etc/resolv.conf"
  printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$(uname -n)" >"$PBX_ROOT/etc/hosts"
}

# the wanted package list, one line, sorted (what PKG_STAMP records)
wanted_packages() { printf '%s\n' $CHROOT_PACKAGES | sort -u | tr '\n' ' ' | sed 's/ $//'; }

# setup_needed: no chroot yet, or its package list is not the wanted one
setup_needed() { [ ! -f "$STAMP" ] || [ "$(cat "$PKG_STAMP" 2>/dev/null)" != "$(wanted_packages)" ]; }

# apt_install PKG...: apt-get install in the chroot (proc mounted, the host's DNS meanwhile)
apt_install() {
  local t; t=$(now)
  log "apt-get install (in chroot): $*"
  cp -L /etc/resolv.conf "$PBX_ROOT/etc/resolv.conf"   # apt inside the chroot needs DNS
  mount_proc
  trap umount_all EXIT
  # The archive served here can be a frozen snapshot whose sid Release is past
  # its Valid-Until date: do not let apt refuse it.
  in_root apt-get -o Acquire::Check-Valid-Until=false update -qq
  in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
      >"/tmp/testpbx-apt.log" 2>&1 \
    || { umount_all; chroot_net_files; tail -n 30 /tmp/testpbx-apt.log >&2; die "apt-get install in chroot failed (log: /tmp/testpbx-apt.log)"; }
  in_root apt-get clean
  umount_all; trap - EXIT
  chroot_net_files
  log "chroot apt-get install: $(since "$t") s"
}

# An existing chroot gets the packages added to CHROOT_PACKAGES since it was made.
ensure_packages() {
  local want p missing=()
  want=$(wanted_packages)
  [ "$(cat "$PKG_STAMP" 2>/dev/null)" = "$want" ] && return 0
  for p in $want; do
    in_root dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
  echo "$want" >"$PKG_STAMP"
}

do_setup() {
  # One setup at a time (parallel test sessions share the chroot); whoever waited
  # finds the work done.
  mkdir -p "$(dirname "$PBX_ROOT")"
  exec 9>"$SETUP_LOCK"
  if ! flock -n 9; then
    log "waiting for another setup of $PBX_ROOT"
    flock -w 900 9 || die "another setup of $PBX_ROOT holds $SETUP_LOCK"
  fi
  if [ -f "$STAMP" ]; then
    log "chroot already installed at $PBX_ROOT ($(cat "$STAMP"))"
    ensure_packages
    chroot_net_files; write_scenarios; exec 9>&-; return
  fi
  local t0 t
  t0=$(now)
  if ! command -v debootstrap >/dev/null; then
    t=$(now); log "installing debootstrap on the host (bookworm package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    log "host debootstrap install: $(since "$t") s"
  fi
  if [ ! -x "$PBX_ROOT/usr/bin/apt-get" ] || [ ! -f "$PBX_ROOT/.pbx-fixture-debootstrapped" ]; then
    umount_all
    if [ -e "$PBX_ROOT" ]; then
      case "$PBX_ROOT" in /|/opt|/usr|/var|/tmp|/home|/root|"") die "refusing to delete $PBX_ROOT";; esac
      log "removing partial $PBX_ROOT"; rm -rf --one-file-system "$PBX_ROOT"
    fi
    local mirror; mirror=$(host_mirror)
    t=$(now); log "debootstrap --variant=minbase $PBX_SUITE $PBX_ROOT $mirror"
    debootstrap --variant=minbase "$PBX_SUITE" "$PBX_ROOT" "$mirror" >"/tmp/testpbx-debootstrap.log" 2>&1 \
      || { tail -n 30 /tmp/testpbx-debootstrap.log >&2; die "debootstrap failed (log: /tmp/testpbx-debootstrap.log)"; }
    touch "$PBX_ROOT/.pbx-fixture-debootstrapped"
    log "debootstrap: $(since "$t") s"
  fi
  # never start services from maintainer scripts inside the chroot
  printf '#!/bin/sh\nexit 101\n' >"$PBX_ROOT/usr/sbin/policy-rc.d"; chmod 755 "$PBX_ROOT/usr/sbin/policy-rc.d"
  # shellcheck disable=SC2046
  apt_install $(wanted_packages)
  [ -d "$PBX_ROOT/etc/asterisk.dist" ] || cp -a "$PBX_ROOT/etc/asterisk" "$PBX_ROOT/etc/asterisk.dist"
  write_scenarios
  wanted_packages >"$PKG_STAMP"
  in_root asterisk -V >"$STAMP"
  exec 9>&-
  log "setup done in $(since "$t0") s; chroot size $(du -sxh "$PBX_ROOT" | cut -f1)"
}

# --- ports -------------------------------------------------------------------
declare -A BOUND=()
load_bound_ports() {   # every TCP/UDP port bound on the host (any address)
  BOUND=()
  local h
  while read -r h; do BOUND[$((16#$h))]=1; done < <(
    awk 'FNR > 1 {n = split($2, a, ":"); print a[n]}' /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 2>/dev/null | sort -u)
}
# port_busy tcp|udp PORT: is something already bound to it (any address)?
port_busy() {
  local hex files
  hex=$(printf '%04X' "$2")
  if [ "$1" = tcp ]; then files="/proc/net/tcp /proc/net/tcp6"; else files="/proc/net/udp /proc/net/udp6"; fi
  # shellcheck disable=SC2086
  awk -v h=":$hex" -v proto="$1" 'FNR > 1 && substr($2, length($2) - 4) == h && (proto == "udp" || $4 == "0A") {f = 1} END {exit !f}' $files 2>/dev/null
}
# pick_block COUNT LO HI: first port of COUNT consecutive free ports in [LO, HI), random
# start; also avoids the ports other instances of this chroot have reserved.
pick_block() {
  local count=$1 lo=$2 hi=$3 try start p ok
  for try in $(seq 200); do
    start=$(( lo + (RANDOM * 32768 + RANDOM) % (hi - lo - count) ))
    start=$(( start - start % 2 ))
    ok=1
    for (( p = start; p < start + count; p++ )); do
      if [ -n "${BOUND[$p]:-}" ]; then ok=0; break; fi
    done
    [ "$ok" = 1 ] && { echo "$start"; return 0; }
  done
  die "no block of $count free ports in [$lo, $hi)"
}
reserve() { local p; for (( p = $1; p < $1 + $2; p++ )); do BOUND[$p]=1; done; }
reserve_other_instances() {  # ports saved by other instances: not bound yet, but taken
  local f k v
  for f in "$PBX_ROOT"/var/lib/ctrack-pbx/*/instance.env "$PBX_ROOT"/var/lib/ctrack-pbx/instances/*/instance.env; do
    [ -f "$f" ] && [ "$f" != "$INSTANCE_ENV" ] || continue
    local -A o=()
    while IFS='=' read -r k v; do o[$k]=$v; done <"$f"
    for k in SIP_PORT AMI_PORT FASTAGI_PORT; do [[ "${o[$k]:-}" =~ ^[0-9]+$ ]] && BOUND[${o[$k]}]=1; done
    [[ "${o[RTP_START]:-}${o[RTP_END]:-}" =~ ^[0-9]+$ ]] && reserve "${o[RTP_START]}" $(( o[RTP_END] - o[RTP_START] + 1 ))
    [[ "${o[SIPP_MEDIA_START]:-}${o[SIPP_MEDIA_END]:-}" =~ ^[0-9]+$ ]] && reserve "${o[SIPP_MEDIA_START]}" $(( o[SIPP_MEDIA_END] - o[SIPP_MEDIA_START] + 1 ))
  done
  return 0
}
resolve_ports() {
  load_bound_ports; reserve_other_instances
  local b
  # single ports: 20000-23999; RTP blocks: 24000-31999; SIPp media: 12000-19999
  # (all below the kernel's ephemeral range, 32768+, so no client socket takes them)
  if [ "$SIP_PORT" = auto ]; then SIP_PORT=$(pick_block 1 20000 24000); reserve "$SIP_PORT" 1; fi
  if [ "$AMI_PORT" = auto ]; then AMI_PORT=$(pick_block 1 20000 24000); reserve "$AMI_PORT" 1; fi
  if [ "$FASTAGI_PORT" = auto ]; then FASTAGI_PORT=$(pick_block 1 20000 24000); reserve "$FASTAGI_PORT" 1; fi
  if [ "$RTP_START" = auto ]; then
    b=$(pick_block 200 24000 32000); RTP_START=$b; RTP_END=$((b + 199)); reserve "$b" 200
  fi
  if [ "$SIPP_MEDIA_START" = auto ]; then
    b=$(pick_block 256 12000 20000); SIPP_MEDIA_START=$b; SIPP_MEDIA_END=$((b + 255)); reserve "$b" 256
  fi
  local v
  for v in SIP_PORT AMI_PORT FASTAGI_PORT RTP_START RTP_END SIPP_MEDIA_START SIPP_MEDIA_END; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v='${!v}' is not a port number (or 'auto')"
  done
}
save_instance_env() {
  mkdir -p "$STATE"
  local v
  for v in $SAVED_VARS; do printf '%s=%s\n' "$v" "${!v}"; done >"$INSTANCE_ENV.tmp"
  mv "$INSTANCE_ENV.tmp" "$INSTANCE_ENV"
}

# --- configs -------------------------------------------------------------------
# write_configs [keep]: 'keep' leaves the existing ctrack-*.conf includes alone
write_configs() {
  local keep=${1:-}
  mkdir -p "$E" "$PBX_ROOT$I_RUN" "$PBX_ROOT$I_SPOOL/monitor" "$PBX_ROOT$I_SPOOL/tmp" \
    "$PBX_ROOT$I_LOG/cdr-csv" "$PBX_ROOT$I_LIB" "$PBX_ROOT$I_CACHE" "$STATE" "$PBX_ROOT$I_CALLS" \
    "$PBX_ROOT$I_AGI"
  # Replace the ~100 sample configs with a small, explicit set.
  find "$E" -mindepth 1 -maxdepth 1 \( -name '*.conf' -o -name '*.ael' -o -name '*.lua' \) \
    ! -name 'ctrack-*.conf' -delete

  # NB: Debian's sample says '[directories](!)': '(!)' makes it a template, so
  # those paths are silently ignored (compiled-in defaults apply).
  cat >"$E/asterisk.conf" <<EOF
[directories]
astcachedir => $I_CACHE
astetcdir => $I_ETC
astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules
astvarlibdir => $I_LIB
astdbdir => $I_LIB
astkeydir => $I_LIB
astdatadir => /usr/share/asterisk
astagidir => $I_AGI
astspooldir => $I_SPOOL
astrundir => $I_RUN
astlogdir => $I_LOG
astsbindir => /usr/sbin

[options]
verbose = 3
debug = 0
documentation_language = en_US
; Without this, MixMonitor writes only while frames flow: a caller that sends
; no RTP + a callee in Wait() gives a file shorter than the bridge.  Real
; trunks/phones send RTP continuously, so this mimics them.
transmit_silence = yes
EOF

  {
    cat <<'EOF'
; Lean, explicit module list (autoload=yes loads ~350 modules and opens
; extra listeners such as IAX2 on 0.0.0.0:4569).
[modules]
autoload = no
load = res_timing_timerfd.so
load = res_sorcery_config.so
load = res_sorcery_memory.so
load = res_sorcery_astdb.so
load = res_pjproject.so
load = res_pjsip.so
load = res_pjsip_session.so
load = res_pjsip_pubsub.so
load = res_pjsip_sdp_rtp.so
load = res_pjsip_endpoint_identifier_ip.so
load = res_pjsip_caller_id.so
load = res_pjsip_logger.so
load = res_rtp_asterisk.so
load = chan_pjsip.so
load = res_speech.so            ; res_agi.so needs ast_speech_* from it (else: undefined symbol ast_speech_change)
load = res_agi.so
load = pbx_config.so
load = app_dial.so
load = app_playback.so
load = app_mixmonitor.so
load = app_exec.so
load = app_verbose.so
load = app_echo.so
load = app_milliwatt.so
load = app_stack.so
load = app_userevent.so
load = app_senddtmf.so
load = func_callerid.so
load = func_cdr.so
load = func_channel.so
load = func_cut.so
load = func_logic.so
load = func_strings.so
load = func_global.so
load = func_timeout.so
load = bridge_simple.so
load = bridge_native_rtp.so
load = bridge_builtin_features.so
load = codec_ulaw.so
load = codec_alaw.so
load = codec_gsm.so
load = codec_a_mu.so
load = codec_resample.so
load = format_wav.so
load = format_gsm.so
load = format_pcm.so
load = format_sln.so
load = cdr_manager.so
load = cdr_csv.so
EOF
    local m
    for m in $PBX_EXTRA_MODULES; do printf 'load = %s\n' "$m"; done
  } >"$E/modules.conf"

  cat >"$E/logger.conf" <<'EOF'
[general]
dateformat = %F %T.%3q
[logfiles]
messages.log => notice,warning,error,verbose
console => notice,warning,error
EOF

  cat >"$E/manager.conf" <<EOF
[general]
enabled = yes
port = $AMI_PORT
bindaddr = 127.0.0.1
displayconnects = no
timestampevents = ${PBX_TIMESTAMPEVENTS:-yes}

; the harness's own user: every event, every action
[$AMI_USER]
secret = $AMI_SECRET
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = all
write = all
writetimeout = 5000

; users under test (ctrack's, with its eventfilter): 'testpbx.sh manager FILE'
#include ctrack-manager.conf
EOF

  cat >"$E/cdr.conf" <<EOF
[general]
enable = yes
unanswered = yes
congestion = yes
batch = no
[csv]
usegmtime = yes
loguniqueid = yes
loguserfield = yes
newcdrcolumns = ${PBX_CDR_NEWCOLUMNS:-no}
EOF
  printf '[general]\nenabled = yes\n' >"$E/cdr_manager.conf"

  cat >"$E/rtp.conf" <<EOF
[general]
rtpstart = $RTP_START
rtpend = $RTP_END
EOF

  cat >"$E/pjsip.conf" <<EOF
[global]
type = global
user_agent = ctrack-test-pbx
endpoint_identifier_order = ip,username,anonymous

[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:$SIP_PORT

; the "carrier trunk": any INVITE from 127.0.0.1 lands in [from-trunk]
[trunk]
type = endpoint
transport = transport-udp
context = from-trunk
disallow = all
allow = ulaw,alaw,gsm
direct_media = no
rtp_symmetric = yes
media_address = 127.0.0.1
bind_rtp_to_media_address = yes

[trunk-identify]
type = identify
endpoint = trunk
match = 127.0.0.1

; endpoints under test (SIPp agents, phones): 'testpbx.sh config ctrack-pjsip.conf FILE'
#tryinclude ctrack-pjsip.conf
EOF

  # No [globals] here on purpose: Asterisk reads only the FIRST [globals]
  # section of extensions.conf, so one here would hide the include's.
  cat >"$E/extensions.conf" <<'EOF'
[general]
static = yes
writeprotect = yes
clearglobalvars = no

; Every inbound DID from the "carrier" goes to the dialplan under test.
[from-trunk]
exten => _X.,1,Goto(ctrack-inbound,${EXTEN},1)
exten => _+X.,1,Goto(ctrack-inbound,${EXTEN},1)

; The business line.  s: answers at once and talks until the caller hangs up
; (or ${TESTPBX_TALK} seconds when set, e.g. inherited as __TESTPBX_TALK).
; talk-T: answers and hangs up itself after T seconds.  ring-R: rings R
; seconds before answering.  ring-R-talk-T: both.
[business-line]
exten => s,1,Set(TALK=${IF($["${TESTPBX_TALK}" = ""]?3600:${TESTPBX_TALK})})
 same => n(answer),Answer()
 same => n,Wait(${TALK})
 same => n,Hangup()
;  (Asterisk drops "-" from patterns but not from the dialed name, so _talk.
;  matches talk-10; [n] because a bare n means [2-9] in a pattern)
exten => _talk.,1,Set(TALK=${EXTEN:5})
 same => n,Goto(s,answer)
exten => _ri[n]g.,1,Set(RING=${CUT(EXTEN,-,2)})
 same => n,Set(TALK=${CUT(EXTEN,-,4)})
 same => n,Set(TALK=${IF($["${TALK}" = ""]?3600:${TALK})})
 same => n,Ringing()
 same => n,Wait(${RING})
 same => n,Goto(s,answer)

; A business line that answers and speaks Asterisk's own prompts (real 8 kHz speech),
; then talks until the caller hangs up: the known words of a transcript test.
[business-speaks]
exten => s,1,Answer()
 same => n,Wait(1)
 same => n,Playback(vm-intro)
 same => n,Wait(3600)
 same => n,Hangup()

; A business line that rings and never answers (missed call).
[business-noanswer]
exten => s,1,Ringing()
 same => n,Wait(3600)
 same => n,Hangup()

; A busy business line.
[business-busy]
exten => s,1,Busy(5)

; Caller side of an AMI Originate (Local ;1 half): says something, then waits.
[sim-caller]
exten => s,1,Playback(tt-monkeys)
 same => n,Wait(30)
 same => n,Hangup()

; The dialplan under test: must define [ctrack-inbound].
#include ctrack-test.conf
EOF

  if [ -n "${PBX_DIALPLAN:-}" ] && [ "$PBX_DIALPLAN" != --default ]; then
    install_include "$PBX_DIALPLAN" ctrack-test.conf
  elif [ -z "$keep" ] || [ ! -f "$E/ctrack-test.conf" ]; then
    install_include --default ctrack-test.conf
  fi
  if [ -n "${PBX_MANAGER:-}" ]; then
    install_include "$PBX_MANAGER" ctrack-manager.conf
  elif [ -z "$keep" ] || [ ! -f "$E/ctrack-manager.conf" ]; then
    install_include --default ctrack-manager.conf
  fi

  # Core reads these at start; empty files silence 'Unable to load config file' errors.
  local f
  for f in acl ccss cel features pjproject udptl; do : >"$E/$f.conf"; done
  cat >"$E/indications.conf" <<'EOF'
[general]
country = us
[us]
description = United States / North America
ringcadence = 2000,4000
dial = 350+440
busy = 480+620/500,0/500
ring = 440+480/2000,0/4000
congestion = 480+620/250,0/250
callwaiting = 440/300,0/10000
dialrecall = !350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440
record = 1400/500,0/15000
info = !950/330,!1400/330,!1800/330,0
stutter = !350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440
EOF

  if [ -n "${PBX_EXTRA_CONF_DIR:-}" ] && [ -d "$PBX_EXTRA_CONF_DIR" ]; then
    cp -f "$PBX_EXTRA_CONF_DIR"/*.conf "$E/" 2>/dev/null || true
  fi
}

default_dialplan() {
  cat <<'EOF'
; Default dialplan under test (tests/pbx/testpbx.sh): every DID rings the
; business line, which answers at once.  Replaced by 'testpbx.sh dialplan FILE'.
[ctrack-inbound]
exten => _X.,1,NoOp(testpbx default inbound did=${EXTEN} cid=${CALLERID(all)})
 same => n,Dial(Local/s@business-line,30)
 ; a meaningful SIP answer for the carrier (a bare Hangup() sends 603 Decline)
 same => n,ExecIf($["${DIALSTATUS}" = "BUSY"]?Hangup(17))
 same => n,ExecIf($["${DIALSTATUS}" = "NOANSWER"]?Hangup(19))
 same => n,ExecIf($["${DIALSTATUS}" = "CHANUNAVAIL" | "${DIALSTATUS}" = "CONGESTION"]?Hangup(34))
 same => n,Hangup()
exten => _+X.,1,Goto(${EXTEN:1},1)
EOF
}

# install_include SRC NAME: copy SRC (a file, '-' for stdin, or --default) to $E/NAME atomically
install_include() {
  local src=$1 name=$2
  mkdir -p "$E"
  if [ "$src" = --default ]; then
    case "$name" in ctrack-test.conf) default_dialplan;; *) printf '; AMI users under test\n';; esac >"$E/.$name.tmp"
  elif [ "$src" = - ]; then cat >"$E/.$name.tmp"; else
    [ -f "$src" ] || die "no such file: $src"; cat -- "$src" >"$E/.$name.tmp"; fi
  mv -f "$E/.$name.tmp" "$E/$name"
}

write_scenarios() {
  mkdir -p "$PBX_ROOT$SCEN_DIR"
  # Inbound "carrier" call: -s DID, -key caller NUMBER, -key caller_name NAME.
  # Plays /usr/share/sip-tester/g711a.pcap (7 s of PCMA) as caller audio, then
  # waits for the PBX's BYE; hangs up itself after @TALK_MS@ ms.  Failure
  # answers (busy / no answer / unavailable) are ACKed and end the call.
  cat >"$PBX_ROOT$SCEN_DIR/.uac.xml.in.$$" <<'EOF'
<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="ctrack-uac">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[caller_name]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:[caller]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="404" optional="true" next="failed"/>
  <recv response="480" optional="true" next="failed"/>
  <recv response="486" optional="true" next="failed"/>
  <recv response="487" optional="true" next="failed"/>
  <recv response="500" optional="true" next="failed"/>
  <recv response="503" optional="true" next="failed"/>
  <recv response="603" optional="true" next="failed"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[caller_name]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:[caller]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/></action></nop>
  <recv request="BYE" timeout="@TALK_MS@" ontimeout="caller_bye"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <nop next="done"/>
  <label id="caller_bye"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[caller_name]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:[caller]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <nop next="done"/>
  <label id="failed"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: "[caller_name]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <label id="done"/>
</scenario>
EOF

  # The same caller, who presses 1 (RFC 2833 telephone-event, SIPp's dtmf_2833_1.pcap)
  # 2 s after the answer (an IVR menu), then plays its audio and talks as above.
  sed -e 's|m=audio \[media_port\] RTP/AVP 8$|m=audio [media_port] RTP/AVP 8 101|' \
      -e 's|a=rtpmap:8 PCMA/8000$|a=rtpmap:8 PCMA/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-15|' \
      -e 's|<nop><action><exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/></action></nop>|<pause milliseconds="2000"/>\n  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_1.pcap"/></action></nop>\n  <pause milliseconds="1000"/>\n  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/></action></nop>|' \
      -e 's|name="ctrack-uac"|name="ctrack-uac-press1"|' \
      "$PBX_ROOT$SCEN_DIR/.uac.xml.in.$$" >"$PBX_ROOT$SCEN_DIR/.uac-press1.xml.in.$$"

  # Abandoned call: the caller waits for ringing (180 or 183), rings for
  # @RING_MS@ ms, then sends CANCEL; the PBX answers 200 (to the CANCEL) and
  # 487 (to the INVITE), which is ACKed.  The CANCEL reuses the INVITE's Via
  # (branch), as RFC 3261 9.1 requires: [last_Via:] of the last provisional
  # response is the INVITE's Via.  A rejection (404, 486, 603...) at any time is
  # ACKed and ends the call; an answer (200) is unexpected: SIPp ACKs, sends
  # BYE and fails the call (exit code 1).
  # SIPp 3.8 quirks this layout works around: an optional <recv> right before
  # a <pause> is refused; a message matched by an optional="global" <recv>
  # without 'next' during a pause is absorbed, but one that arrives in the
  # instant between a jump and the start of the pause stalls the call (until
  # -timeout); the absorbing <recv>s come before the mandatory 100 Trying
  # (Asterisk sends it at once) so that the forward search, which stops at
  # the first match, sees the 'next="ringing"' ones first.
  cat >"$PBX_ROOT$SCEN_DIR/.uac-cancel.xml.in.$$" <<'EOF'
<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="ctrack-uac-cancel">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[caller_name]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:[caller]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <!-- absorb further provisional responses during the ringing pause -->
  <recv response="180" optional="global"/>
  <recv response="183" optional="global"/>
  <recv response="100"/>
  <recv response="404" optional="global" next="failed"/>
  <recv response="480" optional="global" next="failed"/>
  <recv response="486" optional="global" next="failed"/>
  <recv response="500" optional="global" next="failed"/>
  <recv response="503" optional="global" next="failed"/>
  <recv response="603" optional="global" next="failed"/>
  <recv response="180" optional="true" next="ringing"/>
  <recv response="183" next="ringing"/>
  <label id="ringing"/>
  <pause milliseconds="@RING_MS@"/>
  <send>
    <![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: "[caller_name]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
  <recv response="487"/>
  <label id="failed"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: "[caller_name]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
</scenario>
EOF
  # atomic: instances share these templates, and a call may be reading one right now
  mv -f "$PBX_ROOT$SCEN_DIR/.uac.xml.in.$$" "$PBX_ROOT$SCEN_DIR/uac.xml.in"
  mv -f "$PBX_ROOT$SCEN_DIR/.uac-cancel.xml.in.$$" "$PBX_ROOT$SCEN_DIR/uac-cancel.xml.in"
  mv -f "$PBX_ROOT$SCEN_DIR/.uac-press1.xml.in.$$" "$PBX_ROOT$SCEN_DIR/uac-press1.xml.in"
}

# --- calls -----------------------------------------------------------------------
# Parses a SIPp message log: the final status of the INVITE and who sent the BYE.
summarize_messages() {
  awk '
    { sub(/\r$/, "") }
    /^-+ / { if (dir != "") flush(); dir = ""; first = ""; cseq = ""; next }
    /message sent/ { dir = "sent"; next }
    /message received/ { dir = "recv"; next }
    dir != "" && first == "" && NF > 0 { first = $0; next }
    dir != "" && tolower($1) == "cseq:" { cseq = $3 }
    function flush() {
      if (first ~ /^SIP\/2\.0 [0-9][0-9][0-9]/ && dir == "recv" && cseq == "INVITE") {
        split(first, a, " "); if (a[2] + 0 >= 200) status = a[2]
      }
      if (first ~ /^BYE /) bye = (dir == "sent" ? "caller" : "pbx")
    }
    END { if (dir != "") flush(); print "INVITE_STATUS=" status; print "HANGUP_BY=" bye }
  ' "$1"
}

# run_sipp SCENARIO.in PLACEHOLDER MS DID NUM NAME TIMEOUT_S
run_sipp() {
  local tmpl=$1 ph=$2 ms=$3 did=$4 num=$5 name=$6 tmo=$7
  pid_alive || die "asterisk is not running (instance $PBX_INSTANCE)"
  [[ "$did" =~ ^\+?[0-9A-Za-z*#_.-]+$ ]] || die "bad DID '$did'"
  [[ "$num" =~ ^\+?[0-9A-Za-z*#_.-]*$ ]] || die "bad caller number '$num'"
  case "$name" in *$'\n'*|*$'\r'*) die "caller name may not contain a line break (SIP cannot carry one)";; esac
  # the From display name is a SIP quoted-string: a backslash or a quote goes as a quoted-pair
  name=${name//\\/\\\\}; name=${name//\"/\\\"}
  [ -f "$PBX_ROOT$SCEN_DIR/$tmpl" ] || write_scenarios
  local mp=${SIPP_MEDIA_PORT:-}
  if [ -z "$mp" ]; then   # a free media slot in the SIPp block
    load_bound_ports
    local slots=$(( (SIPP_MEDIA_END - SIPP_MEDIA_START + 1) / 4 )) i try
    for try in $(seq 100); do
      i=$(( RANDOM % slots )); mp=$(( SIPP_MEDIA_START + 4 * i ))
      [ -z "${BOUND[$mp]:-}${BOUND[$((mp + 1))]:-}${BOUND[$((mp + 2))]:-}${BOUND[$((mp + 3))]:-}" ] && break
    done
  fi
  mkdir -p "$PBX_ROOT$I_CALLS"
  local tag; tag="$(date +%H%M%S)-$$-$RANDOM"
  local base="$I_CALLS/$tag"        # inside the chroot
  sed "s/@$ph@/$ms/" "$PBX_ROOT$SCEN_DIR/$tmpl" >"$PBX_ROOT$base.xml"
  local rc=0 t0; t0=$(now)
  # A call's slot is 4 ports: mp = RTP (the SDP's media port; SIPp sends the pcap
  # from it through a raw socket), mp+1 = RTCP, mp+2 = SIP, mp+3 = SIPp's control
  # socket (by default 0.0.0.0:8888 and SIP 5060, shared by parallel SIPps).
  in_root sipp -sf "$base.xml" -s "$did" -key caller "$num" -key caller_name "$name" \
    -i 127.0.0.1 -mi 127.0.0.1 -mp "$mp" -p "$((mp + 2))" -ci 127.0.0.1 -cp "$((mp + 3))" -m 1 -timeout "${tmo}s" -timeout_error -nostdin \
    -trace_msg -message_file "$base.msg.log" -trace_err -error_file "$base.err.log" \
    "127.0.0.1:$SIP_PORT" >"$PBX_ROOT$base.out" 2>&1 || rc=$?
  rm -f "$PBX_ROOT$base.xml"
  echo "SIPP_RC=$rc"
  [ -f "$PBX_ROOT$base.msg.log" ] && summarize_messages "$PBX_ROOT$base.msg.log" || printf 'INVITE_STATUS=\nHANGUP_BY=\n'
  echo "CALL_SECONDS=$(since "$t0")"
  echo "MEDIA_PORT=$mp"
  echo "MESSAGE_LOG=$PBX_ROOT$base.msg.log"
  echo "SIPP_OUTPUT=$PBX_ROOT$base.out"
  return "$rc"
}

# call DID [CALLER_NUM] [CALLER_NAME] [MAX_TALK_SECONDS]
do_call() {
  local did=${1:?DID} num=${2:-15035550123} name=${3-Test Caller} talk=${4:-30}
  [[ "$talk" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad talk seconds '$talk'"
  local ms; ms=$(awk -v s="$talk" 'BEGIN{printf "%d", s * 1000}')
  [ "$ms" -gt 0 ] || die "talk seconds must be more than 0 (SIPp reads a 0 timeout as none)"
  run_sipp uac.xml.in TALK_MS "$ms" "$did" "$num" "$name" "$(awk -v s="$talk" 'BEGIN{printf "%d", s + 60}')"
}

# call-press1 DID [CALLER_NUM] [CALLER_NAME] [MAX_TALK_SECONDS]: answered, presses 1 after 2 s
do_call_press1() {
  local did=${1:?DID} num=${2:-15035550123} name=${3-Test Caller} talk=${4:-30}
  [[ "$talk" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad talk seconds '$talk'"
  local ms; ms=$(awk -v s="$talk" 'BEGIN{printf "%d", s * 1000}')
  [ "$ms" -gt 0 ] || die "talk seconds must be more than 0 (SIPp reads a 0 timeout as none)"
  [ -f "$PBX_ROOT$SCEN_DIR/uac-press1.xml.in" ] || write_scenarios
  run_sipp uac-press1.xml.in TALK_MS "$ms" "$did" "$num" "$name" "$(awk -v s="$talk" 'BEGIN{printf "%d", s + 60}')"
}

# call-cancel DID [CALLER_NUM] [CALLER_NAME] [RING_SECONDS]
do_call_cancel() {
  local did=${1:?DID} num=${2:-15035550123} name=${3-Test Caller} ring=${4:-3}
  [[ "$ring" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad ring seconds '$ring'"
  local ms; ms=$(awk -v s="$ring" 'BEGIN{printf "%d", s * 1000}')
  run_sipp uac-cancel.xml.in RING_MS "$ms" "$did" "$num" "$name" "$(awk -v s="$ring" 'BEGIN{printf "%d", s + 30}')"
}

# --- life cycle -----------------------------------------------------------------
# our PID is alive and still Asterisk (guards against a recycled PID)
pid_alive() {
  local pid comm
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE"); comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  case "$comm" in asterisk|chroot|env|setsid) return 0;; *) return 1;; esac
}

ami_ping() {
  # Log in over AMI with bash's /dev/tcp and wait for 'Event: FullyBooted'.
  # A bare 'Response: Success' is not enough: the manager accepts logins
  # ~20-50 ms before the last modules are loaded, and a CLI 'core stop now'
  # sent in that window is ignored.
  local reply
  reply=$(timeout 3 bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$AMI_PORT"' || exit 1
    printf "Action: Login\r\nUsername: %s\r\nSecret: %s\r\nEvents: system\r\n\r\n" "$1" "$2" >&3
    while IFS= read -r -t 2 line <&3; do
      case "$line" in "Event: FullyBooted"*) echo ok; printf "Action: Logoff\r\n\r\n" >&3; exit 0;;
                      "Response: Error"*) echo autherr; exit 1;; esac
    done; exit 1' _ "$AMI_USER" "$AMI_SECRET" 2>/dev/null) || true
  [ "$reply" = ok ]
}

# do_start [keep]: 'keep' (restart) leaves the loaded includes in place
do_start() {
  local keep=${1:-}
  if setup_needed; then do_setup; fi
  local deadline=$(( $(date +%s) + PBX_START_TIMEOUT ))
  if pid_alive; then
    FROM_ENV=(); apply_settings 1   # the running instance's own ports, whatever was asked
    log "already running (pid $(cat "$PIDFILE"))"
    until ami_ping; do [ "$(date +%s)" -lt "$deadline" ] || die "running but AMI does not answer (try: $0 restart)"; sleep 0.2; done
    return 0
  fi
  [ -n "$keep" ] || apply_settings 0   # a fresh start: new 'auto' ports, default includes
  resolve_ports
  # Another PBX on the same ports would make Asterisk start without SIP
  # (pjsip logs 'Address already in use' and carries on).
  if port_busy udp "$SIP_PORT"; then die "UDP port $SIP_PORT is already in use (set SIP_PORT, or SIP_PORT=auto)"; fi
  if port_busy tcp "$AMI_PORT"; then die "TCP port $AMI_PORT is already in use (set AMI_PORT, or AMI_PORT=auto)"; fi
  save_instance_env
  write_configs "$keep"
  write_scenarios
  rm -f "$PBX_ROOT$I_RUN/asterisk.ctl" "$PBX_ROOT$I_RUN/asterisk.pid"
  find "$PBX_ROOT$I_CALLS" -type f -mmin +1440 -delete 2>/dev/null || true
  local t0; t0=$(now)
  # -f: foreground (we background it ourselves, so we own the PID); -n: no colour.
  # No bind mounts are needed: debootstrap's static /dev nodes suffice and /proc is optional.
  setsid chroot "$PBX_ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root \
      /usr/sbin/asterisk -C "$I_ETC/asterisk.conf" -f -n >"$CONSOLE_LOG" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  # Our own child: kill -0 is the test until it execs Asterisk.  (pid_alive's name check
  # is wrong here: for a moment after the fork the child is still 'bash', and on a busy
  # machine a restart saw that, declared "asterisk exited during start" and printed the
  # old console log, whose last line is the previous Asterisk's "cleanly ending".)
  until ami_ping; do
    if ! kill -0 "$pid" 2>/dev/null; then tail -n 30 "$CONSOLE_LOG" "$PBX_ROOT$I_LOG/messages.log" >&2 2>/dev/null || true; die "asterisk exited during start"; fi
    [ "$(date +%s)" -lt "$deadline" ] || { do_stop; die "AMI not ready after ${PBX_START_TIMEOUT}s"; }
    sleep 0.05
  done
  # (asterisk -rx itself can fail on a loaded machine: ask a few times before giving up)
  local transport=
  for _ in $(seq 50); do
    if ast_rx 'pjsip show transports' 2>/dev/null | grep -q 'transport-udp'; then transport=1; break; fi
    sleep 0.1
  done
  if [ -z "$transport" ]; then
    grep -E 'ERROR' "$PBX_ROOT$I_LOG/messages.log" | tail -n 5 >&2 || true
    do_stop; die "SIP transport on 127.0.0.1:$SIP_PORT did not come up"
  fi
  if [ -n "${PBX_WATCH_PID:-}" ]; then
    # detached: it outlives this script, and ends once Asterisk or the watched PID is gone
    PBX_WATCH_CLEAN=${PBX_WATCH_CLEAN:-} setsid bash "$SELF" watch "$PBX_WATCH_PID" "$pid" </dev/null >/dev/null 2>&1 &
  fi
  log "asterisk pid $pid up (SIP $SIP_PORT, AMI $AMI_PORT); AMI login + FullyBooted after $(since "$t0") s"
}

do_stop() {
  if ! pid_alive; then rm -f "$PIDFILE"; log "not running"; return 0; fi
  # (pid_alive checked it is Asterisk: a bare PID file could name a recycled PID)
  local pid; pid=$(cat "$PIDFILE")
  ast_rx 'core stop now' >/dev/null 2>&1 || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    log "TERM $pid"; kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if kill -0 "$pid" 2>/dev/null; then
    log "KILL $pid"; kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -f "$PIDFILE"
  log "stopped"
}

# kill: SIGKILL, as a crash or a power cut would end it: no hangups, no CDRs, nothing cleaned up
do_kill() {
  if ! pid_alive; then die "asterisk is not running (instance $PBX_INSTANCE)"; fi
  local pid; pid=$(cat "$PIDFILE")
  kill -KILL "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  ! kill -0 "$pid" 2>/dev/null || die "pid $pid survived SIGKILL"
  rm -f "$PIDFILE"
  log "killed $pid (SIGKILL)"
}

do_clean() {
  [ "$PBX_INSTANCE" != default ] || die "'clean' is for named instances (use 'destroy' for the whole chroot)"
  do_stop
  rm -rf --one-file-system "$STATE"
  log "removed $STATE"
}

# watch PARENT_PID ASTERISK_PID: stop the instance when PARENT_PID exits
do_watch() {
  local parent=$1 astpid=$2
  while kill -0 "$parent" 2>/dev/null && kill -0 "$astpid" 2>/dev/null; do sleep 2; done
  kill -0 "$parent" 2>/dev/null && exit 0           # Asterisk went away by itself
  [ "$(cat "$PIDFILE" 2>/dev/null)" = "$astpid" ] || exit 0   # restarted by someone else
  log "watched pid $parent is gone: stopping"
  if [ -n "${PBX_WATCH_CLEAN:-}" ] && [ "$PBX_INSTANCE" != default ]; then do_clean; else do_stop; fi
}

# reload_include SRC NAME CLI-COMMAND
reload_include() {
  install_include "$1" "$2"
  if pid_alive; then ast_rx "$3"; else log "not running: $2 will be used at the next start"; fi
}

do_env() {
  cat <<EOF
PBX_ROOT=$PBX_ROOT
PBX_INSTANCE=$PBX_INSTANCE
AMI_HOST=127.0.0.1
AMI_PORT=$AMI_PORT
AMI_USER=$AMI_USER
AMI_SECRET=$AMI_SECRET
SIP_HOST=127.0.0.1
SIP_PORT=$SIP_PORT
RTP_START=$RTP_START
RTP_END=$RTP_END
FASTAGI_PORT=$FASTAGI_PORT
SIPP_MEDIA_START=$SIPP_MEDIA_START
SIPP_MEDIA_END=$SIPP_MEDIA_END
ETC_DIR=$PBX_ROOT$I_ETC
DIALPLAN_FILE=$PBX_ROOT$I_ETC/ctrack-test.conf
MANAGER_FILE=$PBX_ROOT$I_ETC/ctrack-manager.conf
RECORDINGS_DIR=$PBX_ROOT$I_SPOOL/monitor
RECORDINGS_DIR_IN_PBX=$I_SPOOL/monitor
CDR_CSV=$PBX_ROOT$I_LOG/cdr-csv/Master.csv
ASTERISK_LOG=$PBX_ROOT$I_LOG/messages.log
CALLS_DIR=$PBX_ROOT$I_CALLS
STATE_DIR=$STATE
STATE_DIR_IN_PBX=$I_STATE
AGI_DIR=$PBX_ROOT$I_AGI
AGI_DIR_IN_PBX=$I_AGI
PIDFILE=$PIDFILE
ASTERISK_CLI="chroot $PBX_ROOT asterisk -C $I_ETC/asterisk.conf -r"
EOF
}

do_instances() {
  local d name
  for d in "$PBX_ROOT"/var/lib/ctrack-pbx/default "$PBX_ROOT"/var/lib/ctrack-pbx/instances/*; do
    [ -f "$d/instance.env" ] || continue
    name=$(basename "$d")
    if [ -f "$d/asterisk.pid" ] && [ "$(cat "/proc/$(cat "$d/asterisk.pid")/comm" 2>/dev/null)" = asterisk ]; then
      echo "$name running pid $(cat "$d/asterisk.pid") $(tr '\n' ' ' <"$d/instance.env")"
    else
      echo "$name stopped"
    fi
  done
}

# The dispatch is a function called on the script's last line, with 'exit' on the
# same line: bash reads a script as it runs, and this way an edit of the file
# during a long command (setup, a call) cannot make it run half-read lines.
main() {
  case "${1:-}" in
    setup)   do_setup ;;
    start)   do_start ;;
    stop)    do_stop ;;
    restart) do_stop; do_start keep ;;
    kill)    do_kill ;;
    status)  if pid_alive && ami_ping; then echo "running pid $(cat "$PIDFILE")"; else echo "not running"; exit 1; fi ;;
    cli)     shift; pid_alive || die "asterisk is not running (instance $PBX_INSTANCE)"; ast_rx "$*" ;;
    dialplan) reload_include "${2:?usage: $0 dialplan FILE|-|--default}" ctrack-test.conf 'dialplan reload' ;;
    manager)  reload_include "${2:?usage: $0 manager FILE|-|--default}" ctrack-manager.conf 'manager reload' ;;
    call)    shift; do_call "$@" ;;
    run)     shift; [ $# -gt 0 ] || die "usage: $0 run CMD [ARG...]"; [ -f "$STAMP" ] || die "no chroot at $PBX_ROOT (run setup)"
             in_root "$@" ;;
    call-cancel) shift; do_call_cancel "$@" ;;
    call-press1) shift; do_call_press1 "$@" ;;
    config)  [[ "${2:-}" =~ ^[a-z0-9_-]+\.conf$ ]] || die "usage: $0 config NAME.conf FILE|- [CLI-COMMAND]"
             install_include "${3:?usage: $0 config NAME.conf FILE|- [CLI-COMMAND]}" "$2"
             if [ -n "${4:-}" ] && pid_alive; then ast_rx "$4"; fi ;;
    env)     do_env ;;
    instances) do_instances ;;
    clean)   do_clean ;;
    watch)   shift; do_watch "$@" ;;
    destroy) if [ "$PBX_INSTANCE" != default ]; then die "'destroy' deletes the whole chroot: run it without PBX_INSTANCE"; fi
             if do_instances | grep -v '^default ' | grep -q ' running '; then
               do_instances >&2; die "other instances are running: stop them first"; fi
             do_stop; umount_all
             case "$PBX_ROOT" in /|/opt|/usr|/var|/tmp|/home|/root|"") die "refusing to delete $PBX_ROOT";; esac
             rm -rf --one-file-system "$PBX_ROOT"; log "removed $PBX_ROOT" ;;
    *) echo "usage: $0 {setup|start|stop|restart|kill|status|env|instances|run CMD...|cli CMD|dialplan FILE|manager FILE|call DID [NUM] [NAME] [TALK_S]|call-cancel DID [NUM] [NAME] [RING_S]|clean|destroy}" >&2; exit 2 ;;
  esac
}
main "$@"; exit $?
