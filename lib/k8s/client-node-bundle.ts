/**
 * @kubernetes/client-node and its dependencies are some 980 ESM modules: importing them costs
 * ~600 ms of CPU on Node 24, resolving and compiling module by module. One esbuild bundle of
 * it, built once per client-node version into node_modules/.cache, imports in ~260 ms.
 * Anything going wrong with the bundle falls back to the plain import. CREDFLOW_NO_BUNDLE=1
 * turns it off.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

type ClientNode = typeof import('@kubernetes/client-node')

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

let loaded: Promise<ClientNode> | undefined

export function importClientNode(): Promise<ClientNode> {
  loaded ??= (async () => {
    if (process.env.CREDFLOW_NO_BUNDLE === '1') return import('@kubernetes/client-node')
    try {
      return (await import(pathToFileURL(await ensureBundle()).href)) as ClientNode
    } catch {
      return import('@kubernetes/client-node')
    }
  })()
  return loaded
}

async function ensureBundle(): Promise<string> {
  const pkg = join(ROOT, 'node_modules/@kubernetes/client-node/package.json')
  const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version
  const dir = join(ROOT, 'node_modules/.cache/credflow')
  const out = join(dir, `client-node-${version}.mjs`)
  if (existsSync(out)) return out
  const { build } = await import('esbuild')
  mkdirSync(dir, { recursive: true })
  const tmp = `${out}.${process.pid}.tmp`
  try {
    await build({
      entryPoints: ['@kubernetes/client-node'],
      absWorkingDir: ROOT,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      outfile: tmp,
      logLevel: 'silent',
      // Bundled CommonJS dependencies still call require() for Node built-ins.
      banner: { js: "import { createRequire as __credflowRequire } from 'node:module'; const require = __credflowRequire(import.meta.url);" },
    })
    renameSync(tmp, out) // atomic: a concurrent run sees no half-written bundle
  } finally {
    rmSync(tmp, { force: true })
  }
  return out
}
