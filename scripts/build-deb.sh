#!/usr/bin/env bash
# build-deb.sh - build the Debian package: build/ctrack_<version>_<arch>.deb
#
# ctrack in its own virtualenv under /opt/ctrack (dh-virtualenv, which pip-installs ctrack
# and its dependencies from PyPI), /usr/bin/ctrack, /etc/ctrack/ctrack.ini (a conffile made
# from config.example.ini), the systemd units, the classic AGI script in Asterisk's
# agi-bin; the maintainer scripts create the ctrack user and back up and migrate the
# database on upgrade (debian/). <version> is pyproject.toml's.
#
# Usage:  bash scripts/build-deb.sh [OUT_DIR]        (default OUT_DIR: build/)
# Runs on Debian 12 (bookworm) as root or not; the build dependencies (debhelper,
# dh-virtualenv) are in scripts/setup.sh's host packages; as root, this installs any that
# are missing. The build happens in a copy of the tree (build/deb/), so the
# checkout is left as it was (build.log stays there). Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$(mkdir -p "${1:-build}" && cd "${1:-build}" && pwd)

log() { printf '[build-deb %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n1)
[ -n "$version" ] || die "no version in pyproject.toml"

missing=()
for p in debhelper dh-virtualenv dpkg-dev python3-venv; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing build packages: ${missing[*]} (apt-get install them, or run scripts/setup.sh as root)"
  log "apt-get install ${missing[*]} (as scripts/setup.sh would)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
fi

# A clean copy of what the checkout holds (tracked and new files, not what .gitignore
# lists: no .venv, no caches, no earlier builds).
work=build/deb
rm -rf "$work"
mkdir -p "$work/src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$work/src"
else
  tar --exclude=./.venv --exclude=./build --exclude=./dist --exclude=./.git --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude=.mypy_cache --exclude=.ruff_cache \
    -cf - . | tar -xf - -C "$work/src"
fi

cat >"$work/src/debian/changelog" <<EOF
ctrack ($version) stable; urgency=medium

  * ctrack $version (pyproject.toml).

 -- ctrack maintainers <ctrack@localhost>  $(date -u -R)
EOF

log "dpkg-buildpackage ctrack $version"
t0=$(date +%s)
(cd "$work/src" && dpkg-buildpackage -b -us -uc >"$ROOT/$work/build.log" 2>&1) \
  || { tail -n 40 "$work/build.log" >&2; die "dpkg-buildpackage failed (log: $work/build.log)"; }
deb=$(ls "$work"/ctrack_"$version"_*.deb)
cp "$deb" "$OUT/"
rm -rf "$work/src"  # the staged tree (~100 MB); build.log stays
log "built $(basename "$deb") in $(( $(date +%s) - t0 )) s"
echo "$OUT/$(basename "$deb")"
