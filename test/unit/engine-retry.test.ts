// Retries with exponential backoff, no retry for fatal errors, per-attempt timeouts.
// The knobs fixture has three independent nodes: flaky (3 attempts, 100ms backoff),
// fatal (3 attempts allowed) and slow (timeout 300ms).
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { join } from 'node:path'
import { sandbox, runMain, readState, readEvents, applied, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

const run = (...set: string[]) => runMain(['knobs', '--set', `dir=${sb.data}`, ...set.flatMap((s) => ['--set', s])], sb.env)

describe('retry with backoff', () => {
  it('retries transient failures, doubling the delay, and records every attempt', async () => {
    const r = await run('flakyFails=2')
    expect(r.code, r.stdout).toBe(0)
    const s = readState(sb.state, 'knobs')
    expect(s.nodes.flaky).toMatchObject({ status: 'succeeded', attempts: 3, outputs: { file: join(sb.data, 'flaky'), length: 2 } })
    expect(s.nodes.flaky.error).toBeUndefined()
    expect(applied(join(sb.data, 'flaky'))).toBe(3)
    const retries = readEvents(sb.state, 'knobs', s.runId).filter((e) => e.type === 'retry')
    expect(retries.map((e) => [e.node, e.attempt, e.delayMs])).toEqual([
      ['flaky', 2, 100],
      ['flaky', 3, 200],
    ])
    expect(retries[0].error).toMatchObject({ reason: 'Transient', message: 'flaky: transient failure 1' })
    // The delays were really waited for.
    expect(s.nodes.flaky.durationMs).toBeGreaterThanOrEqual(300)
    expect(r.stdout).toMatch(/\[flaky\] attempt 1 failed \(\d+ms since the node started\): flaky: transient failure 1; retrying in 100ms/)
    expect(r.stdout).toMatch(/\[flaky\] attempt 2 failed \(\d+ms since the node started\): flaky: transient failure 2; retrying in 200ms/)
  })
  it('gives up after the last attempt and records the error', async () => {
    const r = await run('flakyFails=5')
    expect(r.code).toBe(1)
    const s = readState(sb.state, 'knobs')
    expect(s.nodes.flaky).toMatchObject({ status: 'failed', attempts: 3, error: { message: 'flaky: transient failure 3', reason: 'Transient' } })
    expect(applied(join(sb.data, 'flaky'))).toBe(3)
  })
})

describe('fatal errors', () => {
  it('does not retry a non-retryable OpsError even with attempts left', async () => {
    const r = await run('fatal=true')
    expect(r.code).toBe(1)
    const s = readState(sb.state, 'knobs')
    expect(s.nodes.fatal).toMatchObject({ status: 'failed', attempts: 1, error: { message: 'fatal: told to fail', reason: 'Fatal', hint: 'this is a test fixture' } })
    expect(applied(join(sb.data, 'fatal'))).toBe(1)
    expect(readEvents(sb.state, 'knobs', s.runId).filter((e) => e.type === 'retry')).toEqual([])
    expect(r.stdout).toMatch(/\[fatal\] hint: this is a test fixture/)
  })
})

describe('per-node timeout', () => {
  it('aborts a slow step: failed, reason Timeout, long before it would have finished', async () => {
    const t0 = Date.now()
    const r = await run('slowMs=10000')
    expect(r.code).toBe(1)
    expect(Date.now() - t0).toBeLessThan(5000)
    const s = readState(sb.state, 'knobs')
    expect(s.nodes.slow).toMatchObject({ status: 'failed', attempts: 1, error: { reason: 'Timeout', message: expect.stringMatching(/^timed out after 300ms \(the node's timeout in \S+\)/) } })
    expect(s.nodes.slow.durationMs).toBeGreaterThanOrEqual(290)
    expect(s.nodes.slow.durationMs).toBeLessThan(5000)
    // The step saw its signal abort: it never got to write its file.
    expect(applied(join(sb.data, 'slow'))).toBe(0)
    // Independent nodes were not affected.
    expect(s.nodes.flaky.status).toBe('succeeded')
    expect(s.nodes.fatal.status).toBe('succeeded')
  })
})
