#!/usr/bin/env bash
# Print the bin directory of a pinned official Node binary, fetching it first if the cache lacks it:
#   bash test/node/fetch.sh 24    # -> ~/.cache/credflow/node-24.22.3/bin
# The binary comes from the npm registry's node-<os>-<arch> package (the official build, the
# same one nodejs.org ships; `npm pack` checks it against the registry's sha512 integrity), so
# it needs nothing but the registry npm already uses. Cached by exact version, written
# atomically (extract into a temp dir, check `node --version`, then mv), so concurrent callers
# and an interrupted fetch never leave a half-written Node behind. Warm: a few milliseconds.
set -euo pipefail

# The pins: the Node versions CI tests on. Bump them here only (and README's support matrix).
case ${1:-} in
  24) version=24.22.3 ;;
  22) version=22.23.5 ;;
  *) echo "usage: fetch.sh 24|22 (the pinned Node majors)" >&2; exit 2 ;;
esac

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
  Darwin-arm64) platform=darwin-arm64 ;;
  Darwin-x86_64) platform=darwin-x64 ;;
  *) echo "fetch.sh: no Node package for $(uname -s) $(uname -m); install Node $version yourself" >&2; exit 1 ;;
esac

cache=${CREDFLOW_CACHE:-$HOME/.cache/credflow}
dir="$cache/node-$version"
if [[ $platform != linux-x64 ]]; then dir="$cache/node-$version-$platform"; fi
if [[ -x $dir/bin/node ]]; then
  echo "$dir/bin"
  exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.node-$version.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetching Node $version (npm package node-$platform@$version, ~50 MB) into $dir" >&2
# npm pack, not npm install: no package.json, lockfile or node_modules of ours is touched.
tgz=$(cd "$tmp" && npm pack "node-$platform@$version" --silent --pack-destination "$tmp" 2>"$tmp/npm.log" | tail -n1) || {
  cat "$tmp/npm.log" >&2
  echo "fetch.sh: could not fetch node-$platform@$version from the npm registry (see above)" >&2
  exit 1
}
mkdir "$tmp/node"
tar -xzf "$tmp/$tgz" -C "$tmp/node" --strip-components=1 package/bin/node package/LICENSE
got=$("$tmp/node/bin/node" --version)
[[ $got == "v$version" ]] || { echo "fetch.sh: node-$platform@$version holds Node $got, not v$version" >&2; exit 1; }
# Another caller may have won the race: its copy is as good as ours.
mv -T "$tmp/node" "$dir" 2>/dev/null || [[ -x $dir/bin/node ]]
echo "$dir/bin"
