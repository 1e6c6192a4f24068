// The commands the tool prints for the operator to run next work when pasted into a fresh
// shell: they carry --set (for a new run), a non-default --state-dir and the workflows dir.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { NextCommands, shellQuote } from '../../lib/engine/command.ts'
import { sandbox, runMain, readState, runIds, ROOT, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

/** Runs a printed command in sh with nothing of the sandbox's CREDFLOW_* environment. */
function paste(cmd: string) {
  const r = spawnSync('sh', ['-c', cmd], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: sb.root, NO_COLOR: '1' }, encoding: 'utf8' })
  return { code: r.status, out: r.stdout + r.stderr }
}
const after = (text: string, label: string) => {
  const m = new RegExp(`${label}(.*)$`, 'm').exec(text)
  if (!m) throw new Error(`no "${label}" in:\n${text}`)
  return m[1].trim()
}

describe('shellQuote', () => {
  it('leaves plain words alone and single-quotes the rest, so a POSIX shell gives back the same word', () => {
    expect(shellQuote('dir=/tmp/a-b_c.d')).toBe('dir=/tmp/a-b_c.d')
    for (const w of ["it's", 'a b', '$HOME', '`x`', '*', 'a"b', '']) {
      expect(spawnSync('sh', ['-c', `printf %s ${shellQuote(w)}`], { encoding: 'utf8' }).stdout, w).toBe(w)
    }
  })
})

describe('after a dry run', () => {
  it('"Apply with:" carries --set, --state-dir and the workflows dir, and works pasted into a shell', async () => {
    const dir = join(sb.data, "it's here")
    mkdirSync(dir)
    const stateDir = join(sb.root, 'flag state')
    const r = await runMain(['diamond', '--set', `dir=${dir}`, '--set', 'skipD=true', '--state-dir', stateDir, '--dry-run'], sb.env)
    expect(r.code, r.stdout).toBe(0)
    const cmd = after(r.stdout, 'Apply with: ')
    expect(cmd).toContain(`--set 'dir=${sb.data}/it'\\''s here' --set skipD=true`)
    expect(cmd).toContain(`--state-dir '${stateDir}'`)
    expect(cmd.startsWith(`CREDFLOW_WORKFLOWS_DIR=${sb.env.CREDFLOW_WORKFLOWS_DIR} npx zx tasks/run.mjs diamond`)).toBe(true)
    const applied = paste(cmd)
    expect(applied.code, applied.out).toBe(0)
    const s = readState(stateDir, 'diamond')
    expect(s.params).toMatchObject({ dir, skipD: true })
    expect(s.nodes.d.status).toBe('skipped')
  })
  it('says to check again, not to apply, when the dry run failed', async () => {
    const r = await runMain(['probe', '--set', `dir=${sb.data}`, '--set', 'deny=true', '--dry-run'], sb.env)
    expect(r.code).toBe(1)
    expect(r.stdout).not.toContain('Apply with')
    expect(r.stdout).toMatch(/a check, plan or probe failed\. Fix the cause above, then check again: .*tasks\/run\.mjs probe --state-dir \S+ --set dir=\S+ --set deny=true --dry-run$/m)
  })
})

describe('after a failed run', () => {
  it('the "next:" --resume command names the state dir (params come from the run) and continues the run', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'failB=3'], sb.env)
    expect(r.code).toBe(1)
    const cmd = after(r.stdout, 'next: fix the cause above, then ').replace(/ \(keeps what succeeded\)$/, '')
    expect(cmd).toBe(`CREDFLOW_WORKFLOWS_DIR=${sb.env.CREDFLOW_WORKFLOWS_DIR} npx zx tasks/run.mjs diamond --state-dir ${sb.state} --resume`)
    const resumed = paste(cmd)
    expect(resumed.code, resumed.out).toBe(0)
    expect(runIds(sb.state, 'diamond')).toHaveLength(1)
    expect(readState(sb.state, 'diamond')).toMatchObject({ status: 'succeeded', resumes: 1 })
  })
  it("an interactive node's runbook hint runs that node of this run (--only with the state dir)", async () => {
    const r = await runMain(['inter', '--set', `dir=${sb.data}`, '--non-interactive'], sb.env)
    expect(r.code, 'a run that stops for a person exits 4 (consent needed), not 1').toBe(4)
    expect(r.stdout).toMatch(/failed \(exit 4\)/)
    const cmd = after(r.stdout, 'hint: run it by hand on a terminal: ')
    expect(cmd).toBe(`CREDFLOW_WORKFLOWS_DIR=${sb.env.CREDFLOW_WORKFLOWS_DIR} npx zx tasks/run.mjs inter --state-dir ${sb.state} --only consent`)
    const done = paste(`${cmd} --interactive </dev/null`)
    expect(done.code, done.out).toBe(0)
    expect(existsSync(join(sb.data, 'consent'))).toBe(true)
  })
})

describe('secret params', () => {
  it('are never printed: the operator is told to give them again', () => {
    const next = new NextCommands({ workflow: 'w', workflowArg: 'w', stateDirFlag: undefined, env: {}, set: [['user', 'me'], ['password', 'hunter2']], secretParams: new Set(['password']) })
    expect(next.fresh()).toBe('npx zx tasks/run.mjs w --set user=me   (and give the secret --set password=... again)')
    expect(next.fresh()).not.toContain('hunter2')
    expect(next.resume('--resume')).toBe('npx zx tasks/run.mjs w --resume')
  })
})
