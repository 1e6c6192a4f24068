// lib/grant-order.ts: a grant never goes backwards, and no host's own clock decides the order.
// The cross-host runs against the real plane are in test/integration/crash-matrix.test.ts.
import { describe, expect, it } from 'vitest'
import { CONSENT_SLACK_MS, compareGrants, grantOf } from '../../lib/grant-order.ts'

const file = (refresh: string) => new TextEncoder().encode(`{"type":"authorized_user","client_id":"id.apps.googleusercontent.com","client_secret":"s","refresh_token":"${refresh}"}`)
const MINE = file('1//0mine')
const THEIRS = file('1//0theirs')
const T = Date.parse('2026-12-03T12:00:00Z')
const at = (ms: number) => new Date(ms).toISOString()
/** The Secret holding THEIRS: consent recorded at `consented`, object created at `written` (apiserver clock). */
const secret = (consented: number | undefined, written: number) => ({ bytes: THEIRS, recorded: { grant: grantOf(THEIRS), consentedAt: consented === undefined ? undefined : at(consented), writtenAt: at(written) } })

describe('grants from earlier runs (consent times on the apiserver clock)', () => {
  it('the same refresh token is the same grant, whatever the times', () => {
    expect(compareGrants({ bytes: MINE, consentedAt: at(T) }, { bytes: MINE, recorded: {} })).toMatchObject({ order: 'same' })
  })
  it("refuses a file whose consent is more than the slack before the Secret's", () => {
    const o = compareGrants({ bytes: MINE, consentedAt: at(T - 10 * 60_000) }, secret(T, T + 1000))
    expect(o).toMatchObject({ order: 'older', why: "the Secret's grant was consented 2026-12-03T12:00:00Z, the local file's 2026-12-03T11:50:00Z" })
  })
  it('does not order consents within the slack', () => {
    expect(compareGrants({ bytes: MINE, consentedAt: at(T - CONSENT_SLACK_MS + 1000) }, secret(T, T + 1000)).order).toBe('newer')
  })
  it("a writer whose clock ran ahead cannot push its consent past its Secret's creationTimestamp", () => {
    // Recorded 5 minutes in the future by a host that did not correct its clock; created at T.
    const o = compareGrants({ bytes: MINE, consentedAt: at(T + 2 * 60_000) }, secret(T + 5 * 60_000, T))
    expect(o.order).toBe('newer')
  })
  it('without a consent time on either side the order is unknown (and nothing is refused)', () => {
    expect(compareGrants({ bytes: MINE }, secret(T, T)).order).toBe('unknown')
    expect(compareGrants({ bytes: MINE, consentedAt: at(T) }, { bytes: undefined, recorded: {} }).order).toBe('unknown')
  })
})

describe('a grant consented by this very process (it has held the Lease since before the consent)', () => {
  const HERE = "the local file's grant was consented by this run, which has held the Lease since before the consent"
  it('is the newest without reading a clock: what the times alone would refuse goes through', () => {
    // Its consent time reads 10 minutes before the Secret's (say, a clock that was off and not corrected).
    expect(compareGrants({ bytes: MINE, consentedAt: at(T - 10 * 60_000) }, secret(T - 11 * 60_000, T - 11 * 60_000)).order).toBe('newer')
    expect(compareGrants({ bytes: MINE, consentedAt: at(T - 10 * 60_000) }, secret(T, T)).order).toBe('older')
    expect(compareGrants({ bytes: MINE, consentedAt: at(T - 10 * 60_000), consentedHere: true }, secret(T, T - 11 * 60_000))).toMatchObject({ order: 'newer', why: HERE })
    expect(compareGrants({ bytes: MINE, consentedHere: true }, secret(T, T))).toMatchObject({ order: 'newer', why: HERE })
  })
  it('the Secret recreated after the consent (only a hand can, the Lease being held) is judged by the times again', () => {
    // Recreated 10 minutes after our consent with a grant consented 5 minutes after it: refused.
    expect(compareGrants({ bytes: MINE, consentedAt: at(T), consentedHere: true }, secret(T + 5 * 60_000, T + 10 * 60_000)).order).toBe('older')
    // Recreated after it, but with an older grant (put back by hand): ours is newer.
    expect(compareGrants({ bytes: MINE, consentedAt: at(T), consentedHere: true }, secret(T - 60 * 60_000, T + 10 * 60_000))).toMatchObject({ order: 'newer', why: "the local file's grant was consented 2026-12-03T12:00:00Z, the Secret's 2026-12-03T11:00:00Z" })
  })
})
