// One run per workflow: a second run exits 3 naming the holder; a dead holder's lock is
// taken over, and the run says so.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { sandbox, spawnCli, runCli, runMain, readState, runIds, waitFor, type Sandbox, type Child } from '../fixtures/engine/harness.ts'

let sb: Sandbox
let holder: Child | undefined
beforeEach(() => (sb = sandbox()))
afterEach(async () => {
  if (holder && holder.proc.exitCode === null && holder.proc.signalCode === null) {
    holder.proc.kill('SIGKILL')
    await holder.exited
  }
  holder = undefined
  sb.cleanup()
})

describe('a second run while one holds the lock', () => {
  it('exits 3 and names the holder: pid, host and start time', async () => {
    holder = spawnCli(['diamond', '--set', `dir=${sb.data}`, '--set', 'slowMs=4000'], sb.env)
    const lockFile = join(sb.state, 'diamond', 'lock')
    const held = await waitFor(() => JSON.parse(readFileSync(lockFile, 'utf8')), 'the first run to take the lock')
    expect(held).toMatchObject({ pid: holder.proc.pid, host: hostname() })

    const r = await runCli(['diamond', '--set', `dir=${sb.data}`], sb.env)
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain(`another run of this workflow is in progress: pid ${holder.proc.pid} on ${hostname()}, started ${held.startedAt} (run ${held.runId})`)
    expect(r.stderr).toContain(`lock: ${lockFile}`)
    // The refused run recorded nothing and left the lock alone.
    expect(runIds(sb.state, 'diamond')).toEqual([held.runId])
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toEqual(held)
    expect(holder.proc.exitCode).toBeNull()
  })
})

describe('a stale lock', () => {
  it('is taken over when its pid is dead, and the run says so', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    const startedAt = '2026-01-02T03:04:05.000Z'
    mkdirSync(join(sb.state, 'diamond'), { recursive: true, mode: 0o700 })
    writeFileSync(join(sb.state, 'diamond', 'lock'), JSON.stringify({ pid: dead, host: hostname(), startedAt, runId: '20260102T030405Z-dead' }))
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`Z took over a stale lock from pid ${dead} \\(started ${startedAt}\\), which is no longer running`))
    expect(readState(sb.state, 'diamond').status).toBe('succeeded')
    expect(existsSync(join(sb.state, 'diamond', 'lock'))).toBe(false)
  })
  it('is released at the end of a normal run', async () => {
    expect((await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)).code).toBe(0)
    expect(existsSync(join(sb.state, 'diamond', 'lock'))).toBe(false)
  })
})
