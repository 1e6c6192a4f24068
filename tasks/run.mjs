#!/usr/bin/env node
// Entry point: `npx zx tasks/run.mjs <workflow> [flags]` (plain `node tasks/run.mjs` works too).
// Parses nothing itself: it finds its own arguments and hands them to the engine's CLI.
// Node 20 cannot run TypeScript, so the engine and the steps load through tsx's ESM hook.
import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'
import { realpathSync } from 'node:fs'
import { register } from 'tsx/esm/api'

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

// Import the engine's npm dependencies natively first: once tsx's hooks are registered every
// module load crosses to its loader thread, and zod and yaml are dozens of files each
// (about 80ms of start-up; test/bench.ts measures it). They are the same module instances
// the TypeScript code gets later.
await Promise.all([import('zod'), import('yaml')])
register()
const { main } = await import('../lib/engine/cli.ts')
const code = await main({ argv, root: resolve(dirname(self), '..') })
// Flush stdout before exiting: a piped --json summary must arrive whole.
process.stdout.write('', () => process.exit(code))
