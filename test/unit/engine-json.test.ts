// --json: stdout carries exactly one JSON document and nothing else; progress and the
// summary table go to stderr. Run as a real process so stdout is the real stdout.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { sandbox, runCli, readState, type Sandbox, type Result } from '../fixtures/engine/harness.ts'

let sb: Sandbox
let failed: Result
let dry: Result
beforeAll(async () => {
  sb = sandbox()
  // Sequential: the dry run must not see the real run's lock or files mid-way.
  failed = await runCli(['diamond', '--json', '--set', `dir=${sb.data}`, '--set', 'fatalC=true', '--set', 'failB=1'], sb.env)
  dry = await runCli(['diamond', '--set', `dir=${join(sb.data, 'fresh')}`, '--dry-run'], { ...sb.env, CREDFLOW_JSON: '1' })
})
afterAll(() => sb.cleanup())

const NODE_KEYS = ['attempts', 'durationMs', 'error', 'id', 'node', 'outputs', 'reason', 'status']

describe('--json on a real run', () => {
  it('prints one JSON document on stdout and nothing else', () => {
    expect(failed.stdout.startsWith('{\n')).toBe(true)
    expect(failed.stdout.endsWith('}\n')).toBe(true)
    expect(() => JSON.parse(failed.stdout)).not.toThrow()
  })
  it('has the documented shape: tool, workflow, runId, status, exitCode, nodes[] with id/status/attempts/outputs/error', () => {
    const doc = JSON.parse(failed.stdout)
    const s = readState(sb.state, 'diamond')
    expect(doc).toMatchObject({ tool: 'credflow', workflow: 'diamond', runId: s.runId, resumeOf: null, dryRun: false, status: 'failed', exitCode: 1 })
    expect(doc.stateFile).toBe(join(sb.state, 'diamond', 'runs', s.runId, 'state.json'))
    expect(doc.params).toEqual(s.params)
    expect(doc.nodes.map((n: { id: string }) => n.id)).toEqual(['a', 'b', 'c', 'd', 'e[one]', 'e[two]', 'report'])
    for (const n of doc.nodes) expect(Object.keys(n).filter((k) => k !== 'item').sort(), n.id).toEqual(NODE_KEYS)
    const byId = Object.fromEntries(doc.nodes.map((n: { id: string }) => [n.id, n]))
    expect(byId.b).toMatchObject({ status: 'succeeded', attempts: 2, error: null, outputs: { file: join(sb.data, 'b'), length: 2 } })
    expect(byId.c).toMatchObject({ status: 'failed', attempts: 1, outputs: null, error: { message: 'c: told to fail', reason: 'Fatal', hint: 'this is a test fixture' } })
    expect(byId.d).toMatchObject({ status: 'blocked', reason: 'upstream c failed', attempts: 0 })
    expect(byId['e[one]']).toMatchObject({ node: 'e', item: 'one' })
    expect(byId.a.changes).toBeUndefined()
  })
  it('exits with the same code as the document says, and sends progress and the table to stderr', () => {
    expect(failed.code).toBe(1)
    expect(failed.stderr).toMatch(/Z \[c\] FAILED in \S+: c: told to fail\n/)
    expect(failed.stderr).toMatch(/\nNODE +STATUS +DURATION +NOTE\n/)
  })
})

describe('--json on a dry run (CREDFLOW_JSON=1)', () => {
  it('is one JSON document with the planned changes of every node', () => {
    expect(dry.code).toBe(0)
    const doc = JSON.parse(dry.stdout)
    expect(doc).toMatchObject({ tool: 'credflow', workflow: 'diamond', runId: null, stateFile: null, dryRun: true, status: 'planned', exitCode: 0 })
    const byId = Object.fromEntries(doc.nodes.map((n: { id: string }) => [n.id, n]))
    expect(byId.a.changes).toEqual([{ verb: 'write', target: join(sb.data, 'fresh', 'a'), detail: '2 bytes' }])
    expect(byId.report.changes).toEqual([{ verb: 'write', target: join(sb.data, 'fresh', 'report.json') }])
    for (const n of doc.nodes) expect(n.status, n.id).toBe('planned')
    expect(dry.stderr).toContain('dry run: nothing was changed')
  })
})
