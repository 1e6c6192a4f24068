// --status's verdict on a credential: which exit code wins when several things are wrong, what
// counts as drift, and how the lines fit a terminal.
import { describe, expect, it } from 'vitest'
import { formatHealth, statusHealth, type Health } from '../../lib/engine/health.ts'
import { EXIT } from '../../lib/engine/exit-codes.ts'
import type { NodeObservation } from '../../lib/engine/status.ts'

const healthy: Health = { state: 'healthy', headline: 'healthy: expires in 4d 3h (Tue 09:12 UTC)', expiresAt: '2026-12-08T09:12:00.000Z', consentedAt: '2026-12-01T09:12:00.000Z', source: 'google' }
const node = (id: string, state: NodeObservation['state'], observed = `${id} observed`, health?: Health): NodeObservation => ({ id, state, observed, ...(health ? { health } : {}) })
const SECRET_DIFFERS = 'key k differs from the local file; Secret ns/s key k: sha256:aaaaaaaaaaaa, local file sha256:bbbbbbbbbbbb; Secret age 3d2h'
const SYNC = 'npx zx tasks/run.mjs gmail-reauth'

describe('statusHealth: the exit code a scheduler acts on', () => {
  it('is undefined for a workflow without a credential check (then --status exits 0 or 1 as before)', () => {
    expect(statusHealth([node('a', 'done'), node('b', 'todo')])).toBeUndefined()
  })

  it('healthy and in sync: 0, no drift, no next command', () => {
    const h = statusHealth([node('reauth', 'done', 'ok', healthy), node('update-secret[ns]', 'done')], SYNC)!
    expect(h).toMatchObject({ state: 'healthy', exitCode: EXIT.ok, drift: [] })
    expect(h.next).toBeUndefined()
  })

  it('drift: 6, each node a run would change with what its check sees, and the run that syncs', () => {
    const h = statusHealth([node('reauth', 'done', 'ok', healthy), node('update-secret[ns]', 'todo', SECRET_DIFFERS), node('restart[ns]', 'todo', 'restart needed after the refresh')], SYNC)!
    expect(h.exitCode).toBe(EXIT.drift)
    expect(h.drift).toEqual([
      { node: 'update-secret[ns]', observed: SECRET_DIFFERS },
      { node: 'restart[ns]', observed: 'restart needed after the refresh' },
    ])
    expect(h.next).toBe(`${SYNC}   (syncs the cluster; no consent needed)`)
  })

  it('a person first: expiring (5) and dead (4) win over drift and keep their own next command', () => {
    const expiring = statusHealth([node('reauth', 'todo', 'x', { ...healthy, state: 'expiring', next: 'scripts/gmail-reauth.sh' }), node('update-secret[ns]', 'todo', SECRET_DIFFERS)], SYNC)!
    expect(expiring).toMatchObject({ exitCode: EXIT.expiringSoon, next: 'scripts/gmail-reauth.sh' })
    expect(expiring.drift).toHaveLength(1) // still shown
    const dead = statusHealth([node('reauth', 'todo', 'x', { ...healthy, state: 'dead', next: 'scripts/gmail-reauth.sh' }), node('update-secret[ns]', 'todo', SECRET_DIFFERS)], SYNC)!
    expect(dead).toMatchObject({ exitCode: EXIT.needsOperator, drift: [] }) // the nodes after a dead token are todo for that reason alone
  })

  it('a check that could not look (1) wins over drift: the picture is incomplete', () => {
    const h = statusHealth([node('reauth', 'done', 'ok', healthy), node('update-secret[ns]', 'todo', SECRET_DIFFERS), node('restart[ns]', 'error', 'Forbidden')], SYNC)!
    expect(h.exitCode).toBe(EXIT.failed)
  })
})

describe('formatHealth: the lines above the node table', () => {
  const drifted = statusHealth([node('reauth', 'done', 'ok', { ...healthy, consent: 'consent Tue 09:12 UTC (2d20h ago), google: Google\'s refresh_token_expires_in' }), node('update-secret[ns]', 'todo', SECRET_DIFFERS)], SYNC)!

  it('headline, consent, what is out of sync, next', () => {
    expect(formatHealth(drifted)).toEqual([
      'healthy: expires in 4d 3h (Tue 09:12 UTC)',
      "  consent Tue 09:12 UTC (2d20h ago), google: Google's refresh_token_expires_in",
      `  OUT OF SYNC: a run would change this (exit ${EXIT.drift} when nothing worse):`,
      `    update-secret[ns]: ${SECRET_DIFFERS}`,
      `  next: ${SYNC}   (syncs the cluster; no consent needed)`,
    ])
  })

  it('wraps to the terminal with a hanging indent, never wider, every word kept', () => {
    const lines = formatHealth(drifted, 60)
    for (const l of lines) expect([...l].length, l).toBeLessThanOrEqual(60)
    const i = lines.findIndex((l) => l.startsWith('    update-secret[ns]: '))
    expect(lines[i + 1]).toMatch(/^ {6}\S/)
    expect(lines.join(' ').replace(/\s+/g, ' ')).toContain(SECRET_DIFFERS)
  })
})
