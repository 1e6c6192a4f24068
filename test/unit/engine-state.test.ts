// The run document: private files, written after every transition, with everything a
// resume and a human need; plus the append-only event log.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { createHash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { isMainThread } from 'node:worker_threads'
import { sandbox, runMain, readState, readEvents, runIds, WORKFLOWS, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

const mode = (p: string) => statSync(p).mode & 0o777

describe('state files are private', () => {
  it('creates 0700 directories and 0600 files, even under a permissive umask', async () => {
    // process.umask() can only be changed outside worker threads (vitest's default pool is forks).
    const old = isMainThread ? process.umask(0o022) : undefined
    try {
      expect((await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)).code).toBe(0)
    } finally {
      if (old !== undefined) process.umask(old)
    }
    const [id] = runIds(sb.state, 'diamond')
    const run = join(sb.state, 'diamond', 'runs', id)
    for (const d of [sb.state, join(sb.state, 'diamond'), join(sb.state, 'diamond', 'runs'), run]) expect(mode(d), d).toBe(0o700)
    for (const f of [join(run, 'state.json'), join(run, 'events.jsonl')]) expect(mode(f), f).toBe(0o600)
  })
})

describe('the state document', () => {
  it('records the workflow hash, params and per-node status, attempts, times, outputs and errors', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true', '--set', 'failB=1'], sb.env)
    expect(r.code).toBe(1)
    const s = readState(sb.state, 'diamond')
    const text = readFileSync(join(WORKFLOWS, 'diamond.yaml'))
    expect(s).toMatchObject({
      schema: 1,
      tool: 'credflow',
      workflow: 'diamond',
      workflowHash: 'sha256:' + createHash('sha256').update(text).digest('hex'),
      status: 'failed',
      pid: process.pid,
      resumes: 0,
      params: { dir: sb.data, slowMs: 0, failB: 1, fatalC: true, skipD: false, targets: ['one', 'two'] },
    })
    expect(s.runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{4}$/)
    expect(Date.parse(s.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(s.startedAt))
    expect(Object.keys(s.nodes)).toEqual(['a', 'b', 'c', 'd', 'e[one]', 'e[two]', 'report'])
    const b = s.nodes.b
    expect(b).toMatchObject({ node: 'b', status: 'succeeded', attempts: 2, outputs: { file: join(sb.data, 'b'), length: 2 } })
    expect(b.inputsHash).toMatch(/^sha256:[0-9a-f]{16}$/)
    expect(Date.parse(b.finishedAt!) - Date.parse(b.startedAt!)).toBeGreaterThanOrEqual(0)
    expect(b.durationMs).toBeGreaterThanOrEqual(50) // one 50ms backoff
    expect(s.nodes.c).toMatchObject({ status: 'failed', attempts: 1, error: { message: 'c: told to fail', reason: 'Fatal', hint: 'this is a test fixture' } })
    expect(s.nodes['e[one]']).toMatchObject({ node: 'e', item: 'one', status: 'blocked' })
  })
})

describe('state is written after every transition', () => {
  it('lets a running step read its own `running` status and its upstream `succeeded` from disk', async () => {
    expect((await runMain(['peek', '--set', `dir=${sb.data}`], sb.env)).code).toBe(0)
    const s = readState(sb.state, 'peek')
    // What the look node saw in state.json and events.jsonl while it was running:
    expect(s.nodes.look.outputs).toEqual({
      runStatus: 'running',
      statuses: { first: 'succeeded', look: 'running' },
      selfEvents: ['pending', 'running', 'log'],
    })
  })
})

describe('events.jsonl', () => {
  it('is one JSON object a line: run-start, every status change with timestamps, logs, run-end', async () => {
    expect((await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'failB=1'], sb.env)).code).toBe(0)
    const s = readState(sb.state, 'diamond')
    const ev = readEvents(sb.state, 'diamond', s.runId)
    for (const e of ev) expect(Date.parse(e.ts as string)).not.toBeNaN()
    expect(ev[0]).toMatchObject({ type: 'run-start', mode: 'fresh', pid: process.pid })
    expect(ev.at(-1)).toMatchObject({ type: 'run-end', status: 'succeeded', exitCode: 0 })
    const b = ev.filter((e) => e.node === 'b').map((e) => (e.type === 'status' ? e.status : e.type))
    expect(b).toEqual(['pending', 'running', 'log', 'retry', 'running', 'log', 'change', 'succeeded'])
    // What apply changed is in the record too, in the state and the events.
    expect(ev.find((e) => e.node === 'b' && e.type === 'change')).toMatchObject({ change: { verb: 'write', target: join(sb.data, 'b'), detail: '2 bytes' } })
    expect(s.nodes.b.changes).toEqual([{ verb: 'write', target: join(sb.data, 'b'), detail: '2 bytes' }])
    expect(ev.filter((e) => e.type === 'status' && e.status === 'succeeded')).toHaveLength(7)
  })
})
