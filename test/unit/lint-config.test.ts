// `npm run lint` catches bugs and leaves style alone: the repository's biome.jsonc run on
// scratch files with one planted bug each, and on one oddly formatted but correct file.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../fixtures/engine/harness.ts'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'credflow-lint-'))
  copyFileSync(join(ROOT, 'biome.jsonc'), join(dir, 'biome.jsonc'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Lint one file with the project's config and flags (package.json's "lint"), as CI does. */
function lint(name: string, text: string) {
  writeFileSync(join(dir, name), text)
  const r = spawnSync(join(ROOT, 'node_modules/.bin/biome'), ['lint', '--error-on-warnings', '--vcs-enabled=false', name], { cwd: dir, encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, out: r.stdout + r.stderr }
}

describe('the lint config', () => {
  it.each([
    ['an unused import', "import { join } from 'node:path'\nexport const x = 1\n", 'noUnusedImports'],
    ['a floating promise', 'async function save(): Promise<void> {}\nexport function run() {\n  save()\n}\n', 'noFloatingPromises'],
    ['a focused test', "import { it } from 'vitest'\nit.only('x', () => {})\n", 'noFocusedTests'],
    ['a return in finally', 'export function f() {\n  try {\n    return 1\n  } finally {\n    return 2\n  }\n}\n', 'noUnsafeFinally'],
    ['a self comparison', 'export const nan = (a: number) => a !== a\n', 'noSelfCompare'],
  ])('fails on %s', (_, text, rule) => {
    const r = lint('bug.ts', text)
    expect(r.code, r.out).not.toBe(0)
    expect(r.out).toContain(rule)
  })
  it('passes correct code in any layout, workflow template strings and void-returning calls included', () => {
    const r = lint('ok.ts', "import { join } from 'node:path';\nconst log = (s: string): void => { console.log(s) }\nexport function f(a: string): void { if (!a) return log('${{ params.dir }}'); log(join(a,   'x')) }\n")
    expect(r.code, r.out).toBe(0)
  })
})
