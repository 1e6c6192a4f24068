// lib/oauth/endpoints.ts (/work/shared/research/google-oauth.md §1.4, §2.1–§2.7).
import { describe, expect, it } from 'vitest'
import { GOOGLE_ENDPOINTS, resolveEndpoints } from '../../lib/oauth/endpoints.ts'

describe('Google endpoints', () => {
  it('default to Google', () => {
    expect(resolveEndpoints()).toEqual({
      authUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
      tokenUrl: 'https://oauth2.googleapis.com/token',
      tokeninfoUrl: 'https://oauth2.googleapis.com/tokeninfo',
      revokeUrl: 'https://oauth2.googleapis.com/revoke',
      gmailProfileUrl: 'https://gmail.googleapis.com/gmail/v1/users/me/profile',
    })
    expect(Object.isFrozen(GOOGLE_ENDPOINTS)).toBe(true)
  })

  it('take overrides one by one, e.g. a stand-in on 127.0.0.1', () => {
    const e = resolveEndpoints({ tokenUrl: 'http://127.0.0.1:4000/token', authUrl: undefined })
    expect(e.tokenUrl).toBe('http://127.0.0.1:4000/token')
    expect(e.authUrl).toBe(GOOGLE_ENDPOINTS.authUrl)
  })

  it.each([
    ['plain http to another host', { tokenUrl: 'http://oauth.example.com/token' }],
    ['a relative URL', { tokenUrl: '/token' }],
    ['credentials in the URL', { tokenUrl: 'https://user:pw@example.com/token' }],
    ['an unknown key (a typo)', { tokenURL: 'https://example.com/token' }],
  ])('refuse %s with InvalidEndpoint', (_, overrides) => {
    let err: any
    try {
      resolveEndpoints(overrides as never)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ reason: 'InvalidEndpoint', retryable: false })
    expect(err.hint).toBeTruthy()
    expect(err.message).not.toContain('pw')
  })
})
