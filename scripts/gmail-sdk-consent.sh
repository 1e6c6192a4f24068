#!/usr/bin/env bash
# The public gmail-sdk's own consent (GmailClient.authorize) as gmail-reauth's external
# reauthCommand, with the pinned SDK of python/requirements.txt. The reauth step runs it on the
# operator's terminal with CREDFLOW_TOKEN_FILE set; it can also be run by hand:
#
#   CREDFLOW_TOKEN_FILE=~/secrets/google-oauth/gmail-westsidebasktball.json scripts/gmail-sdk-consent.sh
#   scripts/gmail-sdk-consent.sh --check    # is it ready? (venv, file name, credentials.json); changes nothing
#
# The SDK writes SECRETS_DIR/gmail-ACCOUNT.json, so the token file's name must be
# gmail-ACCOUNT.json; SECRETS_DIR is its directory and must hold the Desktop client's
# credentials.json. Its redirect is http://localhost:8090, fixed: over SSH, open
# `ssh -L 8090:127.0.0.1:8090 user@host` before starting. Exit 0 done, 1 failed, 2 not ready.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROG=${0##*/}
die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit "${2:-2}"; }

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument $1 (usage: $PROG [--check])" ;;
esac

token_file=${CREDFLOW_TOKEN_FILE:-}
[[ -n $token_file ]] || die "CREDFLOW_TOKEN_FILE is not set: the token file the SDK must write (gmail-reauth sets it from tokenFile)"
name=${token_file##*/}
[[ $name =~ ^gmail-(.+)\.json$ ]] || die "the gmail-sdk writes gmail-ACCOUNT.json, but tokenFile is named $name: --set tokenFile=<dir>/gmail-<account>.json, or use the built-in consent (--set reauthMode=builtin)"
account=${BASH_REMATCH[1]}
secrets_dir=$(dirname "$token_file")
[[ -f "$secrets_dir/credentials.json" ]] || die "the gmail-sdk reads the OAuth client from $secrets_dir/credentials.json, which does not exist: put the Desktop client's JSON there (Cloud Console → Credentials → Download JSON)"

venv=$(bash "$ROOT/scripts/python-clients.sh" --print-dir)
[[ -x "$venv/bin/python" ]] || die "the pinned gmail-sdk is not installed: run bash scripts/python-clients.sh (installs python/requirements.txt from PyPI into $venv)"

if [[ $check -eq 1 ]]; then
  printf '%s: ready: gmail-sdk %s will write %s (client from %s/credentials.json, redirect localhost:8090)\n' \
    "$PROG" "$(grep -m1 '^gmail-sdk-ldraney==' "$ROOT/python/requirements.txt" | cut -d= -f3)" "$token_file" "$secrets_dir" >&2
  exit 0
fi
exec "$venv/bin/python" "$ROOT/python/gmail_sdk_consent.py" "$account" "$secrets_dir"
