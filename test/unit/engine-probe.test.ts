// A step's probe: when its inputs wait for outputs only a real run produces, a dry run and
// --status still look at the world with the inputs that are known (demo/deliver), while a
// step without a probe keeps saying that it runs later (demo/touch as echo).
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { sandbox, runMain, progressLines, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

const probe = (...args: string[]) => runMain(['probe', '--set', `dir=${sb.data}`, ...args], sb.env)
const row = (out: string, id: string) => out.split('\n').find((l) => l.startsWith(id + ' ')) ?? ''

describe('--dry-run of a node whose inputs wait for an upstream output', () => {
  it('calls its probe with the inputs known so far and shows its changes, then what waits for the upstream', async () => {
    const r = await probe('--dry-run')
    expect(r.code, r.stdout).toBe(0)
    const lines = progressLines(r.stdout)
    const target = join(sb.data, 'delivered')
    // The probe saw the param-built target and no sha256 (it waits for mint).
    expect(lines.some((l) => l.endsWith(`[deliver] would write ${target} (writable (probed))`)), lines.join('\n')).toBe(true)
    expect(lines.some((l) => l.includes(`[deliver] planned in `) && l.endsWith(`: ${target} missing; sha256 not given; input "sha256" known only after mint runs`))).toBe(true)
    expect(row(r.stdout, 'deliver')).toMatch(/~ planned/)
    expect(existsSync(sb.state)).toBe(false)
    expect(existsSync(target)).toBe(false)
  })
  it('keeps the old message for a step without a probe', async () => {
    const r = await probe('--dry-run')
    expect(progressLines(r.stdout).some((l) => l.endsWith('[echo] planned: runs after mint; its inputs are known only after a real run'))).toBe(true)
  })
  it('fails the node (exit 1) with the error and hint when the probe throws, as a failing plan would', async () => {
    const r = await probe('--dry-run', '--set', 'deny=true')
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/\[deliver\] FAILED in \S+: write \S+delivered: Forbidden \(probe\)\n/)
    expect(r.stdout).toContain('[deliver] hint: grant write access, then rerun the dry run')
    expect(row(r.stdout, 'deliver')).toMatch(/✖ failed/)
    expect(row(r.stdout, 'echo')).toMatch(/~ planned/) // independent of the failure
  })
})

describe('--status of a node whose inputs wait for an upstream output', () => {
  it("shows the probe's observation and changes; a step without a probe says what it waits for", async () => {
    const r = await probe('--status')
    expect(r.code).toBe(0)
    const target = join(sb.data, 'delivered')
    expect(row(r.stdout, 'deliver')).toMatch(/\? unknown +- +/)
    expect(row(r.stdout, 'deliver')).toContain(`${target} missing; sha256 not given; would write ${target} (writable (probed)); input "sha256" known only after mint runs`)
    expect(row(r.stdout, 'echo')).toContain('needs output "sha256" of mint, which is not known yet')
    const doc = JSON.parse((await probe('--status', '--json')).stdout)
    expect(doc.nodes.find((n: { id: string }) => n.id === 'deliver')).toMatchObject({ state: 'unknown', changes: [{ verb: 'write', target, detail: 'writable (probed)' }] })
  })
  it('shows a throwing probe as an error row with its hint, like a failing check', async () => {
    const r = await probe('--status', '--set', 'deny=true')
    expect(r.code).toBe(1) // the picture is incomplete: a job running --status must notice
    expect(row(r.stdout, 'deliver')).toMatch(/✖ error +- +write \S+delivered: Forbidden \(probe\) \(hint: grant write access, then rerun the dry run\)$/)
    expect(r.stdout).toContain('incomplete: the check of deliver failed (see OBSERVED); fix that and run --status again (exit 1)')
    const doc = JSON.parse((await probe('--status', '--json', '--set', 'deny=true')).stdout)
    expect(doc.complete).toBe(false)
  })
  it('uses the real check once the upstream has run', async () => {
    expect((await probe()).code).toBe(0)
    const r = await probe('--status')
    expect(row(r.stdout, 'deliver')).toMatch(/✔ done +succeeded +.*delivered holds sha256:/)
  })
})
