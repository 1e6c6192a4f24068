// The committed JSON Schema is what the zod schema generates, and every workflow file
// points editors at it with a yaml-language-server modeline.
import { describe, it, expect } from 'vitest'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { renderJsonSchema, schemaPath } from '../../lib/engine/schema-export.ts'
import { parseWorkflow } from '../../lib/engine/load.ts'
import { ROOT } from '../fixtures/engine/harness.ts'

const SCHEMA = join(ROOT, 'schemas/workflow.schema.json')

/** Every workflows/*.yaml in the repository: the real ones and the test fixtures. */
function workflowFiles(): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (/\.ya?ml$/.test(e.name) && /(^|\/)workflows$/.test(dir)) out.push(p)
    }
  }
  for (const top of ['workflows', 'test']) if (existsSync(join(ROOT, top))) walk(join(ROOT, top))
  return out.sort()
}

describe('schemas/workflow.schema.json', () => {
  it('is exactly what renderJsonSchema() generates (run `npm run schema` after changing lib/engine/schema.ts)', () => {
    expect(schemaPath).toBe(SCHEMA)
    expect(readFileSync(SCHEMA, 'utf8')).toBe(renderJsonSchema())
  })
  it('describes the workflow shape strictly', () => {
    const s = JSON.parse(readFileSync(SCHEMA, 'utf8'))
    expect(s.$schema).toBe('http://json-schema.org/draft-07/schema#')
    expect(s.required).toEqual(expect.arrayContaining(['version', 'name', 'description', 'nodes']))
    expect(s.additionalProperties).toBe(false)
    expect(Object.keys(s.properties)).toEqual(expect.arrayContaining(['params', 'nodes', 'finally']))
  })
})

describe('workflow files carry the yaml-language-server modeline', () => {
  const files = workflowFiles()
  it('finds the fixture workflows (and workflows/ when present)', () => {
    expect(files.map((f) => relative(ROOT, f))).toEqual(expect.arrayContaining(['test/fixtures/engine/workflows/diamond.yaml', 'test/fixtures/engine/workflows/noop7.yaml']))
  })
  it.each(files.map((f) => [relative(ROOT, f), f]))('%s starts with a $schema modeline that resolves to the committed schema', (_, f) => {
    const first = readFileSync(f, 'utf8').split('\n')[0]
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first)
    expect(m, `first line of ${f}: ${first}`).not.toBeNull()
    expect(resolve(dirname(f), m![1])).toBe(SCHEMA)
  })
  // Only the fixtures: the real workflows belong to their tasks' owners and are tested there.
  const fixtures = files.filter((f) => relative(ROOT, f).startsWith('test/fixtures/'))
  it.each(fixtures.map((f) => [relative(ROOT, f), f]))('%s is a valid workflow', (_, f) => {
    const tasks = join(dirname(dirname(f)), 'tasks')
    const wf = parseWorkflow(readFileSync(f, 'utf8'), f, { taskExists: (id) => existsSync(join(tasks, `${id}.ts`)) })
    expect(wf.nodes.length).toBeGreaterThan(0)
  })
})
