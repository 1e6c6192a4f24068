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
  it('shows the concrete changes in the question and applies after "y"; the time spent reading is not the timeout', async () => {
    const r = await answering(['y', 'y'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`write will:\n  write ${join(sb.data, 'guarded')} (3 bytes)\nApply 1 change(s)? [y/N] `)
    expect(r.stderr.match(/\[y\/N\] /g)).toHaveLength(2) // asked once per node, never again on a retry
    expect(existsSync(join(sb.data, 'guarded'))).toBe(true)
    expect(readState(sb.state, 'guarded').nodes.write).toMatchObject({ status: 'succeeded', attempts: 1 })
  })

  it('takes answers piped ahead of the questions', async () => {
    const r = await answering(['y', 'y'], { piped: true })
    expect(r.code, r.stderr).toBe(0)
    expect(existsSync(join(sb.data, 'second'))).toBe(true)
  })

  it('changes nothing on any other answer, or when stdin ends, and exits cleanly', async () => {
    for (const answers of [['n'], []]) {
      const r = await answering(answers)
      expect(r.code).toBe(1)
      expect(r.stdout).toMatch(/\[write\] FAILED.*write: not confirmed, nothing changed/)
      expect(existsSync(join(sb.data, 'guarded'))).toBe(false)
      expect(existsSync(join(sb.state, 'guarded', 'lock'))).toBe(false)
    }
  })

  it('without a terminal needs --yes, and says so', async () => {
    const r = await runCli(['guarded', '--set', `dir=${sb.data}`], env)
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/\[write\] FAILED.*write changes things and needs confirmation/)
    expect(r.stdout).toMatch(/\[write\] hint: pass --yes \(or CREDFLOW_YES=1\)/)
    expect(existsSync(join(sb.data, 'guarded'))).toBe(false)
    const yes = await runCli(['guarded', '--set', `dir=${sb.data}`, '--yes'], env)
    expect(yes.code).toBe(0)
    expect(existsSync(join(sb.data, 'guarded'))).toBe(true)
  })
})
