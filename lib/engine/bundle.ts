/**
 * The engine and the checkout's steps, pre-built: one esbuild bundle (ESM, split into shared
 * chunks; a step and the engine share one copy of every module) instead of ~300 modules that
 * Node resolves, reads and links one by one at every start. Built on first use into
 * node_modules/.cache/credflow/engine/<key>/ and named by what went in (the content of every
 * source file, the installed packages, the options), so an edit is seen at the next start;
 * `npm ci` builds it ahead (the prepare script). Anything going wrong with it falls back to the
 * TypeScript sources, which Node runs as they are. CREDFLOW_NO_BUNDLE=1 turns it off.
 *
 * Only for the checkout's own workflows and steps: a workflow from another directory brings
 * steps of its own that import the engine's sources, and two copies of the engine in one
 * process would not recognise each other's errors (instanceof).
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { BuildOptions } from 'esbuild'
import { parseArgs } from './args.ts'

export interface EngineBundle {
  /** The bundle's directory. */
  dir: string
  /** file: URL of the bundled lib/engine/cli.ts. */
  cli: string
  /** file: URL of the bundled lib/engine/exit-codes.ts. */
  exitCodes: string
  /** file path of the bundled tasks/<id>.ts, or undefined when the bundle has no such step. */
  task(id: string): string | undefined
}

interface Manifest {
  key: string
  /** Repository-relative source files that went in (entry points and what they import). */
  inputs: string[]
  /** The step ids bundled (tasks/<id>.ts). */
  tasks: string[]
}

const ENTRIES = ['lib/engine/cli.ts', 'lib/engine/exit-codes.ts']
const OPTIONS: BuildOptions = {
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  keepNames: true, // class names stay what errors and stack traces say
  // Loaded at run time from node_modules: client-node through its own bundle (lib/k8s), esbuild to build it.
  external: ['@kubernetes/client-node', 'esbuild'],
  // Bundled CommonJS dependencies still call require() for Node built-ins.
  banner: { js: "import { createRequire as __credflowRequire } from 'node:module'; const require = __credflowRequire(import.meta.url);" },
}
/** Bump when the way the bundle is built changes (the plugin below). */
const FORMAT = 1

/**
 * A source file's own URL (import.meta's url, passed to fileURLToPath or as the base of a new
 * URL, the two ways the engine uses it): in a bundle it would be the chunk's, so the build puts
 * the source file's URL in its place. test/unit/engine-bundle.test.ts holds every use in lib/ and tasks/ to these forms.
 */
export const META_URL = /(?<=(?:fileURLToPath\(|, ))import\.meta\.url/g

/** Whether this invocation may run the bundle: the checkout's own workflows, and not turned off. */
export function bundleApplies(root: string, argv: string[], env: NodeJS.ProcessEnv): boolean {
  if (env.CREDFLOW_NO_BUNDLE === '1') return false
  if (env.CREDFLOW_WORKFLOWS_DIR && resolve(env.CREDFLOW_WORKFLOWS_DIR) !== join(root, 'workflows')) return false
  // A workflow named by its file may live anywhere, with steps beside it. Read as the CLI reads
  // it (a --set value or a kubeconfig may end in .yaml too); arguments it refuses: the bundle says so.
  let workflow: string | undefined
  try {
    workflow = parseArgs(argv, env).workflow
  } catch {
    return true
  }
  return !workflow || !/\.ya?ml$/.test(workflow)
}

/** The bundle for this checkout as it is now, built when missing or stale; undefined when it cannot be had. */
export async function engineBundle(root: string): Promise<EngineBundle | undefined> {
  try {
    const base = join(root, 'node_modules/.cache/credflow/engine')
    const manifestFile = join(base, 'manifest.json')
    const tasks = taskIds(root)
    const known = readManifest(manifestFile)
    if (known && sameList(known.tasks, tasks) && keyOf(root, known.inputs) === known.key && existsSync(join(base, known.key))) return opened(join(base, known.key), known)
    return opened(...(await build(root, base, manifestFile, tasks)))
  } catch {
    return undefined
  }
}

function opened(dir: string, m: Manifest): EngineBundle {
  const ids = new Set(m.tasks)
  return {
    dir,
    cli: pathToFileURL(join(dir, 'lib/engine/cli.js')).href,
    exitCodes: pathToFileURL(join(dir, 'lib/engine/exit-codes.js')).href,
    task: (id) => (ids.has(id) ? join(dir, 'tasks', `${id}.js`) : undefined),
  }
}

/** tasks/<dir>/<name>.ts and tasks/<name>.ts, as step ids. */
function taskIds(root: string): string[] {
  const ids: string[] = []
  const walk = (dir: string, prefix: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name), `${prefix}${e.name}/`)
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) ids.push(prefix + e.name.slice(0, -3))
    }
  }
  walk(join(root, 'tasks'), '')
  return ids.sort()
}

function readManifest(file: string): Manifest | undefined {
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Manifest
    return typeof m.key === 'string' && Array.isArray(m.inputs) && Array.isArray(m.tasks) ? m : undefined
  } catch {
    return undefined
  }
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * What the bundle is made of: every source file's path and content, the installed packages
 * (npm's record of node_modules, by size and time: an install rewrites it), the checkout's path and the
 * options. A missing input (a file deleted) makes a key no bundle has.
 */
function keyOf(root: string, inputs: readonly string[]): string {
  const h = createHash('sha256').update(JSON.stringify([FORMAT, OPTIONS, ENTRIES, root]))
  for (const f of inputs) h.update(`\0${f}\0`).update(readFileSync(join(root, f)))
  const lock = statSync(join(root, 'node_modules/.package-lock.json'), { throwIfNoEntry: false })
  h.update(`\0lock\0${lock ? `${lock.size}:${lock.mtimeMs}` : 'none'}`)
  return h.digest('hex').slice(0, 16)
}

async function build(root: string, base: string, manifestFile: string, tasks: string[]): Promise<[string, Manifest]> {
  mkdirSync(base, { recursive: true }) // first: a read-only checkout gives up before loading esbuild
  const { build: esbuild } = await import('esbuild')
  const tmp = join(base, `.build-${process.pid}-${Date.now()}`)
  try {
    const r = await esbuild({
      ...OPTIONS,
      absWorkingDir: root,
      entryPoints: [...ENTRIES, ...tasks.map((id) => `tasks/${id}.ts`)],
      outbase: root,
      outdir: tmp,
      metafile: true,
      logLevel: 'silent',
      plugins: [
        {
          name: 'source-import-meta-url',
          setup(b) {
            b.onLoad({ filter: /\.ts$/ }, (a) => ({ contents: readFileSync(a.path, 'utf8').replace(META_URL, JSON.stringify(pathToFileURL(a.path).href)), loader: 'ts' }))
          },
        },
      ],
    })
    // Repository files only: the packages are in the key by npm's record of node_modules.
    const inputs = Object.keys(r.metafile!.inputs)
      .map((f) => relative(root, resolve(root, f)))
      .filter((f) => !f.startsWith('node_modules/') && !f.startsWith('..'))
      .sort()
    const m: Manifest = { key: keyOf(root, inputs), inputs, tasks }
    const dir = join(base, m.key)
    if (!existsSync(dir)) {
      try {
        renameSync(tmp, dir) // atomic: a concurrent start sees the whole bundle or none
      } catch (e) {
        if (!existsSync(dir)) throw e // else another start built the same one first
      }
    }
    const mtmp = `${manifestFile}.${process.pid}.tmp`
    writeFileSync(mtmp, `${JSON.stringify(m)}\n`)
    renameSync(mtmp, manifestFile)
    prune(base, m.key)
    return [dir, m]
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** Older bundles, once nothing can be running from them any more (a run loads its steps lazily): kept a day. */
function prune(base: string, keep: string): void {
  const dayAgo = Date.now() - 86_400_000
  for (const e of readdirSync(base, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === keep) continue
    const at = join(base, e.name)
    if (statSync(at).mtimeMs < dayAgo) rmSync(at, { recursive: true, force: true })
  }
}
