#!/usr/bin/env bash
# Builds kubectl from the same Kubernetes release as the test plane (test/k8s/build.sh), for
# `npm run bench` and the test of its baseline scripts. Cached under ~/.cache/credflow keyed by
# the release and the module pins; warm: instant; cold: ~1 min with the plane's Go build cache
# warm (the plane shares most packages), ~4 min without.
#
#   bash test/k8s/kubectl.sh              # prints the kubectl path on the last line
#   bash test/k8s/kubectl.sh --resolve    # re-pin test/k8s/kubectl/go.mod, go.sum to the plane's release
#
# Environment: CREDFLOW_CACHE_DIR.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MOD="$HERE/kubectl"
CACHE="${CREDFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/credflow}"
log() { printf '[kubectl:build] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

k8s_version() { sed -nE 's/^[[:space:]]*k8s\.io\/kubernetes v([0-9.]+).*/\1/p' "$1"; }
PLANE="$(k8s_version "$HERE/wrapper/go.mod")"
[[ -n "$PLANE" ]] || die "no k8s.io/kubernetes requirement in $HERE/wrapper/go.mod"

if [[ "${1:-}" == "--resolve" ]]; then
  command -v go >/dev/null || die "go not found"
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  sed -n '/^\/\//p' "$MOD/go.mod" > "$tmp/header"
  cd "$tmp"
  go mod init local/kubectl >/dev/null 2>&1
  # The plane's staging replaces (k8s.io/* at v0.<minor>.<patch>), so both resolve alike.
  grep -E '^replace k8s\.io/' "$HERE/wrapper/go.mod" | sed 's/^replace //' | while read -r from _ to ver; do
    go mod edit -replace="$from=$to@$ver"
  done
  GOFLAGS=-mod=mod go get "k8s.io/kubernetes/cmd/kubectl@v$PLANE"
  cat header go.mod > "$MOD/go.mod"
  cp go.sum "$MOD/go.sum"
  log "wrote $MOD/go.mod and go.sum for kubectl v$PLANE"
  exit 0
fi
[[ $# -eq 0 ]] || { log "usage: bash test/k8s/kubectl.sh [--resolve]"; exit 2; }

V="$(k8s_version "$MOD/go.mod")"
[[ "$V" == "$PLANE" ]] || die "test/k8s/kubectl/go.mod pins k8s v$V but the plane is v$PLANE: run bash test/k8s/kubectl.sh --resolve"
STAMP="$(cat "$MOD/go.mod" "$MOD/go.sum" | sha256sum | cut -c1-12)"
OUT="$CACHE/kubectl-$V-$STAMP"
if [[ -x "$OUT/kubectl" ]]; then log "cached: $OUT/kubectl (v$V)"; echo "$OUT/kubectl"; exit 0; fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.build-kubectl-$V.lock"
flock 9 # one build at a time; a second caller waits, then finds the first one's binary
if [[ -x "$OUT/kubectl" ]]; then echo "$OUT/kubectl"; exit 0; fi

command -v go >/dev/null || die "go not found: install Go >= 1.25 (kubectl is built from the Go module proxy)"
start=$(date +%s)
log "building kubectl v$V into $OUT (cold: ~1 min after test/k8s/build.sh, ~4 min on its own)"
TMP="$(mktemp -d "$CACHE/.kubectl-$V.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
cp "$MOD/go.mod" "$MOD/go.sum" "$TMP/"
MINOR="${V#1.}"; MINOR="${MINOR%%.*}"
LD="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LD="$LD -X $p.gitVersion=v$V -X $p.gitMajor=1 -X $p.gitMinor=$MINOR"
done
(cd "$TMP" && GOFLAGS="$GOFLAGS -mod=readonly" go build -trimpath -ldflags "$LD" -o "$TMP/bin/kubectl" k8s.io/kubernetes/cmd/kubectl)
rm -f "$TMP/go.mod" "$TMP/go.sum"
mv "$TMP/bin" "$OUT" # atomic: nobody sees a half-written kubectl
log "built kubectl v$V in $(( $(date +%s) - start ))s ($(du -h "$OUT/kubectl" | cut -f1))"
echo "$OUT/kubectl"
