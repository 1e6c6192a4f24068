// What a person (or a CI log) sees: timestamped lines prefixed by node when stdout is not
// a terminal, and the summary table at the end of every run.
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { sandbox, runMain, spawnCli, readState, progressLines, type Sandbox } from '../fixtures/engine/harness.ts'

let sb: Sandbox
beforeEach(() => (sb = sandbox()))
afterEach(() => sb.cleanup())

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z /
const IDS = ['a', 'b', 'c', 'd', 'e[one]', 'e[two]', 'report']

/** The table rows after the header, as [node, mark+status, duration, note]. */
function table(stdout: string): { header: string; rows: string[][] } {
  const at = stdout.indexOf('\n\nNODE ')
  expect(at, stdout).toBeGreaterThan(0)
  const block = stdout.slice(at + 2).split('\n\n')[0].split('\n')
  return { header: block[0], rows: block.slice(1).map((l) => l.split(/ {2,}/)) }
}

describe('non-TTY progress output', () => {
  it('is one timestamped line per event, prefixed by [node], in time order', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'failB=1'], sb.env)
    expect(r.code).toBe(0)
    const lines = progressLines(r.stdout)
    for (const l of lines) expect(l, l).toMatch(ISO)
    const stamps = lines.map((l) => Date.parse(l.slice(0, 24)))
    expect([...stamps].sort((x, y) => x - y)).toEqual(stamps)
    const body = lines.map((l) => l.slice(25))
    expect(body[0]).toMatch(/^run diamond \(run \d{8}T\d{6}Z-[0-9a-f]{4}\): 7 node\(s\)$/)
    expect(body.at(-1)).toBe('succeeded (exit 0)')
    for (const id of IDS) {
      expect(body, id).toContain(`[${id}] running`)
      expect(body.some((b) => b.startsWith(`[${id}] succeeded in `)), id).toBe(true)
    }
    expect(body.join("\n")).toMatch(/\[b\] attempt 1 failed \(\d+ms since the node started\): b: transient failure 1; retrying in 50ms/)
    expect(body).toContain(`[a] applying: ${join(sb.data, 'a')} missing`)
    // No terminal control sequences in a log.
    expect(r.stdout).not.toMatch(/\x1b\[/)
  })
})

describe('the summary table', () => {
  it('ends a successful run: one row per node instance with status and duration, then the state path', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`], sb.env)
    const t = table(r.stdout)
    expect(t.header).toMatch(/^NODE +STATUS +DURATION +NOTE$/)
    expect(t.rows.map((x) => x[0])).toEqual(IDS)
    for (const row of t.rows) {
      expect(row[1]).toBe('✔ succeeded')
      expect(row[2]).toMatch(/^\d+ms$|^\d+\.\d+s$/)
    }
    expect(r.stdout).toMatch(/\nVerdict: succeeded \(exit 0\), run \d{8}T\d{6}Z-[0-9a-f]{4}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC → \d\d:\d\d:\d\d UTC \(\S+\)\nState: +\S+state\.json\nTranscript: +\S+transcript\.txt\n$/)
  })
  it('ends a failed run, with the error as the note and the next command', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'fatalC=true'], sb.env)
    const rows = Object.fromEntries(table(r.stdout).rows.map((x) => [x[0], x]))
    expect(rows.c.slice(1, 2)).toEqual(['✖ failed'])
    expect(rows.c[3]).toBe('c: told to fail')
    expect(rows.d).toEqual(['d', '⊘ blocked', '-', 'upstream c failed'])
    expect(r.stdout).toMatch(/\nVerdict: failed \(exit 1\), run \S+, .*\nState: +\S+\nTranscript: +\S+\nnext: fix the cause above, then CREDFLOW_WORKFLOWS_DIR=\S+ npx zx tasks\/run\.mjs diamond --state-dir \S+ --resume \(keeps what succeeded\)\n$/)
  })
  it('ends a dry run and a skip-laden run too', async () => {
    const r = await runMain(['diamond', '--set', `dir=${sb.data}`, '--set', 'skipD=true', '--dry-run'], sb.env)
    const rows = Object.fromEntries(table(r.stdout).rows.map((x) => [x[0], x]))
    expect(rows.a[1]).toBe('~ planned')
    expect(rows.d).toEqual(['d', '↓ skipped', '-', 'when: ${{ !params.skipD }} is false'])
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^dry run: nothing was changed/)
  })
})

describe('a reader that goes away', () => {
  it('does not kill the run halfway (`| head`): it finishes, saves its state and releases the lock', async () => {
    const c = spawnCli(['diamond', '--set', `dir=${sb.data}`, '--set', 'slowMs=300'], sb.env)
    await new Promise<void>((res) => c.proc.stdout!.once('data', () => res()))
    c.proc.stdout!.destroy() // like `head -1` exiting after the first line
    const { code } = await c.exited
    expect(c.stderr()).not.toContain('EPIPE')
    expect(code).toBe(0)
    const s = readState(sb.state, 'diamond')
    expect(s.status).toBe('succeeded')
    expect(Object.values(s.nodes).every((n) => n.status === 'succeeded')).toBe(true)
    expect(existsSync(join(sb.state, 'diamond', 'lock'))).toBe(false)
  })
})
