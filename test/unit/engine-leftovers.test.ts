// What runs leave on disk besides their record: --status lists kept files (a step's backup)
// with their age, and temps of writes killed halfway, which the next run removes. A run's own
// record (state.json, events.jsonl, transcript.txt) is not a leftover.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sandbox, runMain, runIds, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

const diamond = (...args: string[]) => runMain(['diamond', '--set', `dir=${sb.data}`, ...args], sb.env)
const HOUR = 3_600_000

describe('--status and the files runs leave', () => {
  it('lists a kept backup with its age and a killed write\'s temp, not the runs\' own records; the next run removes the temp only', async () => {
    expect((await diamond()).code).toBe(0)
    const [id] = runIds(sb.state, 'diamond')
    const runDir = join(sb.state, 'diamond', 'runs', id)
    expect(readdirSync(runDir).sort()).toEqual(['events.jsonl', 'state.json', 'transcript.txt'])
    expect((await diamond('--status')).stdout).not.toContain('kept files')

    const backup = join(runDir, 'backup-secret-ns-name.json')
    writeFileSync(backup, '{}', { mode: 0o600 })
    const twoHoursAgo = (Date.now() - 2 * HOUR) / 1000
    utimesSync(backup, twoHoursAgo, twoHoursAgo)
    // A temp of a state write whose writer (pid 2^22 + 1, above Linux's pid_max) is gone.
    const temp = join(runDir, '.state.json.4194305.0123abcd.tmp')
    writeFileSync(temp, '{}', { mode: 0o600 })

    const status = await diamond('--status')
    expect(status.stdout).toContain(`kept files:\n  run ${id} keeps backup-secret-ns-name.json (2h0m old, 0600): for that run's recovery; removed once a run verifies the new state (${backup})\n  temp file of a write killed halfway: ${temp} (`)
    expect(status.stdout).toMatch(/\.tmp \(\d+ms old\); the next run removes it\n$/)
    expect(status.stdout).not.toMatch(/keeps (state\.json|events\.jsonl|transcript\.txt)/)
    const json = JSON.parse((await diamond('--status', '--json')).stdout) as { keptFiles: string[] }
    expect(json.keptFiles).toHaveLength(2)

    const next = await diamond()
    expect(next.code).toBe(0)
    expect(next.stderr + next.stdout).toContain(`removed 1 temp file(s) left by a write killed halfway: ${temp}`)
    expect(existsSync(temp)).toBe(false)
    expect(existsSync(backup)).toBe(true)
  })
})
