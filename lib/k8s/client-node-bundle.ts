/**
 * @kubernetes/client-node and its dependencies are some 980 ESM modules: importing them costs
 * ~600 ms of CPU on Node 24, resolving and compiling module by module. One esbuild bundle of
 * what lib/k8s uses (EXPORTS), tree-shaken and minified, built once per client-node version
 * into node_modules/.cache: 1.6 MB instead of 14.5 MB for the whole package, ~80 ms of CPU and
 * ~30 MB of RSS less than bundling everything. Anything going wrong with the bundle falls back
 * to the plain import. CREDFLOW_NO_BUNDLE=1 turns it off.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Plugin } from 'esbuild'

/** Every export lib/k8s takes from the bundle: a name missing here fails the typecheck. */
const EXPORTS = ['KubeConfig', 'CoreV1Api', 'AppsV1Api', 'AuthorizationV1Api', 'CoordinationV1Api', 'CustomObjectsApi', 'VersionApi', 'Watch', 'IsomorphicFetchHttpLibrary', 'wrapHttpLibrary', 'createConfiguration', 'ServerConfiguration'] as const
type ClientNode = Pick<typeof import('@kubernetes/client-node'), (typeof EXPORTS)[number]>

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

const OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  keepNames: true, // class names stay what client-node's errors and stack traces say
  // Bundled CommonJS dependencies still call require() for Node built-ins.
  banner: { js: "import { createRequire as __credflowRequire } from 'node:module'; const require = __credflowRequire(import.meta.url);" },
} as const

/**
 * node-fetch 2 takes `URL` from node:url and falls back to the whatwg-url package only where
 * node:url has none (`Url.URL || whatwgUrl.URL`), which never happens on a supported Node; the
 * package and its tr46 tables are 290 KB of the bundle and ~4 MB of RSS at every start. The
 * bundle gets node:url's URL under that name instead.
 */
const SHIMS: Record<string, string> = { 'whatwg-url': "module.exports = { URL: require('node:url').URL }" }
const shims: Plugin = {
  name: 'credflow-shims',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${Object.keys(SHIMS).join('|')})$`) }, (a) => ({ path: a.path, namespace: 'credflow-shim' }))
    b.onLoad({ filter: /.*/, namespace: 'credflow-shim' }, (a) => ({ contents: SHIMS[a.path], loader: 'js' }))
  },
}

async function ensureBundle(): Promise<string> {
  const pkg = join(ROOT, 'node_modules/@kubernetes/client-node/package.json')
  const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version
  const dir = join(ROOT, 'node_modules/.cache/credflow')
  // Named by what is in it, so a new export or option builds a new bundle beside the old one.
  const key = createHash('sha256').update(JSON.stringify([EXPORTS, OPTIONS, SHIMS])).digest('hex').slice(0, 8)
  const out = join(dir, `client-node-${version}-${key}.mjs`)
  if (existsSync(out)) return out
  const { build } = await import('esbuild')
  mkdirSync(dir, { recursive: true })
  const tmp = `${out}.${process.pid}.tmp`
  try {
    await build({
      ...OPTIONS,
      stdin: { contents: `export { ${EXPORTS.join(', ')} } from '@kubernetes/client-node'`, resolveDir: ROOT, loader: 'js' },
      absWorkingDir: ROOT,
      outfile: tmp,
      logLevel: 'silent',
      plugins: [shims],
    })
    renameSync(tmp, out) // atomic: a concurrent run sees no half-written bundle
  } finally {
    rmSync(tmp, { force: true })
  }
  return out
}
