// Crashes and interrupts: SIGKILL mid-run loses nothing a resume needs; SIGINT marks the
// running nodes interrupted, saves the state and exits 130.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { hostname } from 'node:os'
import { sandbox, spawnCli, runMain, readState, readEvents, waitFor, applied, type Sandbox, type Child } from '../fixtures/engine/harness.ts'

let sb: Sandbox
let child: Child | undefined
beforeEach(() => (sb = sandbox()))
afterEach(async () => {
  if (child && child.proc.exitCode === null && child.proc.signalCode === null) {
    child.proc.kill('SIGKILL')
    await child.exited
  }
  child = undefined
  sb.cleanup()
})

/** Starts diamond with slow b and c, and waits until the state file shows both running. */
async function startSlow(slowMs: number): Promise<Child> {
  child = spawnCli(['diamond', '--set', `dir=${sb.data}`, '--set', `slowMs=${slowMs}`], sb.env)
  await waitFor(() => {
    const s = readState(sb.state, 'diamond')
    return s.nodes.b?.status === 'running' && s.nodes.c?.status === 'running'
  }, 'b and c to be running')
  return child
}

describe('SIGKILL mid-run, then --resume', () => {
  it('finishes the run: finished nodes are kept, the killed ones rerun', async () => {
    const c = await startSlow(2000)
    c.proc.kill('SIGKILL')
    expect(await c.exited).toEqual({ code: null, signal: 'SIGKILL' })

    // What the crash left: the state as of the last transition, and the dead holder's lock.
    const crashed = readState(sb.state, 'diamond')
    expect(crashed.status).toBe('running')
    expect(crashed.nodes.a.status).toBe('succeeded')
    expect(crashed.nodes.b).toMatchObject({ status: 'running', attempts: 1 })
    expect(crashed.nodes.d.status).toBe('pending')
    expect(JSON.parse(readFileSync(join(sb.state, 'diamond', 'lock'), 'utf8')).pid).toBe(c.proc.pid)

    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'slowMs=2000', '--resume'], sb.env)
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toContain(`took over a stale lock from pid ${c.proc.pid}`)
    const s = readState(sb.state, 'diamond')
    expect(s).toMatchObject({ runId: crashed.runId, status: 'succeeded', resumes: 1 })
    expect(s.nodes.a.reason).toBe(`kept from run ${crashed.runId}`)
    expect(applied(join(sb.data, 'a'))).toBe(1)
    for (const id of ['b', 'c']) {
      // The killed attempt counts: this is the second.
      expect(s.nodes[id], id).toMatchObject({ status: 'succeeded', attempts: 2 })
      expect(readFileSync(join(sb.data, id), 'utf8')).toBe('ok')
    }
    for (const id of ['d', 'e[one]', 'e[two]', 'report']) expect(s.nodes[id].status, id).toBe('succeeded')
    expect(existsSync(join(sb.state, 'diamond', 'lock'))).toBe(false)
  })
})

describe.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)('%s', (sig) => {
  it('marks running nodes interrupted, saves the state, still runs finally nodes, releases the lock and exits 130', async () => {
    const c = await startSlow(10_000)
    const t0 = Date.now()
    c.proc.kill(sig)
    const { code } = await c.exited
    expect(code).toBe(130)
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(c.stderr()).toContain(`credflow: ${sig}: stopping running steps, saving state (continue later with --resume)`)

    const s = readState(sb.state, 'diamond')
    expect(s.status).toBe('interrupted')
    expect(s.finishedAt).toBeDefined()
    expect(s.nodes.a.status).toBe('succeeded')
    for (const id of ['b', 'c']) {
      expect(s.nodes[id], id).toMatchObject({ status: 'interrupted', error: { reason: 'Interrupted' } })
      expect(s.nodes[id].durationMs).toBeLessThan(10_000)
    }
    expect(s.nodes.d.status).toBe('pending')
    expect(s.nodes.report.status).toBe('succeeded') // finally nodes always run
    expect(readEvents(sb.state, 'diamond', s.runId).at(-1)).toMatchObject({ type: 'run-end', status: 'interrupted', exitCode: 130 })
    expect(existsSync(join(sb.state, 'diamond', 'lock'))).toBe(false)
    expect(c.stdout()).toMatch(/\n\nNODE +STATUS +DURATION +NOTE\n/)
    expect(c.stdout()).toMatch(/\nb +! interrupted /)
  })
})

describe('--status after a SIGKILL', () => {
  it('shows the run as interrupted (process gone), not running, with the --resume command', async () => {
    const c = await startSlow(5000)
    const { runId } = readState(sb.state, 'diamond')
    c.proc.kill('SIGKILL')
    await c.exited
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--status'], sb.env)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`last run ${runId}: interrupted (process gone: its state says running, but its lock names pid ${c.proc.pid} on ${hostname()}, which is no longer running; killed or crashed)`)
    expect(r.stdout).toMatch(new RegExp(`\nnext: continue it with .*npx zx tasks/run\\.mjs diamond --state-dir \\S+ --resume ${runId}\n`))
    const doc = JSON.parse((await runMain(['diamond', '--set', `dir=${sb.data}`, '--status', '--json'], sb.env)).stdout)
    expect(doc.lastRun).toMatchObject({ runId, status: 'interrupted', processGone: true })
  })
  it('still shows a live run as running', async () => {
    await startSlow(5000)
    const { runId } = readState(sb.state, 'diamond')
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--status'], sb.env)
    expect(r.stdout).toMatch(new RegExp(`last run ${runId}: running, `))
    expect(r.stdout).not.toContain('process gone')
  })
})
