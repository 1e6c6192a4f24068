// One exit-code table (lib/engine/exit-codes.ts): --help, the README and the wrapper script's
// usage print the same rows, and the CLI's own exits come from EXIT, not from literals.
import { describe, it, expect } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { EXIT, EXIT_CODE_TABLE } from '../../lib/engine/exit-codes.ts'
import { generalHelp, exitCodeLines, topicHelp } from '../../lib/engine/help.ts'
import { ROOT } from '../fixtures/engine/harness.ts'

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')

describe('the exit-code table', () => {
  it('has no two rows with the same code, and every EXIT code has a row', () => {
    const codes = EXIT_CODE_TABLE.map(([c]) => c)
    expect(new Set(codes).size).toBe(codes.length)
    expect([...codes].sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b))
  })

  it('`help exit-codes` prints every row, and --help names every code and where the rows are', () => {
    expect(topicHelp('exit-codes')).toContain(`${exitCodeLines()}\n`)
    for (const [code] of EXIT_CODE_TABLE) expect(generalHelp()).toMatch(new RegExp(`\\b${code} [a-z]`))
    expect(generalHelp()).toContain('(help exit-codes)')
  })

  it("the README's table is the same table", () => {
    const block = /<!-- exit-codes:begin[^>]*-->\n([\s\S]*?)<!-- exit-codes:end -->/.exec(readme)?.[1]
    const want = ['| code | meaning |', '|---|---|', ...EXIT_CODE_TABLE.map(([c, m]) => `| \`${c}\` | ${m} |`)].join('\n') + '\n'
    expect(block).toBe(want)
  })

  it("the wrapper script's usage prints the same rows", () => {
    const r = spawnSync('/bin/bash', [join(ROOT, 'scripts/gmail-reauth.sh'), '--help'], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(r.stdout).toContain(`${exitCodeLines()}\n`)
  })

  it('the engine returns codes from EXIT, never a bare number', () => {
    const files = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
    // tasks/run.mjs is left out: its refusal of an old Node runs before any TypeScript can load.
    for (const f of files('lib/engine')) {
      if (f.endsWith('exit-codes.ts')) continue
      const src = readFileSync(join(ROOT, f), 'utf8')
      expect(src.match(/exitCode: [0-9]+|process\.exit\([0-9]+\)|\? (?:130|[1-6]) :/g) ?? [], f).toEqual([])
    }
  })
})
