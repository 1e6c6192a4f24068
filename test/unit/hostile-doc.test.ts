// docs/reliability.md's "Hostile input" section is the case table of the hostile suite:
// this test renders it from the cases the tests run and fails when the doc differs.
// CREDFLOW_WRITE_DOCS=1 rewrites the section instead.
import { describe, it, expect } from 'vitest'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LOCAL_CASES } from '../hostile/local-cases.ts'
import { PLANE_CASES } from '../hostile/plane-cases.ts'
import { CLASSES, docRow } from '../hostile/case.ts'
import { ROOT } from '../fixtures/engine/harness.ts'

const FILE = join(ROOT, 'docs/reliability.md')
const BEGIN = '<!-- hostile-input:begin (generated from test/hostile/*-cases.ts; test/unit/hostile-doc.test.ts checks it) -->'
const END = '<!-- hostile-input:end -->'

const ALL = [...LOCAL_CASES, ...PLANE_CASES]

function section(): string {
  const counts = Object.entries(CLASSES).map(([k, v]) => `- class ${k}, ${v}: ${ALL.filter((c) => String(c.cls) === k).length} case(s)`)
  const own = LOCAL_CASES.filter((c) => c.cluster === 'own').length
  const differ = LOCAL_CASES.filter((c) => c.onPlane).length
  const plane = `- on the real plane and the stand-in: all ${ALL.length} (the ${LOCAL_CASES.length} \`unit\` cases again, ${own} of them with their own refused or wedged server, ${differ} answering otherwise with a cluster to plan against)`
  const rows = [...LOCAL_CASES.map((c) => docRow(c, 'unit')), ...PLANE_CASES.map((c) => docRow(c, 'plane'))]
  const head = ['| case | class | what the operator did | exit | the message says | suite | on the plane |', '|---|---|---|---|---|---|---|']
  return [BEGIN, ...counts, plane, '', ...head, ...rows, END].join('\n')
}

describe('docs/reliability.md, hostile input', () => {
  it('lists every hostile case as the tests run it', () => {
    const text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : ''
    const at = text.indexOf(BEGIN)
    const end = text.indexOf(END)
    const current = at >= 0 && end > at ? text.slice(at, end + END.length) : undefined
    if (process.env.CREDFLOW_WRITE_DOCS === '1' && current !== section()) {
      writeFileSync(FILE, current ? text.replace(current, section()) : `${text}${section()}\n`)
      return
    }
    expect(current, 'run CREDFLOW_WRITE_DOCS=1 npx vitest run test/unit/hostile-doc.test.ts').toBe(section())
  })
  it('has at least 80 cases, some in every class, with unique ids', () => {
    expect(ALL.length).toBeGreaterThanOrEqual(80)
    for (const k of Object.keys(CLASSES)) expect(ALL.some((c) => String(c.cls) === k), `class ${k}`).toBe(true)
    expect(new Set(ALL.map((c) => c.id)).size).toBe(ALL.length)
  })
})
