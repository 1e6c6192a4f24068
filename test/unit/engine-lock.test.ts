// One run per workflow: a second run exits 3 naming the holder; a dead holder's lock is
// taken over, and the run says so.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { sandbox, spawnCli, runCli, runMain, readState, runIds, waitFor, type Sandbox, type Child } from '../fixtures/engine/harness.ts'
import { bootId, processStartTime } from '../../lib/engine/lock.ts'

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

describe('a lock whose pid is alive', () => {
  let other: ChildProcess | undefined
  afterEach(() => {
    other?.kill('SIGKILL')
    other = undefined
  })
  /** A live process that is not a credflow run, as after a reboot or once pids wrap around. */
  const livePid = () => {
    other = spawn('sleep', ['60'], { stdio: 'ignore' })
    return other.pid!
  }
  const writeLock = (holder: object) => {
    mkdirSync(join(sb.state, 'diamond'), { recursive: true, mode: 0o700 })
    writeFileSync(join(sb.state, 'diamond', 'lock'), JSON.stringify({ host: hostname(), startedAt: '2026-01-02T03:04:05.000Z', runId: '20260102T030405Z-beef', ...holder }))
  }
  const linux = existsSync('/proc/self/stat') && bootId() !== undefined

  it.runIf(linux)('records the boot id and its start time in the lock', async () => {
    holder = spawnCli(['diamond', '--set', `dir=${sb.data}`, '--set', 'slowMs=4000'], sb.env)
    const held = await waitFor(() => JSON.parse(readFileSync(join(sb.state, 'diamond', 'lock'), 'utf8')), 'the lock')
    expect(held).toMatchObject({ pid: holder.proc.pid, bootId: bootId(), procStart: processStartTime(holder.proc.pid!) })
  })
  it.runIf(linux)('is stale when that pid now belongs to a process that started at another time (a reused pid)', async () => {
    const pid = livePid()
    writeLock({ pid, bootId: bootId(), procStart: '1' })
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`took over a stale lock from pid ${pid} (started 2026-01-02T03:04:05.000Z), whose pid now belongs to another process (its start time differs)`)
  })
  it.runIf(linux)('is stale when it was taken before this host rebooted (another boot id)', async () => {
    const pid = livePid()
    writeLock({ pid, bootId: '00000000-0000-0000-0000-000000000000', procStart: processStartTime(pid) })
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`took over a stale lock from pid ${pid} (started 2026-01-02T03:04:05.000Z), taken before this host rebooted`)
  })
  it('holds when boot id and start time match, or were not recorded (pid-only, as off Linux): exit 3 with the lock path and how to remove it by hand', async () => {
    const pid = livePid()
    for (const extra of [{ bootId: bootId(), procStart: processStartTime(pid) }, {}]) {
      writeLock({ pid, ...extra })
      const r = await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)
      expect(r.code, r.stdout).toBe(3)
      const lockFile = join(sb.state, 'diamond', 'lock')
      expect(r.stderr).toContain(`credflow: another run of this workflow is in progress: pid ${pid} on ${hostname()}, started 2026-01-02T03:04:05.000Z (run 20260102T030405Z-beef)\nlock: ${lockFile}\n`)
      expect(r.stderr).toContain(`once you are sure no run of it is active, the lock file may be removed by hand: rm ${lockFile}`)
    }
  })
})

describe('a corrupt lock file', () => {
  it('is replaced, and the run says plainly that it was corrupt (this tool never writes a partial lock)', async () => {
    mkdirSync(join(sb.state, 'diamond'), { recursive: true, mode: 0o700 })
    writeFileSync(join(sb.state, 'diamond', 'lock'), '{"pid": 12')
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toContain(`replaced a corrupt lock file (it is not valid JSON; this tool always writes it whole, so no run holds it): ${join(sb.state, 'diamond', 'lock')}`)
    expect(r.stdout).not.toMatch(/pid 0|started unknown/)
  })
})
