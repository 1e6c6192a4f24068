#!/usr/bin/env bash
# The tools the tests take from Debian, unpacked into the cache instead of installed into the
# system, so that they are pinned, need no root once cached, and a warm run never calls apt:
#
#   - prometheus: usr/bin/prometheus (the server the expiry tests scrape kube-state-metrics
#     with) and usr/bin/promtool (check rules, test rules);
#   - the shell linter: usr/bin/shellcheck;
#   - libfaketime: libfaketime.so.1 (the crash matrix runs one "host" with its clock off, LD_PRELOAD).
#
# Each package at its pinned version: `apt-get download` (apt checks the .deb against the
# signed package lists), `dpkg-deb -x` into $CREDFLOW_CACHE_DIR/<package>-<version>/ (default
# ~/.cache/credflow), unpacked in a temp directory and moved into place, so a concurrent run
# never sees half a package. Nothing is installed, no daemon is started. Cold: about 25 MB
# from the Debian mirror, seconds; warm: file checks only.
#
#   bash test/ops/debian-packages.sh              # fetch what is missing; prints "<tool> <path>" lines
#   bash test/ops/debian-packages.sh --print      # only print the lines; fetch nothing
#
# What stays with the system: the shared libraries these link against (libc6; shellcheck also
# libgmp10 and libffi8, which coreutils and apt themselves need on every Debian), so the
# binaries are checked by running them once after unpacking.
#
# The pins are Debian bookworm's (`apt-cache policy <package>`). A mirror drops a version when a
# newer revision of the same release replaces it (a security or point release): then the
# download fails with the versions apt offers, and the pin below is the one line to change.
set -euo pipefail

PROMETHEUS_VERSION=2.42.0+ds-5+deb12u1
SHELLCHECK_VERSION=0.9.0-1
LIBFAKETIME_VERSION=0.9.10-2.1

CACHE="${CREDFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/credflow}"

log() { printf '[ops:debian] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# package version -> the cache directory of its unpacked tree
pkg_dir() { echo "$CACHE/$1-${2//:/_}"; }

# tool, package, version, path inside the package
TOOLS=(
  "prometheus prometheus $PROMETHEUS_VERSION usr/bin/prometheus"
  "promtool prometheus $PROMETHEUS_VERSION usr/bin/promtool"
  "shellcheck shellcheck $SHELLCHECK_VERSION usr/bin/shellcheck"
  "libfaketime.so.1 libfaketime $LIBFAKETIME_VERSION usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
)

print() {
  local tool pkg version path
  for t in "${TOOLS[@]}"; do
    read -r tool pkg version path <<<"$t"
    echo "$tool $(pkg_dir "$pkg" "$version")/$path"
  done
}

case "${1:-}" in
  --print) print; exit 0 ;;
  "") ;;
  *) echo "usage: bash test/ops/debian-packages.sh [--print]" >&2; exit 2 ;;
esac

download() { # package version dir: the .deb into dir
  (cd "$3" && apt-get download -qq -o APT::Sandbox::User=root "$1=$2" >&2)
}

fetch() { # package version
  local pkg=$1 version=$2 dest tmp t
  dest=$(pkg_dir "$pkg" "$version")
  if [[ -e "$dest/.complete" ]]; then log "$pkg $version: cached"; return; fi
  t=$(date +%s)
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.$pkg-$version.XXXXXX")
  # shellcheck disable=SC2064  # expand now: this temp dir
  trap "rm -rf '$tmp'" EXIT
  if ! download "$pkg" "$version" "$tmp"; then
    # A fresh machine has no package lists yet: read them once (root), then try again.
    [[ $(id -u) -eq 0 ]] || die "apt-get download $pkg=$version failed; as root, run \`apt-get update\` and try again"
    log "$pkg $version: not in the package lists; apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed (is the Debian mirror reachable?)"
    download "$pkg" "$version" "$tmp" ||
      die "Debian offers no $pkg $version (it offers: $(apt-cache madison "$pkg" | awk '{print $3}' | paste -sd' ')): update the pin in test/ops/debian-packages.sh"
  fi
  dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/root"
  [[ "$(dpkg-deb -f "$tmp"/"$pkg"_*.deb Version)" == "$version" ]] || die "$pkg: the downloaded .deb is not version $version"
  touch "$tmp/root/.complete"
  # Another run may have won the race: keep its copy (mv -T refuses a non-empty directory).
  mv -T "$tmp/root" "$dest" 2>/dev/null || [[ -e "$dest/.complete" ]] || die "could not move $pkg into $dest"
  rm -rf "$tmp"
  trap - EXIT
  log "$pkg $version: unpacked into $dest in $(( $(date +%s) - t ))s"
}

declare -A fetched=()
for t in "${TOOLS[@]}"; do
  read -r _ pkg version _ <<<"$t"
  [[ -n "${fetched[$pkg]:-}" ]] || fetch "$pkg" "$version"
  fetched[$pkg]=1
done

# A binary whose shared libraries are missing fails here, naming the package, not in a test.
print | while read -r tool path; do
  [[ -e "$path" ]] || die "$tool: no $path in the unpacked package"
  case "$tool" in
    *.so.*) ;;
    *) "$path" --version >/dev/null 2>&1 || die "$tool ($path) does not run: $("$path" --version 2>&1 | head -n1)" ;;
  esac
done
print
