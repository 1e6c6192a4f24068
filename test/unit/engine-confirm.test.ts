// `confirm: true` nodes: a terminal user is shown the concrete changes and must answer y;
// without a terminal only --yes confirms. Nothing is applied otherwise.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { sandbox, privateWorkflows, runCli, readState, ROOT, RUN_MJS, type Sandbox } from '../fixtures/engine/harness.ts'

const WORKFLOW = `# yaml-language-server: $schema=../../../../schemas/workflow.schema.json
version: 1
name: guarded
description: one node that asks before it writes
params:
  dir: { type: string, required: true }
nodes:
  write:
    run: demo/touch
    confirm: true
    timeout: 300ms
    retry: { attempts: 2, backoff: 10ms }
    with: { file: "\${{ params.dir }}/guarded", content: "new" }
  second:
    run: demo/touch
    needs: [write]
    confirm: true
    with: { file: "\${{ params.dir }}/second" }
`

let sb: Sandbox
let env: NodeJS.ProcessEnv
beforeEach(() => {
  sb = sandbox()
  env = { ...sb.env, CREDFLOW_WORKFLOWS_DIR: privateWorkflows(sb.root, { 'guarded.yaml': WORKFLOW }) }
})
afterEach(() => sb.cleanup())

/**
 * The CLI with `--interactive`. `answers` are typed one per question, after a pause longer
 * than the node's 300ms timeout (reading the plan takes time); `piped` sends them all up front.
 */
function answering(answers: string[], opts: { piped?: boolean } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [RUN_MJS, 'guarded', '--set', `dir=${sb.data}`, '--interactive'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let asked = 0
  if (opts.piped) proc.stdin.end(answers.map((a) => a + '\n').join(''))
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
    const questions = stderr.match(/\[y\/N\] /g)?.length ?? 0
    while (!opts.piped && asked < questions) {
      const answer = answers[asked++]
      setTimeout(() => (answer === undefined ? proc.stdin.end() : proc.stdin.write(answer + '\n')), 500)
    }
  })
  return new Promise((res) => proc.on('close', (code) => res({ code, stdout, stderr })))
}

describe('confirm', () => {
  it('asks once, showing the whole plan (every confirm node and all after them), and applies after "y"; the time spent reading is not the timeout', async () => {
    const r = await answering(['y'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(
      `This run will make these changes:\n  write\n      + write ${join(sb.data, 'guarded')} (3 bytes)\n  second\n      + write ${join(sb.data, 'second')} (2 bytes)\n\nPlan: 2 to write\nApply these 2 changes? [y/N] `,
    )
    expect(r.stderr.match(/\[y\/N\] /g)).toHaveLength(1) // one answer for the plan, never again on a retry
    expect(existsSync(join(sb.data, 'guarded'))).toBe(true)
    expect(existsSync(join(sb.data, 'second'))).toBe(true)
    expect(readState(sb.state, 'guarded').nodes.write).toMatchObject({ status: 'succeeded', attempts: 1 })
  })

  it('takes an answer piped ahead of the question', async () => {
    const r = await answering(['y'], { piped: true })
    expect(r.code, r.stderr).toBe(0)
    expect(existsSync(join(sb.data, 'second'))).toBe(true)
  })

  it('"n", another answer, or the end of stdin changes nothing: exit 0, "nothing changed", and the command that applies later', async () => {
    for (const answers of [['n'], ['maybe'], []]) {
      const r = await answering(answers)
      expect(r.code, r.stdout).toBe(0)
      expect(r.stdout).toMatch(/\[write\] pending: not confirmed: nothing changed/)
      expect(r.stdout).toMatch(/\[second\] pending: not run: write not confirmed/)
      expect(r.stdout).toContain('Changed: nothing (not confirmed)')
      expect(r.stdout).toMatch(/Verdict: not confirmed, nothing changed \(exit 0\)/)
      expect(r.stdout).toMatch(/next: when the plan is right, apply it \(keeps what succeeded\): .*tasks\/run\.mjs guarded --state-dir \S+ --resume\n/)
      expect(existsSync(join(sb.data, 'guarded'))).toBe(false)
      expect(existsSync(join(sb.data, 'second'))).toBe(false)
      expect(existsSync(join(sb.state, 'guarded', 'lock'))).toBe(false)
      expect(readState(sb.state, 'guarded').status).toBe('incomplete')
    }
  })

  it('without a terminal refuses without --yes (exit 2, nothing changed), and says so; --yes applies', async () => {
    const r = await runCli(['guarded', '--set', `dir=${sb.data}`], env)
    expect(r.code).toBe(2)
    expect(r.stdout).toMatch(/\[write\] FAILED.*write changes things and needs confirmation, and there is no terminal to ask on: nothing was changed/)
    expect(r.stdout).toMatch(/\[write\] hint: pass --yes \(or CREDFLOW_YES=1\)/)
    expect(r.stdout).toMatch(/next: see the plan first with --dry-run, then apply without asking: .* --resume --yes\n/)
    expect(existsSync(join(sb.data, 'guarded'))).toBe(false)
    const yes = await runCli(['guarded', '--set', `dir=${sb.data}`, '--yes'], env)
    expect(yes.code).toBe(0)
    expect(existsSync(join(sb.data, 'guarded'))).toBe(true)
  })
})
