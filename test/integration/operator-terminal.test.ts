// gmail-reauth as the operator sees it at 2 a.m.: the real CLI on a pseudo-terminal (80x24,
// then 200x50), against the real control plane and the Google stand-in, replayed into a
// terminal emulator. The confirmation is the whole plan and names the cluster; "n" changes
// nothing and exits 0; "y" ends with a static summary and a transcript free of token bytes.
// --status then answers "am I OK, until when, what do I run" with an exit code per case.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { GmailEnv } from '../e2e/gmail-env.ts'
import { openProxiedSandbox, closeProxiedSandbox } from '../e2e/sandbox.ts'
import type { ApiProxy } from '../e2e/api-proxy.ts'
import type { ClusterView } from '../e2e/cluster.ts'
import { findLeaks, secretNeedles } from '../e2e/leaks.ts'
import { FIXTURE } from '../k8s/fixtures.ts'
import { onPty, SGR, type PtyResult } from '../fixtures/pty.ts'
import { refreshRaw } from '../oauth-server/scripted.ts'
import { DAY, HOUR } from '../oauth-server/index.ts'

const kubeconfig = inject('kubeconfig')
const ROOT = join(import.meta.dirname, '../..')
let env: GmailEnv
let proxy: ApiProxy
let view: ClusterView
let sets: string[]

beforeAll(async () => {
  ;({ env, proxy, view, sets } = await openProxiedSandbox(kubeconfig))
})
afterAll(() => closeProxiedSandbox(kubeconfig, { env, proxy }))

function onTerminal(size: { cols: number; rows: number }, answer: string, extraEnv: Record<string, string> = {}): Promise<PtyResult> {
  // A terminal user's environment: no CI, colour unless the test says NO_COLOR.
  const { CI, NO_COLOR, ...base } = process.env
  return onPty([process.execPath, join(ROOT, 'tasks/run.mjs'), 'gmail-reauth', ...sets], {
    ...size,
    cwd: ROOT,
    env: { ...base, CREDFLOW_STATE_DIR: env.stateDir, KUBECONFIG: kubeconfig, ...extraEnv },
    answers: [{ when: /\[y\/N\] $/, send: answer }],
    deadlineMs: 100_000,
  })
}

/** The scrollback as one line of words: text the terminal wrapped (or we wrapped) reads whole. */
const flat = (r: PtyResult) => r.rows.join(' ').replace(/\s+/g, ' ')

describe('the confirmation on a terminal', () => {
  it('80x24: shows the whole plan, names the context and server, and "n" changes nothing (exit 0, the command to apply)', async () => {
    await env.seedTokenFile()
    const before = await view.snapshot()
    const r = await onTerminal({ cols: 80, rows: 24 }, 'n')
    const text = flat(r)
    expect(r.code, text).toBe(0)
    // The CredentialExpiry record (create) sits among the verbs in the order they first appear.
    const plan = /Plan: ((?:1 to (?:replace|create|delete|restart)(?:, )?){4}) in context (\S+) \(server (https?:\/\/127\.0\.0\.1:\d+), user (\S+)\)/.exec(text)
    expect(plan, text).not.toBeNull()
    expect(plan![1].split(', ').sort()).toEqual(['1 to create', '1 to delete', '1 to replace', '1 to restart'])
    expect(text).toContain(`Apply these 4 changes to context ${plan![2]}? [y/N] n`)
    // Every change "y" would allow, in the --dry-run vocabulary, not only update-secret's.
    expect(text).toMatch(new RegExp(`-/\\+ replace Secret ${FIXTURE.namespace}/${FIXTURE.secret} \\(key ${FIXTURE.key.replace(/\./g, '\\.')} <-`))
    expect(text).toContain(`- delete Secret ${FIXTURE.namespace}/${FIXTURE.staleSecret} (stale copy of the token)`)
    expect(text).toContain(`↻ restart Deployment ${FIXTURE.namespace}/${FIXTURE.deployment}`)
    expect(text).toContain('Verdict: not confirmed, nothing changed (exit 0)')
    expect(text).toMatch(/next: when the plan is right, apply it \(keeps what succeeded\): .*--resume/)
    expect(r.overflowed, 'lines wider than 80 columns').toEqual([])
    expect(SGR.test(r.raw), 'colour on a colour terminal').toBe(true)
    expect(await view.snapshot()).toEqual(before)
  })

  it('200x50 with NO_COLOR=1: "y" applies, and the scrollback ends with the static summary and the transcript path; no escape colours, no token bytes', async () => {
    const r = await onTerminal({ cols: 200, rows: 50 }, 'y', { NO_COLOR: '1' })
    const text = flat(r)
    expect(r.code, text).toBe(0)
    expect(r.raw.match(SGR)?.[0], 'a colour sequence despite NO_COLOR=1').toBeUndefined()
    expect(r.overflowed, 'lines wider than 200 columns').toEqual([])
    // The static summary is the end of the scrollback: from the table's header on.
    const end = r.rows.slice(r.rows.length - 1 - [...r.rows].reverse().findIndex((l) => /^NODE +STATUS/.test(l))).join('\n')
    // The CredentialExpiry create shows only when the record was not already up to date.
    const changed = /^Changed: ((?:1 (?:replace|create|delete|restart)(?:, )?){3,4}) in context \S+ \(server https?:\/\/127\.0\.0\.1:\d+, user \S+\)$/m.exec(end)
    expect(changed?.[1].split(', ').filter((c) => c !== '1 create').sort(), end).toEqual(['1 delete', '1 replace', '1 restart'])
    expect(end).toMatch(/^ +-\/\+ replace Secret basketball-api\/gmail-oauth-token \(key gmail-westsidebasketball\.json sha256:[0-9a-f]{12} -> sha256:[0-9a-f]{12}, \d+ bytes\)$/m)
    expect(end).toMatch(/^Verdict: succeeded \(exit 0\), run (\S+), \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC → \d\d:\d\d:\d\d UTC \(\S+\)$/m)
    const transcript = /^Transcript: (\S+)$/m.exec(end)?.[1]
    expect(transcript, end).toBeDefined()
    const record = readFileSync(transcript!.replace(/^~/, process.env.HOME ?? ''), 'utf8')
    expect(record).toMatch(/\[update-secret\[basketball-api\]\] asked to confirm the plan \((?:1 to (?:replace|create|delete|restart)(?:, )?){3,4} in context \S+ .*\): yes/)
    expect(record).toMatch(/\[delete-stale\[basketball-api\]\] changed: delete Secret basketball-api\/gmail-oauth-westsidebasketball/)
    expect(record).toContain('Verdict: succeeded (exit 0)')
    expect(findLeaks({ transcript: record, screen: r.raw }, secretNeedles(env.standIn, [readFileSync(env.tokenFile)]))).toEqual([])
  })
})

// --status as a scheduler and an operator read it: the headline first (wrapped to the
// terminal, never wider), the deadline, what is out of sync, the next command, and an exit
// code for each case (0 healthy, 6 out of sync, 5 expiring, 4 dead).
describe('--status on a terminal: the headline, the next command and an exit code for each case', () => {
  const status = () => {
    const { CI, NO_COLOR, ...base } = process.env
    return onPty([process.execPath, join(ROOT, 'tasks/run.mjs'), 'gmail-reauth', ...sets, '--status'], {
      cols: 80,
      rows: 24,
      cwd: ROOT,
      env: { ...base, CREDFLOW_STATE_DIR: env.stateDir, KUBECONFIG: kubeconfig },
      deadlineMs: 60_000,
    })
  }
  /** The lines above the node table: title, headline, consent, drift, next. */
  const head = (r: PtyResult) => r.rows.slice(0, r.rows.indexOf('', 1))
  const fits = (r: PtyResult) => {
    // Wrapped by the tool, not by the terminal: no line of the head continues on the next row.
    for (const o of r.overflowed) expect(head(r).some((l) => o.startsWith(`${l}⏎`)), `wider than 80 columns: ${o}`).toBe(false)
  }
  const sha12 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex').slice(0, 12)}`

  it('healthy after the run above: headline with the deadline first, nothing out of sync, exit 0', async () => {
    const r = await status()
    expect(r.code, r.text).toBe(0)
    expect(r.rows[0]).toBe('gmail-reauth: status (read-only checks)')
    expect(r.rows[1]).toMatch(/^healthy: expires in 6d 2\dh \(\w{3} [-\d ]*\d\d:\d\d UTC\)$/)
    expect(r.rows[2]).toMatch(/^ {2}consent .* google: Google's refresh_token_expires_in$/)
    expect(r.text).not.toMatch(/OUT OF SYNC|next:/)
    fits(r)
  })

  it('drift: a refreshed access token in the file and pods older than the Secret: named with fingerprints, exit 6, the run that syncs', async () => {
    // gmail-mcp rewrote the file at a refresh (same grant, new access token): the Secret lags.
    const file = JSON.parse(readFileSync(env.tokenFile, 'utf8'))
    const fresh = await refreshRaw(env.standIn, env.client, file.refresh_token)
    writeFileSync(env.tokenFile, JSON.stringify({ ...file, token: (fresh.json as { access_token: string }).access_token }), { mode: 0o600 })
    const secretBytes = (await view.secretBytes())!
    let r = await status()
    expect(r.code, r.text).toBe(6)
    expect(r.rows[1]).toMatch(/^healthy: expires in/)
    const text = flat(r)
    expect(text).toMatch(/OUT OF SYNC: a run would change these \d+ \(exit 6 when nothing worse\):/)
    expect(text).toContain(`update-secret[${FIXTURE.namespace}]: key ${FIXTURE.key} differs from the local file`)
    expect(text).toContain(`${sha12(secretBytes)}, local file ${sha12(readFileSync(env.tokenFile))}`)
    expect(text).toMatch(/next: npx zx tasks\/run\.mjs gmail-reauth .*\(syncs the cluster; no consent needed\)/)
    fits(r)

    // --status --json: the same facts in the documented shape.
    const j = JSON.parse((await env.run([...sets, '--status', '--json'])).stdout)
    expect(j.health).toMatchObject({ state: 'healthy', source: 'google', exitCode: 6 })
    expect(j.health.drift).toContainEqual({ node: `update-secret[${FIXTURE.namespace}]`, observed: expect.stringContaining(`local file ${sha12(readFileSync(env.tokenFile))}`) })

    // The sync fixes it (exit 0); then someone recreates the Secret by hand with the same bytes:
    // the pods started before this Secret existed (they were not restarted since it was written).
    const sync = await env.run([...sets, '--yes', '--non-interactive'])
    expect(sync.code, sync.stdout + sync.stderr).toBe(0)
    expect((await status()).code).toBe(0)
    const s = (await view.secret())!
    await view.core.deleteNamespacedSecret({ namespace: FIXTURE.namespace, name: FIXTURE.secret })
    await view.core.createNamespacedSecret({ namespace: FIXTURE.namespace, body: { metadata: { name: FIXTURE.secret, labels: s.metadata!.labels }, type: s.type, data: s.data } })
    r = await status()
    expect(r.code, r.text).toBe(6)
    expect(flat(r)).toMatch(new RegExp(`restart\\[${FIXTURE.namespace}\\]: restart needed after the refresh; Deployment ${FIXTURE.namespace}/${FIXTURE.deployment}: not restarted since the refresh`))
    fits(r)
  })

  it('expiring: Google says 22 hours are left: EXPIRES IN, the re-auth command, exit 5', async () => {
    env.standIn.control.advance(6 * DAY + 2 * HOUR)
    const r = await status()
    expect(r.code, r.text).toBe(5)
    expect(r.rows[1]).toMatch(/^EXPIRES IN 21h 5\dm \(\w{3} \d\d:\d\d UTC\): re-auth now$/)
    expect(flat(r)).toMatch(/next: cd \S+ && scripts\/gmail-reauth\.sh/)
    fits(r)
  })

  it('dead: past the 7 days Google refuses the token: DEAD, the re-auth command, exit 4', async () => {
    env.standIn.control.advance(2 * DAY)
    const r = await status()
    expect(r.code, r.text).toBe(4)
    expect(r.rows[1]).toMatch(/^DEAD/)
    expect(flat(r)).toMatch(/next: cd \S+ && scripts\/gmail-reauth\.sh/)
    expect(flat(r)).not.toMatch(/OUT OF SYNC/) // a dead token is not drift
    fits(r)
  })
})
