#!/usr/bin/env bash
# Installs the tools the ops tests run, idempotently, and prints the tool directory on the
# last stdout line (everything else goes to stderr):
#
#   export CREDFLOW_TOOLS_DIR="$(bash test/ops/tools.sh | tail -n1)"
#   bash test/ops/tools.sh --print-dir     # only print where the tools live; install nothing
#
# - Debian packages, pinned and unpacked into the cache by test/ops/debian-packages.sh (never
#   installed; apt is called only on a cold cache): prometheus (the server the expiry tests
#   scrape with, and promtool), shellcheck, libfaketime (the crash matrix's skewed clock);
# - kube-state-metrics, built from the Go module proxy by test/ops/kube-state-metrics.sh;
# - Go (GOTOOLCHAIN=local, pinned below): actionlint, act (runs .forgejo workflows on the host
#   in ops-forgejo-exec.test.ts), tfrender (test/ops/tfrender, renders terraform/ with hashicorp/hcl/v2), and OpenTofu
#   with the hashicorp/kubernetes provider for `tofu validate` / `tofu apply` (no provider
#   registry is reachable: tofurc in the tool dir points dev_overrides at the built provider);
# - the vendored PrometheusRule and ServiceMonitor CRDs are compared with the pinned prometheus-operator module.
#
# Binaries live in $CREDFLOW_CACHE_DIR/tools-<version>/ (default ~/.cache/credflow), where the
# version is a hash of the pins and the Go version (tfrender: a stamp of its sources), so a warm
# run only checks files. Links to the Debian tools and kube-state-metrics (each in a cache
# directory keyed by its own version) sit beside them: one directory has all.
# Cold on 2 cores: about 8 minutes, most of it OpenTofu and the provider; warm: under a second.
#
# forgejo-runner is not built: its module host (code.forgejo.org) is not on the Go module
# proxy's allowlist here (403). act runs the same workflow syntax with -P <label>=-self-hosted.
set -euo pipefail

ACTIONLINT_VERSION=v1.7.12   # go 1.25.0 in go.mod; builds with Go 1.26
ACT_VERSION=v0.2.89          # go 1.25.0 in go.mod; no replace directives
PROMETHEUS_OPERATOR_VERSION=v0.85.0
TOFU_VERSION=v1.12.6         # go 1.26.6; has replace directives, so it is built in a wrapper module
# hashicorp/terraform-provider-kubernetes: its release tags (v2.x, v3.x) are not on the Go proxy
# (the module path has no /vN suffix), so this is a pseudo-version: main after 3.2.1 (2026-08-21).
KUBERNETES_PROVIDER_VERSION=v1.13.4-0.20260821094251-3a33fb6cc605

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${CREDFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/credflow}"
# The prometheus-operator CRDs the tests apply to the test plane (PrometheusRule, ServiceMonitor).
CRDS=(prometheusrules servicemonitors)

log() { printf '[ops:tools] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

go_version() { if command -v go >/dev/null; then go env GOVERSION; else echo nogo; fi; }

# Any pin (or a new Go) changes the directory name; tfrender, built from this repository,
# has a source stamp of its own so that editing it does not rebuild everything else.
tools_version() {
  printf '%s\n' "$ACTIONLINT_VERSION" "$ACT_VERSION" "$TOFU_VERSION" "$KUBERNETES_PROVIDER_VERSION" "$(go_version)" |
    sha256sum | cut -c1-12
}
tfrender_stamp() { cat "$HERE/tfrender/go.mod" "$HERE/tfrender/go.sum" "$HERE"/tfrender/*.go | sha256sum | cut -c1-12; }

DIR="$CACHE/tools-$(tools_version)"
if [[ "${1:-}" == "--print-dir" ]]; then echo "$DIR"; exit 0; fi
[[ $# -eq 0 ]] || { echo "usage: bash test/ops/tools.sh [--print-dir]" >&2; exit 2; }

start=$(date +%s)
mkdir -p "$DIR"

# --- Debian packages -------------------------------------------------------------------
# Unpacked into their own version-keyed cache directories (no apt install, no root when warm).
link() { # target, name: replace the link atomically (tests of other runs may be reading it)
  [[ "$(readlink "$DIR/$2" 2>/dev/null)" == "$1" ]] && return
  ln -sfn "$1" "$DIR/.$2.link.$$" && mv -Tf "$DIR/.$2.link.$$" "$DIR/$2"
}
debian=$(bash "$HERE/debian-packages.sh")
while read -r tool path; do
  link "$path" "$tool"
  [[ $tool == *.so.* ]] || log "$tool: $("$DIR/$tool" --version 2>&1 | grep -m1 -Eo '(version:? )[^ ]+')"
done <<<"$debian"

# --- Go tools --------------------------------------------------------------------------
need_go() {
  command -v go >/dev/null || die "go not found: install Go >= 1.25 to build $1"
  export GOTOOLCHAIN=local CGO_ENABLED=0
}

build() { # name, description, command...
  local name=$1 what=$2; shift 2
  if [[ -x "$DIR/$name" ]]; then log "$name: cached ($what)"; return; fi
  need_go "$name"
  local t; t=$(date +%s)
  log "$name: building $what"
  rm -rf "$DIR/.build-$name" && mkdir -p "$DIR/.build-$name"
  GOBIN="$DIR/.build-$name" "$@" >&2
  mv "$DIR/.build-$name/$name" "$DIR/$name"
  rm -rf "$DIR/.build-$name"
  log "$name: built in $(( $(date +%s) - t ))s ($(du -h "$DIR/$name" | cut -f1))"
}

build actionlint "github.com/rhysd/actionlint $ACTIONLINT_VERSION" \
  env GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
build act "github.com/nektos/act $ACT_VERSION" \
  env GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w -X main.version=${ACT_VERSION#v}" "github.com/nektos/act@$ACT_VERSION"
build_tfrender() { (cd "$HERE/tfrender" && GOFLAGS=-mod=readonly go build -trimpath -ldflags "-s -w" -o "$GOBIN/tfrender" .); }
stamp=".tfrender-$(tfrender_stamp)"
if [[ ! -e "$DIR/$stamp" ]]; then rm -f "$DIR/tfrender" "$DIR"/.tfrender-*; fi
build tfrender "test/ops/tfrender (hashicorp/hcl/v2 $(grep -m1 -Eo 'hcl/v2 v[0-9.]+' "$HERE/tfrender/go.mod" | cut -d' ' -f2))" build_tfrender
touch "$DIR/$stamp"

# `go install` refuses a module whose go.mod has replace directives: copy them into a wrapper
# module and build from there (as test/k8s/build.sh does for Kubernetes).
build_tofu() {
  local src="$DIR/.tofu-src" upstream
  rm -rf "$src" && mkdir -p "$src"
  (
    cd "$src"
    go mod init local/tofu-wrapper >/dev/null 2>&1
    upstream=$(go mod download -json "github.com/opentofu/opentofu@$TOFU_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    go mod edit -json "$upstream" | node -e '
      const m = JSON.parse(require("fs").readFileSync(0, "utf8"))
      const at = (x) => x.Path + (x.Version ? "@" + x.Version : "")
      for (const r of m.Replace ?? []) console.log(at(r.Old) + "=" + at(r.New))' |
      while read -r replace; do log "tofu: replace $replace (from OpenTofu's go.mod)"; go mod edit -replace="$replace"; done
    GOFLAGS=-mod=mod go get "github.com/opentofu/opentofu/cmd/tofu@$TOFU_VERSION"
    GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o "$GOBIN/tofu" github.com/opentofu/opentofu/cmd/tofu
  )
  rm -rf "$src"
}
build tofu "github.com/opentofu/opentofu $TOFU_VERSION (slow: minutes)" build_tofu
build terraform-provider-kubernetes "github.com/hashicorp/terraform-provider-kubernetes $KUBERNETES_PROVIDER_VERSION (slow: minutes)" \
  env GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" "github.com/hashicorp/terraform-provider-kubernetes@$KUBERNETES_PROVIDER_VERSION"
# Its own cache (keyed by its version and wrapper); the link puts it beside the other tools.
link "$(bash "$HERE/kube-state-metrics.sh" | tail -n1)" kube-state-metrics

# Tests run tofu with TF_CLI_CONFIG_FILE=$DIR/tofurc.
cat > "$DIR/tofurc" <<EOF
provider_installation {
  dev_overrides {
    "hashicorp/kubernetes" = "$DIR"
  }
  direct {}
}
EOF

# --- vendored CRDs -----------------------------------------------------------------------
for kind in "${CRDS[@]}"; do
  crd="$HERE/crds/monitoring.coreos.com_$kind.yaml"
  stamp="$DIR/.crd-$PROMETHEUS_OPERATOR_VERSION-$(sha256sum "$crd" | cut -c1-12)"
  if [[ -e "$stamp" ]]; then
    log "$kind CRD: matches prometheus-operator $PROMETHEUS_OPERATOR_VERSION (checked before)"
    continue
  fi
  need_go "the CRD check"
  mod_dir=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  upstream="$mod_dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml"
  [[ -f "$upstream" ]] || die "no CRD at $upstream"
  # The vendored copy is the upstream file behind a comment header.
  if diff -q <(grep -v '^#' "$crd") "$upstream" >/dev/null; then
    touch "$stamp"
    log "$kind CRD: matches prometheus-operator $PROMETHEUS_OPERATOR_VERSION"
  else
    die "$crd differs from $upstream: copy it again (keep the header comment)"
  fi
done

log "ready in $(( $(date +%s) - start ))s"
echo "$DIR"
