// --dry-run: check and plan only. Nothing is written (not even the state directory),
// nothing is changed, and every intended change is shown.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sandbox, runMain, snapshot, progressLines, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

describe('--dry-run writes nothing', () => {
  it('does not even create the state directory', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--dry-run'], sb.env)
    expect(r.code, r.stdout).toBe(0)
    expect(existsSync(sb.state)).toBe(false)
  })
  it('leaves an existing state directory byte-for-byte as it was (and the lock free)', async () => {
    expect((await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true'], sb.env)).code).toBe(1)
    const before = snapshot(sb.state)
    expect(Object.keys(before).some((k) => k.endsWith('state.json'))).toBe(true)
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true', '--dry-run'], sb.env)
    expect(r.code).toBe(0)
    expect(snapshot(sb.state)).toEqual(before)
  })
})

describe('--dry-run changes nothing', () => {
  it('leaves the files the steps manage untouched, with their old content and mtimes', async () => {
    writeFileSync(join(sb.data, 'a'), 'stale')
    writeFileSync(join(sb.data, 'b'), 'ok')
    const before = snapshot(sb.data)
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--dry-run'], sb.env)
    expect(r.code, r.stdout).toBe(0)
    expect(snapshot(sb.data)).toEqual(before)
  })
})

describe('--dry-run shows the planned changes', () => {
  it('prints each change per node, plans descendants with predicted outputs, and exits 0', async () => {
    writeFileSync(join(sb.data, 'b'), 'ok') // already right: b is cached, not planned
    // kubectl's spelling works too: every dry run here is server-side.
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--dry-run=server'], sb.env)
    expect(r.code).toBe(0)
    const lines = progressLines(r.stdout)
    expect(lines[0]).toMatch(/Z dry run of diamond: 7 node\(s\)$/)
    const says = (node: string, text: string) => expect(lines.some((l) => l.endsWith(` [${node}] ${text}`)), `[${node}] ${text}\n${lines.join('\n')}`).toBe(true)
    says('a', `would write ${join(sb.data, 'a')} (2 bytes)`)
    says('c', `would write ${join(sb.data, 'c')} (2 bytes)`)
    // d's content is built from b's output: "from <dir>/b" is 14+ bytes.
    says('d', `would write ${join(sb.data, 'd')} (${`from ${join(sb.data, 'b')}`.length} bytes)`)
    says('e[one]', `would write ${join(sb.data, 'e-one')} (2 bytes)`)
    says('report', `would write ${join(sb.data, 'report.json')}`)
    expect(lines.some((l) => l.includes('[b] would'))).toBe(false)
    expect(r.stdout).toMatch(/\nb +✔ cached +\S+ +.*b up to date\n/)
    expect(r.stdout).toMatch(/\na +~ planned +\S+ +.*a missing\n/)
    expect(r.stdout).toContain('\nPlan: 6 to write\n') // a, c, d, e[one], e[two], report: b is cached
    expect(r.stdout).toContain(`dry run: nothing was changed and no state was written. Apply with: CREDFLOW_WORKFLOWS_DIR=${sb.env.CREDFLOW_WORKFLOWS_DIR} npx zx tasks/run.mjs diamond --state-dir ${sb.state} --set dir=${sb.data}\n`)
  })
  it('plans through a node that would fail only at apply time (a fatal step still plans)', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true', '--dry-run'], sb.env)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`[c] would write ${join(sb.data, 'c')} (2 bytes)`)
  })
})
