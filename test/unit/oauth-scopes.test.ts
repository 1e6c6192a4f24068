// lib/oauth/scopes.ts + scope-coverage.ts: scope comparison by the Gmail API reference's documented inclusions
// (/work/shared/research/google-oauth.md §5, §3.5, §8; upstream.md 'Scope inclusion').
import { describe, expect, it } from 'vitest'
import { compareScopes, missingScopes, parseScopes } from '../../lib/oauth/scopes.ts'
import { GMAIL_SCOPE_INCLUSIONS, describeCover } from '../../lib/oauth/scope-coverage.ts'

const SEND = 'https://www.googleapis.com/auth/gmail.send'
const READONLY = 'https://www.googleapis.com/auth/gmail.readonly'
const MODIFY = 'https://www.googleapis.com/auth/gmail.modify'
const LABELS = 'https://www.googleapis.com/auth/gmail.labels'
const MAIL = 'https://mail.google.com/'
const G = (s: string) => `https://www.googleapis.com/auth/gmail.${s}`

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
    expect(compareScopes(READONLY, [SEND, READONLY])).toMatchObject({ missing: [SEND], extra: [] })
  })

  it('reports extras from include_granted_scopes or older grants (§8 verify 2)', () => {
    expect(compareScopes(`${SEND} ${READONLY} openid`, [SEND])).toMatchObject({ missing: [], extra: [READONLY, 'openid'] })
  })

  it('names which granted scope covers each required one', () => {
    const c = compareScopes([SEND, MAIL], [SEND, LABELS, READONLY])
    expect(c.missing).toEqual([])
    expect(c.covered.map(describeCover)).toEqual(['gmail.send (granted)', 'gmail.labels by https://mail.google.com/', 'gmail.readonly by https://mail.google.com/'])
    expect(c.extra).toEqual([])
  })

  it("the gmail-sdk's grant (it never asks for gmail.labels) covers the workflow's four scopes through https://mail.google.com/", () => {
    const sdk = [G('readonly'), G('send'), G('modify'), G('settings.basic'), MAIL]
    expect(missingScopes(sdk, [SEND, READONLY, MODIFY, LABELS])).toEqual([])
    expect(compareScopes(sdk, [LABELS]).covered[0]).toMatchObject({ required: LABELS, by: MAIL })
  })

  it('https://mail.google.com/ does not cover what the reference does not show: settings.sharing, settings.basic', () => {
    expect(missingScopes(MAIL, [G('settings.sharing'), G('settings.basic')])).toEqual([G('settings.sharing'), G('settings.basic')])
  })

  it('no inclusion is guessed from names: gmail.modify covers neither gmail.readonly nor gmail.labels', () => {
    expect(missingScopes(MODIFY, [READONLY, LABELS])).toEqual([READONLY, LABELS])
    expect(missingScopes(LABELS, [MAIL])).toEqual([MAIL])
  })

  it('every row of the table cites the reference', () => {
    for (const row of GMAIL_SCOPE_INCLUSIONS) expect(row.source).toMatch(/https:\/\/developers\.google\.com\/workspace\/gmail\/api\/reference\/rest\/v1\//)
  })

  it('is order-insensitive and accepts a string or a list on either side', () => {
    expect(missingScopes([READONLY, SEND], `${SEND} ${READONLY}`)).toEqual([])
  })
})
