// The Google stand-in's token, tokeninfo, revoke and Gmail endpoints, pinned to
// /work/shared/research/google-oauth.md (section numbers in the test names).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAY, HOUR, SECOND, consentRedirect, startGoogleStandIn, type ClientRecord, type GoogleStandIn } from '../oauth-server/index.ts'
import { buildAuthRequest, codeExchangeForm, obtainTokens, postForm, refreshRaw } from '../oauth-server/scripted.ts'

const GMAIL_SEND = 'https://www.googleapis.com/auth/gmail.send'
const GMAIL_READONLY = 'https://www.googleapis.com/auth/gmail.readonly'
const GMAIL_MODIFY = 'https://www.googleapis.com/auth/gmail.modify'
const USERINFO_EMAIL = 'https://www.googleapis.com/auth/userinfo.email'

let g: GoogleStandIn
let testing: ClientRecord
let production: ClientRecord

beforeAll(async () => {
  g = await startGoogleStandIn({ autoApprove: true, account: { email: 'ops@example.com' } })
  testing = g.control.registerClient({ testing: true })
  production = g.control.registerClient({ testing: false })
})
afterAll(() => g.close())

function googleError(error: string, description: string): string {
  return `{\n  "error": "${error}",\n  "error_description": "${description}"\n}`
}

async function exchange(client: ClientRecord, overrides: Record<string, string | undefined> = {}) {
  const req = buildAuthRequest(g, client, [GMAIL_SEND, GMAIL_READONLY])
  const code = new URL(await consentRedirect(req.url)).searchParams.get('code')!
  const form: Record<string, string | undefined> = { ...codeExchangeForm(client, req, code), ...overrides }
  const clean = Object.fromEntries(Object.entries(form).filter(([, v]) => v !== undefined)) as Record<string, string>
  return { code, req, res: await postForm(g.endpoints.tokenUrl, clean), form: clean }
}

async function tokeninfo(accessToken: string) {
  const res = await fetch(`${g.endpoints.tokeninfoUrl}?access_token=${encodeURIComponent(accessToken)}`)
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

async function profile(accessToken: string) {
  const res = await fetch(g.endpoints.gmailProfileUrl, { headers: { authorization: `Bearer ${accessToken}` } })
  return { status: res.status, json: (await res.json()) as Record<string, any> }
}

describe('code exchange (§2.3)', () => {
  it('returns access and refresh tokens, expires_in 3599, the granted scope and token_type Bearer', async () => {
    const { res } = await exchange(production)
    expect(res.status).toBe(200)
    expect(Object.keys(res.json)).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type'])
    expect(res.json).toMatchObject({ expires_in: 3599, scope: `${GMAIL_SEND} ${GMAIL_READONLY}`, token_type: 'Bearer' })
    expect(res.json.access_token).toMatch(/^ya29\./)
    expect(res.json.refresh_token).toMatch(/^1\/\/0/)
    expect((res.json.refresh_token as string).length).toBeLessThanOrEqual(512) // size caps (§2.3)
  })

  it('adds refresh_token_expires_in (7 days minus a second) for a Testing-mode client', async () => {
    const { res } = await exchange(testing)
    expect(res.json.refresh_token_expires_in).toBe(7 * 24 * 3600 - 1)
  })

  it('adds an id_token only when openid (or email/profile, normalised) is granted', async () => {
    const withEmail = await obtainTokens(g, production, ['email', GMAIL_SEND])
    expect(withEmail.json.id_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    const claims = JSON.parse(Buffer.from((withEmail.json.id_token as string).split('.')[1], 'base64url').toString())
    expect(claims).toMatchObject({ iss: 'https://accounts.google.com', aud: production.id, email: 'ops@example.com', email_verified: true })
    expect((await obtainTokens(g, production, [GMAIL_SEND])).json.id_token).toBeUndefined()
  })

  it('answers errors pretty-printed with Google headers (§2.3)', async () => {
    const { res } = await exchange(production, { code: '4%2F0Abc' })
    expect(res.status).toBe(400)
    expect(res.text).toBe(googleError('invalid_grant', 'Malformed auth code.'))
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('no-cache, no-store, max-age=0, must-revalidate')
    expect(res.headers.get('server')).toBe('scaffolding on HTTPServer2')
  })

  it('codes are single-use: a second exchange gets invalid_grant "Bad Request"', async () => {
    const first = await exchange(production)
    expect(first.res.status).toBe(200)
    const again = await postForm(g.endpoints.tokenUrl, first.form)
    expect(again.text).toBe(googleError('invalid_grant', 'Bad Request'))
  })

  it.each<[string, Record<string, string | undefined>, number, string, string]>([
    ['a still-encoded code (§2.2)', { code: '4%2F0AbcDEF' }, 400, 'invalid_grant', 'Malformed auth code.'],
    ['a missing PKCE verifier', { code_verifier: undefined }, 400, 'invalid_grant', 'Missing code verifier.'],
    ['a wrong PKCE verifier', { code_verifier: 'x'.repeat(64) }, 400, 'invalid_grant', 'Invalid code verifier.'],
    ['a missing client_secret (Desktop client, §2.3)', { client_secret: undefined }, 400, 'invalid_request', 'client_secret is missing.'],
    ['a wrong client_secret', { client_secret: 'GOCSPX-wrong' }, 401, 'invalid_client', 'Unauthorized'],
    ['an unknown client_id', { client_id: 'ghost.apps.googleusercontent.com' }, 401, 'invalid_client', 'The OAuth client was not found.'],
    ['a different redirect_uri', { redirect_uri: 'http://127.0.0.1:8766/' }, 400, 'redirect_uri_mismatch', 'Bad Request'],
    ['an unsupported grant_type', { grant_type: 'password' }, 400, 'unsupported_grant_type', 'Invalid grant_type: password'],
  ])('refuses %s (§2.4)', async (_, overrides, status, error, description) => {
    const { res } = await exchange(production, overrides)
    expect(res.status).toBe(status)
    expect(res.json).toEqual({ error, error_description: description })
  })

  it('accepts HTTP Basic client authentication as well as form fields', async () => {
    const req = buildAuthRequest(g, production, [GMAIL_SEND])
    const code = new URL(await consentRedirect(req.url)).searchParams.get('code')!
    const basic = Buffer.from(`${production.id}:${production.secret}`).toString('base64')
    const res = await postForm(
      g.endpoints.tokenUrl,
      { grant_type: 'authorization_code', code, redirect_uri: req.redirectUri, code_verifier: req.verifier },
      { authorization: `Basic ${basic}` },
    )
    expect(res.status).toBe(200)
  })

  it('a web client without access_type=offline gets no refresh token (§2.1)', async () => {
    const web = g.control.registerClient({ type: 'web', redirectUris: ['http://127.0.0.1:8765/'] })
    const req = buildAuthRequest(g, web, [GMAIL_SEND], { access_type: 'online' })
    const code = new URL(await consentRedirect(req.url)).searchParams.get('code')!
    const res = await postForm(g.endpoints.tokenUrl, {
      grant_type: 'authorization_code', code, client_id: web.id, client_secret: web.secret, redirect_uri: req.redirectUri, code_verifier: req.verifier,
    })
    expect(res.status).toBe(200)
    expect(res.json.refresh_token).toBeUndefined()
  })
})

describe('refresh (§2.3, §2.4)', () => {
  it('issues a new access token and no refresh_token', async () => {
    const t = await obtainTokens(g, production, [GMAIL_SEND, GMAIL_READONLY])
    const r = await refreshRaw(g, production, t.json.refresh_token as string)
    expect(r.status).toBe(200)
    expect(Object.keys(r.json)).toEqual(['access_token', 'expires_in', 'scope', 'token_type'])
    expect(r.json.access_token).not.toBe(t.json.access_token)
    expect(r.json.scope).toBe(`${GMAIL_SEND} ${GMAIL_READONLY}`)
  })

  it('downscopes with scope=, and refuses a scope outside the grant with invalid_scope and \\u003d escaping', async () => {
    const t = await obtainTokens(g, production, [GMAIL_SEND, GMAIL_READONLY])
    const down = await refreshRaw(g, production, t.json.refresh_token as string, { scope: GMAIL_READONLY })
    expect(down.json.scope).toBe(GMAIL_READONLY)
    const bad = await refreshRaw(g, production, t.json.refresh_token as string, { scope: GMAIL_MODIFY })
    expect(bad.status).toBe(400)
    expect(bad.json).toMatchObject({ error: 'invalid_scope', error_description: `Some requested scopes were invalid. {invalid=[${GMAIL_MODIFY}]}` })
    expect(bad.text).toContain('{invalid\\u003d[')
  })

  it('a refresh token used with another client gets 401 unauthorized_client "Unauthorized"', async () => {
    const t = await obtainTokens(g, production, [GMAIL_SEND])
    const other = g.control.registerClient()
    const r = await refreshRaw(g, other, t.json.refresh_token as string)
    expect(r.status).toBe(401)
    expect(r.text).toBe(googleError('unauthorized_client', 'Unauthorized'))
  })

  it('an unknown refresh token gets invalid_grant "Bad Request"', async () => {
    const r = await refreshRaw(g, production, '1//0garbage')
    expect(r.text).toBe(googleError('invalid_grant', 'Bad Request'))
  })
})

describe('clock-driven expiry', () => {
  it('access tokens die after one hour (§2.3)', async () => {
    const t = await obtainTokens(g, production, [GMAIL_READONLY])
    g.control.advance(HOUR - SECOND)
    expect((await tokeninfo(t.json.access_token as string)).status).toBe(200)
    g.control.advance(SECOND)
    expect(await tokeninfo(t.json.access_token as string)).toEqual({ status: 400, json: { error: 'invalid_token', error_description: 'Invalid Value' } })
    expect((await profile(t.json.access_token as string)).status).toBe(401)
  })

  it('Testing refresh tokens die 7 days after consent, refreshing does not extend them, and the text decays to "Bad Request" after ~12 h (§3.1, §2.4)', async () => {
    const t = await obtainTokens(g, testing, [GMAIL_SEND])
    const rt = t.json.refresh_token as string
    for (let day = 1; day < 7; day++) {
      g.control.advance(DAY)
      const r = await refreshRaw(g, testing, rt)
      expect(r.status).toBe(200)
      expect(r.json.refresh_token_expires_in).toBe((7 - day) * 24 * 3600 - 1)
    }
    g.control.advance(DAY - SECOND)
    expect((await refreshRaw(g, testing, rt)).status).toBe(200)
    g.control.advance(SECOND)
    expect((await refreshRaw(g, testing, rt)).text).toBe(googleError('invalid_grant', 'Token has been expired or revoked.'))
    g.control.advance(12 * HOUR)
    expect((await refreshRaw(g, testing, rt)).text).toBe(googleError('invalid_grant', 'Bad Request'))
  })

  it('a new consent restarts the Testing clock; the old token stays dead (§3.1)', async () => {
    const old = await obtainTokens(g, testing, [GMAIL_SEND])
    g.control.advance(7 * DAY)
    const fresh = await obtainTokens(g, testing, [GMAIL_SEND])
    expect((await refreshRaw(g, testing, old.json.refresh_token as string)).json.error).toBe('invalid_grant')
    g.control.advance(6 * DAY)
    expect((await refreshRaw(g, testing, fresh.json.refresh_token as string)).status).toBe(200)
  })

  it('production refresh tokens outlive 7 days but die after six months unused (§3.2)', async () => {
    const t = await obtainTokens(g, production, [GMAIL_SEND])
    g.control.advance(30 * DAY)
    expect((await refreshRaw(g, production, t.json.refresh_token as string)).status).toBe(200)
    g.control.advance(181 * DAY)
    expect((await refreshRaw(g, production, t.json.refresh_token as string)).json.error).toBe('invalid_grant')
  })

  it('Testing clients asking only for basic scopes are exempt from the 7-day rule (§3.1)', async () => {
    const t = await obtainTokens(g, testing, ['openid', USERINFO_EMAIL])
    expect(t.json.refresh_token_expires_in).toBeUndefined()
    g.control.advance(8 * DAY)
    expect((await refreshRaw(g, testing, t.json.refresh_token as string)).status).toBe(200)
  })

  it('the 101st refresh token for an account and client silently kills the oldest (§3.2)', async () => {
    const c = g.control.registerClient()
    const rts: string[] = []
    for (let i = 0; i < 101; i++) rts.push((await obtainTokens(g, c, [GMAIL_SEND])).json.refresh_token as string)
    expect((await refreshRaw(g, c, rts[0])).json.error).toBe('invalid_grant')
    expect((await refreshRaw(g, c, rts[1])).status).toBe(200)
    expect((await refreshRaw(g, c, rts[100])).status).toBe(200)
  })

  it('a password change kills refresh tokens with Gmail scopes; a deleted account says so (§3.2, §2.4)', async () => {
    g.control.setAccount({ email: 'pw@example.com' })
    const gmail = await obtainTokens(g, production, [GMAIL_SEND])
    const basic = await obtainTokens(g, production, ['openid'])
    g.control.advance(SECOND)
    g.control.changePassword('pw@example.com')
    expect((await refreshRaw(g, production, gmail.json.refresh_token as string)).json.error_description).toBe('Token has been expired or revoked.')
    expect((await refreshRaw(g, production, basic.json.refresh_token as string)).status).toBe(200)
    g.control.deleteAccount('pw@example.com')
    expect((await refreshRaw(g, production, basic.json.refresh_token as string)).json).toEqual({
      error: 'invalid_grant',
      error_description: 'The account has been deleted',
    })
    g.control.setAccount({ email: 'ops@example.com' })
  })
})

describe('tokeninfo (§2.5)', () => {
  it('returns every value as a string, with azp/aud = client id and access_type offline', async () => {
    const t = await obtainTokens(g, production, [GMAIL_SEND, GMAIL_READONLY])
    const info = await tokeninfo(t.json.access_token as string)
    expect(info.status).toBe(200)
    expect(Object.keys(info.json)).toEqual(['azp', 'aud', 'sub', 'scope', 'exp', 'expires_in', 'access_type'])
    for (const v of Object.values(info.json)) expect(typeof v).toBe('string')
    expect(info.json).toMatchObject({ azp: production.id, aud: production.id, scope: `${GMAIL_SEND} ${GMAIL_READONLY}`, expires_in: '3599', access_type: 'offline' })
    expect(Number(info.json.exp)).toBe(Math.floor(g.control.now() / 1000) + 3600)
  })

  it('counts expires_in down like the token endpoint (3599 when fresh)', async () => {
    const t = await obtainTokens(g, production, [GMAIL_SEND])
    expect(t.json.expires_in).toBe(3599)
    g.control.advance(10 * 60_000)
    expect((await tokeninfo(t.json.access_token as string)).json.expires_in).toBe('2999')
  })

  it('includes email and email_verified only with the email scope', async () => {
    const t = await obtainTokens(g, production, ['email', GMAIL_SEND])
    expect((await tokeninfo(t.json.access_token as string)).json).toMatchObject({ email: 'ops@example.com', email_verified: 'true' })
  })

  it('accepts POST with a Bearer header, and refuses refresh tokens', async () => {
    const t = await obtainTokens(g, production, [GMAIL_SEND])
    const post = await fetch(g.endpoints.tokeninfoUrl, { method: 'POST', headers: { authorization: `Bearer ${t.json.access_token}` } })
    expect(post.status).toBe(200)
    expect((await tokeninfo(t.json.refresh_token as string)).json).toEqual({ error: 'invalid_token', error_description: 'Invalid Value' })
  })
})

describe('revoke is project-wide (§2.6)', () => {
  it('revoking the OLD refresh token after a re-consent kills the NEW one too', async () => {
    g.control.setAccount({ email: 'revoke@example.com' })
    const old = await obtainTokens(g, production, [GMAIL_SEND])
    const fresh = await obtainTokens(g, production, [GMAIL_SEND])
    expect((await postForm(`${g.endpoints.revokeUrl}?token=${encodeURIComponent(old.json.refresh_token as string)}`, {})).status).toBe(200)
    expect((await refreshRaw(g, production, fresh.json.refresh_token as string)).text).toBe(googleError('invalid_grant', 'Token has been expired or revoked.'))
    expect((await tokeninfo(fresh.json.access_token as string)).status).toBe(400)
    // A consent after the revocation starts a new grant.
    const after = await obtainTokens(g, production, [GMAIL_SEND])
    expect((await refreshRaw(g, production, after.json.refresh_token as string)).status).toBe(200)
    g.control.setAccount({ email: 'ops@example.com' })
  })

  it('reaches other clients of the same project, but not other projects or other accounts', async () => {
    g.control.setAccount({ email: 'scope@example.com' })
    const sibling = g.control.registerClient({ projectId: 'credflow-test' })
    const stranger = g.control.registerClient({ projectId: 'elsewhere' })
    const a = await obtainTokens(g, production, [GMAIL_SEND])
    const b = await obtainTokens(g, sibling, [GMAIL_SEND])
    const c = await obtainTokens(g, stranger, [GMAIL_SEND])
    g.control.setAccount({ email: 'bystander@example.com' })
    const d = await obtainTokens(g, production, [GMAIL_SEND])
    // Revoking an access token (form body) removes its refresh token with it.
    expect((await postForm(g.endpoints.revokeUrl, { token: a.json.access_token as string })).status).toBe(200)
    expect((await refreshRaw(g, production, a.json.refresh_token as string)).status).toBe(400)
    expect((await refreshRaw(g, sibling, b.json.refresh_token as string)).status).toBe(400)
    expect((await refreshRaw(g, stranger, c.json.refresh_token as string)).status).toBe(200)
    expect((await refreshRaw(g, production, d.json.refresh_token as string)).status).toBe(200)
    g.control.setAccount({ email: 'ops@example.com' })
  })

  it('revoking a dead or unknown token gives 400 invalid_token "Token expired or revoked"', async () => {
    const t = await obtainTokens(g, production, [GMAIL_SEND])
    await postForm(g.endpoints.revokeUrl, { token: t.json.refresh_token as string })
    const again = await postForm(g.endpoints.revokeUrl, { token: t.json.refresh_token as string })
    expect(again.status).toBe(400)
    expect(again.json).toEqual({ error: 'invalid_token', error_description: 'Token expired or revoked' })
  })
})

describe('Gmail users/me/profile (§2.7)', () => {
  it('returns the account with a read-capable scope', async () => {
    g.control.setAccount({ email: 'inbox@example.com', messagesTotal: 12, threadsTotal: 7, historyId: '99' })
    const t = await obtainTokens(g, production, [GMAIL_MODIFY])
    expect(await profile(t.json.access_token as string)).toEqual({
      status: 200,
      json: { emailAddress: 'inbox@example.com', messagesTotal: 12, threadsTotal: 7, historyId: '99' },
    })
    g.control.setAccount({ email: 'ops@example.com' })
  })

  it('refuses gmail.send alone with 403, and a missing or bad token with 401', async () => {
    const t = await obtainTokens(g, production, [GMAIL_SEND])
    expect(await profile(t.json.access_token as string)).toMatchObject({ status: 403, json: { error: { status: 'PERMISSION_DENIED' } } })
    expect((await profile('ya29.nope')).json.error.status).toBe('UNAUTHENTICATED')
    expect((await fetch(g.endpoints.gmailProfileUrl)).status).toBe(401)
  })
})
