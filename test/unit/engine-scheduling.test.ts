// Scheduling: nodes start only after everything they need finished, independent branches
// really run at the same time, and --max-parallel bounds that.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sandbox, runMain, readState, readEvents, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

/** demo/touch's trace lines as `node -> {start, end}` in ms. */
function trace(file: string): Record<string, { start: number; end: number }> {
  const out: Record<string, { start: number; end: number }> = {}
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const [what, node, ms] = line.split(' ')
    out[node] ??= { start: NaN, end: NaN }
    out[node][what as 'start' | 'end'] = Number(ms)
  }
  return out
}

const overlap = (x: { start: number; end: number }, y: { start: number; end: number }) => x.start < y.end && y.start < x.end

describe('topological order', () => {
  it('starts every node after all of its needs finished, finally nodes last', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const s = readState(sb.state, 'diamond')
    const needs: Record<string, string[]> = { a: [], b: ['a'], c: ['a'], d: ['b', 'c'], 'e[one]': ['d'], 'e[two]': ['d'], report: ['a', 'b', 'c', 'd', 'e[one]', 'e[two]'] }
    for (const [id, deps] of Object.entries(needs)) {
      for (const dep of deps) {
        expect(Date.parse(s.nodes[dep].finishedAt!), `${dep} finished before ${id} started`).toBeLessThanOrEqual(Date.parse(s.nodes[id].startedAt!))
      }
    }
    // The event log agrees: the order of `running` transitions is a topological order.
    const started = readEvents(sb.state, 'diamond', s.runId).filter((e) => e.type === 'status' && e.status === 'running').map((e) => e.node as string)
    expect(started).toHaveLength(7)
    const finishedBefore = (id: string) => readEvents(sb.state, 'diamond', s.runId).findIndex((e) => e.node === id && e.status === 'succeeded')
    const startedAt = (id: string) => readEvents(sb.state, 'diamond', s.runId).findIndex((e) => e.node === id && e.status === 'running')
    for (const [id, deps] of Object.entries(needs)) for (const dep of deps) expect(finishedBefore(dep)).toBeLessThan(startedAt(id))
    expect(started.at(-1)).toBe('report')
  })
})

describe('independent branches run in parallel', () => {
  it('overlaps b and c (both sleep 400ms after a)', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'slowMs=400'], sb.env)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const t = trace(join(sb.data, 'trace'))
    expect(Object.keys(t).sort()).toEqual(['a', 'b', 'c'])
    expect(t.b.start).toBeGreaterThanOrEqual(t.a.end)
    expect(t.c.start).toBeGreaterThanOrEqual(t.a.end)
    expect(overlap(t.b, t.c), JSON.stringify(t)).toBe(true)
    // Both ran at once, so the pair took well under the 800ms they would take in series.
    expect(Math.max(t.b.end, t.c.end) - Math.min(t.b.start, t.c.start)).toBeLessThan(790)
  })
})

describe('--max-parallel 1', () => {
  it('runs b and c one after the other', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'slowMs=200', '--max-parallel', '1'], sb.env)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const t = trace(join(sb.data, 'trace'))
    expect(overlap(t.b, t.c), JSON.stringify(t)).toBe(false)
    const s = readState(sb.state, 'diamond')
    const intervals = Object.values(s.nodes).map((n) => [Date.parse(n.startedAt!), Date.parse(n.finishedAt!)] as const)
    intervals.sort((x, y) => x[0] - y[0])
    for (let i = 1; i < intervals.length; i++) expect(intervals[i][0]).toBeGreaterThanOrEqual(intervals[i - 1][1])
  })

  it('lets a node that only waits (StepContext.waiting) give its slot to another, and takes it back after', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'slowMs=400', '--set', 'slowOutsideSlot=true', '--max-parallel', '1'], sb.env)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const t = trace(join(sb.data, 'trace'))
    // Both sleep at once: each waits outside the one slot.
    expect(overlap(t.b, t.c), JSON.stringify(t)).toBe(true)
    // The work around the waits is still one node at a time: what followed started after both ended.
    const s = readState(sb.state, 'diamond')
    const d = Date.parse(s.nodes.d.startedAt!)
    expect(d).toBeGreaterThanOrEqual(Math.max(Date.parse(s.nodes.b.finishedAt!), Date.parse(s.nodes.c.finishedAt!)))
    const e = ['e[one]', 'e[two]'].map((id) => [Date.parse(s.nodes[id].startedAt!), Date.parse(s.nodes[id].finishedAt!)] as const).sort((x, y) => x[0] - y[0])
    expect(e[1][0]).toBeGreaterThanOrEqual(e[0][1])
  })
})

describe('outsideSlot', () => {
  it('lends the slot for the wait only: the limit is what it was after, also when the wait fails', async () => {
    const { default: pLimit } = await import('p-limit')
    const { outsideSlot } = await import('../../lib/engine/scheduler/slots.ts')
    const limit = pLimit(1)
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const order: string[] = []
    const first = limit(() => outsideSlot(limit, async () => (order.push('first waits'), await gate, order.push('first done'))))
    const second = limit(async () => void order.push('second works'))
    await second // ran while the first still waits: it had the lent slot
    expect(order).toEqual(['first waits', 'second works'])
    release()
    await first
    expect(limit.concurrency).toBe(1)
    await expect(limit(() => outsideSlot(limit, () => Promise.reject(new Error('watch failed'))))).rejects.toThrow('watch failed')
    expect(limit.concurrency).toBe(1)
  })
})
