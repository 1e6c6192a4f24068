// --json: stdout carries exactly one JSON document and nothing else; progress and the
// summary table go to stderr. Run as a real process so stdout is the real stdout.
import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { sandbox, privateWorkflows, runCli, runMain, readState, type Sandbox, type Result } from '../fixtures/engine/harness.ts'

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

describe('--json when nothing runs (exit 2 and 3)', () => {
  let sb2: Sandbox
  let sleeper: ChildProcess | undefined
  beforeEach(() => (sb2 = sandbox()))
  afterEach(() => {
    sleeper?.kill('SIGKILL')
    sb2.cleanup()
  })
  /** Exactly one JSON document on stdout, and the human message still on stderr. */
  const onlyDoc = (r: Result) => {
    expect(r.stdout.startsWith('{\n') && r.stdout.endsWith('}\n'), r.stdout).toBe(true)
    return JSON.parse(r.stdout)
  }

  it('a usage error, even one the strict parse rejects: status usage-error', async () => {
    const r = await runCli(['diamond', '--json', '--bogus'], sb2.env)
    expect(r.code).toBe(2)
    expect(onlyDoc(r)).toEqual({ tool: 'credflow', workflow: null, status: 'usage-error', exitCode: 2, error: 'unknown flag --bogus', hint: "run 'npx zx tasks/run.mjs --help' for usage" })
    expect(r.stderr).toContain('credflow: unknown flag --bogus')
    const env = await runCli(['diamond'], { ...sb2.env, CREDFLOW_JSON: '1' }) // required param dir missing
    expect(onlyDoc(env)).toMatchObject({ workflow: 'diamond', status: 'usage-error', exitCode: 2, error: 'param dir is required: pass --set dir=... or CREDFLOW_SET_DIR' })
  })
  it('an invalid workflow: status invalid, with every problem and its position', async () => {
    const dir = privateWorkflows(sb2.root, { 'bad.yaml': 'version: 1\nname: bad\ndescription: x\nnodes:\n  a: { run: demo/nope }\n' })
    const r = await runCli(['bad', '--json'], { ...sb2.env, CREDFLOW_WORKFLOWS_DIR: dir })
    expect(r.code).toBe(2)
    const doc = onlyDoc(r)
    expect(doc).toMatchObject({ workflow: 'bad', status: 'invalid', exitCode: 2, problems: [{ line: 5, col: 13, path: 'nodes.a.run', message: 'unknown task "demo/nope": no file tasks/demo/nope.ts' }] })
    expect(doc.error).toContain('unknown task "demo/nope"')
  })
  it('a resume refused because the setup changed: status refused, with the run id', async () => {
    expect((await runMain(['diamond', '--set', `dir=${sb2.data}`, '--set', 'failB=3'], sb2.env)).code).toBe(1)
    const r = await runCli(['diamond', '--json', '--resume', '--set', `dir=${sb2.data}`, '--set', 'skipD=true'], sb2.env)
    expect(r.code).toBe(2)
    expect(onlyDoc(r)).toMatchObject({ workflow: 'diamond', status: 'refused', exitCode: 2, runId: readState(sb2.state, 'diamond').runId, error: expect.stringContaining('param skipD') })
  })
  it('another run holds the lock: status locked, exit 3, with the lock file and its holder', async () => {
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' })
    const lock = join(sb2.state, 'diamond', 'lock')
    mkdirSync(join(sb2.state, 'diamond'), { recursive: true })
    writeFileSync(lock, JSON.stringify({ pid: sleeper.pid, host: hostname(), startedAt: '2026-01-02T03:04:05.000Z' }))
    const r = await runCli(['diamond', '--json', '--set', `dir=${sb2.data}`], sb2.env)
    expect(r.code).toBe(3)
    expect(onlyDoc(r)).toMatchObject({ workflow: 'diamond', status: 'locked', exitCode: 3, lock, holder: { pid: sleeper.pid }, hint: expect.stringContaining(`rm ${lock}`) })
  })
})
