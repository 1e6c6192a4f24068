#!/usr/bin/env node
// Entry point: `npx zx tasks/run.mjs <workflow> [flags]` (plain `node tasks/run.mjs` works too).
// Parses nothing itself: it finds its own arguments and hands them to the engine's CLI.
// The engine and the steps are TypeScript that Node (22.19+, 24) runs as it is, by type
// stripping: no compiler or loader hook at start-up. An older Node is refused here, before
// the first .ts import would fail with a SyntaxError.
import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'
import { realpathSync } from 'node:fs'
import { isSupported, refusal } from '../lib/node-support.mjs'

const self = fileURLToPath(import.meta.url)
const real = (p) => {
  try {
    return realpathSync(resolve(p))
  } catch {
    return resolve(p)
  }
}
// Under `zx`, process.argv is [node, zx-cli, run.mjs, ...]; under node it is [node, run.mjs, ...].
// import.meta.url is the real path, argv may go through a symlink (/opt/credflow -> release).
const at = process.argv.findIndex((a, i) => i > 0 && real(a) === self)
const argv = process.argv.slice(at >= 0 ? at + 1 : 2)

if (!isSupported()) {
  // Exit 2 (EXIT.usage: refused before any change); --json still gets its one document.
  const { error, hint } = refusal()
  const json = argv.includes('--json') || process.env.CREDFLOW_JSON === '1'
  if (json) process.stdout.write(`${JSON.stringify({ tool: 'credflow', workflow: null, status: 'refused', exitCode: 2, error, hint }, null, 2)}\n`)
  process.stderr.write(`credflow: ${error}\nhint: ${hint}\n`)
  process.exitCode = 2
} else {
  const { main } = await import('../lib/engine/cli.ts')
  const code = await main({ argv, root: resolve(dirname(self), '..') })
  // Flush stdout before exiting: a piped --json summary must arrive whole.
  process.stdout.write('', () => process.exit(code))
}
