// On a terminal the run is shown live by listr2, and a step that needs the terminal (a
// confirmation, a consent) gets it whole, then hands it back. Run in a real pseudo-terminal
// with util-linux `script` (Debian's bsdutils, an essential package).
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { sandbox, privateWorkflows, readState, runCli, ROOT, RUN_MJS, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** `node tasks/run.mjs <args>` on a 120x40 pseudo-terminal; `reply` answers the first [y/N]. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv, reply?: string): Promise<{ code: number | null; screen: string }> {
  const cmd = `stty cols 120 rows 40; exec ${[process.execPath, RUN_MJS, ...args].map(sh).join(' ')}`
  const proc = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: { ...env, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] })
  let screen = ''
  let answered = false
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    screen += d
    if (reply !== undefined && !answered && /\[y\/N\] /.test(screen)) {
      answered = true
      proc.stdin.write(reply + '\r')
    }
  })
  if (reply === undefined) proc.stdin.end()
  return new Promise((res) => proc.on('close', (code) => res({ code, screen: screen.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '') })))
}

describe('on a terminal', () => {
  it('shows the DAG live with listr2 (marks, needs, skip reasons, durations) and ends with the summary table', async () => {
    const r = await onTerminal(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true'], sb.env)
    expect(r.code).toBe(1)
    expect(r.screen).toMatch(/✔ a \[\d/) // a completed task with listr2's timer
    expect(r.screen).toMatch(/✖ c/)
    expect(r.screen).toMatch(/d ← b, c/)
    expect(r.screen).toMatch(/↓ blocked: upstream c failed/)
    expect(r.screen).toMatch(/NODE +STATUS +DURATION +NOTE/)
    // No timestamped plain lines: that is the view for pipes and CI.
    expect(r.screen).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[a\]/)
  })

  it('ends when nodes never run: --only leaves the others as they were', async () => {
    expect((await runCli(['diamond', '--set', `dir=${sb.data}`], sb.env)).code).toBe(0)
    const r = await onTerminal(['diamond', '--set', `dir=${sb.data}`, '--only', 'b'], sb.env)
    expect(r.code, r.screen).toBe(0)
    expect(r.screen).toMatch(/↓ not run/)
  })

  it('hands the terminal to a confirmation with the changes in view, then finishes the run', async () => {
    const wf = privateWorkflows(sb.root, {
      'guarded.yaml': `# yaml-language-server: $schema=../../../../schemas/workflow.schema.json
version: 1
name: guarded
description: asks before it writes
params: { dir: { type: string, required: true } }
nodes:
  write: { run: demo/touch, confirm: true, with: { file: "\${{ params.dir }}/guarded", content: "new" } }
  after: { run: demo/touch, needs: [write], with: { file: "\${{ params.dir }}/after" } }
`,
    })
    const r = await onTerminal(['guarded', '--set', `dir=${sb.data}`], { ...sb.env, CREDFLOW_WORKFLOWS_DIR: wf }, 'y')
    expect(r.code, r.screen).toBe(0)
    expect(r.screen).toContain(`  write\r\n      + write ${join(sb.data, 'guarded')} (3 bytes)\r\n  after\r\n      + write ${join(sb.data, 'after')} (2 bytes)\r\n\r\nPlan: 2 to write\r\nApply these 2 changes? [y/N]`)
    expect(existsSync(join(sb.data, 'after'))).toBe(true)
    expect(readState(sb.state, 'guarded').status).toBe('succeeded')
  })
})

