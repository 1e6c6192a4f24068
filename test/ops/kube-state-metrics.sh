#!/usr/bin/env bash
# Builds the real kube-state-metrics the expiry tests run (test/integration/ops-expiry-metrics.test.ts)
# from the Go module proxy, through the wrapper module test/ops/ksm-wrapper (go.mod and go.sum
# committed: -mod=readonly checks every module hash). Prints the binary's path on the last line.
#
#   bash test/ops/kube-state-metrics.sh              # build if needed, print the path
#   bash test/ops/kube-state-metrics.sh --print-path # only print where it lives; build nothing
#
# Cached in $CREDFLOW_CACHE_DIR/kube-state-metrics-<version>-<stamp>/ (default ~/.cache/credflow),
# the stamp a hash of the wrapper and the Go version; built in a temp directory and moved into
# place, so a concurrent run never sees half a binary. Cold on 2 cores: about 4-6 minutes; warm:
# a file check. Called by test/ops/tools.sh (so by `npm test`'s pretest and .ci/run).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WRAPPER="$HERE/ksm-wrapper"
CACHE="${CREDFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/credflow}"

log() { printf '[ops:kube-state-metrics] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

VERSION="$(sed -nE 's/^[[:space:]]*k8s\.io\/kube-state-metrics\/v2 (v[0-9.]+).*/\1/p' "$WRAPPER/go.mod")"
[[ -n "$VERSION" ]] || die "no k8s.io/kube-state-metrics/v2 requirement in $WRAPPER/go.mod"
go_version() { if command -v go >/dev/null; then go env GOVERSION; else echo nogo; fi; }
STAMP="$(cat "$WRAPPER/go.mod" "$WRAPPER/go.sum" <(go_version) | sha256sum | cut -c1-12)"
DIR="$CACHE/kube-state-metrics-$VERSION-$STAMP"
BIN="$DIR/kube-state-metrics"

case "${1:-}" in
  --print-path) echo "$BIN"; exit 0 ;;
  "") ;;
  *) echo "usage: bash test/ops/kube-state-metrics.sh [--print-path]" >&2; exit 2 ;;
esac

if [[ -x "$BIN" ]]; then log "cached: $BIN ($VERSION)"; echo "$BIN"; exit 0; fi

# One build at a time; a second caller waits and then uses what the first built.
mkdir -p "$CACHE"
exec 9>"$CACHE/.build-kube-state-metrics-$VERSION.lock"
if ! flock -n 9; then
  log "another build of kube-state-metrics $VERSION is running; waiting for it"
  flock 9
  if [[ -x "$BIN" ]]; then log "cached: $BIN ($VERSION)"; echo "$BIN"; exit 0; fi
fi

command -v go >/dev/null || die "go not found: install Go >= 1.25 (the tests build kube-state-metrics from the Go module proxy)"
export GOTOOLCHAIN=local CGO_ENABLED=0
start=$(date +%s)
log "building k8s.io/kube-state-metrics/v2 $VERSION into $DIR (cold: about 4-6 minutes on 2 cores)"
tmp="$(mktemp -d "$CACHE/.kube-state-metrics-build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cp "$WRAPPER/go.mod" "$WRAPPER/go.sum" "$tmp/"
(
  cd "$tmp"
  GOFLAGS="-buildvcs=false -mod=readonly" go build -trimpath \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$VERSION" \
    -o "$tmp/kube-state-metrics" k8s.io/kube-state-metrics/v2
)
mkdir -p "$DIR"
mv "$tmp/kube-state-metrics" "$BIN"
log "built in $(( $(date +%s) - start ))s ($(du -h "$BIN" | cut -f1)): $BIN"
echo "$BIN"
