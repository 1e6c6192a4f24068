// Which Node versions credflow runs on. Plain JavaScript, not TypeScript: it must run on the
// Node it refuses (Node 20 cannot strip types), to say so in one clear line instead of a
// SyntaxError. tasks/run.mjs asks it before loading anything else; test/node/use.sh and
// scripts/gmail-reauth.sh run it as `node lib/node-support.mjs` (exit 0 supported, 2 not).
import { fileURLToPath, pathToFileURL } from 'node:url'

const FETCH = fileURLToPath(new URL('../test/node/fetch.sh', import.meta.url))

/** package.json's engines.node says the same (a unit test keeps them equal). */
export const ENGINES = '^22.19.0 || >=24'

/**
 * 24 is the line CI runs everything on; 22 from 22.19 is tested too (unit tests and the demo).
 * 22.18 brought type stripping without a flag, 22.19 is what undici 8 (client-node 2) needs.
 * Later lines (26, the Active LTS since 2026-10-28) are expected to work; CI does not run them.
 */
export function isSupported(version = process.versions.node) {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number)
  return major >= 24 || (major === 22 && minor >= 19)
}

/** What to tell a person on an unsupported Node: the problem, and what to do. */
export function refusal(version = process.versions.node) {
  const major = Number(version.replace(/^v/, '').split('.')[0])
  const eol = major <= 20 ? ` (Node ${major} is end-of-life)` : major === 22 ? ' (upgrade to the latest 22.x)' : ''
  return {
    error: `Node ${version.replace(/^v/, '')} is not supported${eol}: credflow runs on Node 24 LTS, or Node 22 from 22.19`,
    hint: `install Node 24 LTS (your distribution, NodeSource or nodejs.org), or in this checkout use a cached copy from the npm registry: PATH="$(bash '${FETCH}' 24):$PATH" and run again`,
  }
}

// `node lib/node-support.mjs [VERSION]`: exit 0 if supported, else print the refusal, exit 2.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const version = process.argv[2] ?? process.versions.node
  if (!isSupported(version)) {
    const { error, hint } = refusal(version)
    process.stderr.write(`credflow: ${error}\nhint: ${hint}\n`)
    process.exitCode = 2
  }
}
