#!/usr/bin/env bash
# The test command:  bash scripts/test.sh [pytest arguments...]
#
# On a fresh Debian 12 machine, as root (this is what .ci/run does, with CI=true):
# scripts/setup.sh installs what the suite needs (host packages, .venv, the real test
# PBX), then the gate runs (`ruff check .`, `ruff format --check .`, `mypy`; any finding
# fails the run before a test starts), then pytest runs the whole suite (or what "$@"
# selects) and this exits with its status.
# Examples:  bash scripts/test.sh tests/unit -q
#            bash scripts/test.sh -m 'not pbx'
#            bash scripts/test.sh tests/integration/test_pbx_smoke.py
# Environment: as scripts/setup.sh, and CTRACK_PBX_KEEP=1 (keep each session's PBX
#   files for a post-mortem), CI (set: pytest prints a summary of every non-pass),
#   CTRACK_NO_GATE=1 (skip the gate for a partial run; honoured only with pytest
#   arguments: a bare `bash scripts/test.sh`, as .ci/run calls it, always runs the gate).
set -euo pipefail
cd "$(dirname "$0")/.."

export CTRACK_PBX_ROOT=${CTRACK_PBX_ROOT:-/opt/ctrack-pbx}
T0=$(date +%s)
bash scripts/setup.sh

# The gate: lint, format and types. Every check runs, then any finding stops the run.
if [ "$#" -eq 0 ] || [ "${CTRACK_NO_GATE:-}" != 1 ]; then
  failed=()
  gate() {
    local tool=$1
    shift
    printf "\n== gate: %s\n" "$tool${*:+ $*}" >&2
    ".venv/bin/$tool" "$@" || failed+=("$tool${*:+ $*}")
  }
  gate ruff check .
  gate ruff format --check .
  gate mypy
  if [ "${#failed[@]}" -gt 0 ]; then
    { printf '\nctrack: gate failed, no test ran; fix the findings above of:'; printf ' [%s]' "${failed[@]}"; echo; } >&2
    exit 1
  fi
fi

printf '\n== pytest %s (prepared in %s s)\n' "$*" "$(( $(date +%s) - T0 ))" >&2
args=()
[ -z "${CI:-}" ] || args+=(-ra)
exec .venv/bin/python -m pytest "${args[@]}" "$@"
