// The pre-built engine (lib/engine/bundle.ts): built with the real esbuild in a scratch copy of
// the checkout, run by the real tasks/run.mjs, rebuilt after an edit or a new step, and left
// aside (the TypeScript sources run) when it cannot be built or does not apply.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundleApplies, engineBundle, META_URL } from '../../lib/engine/bundle.ts'
import { ROOT } from '../fixtures/engine/harness.ts'

let root: string

/** lib/, tasks/, workflows/ copied; node_modules a directory of links to the real packages, so the bundle's cache is the copy's own. */
function scratchCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'credflow-bundle-'))
  for (const d of ['lib', 'tasks', 'workflows', 'salt', 'schemas']) if (existsSync(join(ROOT, d))) cpSync(join(ROOT, d), join(dir, d), { recursive: true })
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'))
  mkdirSync(join(dir, 'node_modules'))
  for (const e of readdirSync(join(ROOT, 'node_modules'))) if (e !== '.cache') symlinkSync(join(ROOT, 'node_modules', e), join(dir, 'node_modules', e))
  return dir
}

/** `node tasks/run.mjs --version` of the copy: its last words say where the engine came from. */
function version(env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(process.execPath, [join(root, 'tasks/run.mjs'), '--version'], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, CREDFLOW_WORKFLOWS_DIR: '', CREDFLOW_NO_BUNDLE: '', ...env } })
}

const engineDirs = () => readdirSync(join(root, 'node_modules/.cache/credflow/engine')).filter((e) => e !== 'manifest.json')

beforeEach(() => {
  root = scratchCheckout()
})
afterEach(() => rmSync(root, { recursive: true, force: true }))

describe('pre-built engine', () => {
  it('is built on first use, run by tasks/run.mjs, and reused while nothing changed', async () => {
    expect(version()).toMatch(/; engine: pre-built, node_modules\/\.cache\/credflow\/engine\/[0-9a-f]{16}\)\n$/)
    const [dir] = engineDirs()
    const built = statSync(join(root, 'node_modules/.cache/credflow/engine', dir)).mtimeMs
    expect(version()).toContain(`engine: pre-built, node_modules/.cache/credflow/engine/${dir})`)
    expect(engineDirs()).toEqual([dir])
    expect(statSync(join(root, 'node_modules/.cache/credflow/engine', dir)).mtimeMs).toBe(built)
    // Every step of the checkout is in it, loaded from it by the engine.
    const b = (await engineBundle(root))!
    expect(b.task('k8s/update-secret')).toBe(join(root, 'node_modules/.cache/credflow/engine', dir, 'tasks/k8s/update-secret.js'))
    expect(existsSync(b.task('gmail/reauth')!)).toBe(true)
    expect(b.task('gmail/nope')).toBeUndefined()
  }, 120_000)

  it('is rebuilt when a source file changes: the edit is what runs', () => {
    const first = version()
    const file = join(root, 'lib/engine/commands/version.ts')
    writeFileSync(file, readFileSync(file, 'utf8').replace('`credflow ${version} (node', '`credflow-edited ${version} (node'))
    const second = version()
    expect(second).toMatch(/^credflow-edited .*engine: pre-built/)
    expect(second.match(/engine\/(\w+)\)/)![1]).not.toBe(first.match(/engine\/(\w+)\)/)![1])
  }, 120_000)

  it('is rebuilt when a step is added, and holds it', async () => {
    const before = (await engineBundle(root))!
    mkdirSync(join(root, 'tasks/extra'))
    writeFileSync(join(root, 'tasks/extra/hello.ts'), "import { z } from 'zod'\nimport { defineStep } from '../../lib/engine/step.ts'\nexport default defineStep({ description: 'hi', inputs: z.object({}), async apply() { return {} } })\n")
    const after = (await engineBundle(root))!
    expect(after.dir).not.toBe(before.dir)
    expect(existsSync(after.task('extra/hello')!)).toBe(true)
  }, 120_000)

  it('falls back to the TypeScript sources when it cannot be built', () => {
    mkdirSync(join(root, 'tasks/extra'))
    writeFileSync(join(root, 'tasks/extra/broken.ts'), 'export const = ;\n')
    expect(version()).toMatch(/; engine: TypeScript sources\)\n$/)
  }, 120_000)

  it('is not used when turned off or for workflows from elsewhere (their steps import the sources)', () => {
    expect(version({ CREDFLOW_NO_BUNDLE: '1' })).toMatch(/engine: TypeScript sources/)
    expect(bundleApplies(root, ['gmail-reauth'], {})).toBe(true)
    expect(bundleApplies(root, ['gmail-reauth'], { CREDFLOW_WORKFLOWS_DIR: join(root, 'workflows') })).toBe(true)
    expect(bundleApplies(root, ['gmail-reauth'], { CREDFLOW_WORKFLOWS_DIR: '/tmp/elsewhere' })).toBe(false)
    expect(bundleApplies(root, ['/tmp/w/flow.yaml'], {})).toBe(false)
    expect(bundleApplies(root, ['--dry-run', '/tmp/w/flow.yml'], {})).toBe(false)
    expect(bundleApplies(root, [], { CREDFLOW_WORKFLOW: '/tmp/w/flow.yaml' })).toBe(false)
    // Only the workflow argument counts: a kubeconfig or a --set value may end in .yaml too.
    expect(bundleApplies(root, ['gmail-reauth', '--set', 'kubeconfig=/tmp/k/kubeconfig.yaml', '--kubeconfig', '/tmp/k.yaml'], {})).toBe(true)
    expect(bundleApplies(root, ['gmail-reauth'], { CREDFLOW_NO_BUNDLE: '1' })).toBe(false)
  }, 120_000)
})

describe('import.meta.url in the bundled sources', () => {
  // In a bundle it would be the chunk's URL: the build puts the source file's in its place, in
  // the forms META_URL knows. Any other use would silently point at node_modules/.cache.
  it('appears only as fileURLToPath(import.meta.url) or new URL(…, import.meta.url)', () => {
    const files: string[] = []
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.ts') && files.push(join(d, e.name))
    }
    walk(join(ROOT, 'lib'))
    walk(join(ROOT, 'tasks'))
    const stray: string[] = []
    for (const f of files) {
      // The createRequire banners are text for esbuild, where the chunk's own URL is right.
      const text = readFileSync(f, 'utf8').replaceAll('__credflowRequire(import.meta.url)', '')
      const all = text.match(/import\.meta\.url/g)?.length ?? 0
      const known = text.match(META_URL)?.length ?? 0
      if (all !== known) stray.push(f)
    }
    expect(stray).toEqual([])
    expect(files.length).toBeGreaterThan(50)
  })
})
