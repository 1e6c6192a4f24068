#!/usr/bin/env bash
# Builds the real control plane used by the tests (etcd, kube-apiserver,
# kube-controller-manager, kwok) from the Go module proxy, into a cache outside
# the repository. Reuses the binaries when the pins have not changed.
#
#   bash test/k8s/build.sh                    # prints the bin directory on the last line
#   bash test/k8s/build.sh --resolve 1.35.5   # re-pin test/k8s/wrapper/go.mod and go.sum
#
# The pins live in test/k8s/wrapper/go.mod and go.sum (committed, so every build verifies
# the same module hashes): k8s.io/kubernetes, every staging module replaced by its
# v0.<minor>.<patch>, and the etcd server module k8s pins. kwok is pinned below.
# Environment: KWOK_VERSION, CREDFLOW_CACHE_DIR.
set -euo pipefail

KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WRAPPER="$HERE/wrapper"
CACHE="${CREDFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/credflow}"

log() { printf '[cluster:build] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { log "usage: bash test/k8s/build.sh [--resolve 1.Y.Z]"; exit 2; }
need_go() { command -v go >/dev/null || die "go not found: install Go >= 1.25 (the tests build Kubernetes from the Go module proxy)"; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# k8s.io/kubernetes requires every staging module at v0.0.0; consumers must replace each
# with its published v0.<minor>.<patch> (golang/go#32776).
STAGING=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
  kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller)

# --resolve VERSION: write a new wrapper go.mod/go.sum for that release (needs the proxy).
if [[ "${1:-}" == "--resolve" ]]; then
  [[ "${2:-}" =~ ^1\.[0-9]+\.[0-9]+$ ]] || usage
  need_go
  v="$2"; tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  cp -r "$WRAPPER/cmd" "$tmp/"
  sed -n '/^\/\//p' "$WRAPPER/go.mod" > "$tmp/header"
  cd "$tmp"
  go mod init local/k8sbin >/dev/null 2>&1
  for m in "${STAGING[@]}"; do go mod edit -replace="k8s.io/$m=k8s.io/$m@v0.${v#1.}"; done
  log "resolving k8s.io/kubernetes@v$v (downloads ~1 GB of modules on first use)"
  GOFLAGS=-mod=mod go get "k8s.io/kubernetes/cmd/kube-apiserver@v$v" "k8s.io/kubernetes/cmd/kube-controller-manager@v$v"
  e=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
  log "etcd server module pinned by k8s: $e"
  GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3/etcdmain@$e"
  cat header go.mod > "$WRAPPER/go.mod"
  cp go.sum "$WRAPPER/go.sum"
  log "wrote $WRAPPER/go.mod and go.sum for k8s v$v; the next build uses them"
  exit 0
fi
[[ $# -eq 0 ]] || usage

K8S_VERSION="$(sed -nE 's/^[[:space:]]*k8s\.io\/kubernetes v([0-9.]+).*/\1/p' "$WRAPPER/go.mod")"
[[ -n "$K8S_VERSION" ]] || die "no k8s.io/kubernetes requirement in $WRAPPER/go.mod"
MINOR="${K8S_VERSION#1.}"; MINOR="${MINOR%%.*}"
BIN="$CACHE/k8s-$K8S_VERSION-kwok-$KWOK_VERSION/bin"
WANT=(etcd kube-apiserver kube-controller-manager kwok)
# The wrapper's exact content: a new go.sum (say, an etcd bump) rebuilds the binaries.
STAMP="$(cat "$WRAPPER/go.mod" "$WRAPPER/go.sum" "$WRAPPER/cmd/etcd/main.go" | sha256sum | cut -c1-16)"

check_cache() {
  missing=()
  if [[ "$(cat "$BIN/.wrapper-stamp" 2>/dev/null)" != "$STAMP" ]]; then
    missing=(etcd kube-apiserver kube-controller-manager)
    [[ -x "$BIN/kwok" ]] || missing+=(kwok)
  else
    for b in "${WANT[@]}"; do [[ -x "$BIN/$b" ]] || missing+=("$b"); done
  fi
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "cached: $BIN (k8s v$K8S_VERSION, kwok $KWOK_VERSION)"
    echo "$BIN"; exit 0
  fi
}
check_cache
# One build at a time (a test run and `npm run demo` may both ask): wait for the other,
# then use what it built.
mkdir -p "$CACHE"
exec 9>"$CACHE/.build-$K8S_VERSION.lock"
if ! flock -n 9; then
  log "another build of k8s v$K8S_VERSION is running; waiting for it"
  flock 9
  check_cache
fi

need_go
start=$(date +%s)
log "building ${missing[*]} for k8s v$K8S_VERSION into $BIN (cold: about 6 minutes on 2 cores, plus ~1 GB of module downloads)"

# Build from a copy of the wrapper module so the repository stays clean; -mod=readonly:
# every module is checked against the committed go.sum.
WORK="$CACHE/k8s-$K8S_VERSION-src"
rm -rf "$WORK" "$BIN.tmp"
mkdir -p "$BIN.tmp"
cp -r "$WRAPPER" "$WORK"
cd "$WORK"

LD="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$MINOR"
for b in "${missing[@]}"; do
  t=$(date +%s)
  case "$b" in
    etcd) GOFLAGS="$GOFLAGS -mod=readonly" go build -trimpath -ldflags "-s -w" -o "$BIN.tmp/etcd" ./cmd/etcd ;;
    kube-apiserver|kube-controller-manager)
      GOFLAGS="$GOFLAGS -mod=readonly" go build -trimpath -ldflags "$LD" -o "$BIN.tmp/$b" "k8s.io/kubernetes/cmd/$b" ;;
    kwok) GOBIN="$BIN.tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" ;;
  esac
  log "built $b in $(( $(date +%s) - t ))s ($(du -h "$BIN.tmp/$b" | cut -f1))"
done
mkdir -p "$BIN"
for b in "${missing[@]}"; do mv "$BIN.tmp/$b" "$BIN/$b"; done
echo "$STAMP" > "$BIN/.wrapper-stamp"
rmdir "$BIN.tmp" 2>/dev/null || true
log "done in $(( $(date +%s) - start ))s: $BIN"
echo "$BIN"
