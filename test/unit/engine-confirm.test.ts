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
    with: { file: "\${{ params.dir }}/guarded", content: "new" }
`

let sb: Sandbox
let env: NodeJS.ProcessEnv
beforeEach(() => {
  sb = sandbox()
  env = { ...sb.env, CREDFLOW_WORKFLOWS_DIR: privateWorkflows(sb.root, { 'guarded.yaml': WORKFLOW }) }
})
afterEach(() => sb.cleanup())

/** The CLI with `--interactive` and `answer` typed on stdin, as an operator would. */
function answering(answer: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [RUN_MJS, 'guarded', '--set', `dir=${sb.data}`, '--interactive'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
    if (/\[y\/N\] $/.test(stderr)) proc.stdin.end(answer + '\n')
  })
  return new Promise((res) => proc.on('close', (code) => res({ code, stdout, stderr })))
}

describe('confirm', () => {
  it('shows the concrete changes in the question and applies after "y"', async () => {
    const r = await answering('y')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`write will:\n  write ${join(sb.data, 'guarded')} (3 bytes)\nApply 1 change(s)? [y/N] `)
    expect(existsSync(join(sb.data, 'guarded'))).toBe(true)
    expect(readState(sb.state, 'guarded').nodes.write.status).toBe('succeeded')
  })

  it('changes nothing on any other answer', async () => {
    const r = await answering('n')
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/\[write\] FAILED.*write: not confirmed, nothing changed/)
    expect(existsSync(join(sb.data, 'guarded'))).toBe(false)
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
