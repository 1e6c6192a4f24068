// What an operator sees on a real terminal: the run replayed into a terminal emulator at
// 80x24 and at a wide size, with and without colour.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { sandbox, privateWorkflows, ROOT, RUN_MJS, type Sandbox } from '../fixtures/engine/harness.ts'
import { onPty, SGR } from '../fixtures/pty.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

const cli = (args: string[], size: { cols: number; rows: number }, env: NodeJS.ProcessEnv) =>
  onPty([process.execPath, RUN_MJS, ...args], { ...size, env, cwd: ROOT, deadlineMs: 30_000 })

describe('a run on a terminal', () => {
  for (const size of [{ cols: 80, rows: 24 }, { cols: 200, rows: 50 }]) {
    it(`fits ${size.cols}x${size.rows}: no line wider than the terminal, the summary at the end`, async () => {
      const { NO_COLOR, ...env } = sb.env
      const r = await cli(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true'], size, env)
      expect(r.code).toBe(1)
      expect(r.overflowed).toEqual([])
      expect(r.text).toMatch(/NODE +STATUS +DURATION +NOTE/)
      expect(SGR.test(r.raw), 'colour on a colour terminal').toBe(true)
    })
  }
  it('has no colour with NO_COLOR=1 or --no-color', async () => {
    const { NO_COLOR, ...env } = sb.env
    for (const [args, e] of [[[], { ...env, NO_COLOR: '1' }], [['--no-color'], env]] as const) {
      const r = await cli(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true', ...args], { cols: 80, rows: 24 }, e)
      expect(r.code).toBe(1)
      expect(r.raw.match(SGR)?.[0], r.raw.slice(0, 400)).toBeUndefined()
    }
  })
})

describe('a step that takes the terminal (a consent)', () => {
  it('is announced with its deadline while the live view steps aside, and its return with the time it took', async () => {
    const wf = privateWorkflows(sb.root, {
      'consent.yaml': `version: 1
name: consent
description: hands the terminal over
nodes:
  first: { run: demo/noop }
  consent: { run: demo/handover, needs: [first], interactive: true, timeout: 15m }
`,
    })
    const { NO_COLOR, ...env } = sb.env
    const r = await cli(['consent'], { cols: 80, rows: 24 }, { ...env, CREDFLOW_WORKFLOWS_DIR: wf })
    expect(r.code, r.text).toBe(0)
    expect(r.text).toMatch(/── consent has the terminal since \d\d:\d\d:\d\d UTC, gives up at \d\d:\d\d:\d\d UTC \(15m0s\s+from now\);\s+Ctrl-C stops, --resume continues\nthe child process has the terminal\n── consent handed the terminal back after \d+ms/)
    expect(r.overflowed).toEqual([])
    // The node list as it stood is left on the screen above the step's own output.
    expect(r.text.indexOf('consent ← first')).toBeLessThan(r.text.indexOf('── consent has the terminal'))
  })
})
