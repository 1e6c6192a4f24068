// Failure propagation, finally nodes and `when`.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sandbox, runMain, readState, applied, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

describe('a failed node blocks its descendants while independent branches finish', () => {
  it('fails bad, blocks after-bad, and still runs the slow branch to the end', async () => {
    const r = await runMain(['branches', '--set', `dir=${sb.data}`], sb.env)
    expect(r.code).toBe(1)
    const s = readState(sb.state, 'branches')
    expect(s.status).toBe('failed')
    expect(s.nodes.bad).toMatchObject({ status: 'failed', error: { reason: 'Fatal' } })
    expect(s.nodes['after-bad']).toMatchObject({ status: 'blocked', reason: 'upstream bad failed', attempts: 0 })
    expect(applied(join(sb.data, 'after-bad'))).toBe(0)
    // The healthy branch was still sleeping when bad failed, and it finished anyway.
    expect(Date.parse(s.nodes.bad.finishedAt!)).toBeLessThan(Date.parse(s.nodes.slow.finishedAt!))
    expect(s.nodes.slow.status).toBe('succeeded')
    expect(s.nodes['after-slow']).toMatchObject({ status: 'succeeded', outputs: { file: join(sb.data, 'after-slow') } })
    expect(readFileSync(join(sb.data, 'after-slow'), 'utf8')).toBe(`after ${join(sb.data, 'slow')}`)
  })
  it('blocks transitively (diamond: c fails, d and every e instance are blocked)', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true'], sb.env)
    expect(r.code).toBe(1)
    const s = readState(sb.state, 'diamond')
    expect(s.nodes.b.status).toBe('succeeded')
    expect(s.nodes.d).toMatchObject({ status: 'blocked', reason: 'upstream c failed' })
    expect(s.nodes['e[one]']).toMatchObject({ status: 'blocked', reason: 'upstream d blocked' })
    expect(s.nodes['e[two]']).toMatchObject({ status: 'blocked', reason: 'upstream d blocked' })
  })
})

describe('finally nodes', () => {
  it('always run after the others and see every node status', async () => {
    const r = await runMain(['branches', '--set', `dir=${sb.data}`], sb.env)
    expect(r.code).toBe(1)
    const s = readState(sb.state, 'branches')
    expect(s.nodes.report.status).toBe('succeeded')
    for (const id of ['root', 'bad', 'after-bad', 'slow', 'after-slow']) {
      expect(Date.parse(s.nodes.report.startedAt!)).toBeGreaterThanOrEqual(Date.parse(s.nodes[id].finishedAt ?? s.nodes.report.startedAt!))
    }
    const seen = JSON.parse(readFileSync(join(sb.data, 'report.json'), 'utf8'))
    expect(seen).toEqual({
      root: { status: 'succeeded' },
      bad: { status: 'failed', error: 'bad: told to fail' },
      'after-bad': { status: 'blocked', reason: 'upstream bad failed' },
      slow: { status: 'succeeded' },
      'after-slow': { status: 'succeeded' },
      report: { status: 'running' },
    })
  })
  it('also run when everything succeeded', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)
    expect(r.code).toBe(0)
    const seen = JSON.parse(readFileSync(join(sb.data, 'report.json'), 'utf8'))
    expect(Object.keys(seen).sort()).toEqual(['a', 'b', 'c', 'd', 'e[one]', 'e[two]', 'report'])
  })
})

describe('`when` skips a node', () => {
  it('records skipped with the condition as the reason; descendants still run', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'skipD=true'], sb.env)
    expect(r.code, r.stdout).toBe(0)
    const s = readState(sb.state, 'diamond')
    expect(s.nodes.d).toMatchObject({ status: 'skipped', reason: 'when: ${{ !params.skipD }} is false', attempts: 0 })
    expect(existsSync(join(sb.data, 'd'))).toBe(false)
    expect(applied(join(sb.data, 'd'))).toBe(0)
    expect(s.nodes['e[one]'].status).toBe('succeeded')
    expect(s.status).toBe('succeeded')
    expect(r.stdout).toContain('[d] skipped: when: ${{ !params.skipD }} is false')
  })
  it('runs the node when the condition holds', async () => {
    await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'skipD=false'], sb.env)
    expect(readState(sb.state, 'diamond').nodes.d.status).toBe('succeeded')
    expect(readFileSync(join(sb.data, 'd'), 'utf8')).toBe(`from ${join(sb.data, 'b')}`)
  })
})
