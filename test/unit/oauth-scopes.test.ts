// lib/oauth/scopes.ts: exact-string scope comparison (/work/shared/research/google-oauth.md §5, §3.5, §8).
import { describe, expect, it } from 'vitest'
import { assertScopesGranted, compareScopes, missingScopes, parseScopes } from '../../lib/oauth/scopes.ts'

const SEND = 'https://www.googleapis.com/auth/gmail.send'
const READONLY = 'https://www.googleapis.com/auth/gmail.readonly'
const MODIFY = 'https://www.googleapis.com/auth/gmail.modify'

describe('parseScopes', () => {
  it('splits the space-delimited scope field, drops duplicates and empties, keeps order', () => {
    expect(parseScopes(` ${SEND}  ${READONLY} ${SEND} `)).toEqual([SEND, READONLY])
    expect(parseScopes(undefined)).toEqual([])
  })

  it("rewrites email/profile to the URIs Google returns (§1.3)", () => {
    expect(parseScopes(['email', 'profile'])).toEqual(['https://www.googleapis.com/auth/userinfo.email', 'https://www.googleapis.com/auth/userinfo.profile'])
  })
})

describe('compareScopes', () => {
  it('reports the required scopes the user unticked (§3.5)', () => {
    expect(compareScopes(READONLY, [SEND, READONLY])).toEqual({ missing: [SEND], extra: [] })
  })

  it('reports extras from include_granted_scopes or older grants (§8 verify 2)', () => {
    expect(compareScopes(`${SEND} ${READONLY} openid`, [SEND])).toEqual({ missing: [], extra: [READONLY, 'openid'] })
  })

  it('compares exact strings: gmail.modify does not satisfy gmail.readonly (§5)', () => {
    expect(missingScopes(MODIFY, [READONLY])).toEqual([READONLY])
    expect(missingScopes('https://mail.google.com/', [SEND])).toEqual([SEND])
  })

  it('is order-insensitive and accepts a string or a list on either side', () => {
    expect(missingScopes([READONLY, SEND], `${SEND} ${READONLY}`)).toEqual([])
  })
})

describe('assertScopesGranted', () => {
  it('passes when required ⊆ granted', () => {
    expect(() => assertScopesGranted(`${SEND} ${READONLY}`, [SEND])).not.toThrow()
  })

  it('throws ScopesMissing naming the scopes, with a hint to tick every box', () => {
    expect(() => assertScopesGranted(READONLY, [SEND, MODIFY], 'the new grant')).toThrow(
      expect.objectContaining({
        reason: 'ScopesMissing',
        retryable: false,
        message: `the new grant lacks scopes ${SEND}, ${MODIFY}`,
        hint: expect.stringContaining('tick every box'),
      }),
    )
  })
})
