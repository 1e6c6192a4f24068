#!/usr/bin/env bash
# Builds the real control plane used by the tests (etcd, kube-apiserver,
# kube-controller-manager, kwok) from the Go module proxy, into a cache outside
# the repository. Reuses the binaries when the pin has not changed.
#
#   bash test/k8s/build.sh          # prints the bin directory on the last line
#
# Environment: K8S_VERSION (default below), KWOK_VERSION, CREDFLOW_CACHE_DIR.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.35.4}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
MINOR="${K8S_VERSION#1.}"; MINOR="${MINOR%%.*}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${CREDFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/credflow}"
BIN="$CACHE/k8s-$K8S_VERSION-kwok-$KWOK_VERSION/bin"
WANT=(etcd kube-apiserver kube-controller-manager kwok)

log() { printf '[cluster:build] %s\n' "$*" >&2; }

check_cache() {
  missing=()
  for b in "${WANT[@]}"; do [[ -x "$BIN/$b" ]] || missing+=("$b"); done
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

command -v go >/dev/null || { log "go not found: install Go >= 1.25 (the tests build Kubernetes from the Go module proxy)"; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
start=$(date +%s)
log "building ${missing[*]} for k8s v$K8S_VERSION into $BIN (cold build: tens of minutes on 2 cores)"

# Work on a copy of the wrapper module so the repository stays clean.
WORK="$CACHE/k8s-$K8S_VERSION-src"
mkdir -p "$WORK/cmd/etcd" "$BIN.tmp"
cp "$HERE/cmd/etcd/main.go" "$WORK/cmd/etcd/main.go"
cd "$WORK"
if [[ ! -f .resolved ]]; then
  rm -f go.mod go.sum
  go mod init local/k8sbin >/dev/null 2>&1
  # k8s.io/kubernetes requires every staging module at v0.0.0; consumers must
  # replace each with its published v0.<minor>.<patch> (golang/go#32776).
  for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider \
    cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api \
    cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms \
    kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
    mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller; do
    go mod edit -replace="k8s.io/$m=k8s.io/$m@v0.${K8S_VERSION#1.}"
  done
  log "resolving k8s.io/kubernetes@v$K8S_VERSION (downloads ~1 GB of modules on first use)"
  go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION"
  E=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
  log "etcd server module pinned by k8s: $E"
  go get "go.etcd.io/etcd/server/v3/etcdmain@$E"
  touch .resolved
fi

LD="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$MINOR"
for b in "${missing[@]}"; do
  t=$(date +%s)
  case "$b" in
    etcd) go build -trimpath -ldflags "-s -w" -o "$BIN.tmp/etcd" ./cmd/etcd ;;
    kube-apiserver|kube-controller-manager) go build -trimpath -ldflags "$LD" -o "$BIN.tmp/$b" "k8s.io/kubernetes/cmd/$b" ;;
    kwok) GOFLAGS= GOBIN="$BIN.tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" ;;
  esac
  log "built $b in $(( $(date +%s) - t ))s ($(du -h "$BIN.tmp/$b" | cut -f1))"
done
mkdir -p "$BIN"
for b in "${missing[@]}"; do mv "$BIN.tmp/$b" "$BIN/$b"; done
rmdir "$BIN.tmp" 2>/dev/null || true
log "done in $(( $(date +%s) - start ))s: $BIN"
echo "$BIN"
