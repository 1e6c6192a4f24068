#!/usr/bin/env bash
# Installs the public Python clients pinned in python/requirements.txt (gmail-sdk-ldraney,
# google-auth, google-auth-oauthlib) from PyPI into a venv, idempotently, and prints the venv
# directory on the last stdout line (everything else goes to stderr):
#
#   bash scripts/python-clients.sh              # install if missing; print the venv dir
#   bash scripts/python-clients.sh --print-dir  # only print where it lives; install nothing
#
# The venv is $CREDFLOW_CACHE_DIR/python-clients-<key>/ (default ~/.cache/credflow), where the
# key hashes the requirements file and the Python version: a new pin or a new Python makes a
# new venv, and a warm run only checks that the directory exists. It is built in a temporary
# directory beside it and moved into place in one rename, so a run that dies half-way, or two
# runs at once (parallel checkouts share the cache), never leave a half-installed venv there.
# Only bin/python is used after the move (console scripts such as bin/pip keep the temporary
# path in their #! line). Cold: about 20 s; warm: a few milliseconds.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQUIREMENTS="$HERE/../python/requirements.txt"
CACHE="${CREDFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/credflow}"
PYTHON="${CREDFLOW_PYTHON:-python3}"

log() { printf '[python-clients] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python >= 3.10 (Debian: apt-get install python3 python3-venv)"
py_version=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
key=$( { cat "$REQUIREMENTS"; echo "$py_version"; } | sha256sum | cut -c1-12)
DIR="$CACHE/python-clients-$key"

if [[ "${1:-}" == "--print-dir" ]]; then echo "$DIR"; exit 0; fi
[[ $# -eq 0 ]] || { echo "usage: bash scripts/python-clients.sh [--print-dir]" >&2; exit 2; }

if [[ -x "$DIR/bin/python" ]]; then
  log "warm: $DIR (Python $py_version)"
  echo "$DIR"
  exit 0
fi

start=$(date +%s)
mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/.python-clients-$key.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "cold: creating a venv with Python $py_version and installing python/requirements.txt from PyPI"
"$PYTHON" -m venv "$tmp" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
"$tmp/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --only-binary=:all: -r "$REQUIREMENTS" >&2
# Prove the pins import before publishing the venv.
"$tmp/bin/python" -c 'import gmail_sdk, google.oauth2.credentials, google_auth_oauthlib.flow' >&2
# -T: fail instead of moving into a venv another run published meanwhile; then theirs is kept.
if mv -T "$tmp" "$DIR" 2>/dev/null; then
  log "installed in $(($(date +%s) - start)) s: $DIR"
else
  [[ -x "$DIR/bin/python" ]] || die "could not move the venv to $DIR"
  log "another run installed $DIR first; using it"
fi
echo "$DIR"
