#!/usr/bin/env bash
# Run a command with a supported Node first on PATH: the README's `npm run demo` and `npm test`
# go through here, so they work on a machine whose Node is older (Node 20): then it says so in
# one line and uses the pinned Node 24 from ~/.cache/credflow, fetched on first use from the
# npm registry (test/node/fetch.sh). On a supported Node it only execs the command.
# vitest, zx and npm start through `#!/usr/bin/env node`, so they and every child that runs
# `node` get the same Node.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! command -v node >/dev/null 2>&1 || ! node "$here/../../lib/node-support.mjs" 2>/dev/null; then
  current=$(node -p process.versions.node 2>/dev/null || echo "(none on PATH)")
  bin=$(bash "$here/fetch.sh" 24)
  echo "credflow: Node $current is not supported (Node 24 LTS, or 22 from 22.19, is): using Node $("$bin/node" -p process.versions.node) from $bin" >&2
  export PATH="$bin:$PATH"
fi
exec "$@"
