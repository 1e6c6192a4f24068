// docs/architecture.md stays true: every file it names exists, and the dependency rule it
// states (lib/engine imports nothing of lib/k8s or lib/oauth) holds for every engine module.
import { describe, it, expect } from 'vitest'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ROOT } from '../fixtures/engine/harness.ts'

const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8')

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))
}

describe('docs/architecture.md', () => {
  const named = [...new Set([...doc.matchAll(/`((?:lib|tasks|workflows|schemas|test)\/[\w./-]+\.(?:ts|mjs|yaml|json))`/g)].map((m) => m[1]))]
  it('names the modules it describes', () => expect(named.length).toBeGreaterThan(30))
  it.each(named)('%s exists', (path) => expect(existsSync(join(ROOT, path))).toBe(true))

  it('names every engine module under lib/engine/cli, commands and scheduler', () => {
    const modules = ['cli', 'commands', 'scheduler'].flatMap((d) => filesUnder(join(ROOT, 'lib/engine', d))).map((f) => relative(ROOT, f))
    // These directories are the map's subject: a new module there belongs on it.
    expect(modules.filter((m) => !named.includes(m))).toEqual([])
  })

  it('states a dependency rule that holds: lib/engine imports nothing of lib/k8s or lib/oauth', () => {
    expect(doc).toContain('`lib/engine` never imports `lib/k8s` or\n`lib/oauth`')
    const offenders = filesUnder(join(ROOT, 'lib/engine'))
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /from ['"](?:\.\.\/)+(?:k8s|oauth)\//.test(readFileSync(f, 'utf8')))
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([])
  })
})
