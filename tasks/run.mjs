#!/usr/bin/env node
// Entry point: `npx zx tasks/run.mjs <workflow> [flags]` (plain `node tasks/run.mjs` works too).
// Parses nothing itself: it finds its own arguments and hands them to the engine's CLI.
// The engine and the steps are TypeScript that Node (22.19+, 24) runs as it is, by type
// stripping: no compiler or loader hook at start-up. An older Node is refused here, before
// the first .ts import would fail with a SyntaxError.
import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'
import { realpathSync } from 'node:fs'
import * as nodeModule from 'node:module'
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
  // Node keeps the type-stripped, compiled engine on disk (keyed by each file's content, so an
  // edit is seen at once): about 0.3 s of CPU and 30 MB less per start. Beside the client-node
  // bundle, in the checkout's own node_modules; NODE_COMPILE_CACHE picks another directory,
  // NODE_DISABLE_COMPILE_CACHE=1 turns it off, and an unwritable directory only costs the speed.
  nodeModule.enableCompileCache?.(process.env.NODE_COMPILE_CACHE || resolve(dirname(self), '../node_modules/.cache/credflow/compile'))
  const root = resolve(dirname(self), '..')
  // The engine and the checkout's steps pre-built into one bundle (lib/engine/bundle.ts: built
  // on first use or by npm ci, rebuilt after an edit), else the TypeScript sources as they are.
  let bundle
  if (process.env.CREDFLOW_NO_BUNDLE !== '1') {
    try {
      const b = await import('../lib/engine/bundle.ts')
      if (b.bundleApplies(root, argv, process.env)) bundle = await b.engineBundle(root)
    } catch {
      bundle = undefined // only the speed is lost: the sources run
    }
  }
  const { EXIT } = await import(bundle?.exitCodes ?? '../lib/engine/exit-codes.ts')
  // Loading the engine takes a moment: a Ctrl-C meanwhile ends it at once, with nothing changed.
  const early = (sig) => {
    process.stderr.write(`credflow: ${sig} before the run started: nothing was changed\n`)
    process.exit(EXIT.interrupted)
  }
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const sig of signals) process.on(sig, early)
  // Whatever escapes the engine (a bug, an fs error nobody foresaw) is one line with the way to
  // see more, never a stack trace in the operator's terminal: CREDFLOW_DEBUG=1 shows it.
  const internal = (e) => {
    if (process.env.CREDFLOW_DEBUG === '1') process.stderr.write(`${e?.stack ?? e}\n`)
    const what = e?.code ? `${e.code}: ${e.message}` : (e?.message ?? String(e))
    process.stderr.write(`credflow: internal error: ${what.split('\n')[0]}\n(rerun with CREDFLOW_DEBUG=1 for the stack trace and report it with the command you ran; a run saves its state after every step: --resume continues it)\n`)
    process.exit(EXIT.failed)
  }
  process.on('uncaughtException', internal)
  process.on('unhandledRejection', internal)
  const { main } = await import(bundle?.cli ?? '../lib/engine/cli.ts')
  for (const sig of signals) process.off(sig, early)
  const code = await main({ argv, root, bundledTask: bundle?.task, engineDir: bundle?.dir }).catch(internal)
  // Flush stdout before exiting: a piped --json summary must arrive whole.
  process.stdout.write('', () => process.exit(code))
}
