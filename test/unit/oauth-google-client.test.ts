// lib/oauth/google-client.ts against the Google stand-in. Error mapping follows
// /work/shared/research/google-oauth.md §2.4 and §8 "Verify-scopes step" 3.
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OpsError } from '../../lib/errors.ts'
import { SecretValue } from '../../lib/secret-value.ts'
import type { OAuthClient } from '../../lib/oauth/client-secrets.ts'
import { exchangeCode, gmailProfile, refreshAccessToken, tokenInfo } from '../../lib/oauth/google-client.ts'
import { DAY, HOUR, consentRedirect, startGoogleStandIn, type ClientRecord, type GoogleStandIn } from '../oauth-server/index.ts'
import { buildAuthRequest, obtainTokens } from '../oauth-server/scripted.ts'

const GMAIL_SEND = 'https://www.googleapis.com/auth/gmail.send'
const GMAIL_READONLY = 'https://www.googleapis.com/auth/gmail.readonly'

let g: GoogleStandIn
let testingClient: ClientRecord
let client: OAuthClient
const errors: unknown[] = []

beforeAll(async () => {
  g = await startGoogleStandIn({ autoApprove: true, account: { email: 'ops@example.com', messagesTotal: 5, threadsTotal: 3, historyId: '777' } })
  testingClient = g.control.registerClient({ testing: true })
  client = asClient(testingClient)
})
afterAll(() => g.close())

function asClient(c: ClientRecord): OAuthClient {
  return { clientId: c.id, clientSecret: new SecretValue(c.secret) }
}

async function failure(p: Promise<unknown>): Promise<OpsError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(OpsError)
  errors.push(e)
  return e as OpsError
}

async function grant(scopes = [GMAIL_SEND, GMAIL_READONLY], c: ClientRecord = testingClient) {
  const t = await obtainTokens(g, c, scopes)
  return { refresh: new SecretValue(t.json.refresh_token as string), access: new SecretValue(t.json.access_token as string) }
}

describe('refreshAccessToken (§2.3)', () => {
  it('returns a new access token as a SecretValue, the granted scope, and keeps no refresh token', async () => {
    const { refresh } = await grant()
    const before = new Date()
    const r = await refreshAccessToken(client, refresh, { endpoints: g.endpoints })
    expect(r.accessToken).toBeInstanceOf(SecretValue)
    expect(r.accessToken.revealString()).toMatch(/^ya29\./)
    expect(r.refreshToken).toBeUndefined()
    expect(r.expiresIn).toBe(3599)
    expect(r.scope).toEqual([GMAIL_SEND, GMAIL_READONLY])
    expect(r.tokenType).toBe('Bearer')
    expect(r.refreshTokenExpiresIn).toBe(7 * 24 * 3600 - 1)
    expect(r.receivedAt.getTime()).toBeGreaterThanOrEqual(before.getTime())
    expect(inspect(r)).not.toContain(r.accessToken.revealString())
  })

  it('7 days after consent a Testing-mode token fails with reason invalid_grant, not retryable, hinting at reauth (§3.1)', async () => {
    const { refresh } = await grant()
    g.control.advance(7 * DAY)
    const e = await failure(refreshAccessToken(client, refresh, { endpoints: g.endpoints }))
    expect(e).toMatchObject({ reason: 'invalid_grant', retryable: false })
    expect(e.message).toContain('invalid_grant "Token has been expired or revoked."')
    expect(e.hint).toContain('gmail-reauth')
    expect(e.hint).toContain('7 days')
  })

  it('the later "Bad Request" text is the same invalid_grant (§2.4, §0)', async () => {
    const { refresh } = await grant()
    g.control.advance(7 * DAY + 13 * HOUR)
    const e = await failure(refreshAccessToken(client, refresh, { endpoints: g.endpoints }))
    expect(e.reason).toBe('invalid_grant')
    expect(e.message).toContain('"Bad Request"')
  })

  it('a refresh token used with another client is unauthorized_client: the client does not match the token', async () => {
    const { refresh } = await grant()
    const other = g.control.registerClient()
    const e = await failure(refreshAccessToken(asClient(other), refresh, { endpoints: g.endpoints }))
    expect(e).toMatchObject({ reason: 'unauthorized_client', retryable: false })
    expect(e.message).toContain(`client ${other.id} does not match the token`)
  })

  it('a wrong client secret is invalid_client, not retryable', async () => {
    const { refresh } = await grant()
    const e = await failure(refreshAccessToken({ clientId: testingClient.id, clientSecret: new SecretValue('GOCSPX-wrong') }, refresh, { endpoints: g.endpoints }))
    expect(e).toMatchObject({ reason: 'invalid_client', retryable: false })
    expect(e.message).toContain('invalid_client "Unauthorized"')
  })

  it('an empty client secret is the config error invalid_request "client_secret is missing." (§2.3)', async () => {
    const { refresh } = await grant()
    const e = await failure(refreshAccessToken({ clientId: testingClient.id, clientSecret: new SecretValue('') }, refresh, { endpoints: g.endpoints }))
    expect(e).toMatchObject({ reason: 'invalid_request', retryable: false })
    expect(e.hint).toMatch(/client_secret/)
  })

  it('asking for a scope outside the grant is invalid_scope (§8 verify 5)', async () => {
    const { refresh } = await grant([GMAIL_SEND])
    const e = await failure(refreshAccessToken(client, refresh, { endpoints: g.endpoints, scopes: [GMAIL_READONLY] }))
    expect(e.reason).toBe('invalid_scope')
  })

  it('one 503 is retried (after ~0.5 s) and the refresh succeeds', async () => {
    const { refresh } = await grant()
    const before = g.control.requestCount('/token')
    g.control.injectTokenFaults({ status: 503 })
    const started = Date.now()
    const r = await refreshAccessToken(client, refresh, { endpoints: g.endpoints })
    expect(r.accessToken.revealString()).toMatch(/^ya29\./)
    expect(g.control.requestCount('/token') - before).toBe(2)
    expect(Date.now() - started).toBeGreaterThanOrEqual(450)
  })

  it('persistent 503s: three attempts (backoff 0.5 s, 1 s), then a retryable GoogleUnavailable that says so', async () => {
    const { refresh } = await grant()
    const before = g.control.requestCount('/token')
    g.control.injectTokenFaults({ status: 503, count: 3 })
    const started = Date.now()
    const e = await failure(refreshAccessToken(client, refresh, { endpoints: g.endpoints }))
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
    expect(g.control.requestCount('/token') - before).toBe(3)
    expect(e).toMatchObject({ reason: 'GoogleUnavailable', retryable: true })
    expect(e.message).toBe('refresh the access token: Google answered HTTP 503 internal_failure "Backend Error" (tried 3 times over ' + e.message.split(' over ')[1])
    expect(e.message).toMatch(/\(tried 3 times over \d+(\.\d)?m?s\)$/)
    expect(e.hint).toMatch(/^Google kept failing: wait a few minutes, then rerun with --resume/)
  })

  it('a slow answer times out as retryable Timeout, after every attempt timed out', async () => {
    const { refresh } = await grant()
    g.control.injectTokenFaults({ delayMs: 1000, count: 3 })
    const e = await failure(refreshAccessToken(client, refresh, { endpoints: g.endpoints, timeoutMs: 100, backoffMs: 10 }))
    expect(e).toMatchObject({ reason: 'Timeout', retryable: true })
    expect(e.message).toMatch(/no answer from http:\/\/127\.0\.0\.1:\d+\/token within 100ms \(request timeout\) \(tried 3 times over \d+ms\)$/)
  })

  it('the caller can abort; that is not retryable', async () => {
    const { refresh } = await grant()
    g.control.injectTokenFaults({ delayMs: 1000 })
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    const e = await failure(refreshAccessToken(client, refresh, { endpoints: g.endpoints, signal: ac.signal }))
    expect(e).toMatchObject({ reason: 'Aborted', retryable: false })
  })

  it('an abort during the backoff ends the wait at once', async () => {
    const { refresh } = await grant()
    g.control.injectTokenFaults({ status: 503 })
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 100)
    const started = Date.now()
    const e = await failure(refreshAccessToken(client, refresh, { endpoints: g.endpoints, signal: ac.signal, backoffMs: 5000 }))
    expect(e).toMatchObject({ reason: 'Aborted', retryable: false })
    expect(e.message).toBe('refresh the access token: cancelled')
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('an unreachable endpoint is a retryable NetworkError', async () => {
    const { refresh } = await grant()
    const dead = await startGoogleStandIn()
    await dead.close()
    const e = await failure(refreshAccessToken(client, refresh, { endpoints: { tokenUrl: dead.endpoints.tokenUrl }, backoffMs: 10 }))
    expect(e).toMatchObject({ reason: 'NetworkError', retryable: true })
    expect(e.message).toContain('ECONNREFUSED')
    expect(e.message).toContain('(tried 3 times over ' + e.message.split(' over ')[1])
    expect(e.message).toMatch(/\(tried 3 times over \d+(\.\d)?m?s\)$/)
  })

  it('a 200 that is not a token response is BadResponse (not repeated) and its body is never quoted', async () => {
    const { refresh } = await grant()
    const before = g.control.requestCount('/token')
    g.control.injectTokenFaults({ status: 200, body: { refresh_token: 'leaky-looking-body', expires_in: 'soon' } })
    const e = await failure(refreshAccessToken(client, refresh, { endpoints: g.endpoints }))
    expect(g.control.requestCount('/token') - before).toBe(1)
    expect(e.reason).toBe('BadResponse')
    expect(e.message).not.toContain('leaky-looking-body')
  })
})

describe('exchangeCode (§2.3)', () => {
  it('trades a code with verifier and redirect_uri for a refresh token and the granted scope', async () => {
    g.control.consentNext({ action: 'grant', scopes: [GMAIL_READONLY] })
    const req = buildAuthRequest(g, testingClient, [GMAIL_SEND, GMAIL_READONLY])
    const code = new URL(await consentRedirect(req.url)).searchParams.get('code')!
    const r = await exchangeCode(client, { code: new SecretValue(code), codeVerifier: new SecretValue(req.verifier), redirectUri: req.redirectUri }, { endpoints: g.endpoints })
    expect(r.refreshToken?.revealString()).toMatch(/^1\/\/0/)
    expect(r.scope).toEqual([GMAIL_READONLY])
  })

  it('is never retried, not even after a 503: a code is single-use', async () => {
    const req = buildAuthRequest(g, testingClient, [GMAIL_SEND])
    const code = new URL(await consentRedirect(req.url)).searchParams.get('code')!
    const before = g.control.requestCount('/token')
    g.control.injectTokenFaults({ status: 503 })
    const e = await failure(exchangeCode(client, { code: new SecretValue(code), codeVerifier: new SecretValue(req.verifier), redirectUri: req.redirectUri }, { endpoints: g.endpoints }))
    expect(e).toMatchObject({ reason: 'GoogleUnavailable' })
    expect(e.message).not.toContain('tried')
    expect(g.control.requestCount('/token') - before).toBe(1)
  })

  it('a reused code is invalid_grant with a hint to start the consent again', async () => {
    const req = buildAuthRequest(g, testingClient, [GMAIL_SEND])
    const code = new URL(await consentRedirect(req.url)).searchParams.get('code')!
    const grantArgs = { code: new SecretValue(code), codeVerifier: new SecretValue(req.verifier), redirectUri: req.redirectUri }
    await exchangeCode(client, grantArgs, { endpoints: g.endpoints })
    const e = await failure(exchangeCode(client, grantArgs, { endpoints: g.endpoints }))
    expect(e.reason).toBe('invalid_grant')
    expect(e.hint).toContain('consent again')
  })
})

describe('tokenInfo (§2.5)', () => {
  it('converts the string-typed fields and lists the scopes', async () => {
    const { access } = await grant()
    const info = await tokenInfo(access, { endpoints: g.endpoints })
    expect(info).toMatchObject({ azp: testingClient.id, aud: testingClient.id, scope: [GMAIL_SEND, GMAIL_READONLY], expiresIn: 3599, accessType: 'offline' })
    expect(info.expiresAt.getTime()).toBe(Math.floor(g.control.now() / 1000) * 1000 + 3600_000)
    expect(info.email).toBeUndefined() // a Gmail-only grant carries no email (§2.7)
  })

  it('parses email_verified "true" to a boolean when the email scope is granted', async () => {
    const { access } = await grant(['email', GMAIL_SEND])
    expect(await tokenInfo(access, { endpoints: g.endpoints })).toMatchObject({ email: 'ops@example.com', emailVerified: true })
  })

  it('an expired access token is invalid_token, not retryable', async () => {
    const { access } = await grant()
    g.control.advance(HOUR)
    const e = await failure(tokenInfo(access, { endpoints: g.endpoints }))
    expect(e).toMatchObject({ reason: 'invalid_token', retryable: false })
    expect(e.message).toContain('"Invalid Value"')
  })

  it('never puts the token in the URL (it is sent as a Bearer header)', async () => {
    const { access } = await grant()
    const before = g.control.requests().length
    await tokenInfo(access, { endpoints: g.endpoints })
    const req = g.control.requests().slice(before)
    expect(req).toEqual([expect.objectContaining({ method: 'POST', path: '/tokeninfo' })])
  })
})

describe('gmailProfile (§2.7)', () => {
  it('returns the mailbox with a read-capable scope', async () => {
    const { access } = await grant([GMAIL_READONLY])
    expect(await gmailProfile(access, { endpoints: g.endpoints })).toEqual({ emailAddress: 'ops@example.com', messagesTotal: 5, threadsTotal: 3, historyId: '777' })
  })

  it('gmail.send alone is Forbidden with a hint naming the read scopes', async () => {
    const { access } = await grant([GMAIL_SEND])
    const e = await failure(gmailProfile(access, { endpoints: g.endpoints }))
    expect(e).toMatchObject({ reason: 'Forbidden', retryable: false })
    expect(e.hint).toContain('gmail.readonly')
  })

  it('a dead access token is Unauthenticated', async () => {
    const e = await failure(gmailProfile(new SecretValue('ya29.nope'), { endpoints: g.endpoints }))
    expect(e.reason).toBe('Unauthenticated')
  })
})

describe('no token material in errors', () => {
  it('none of the errors above quotes a code, token or client secret the stand-in issued (message, hint, inspect, JSON)', () => {
    const secrets = g.control.secretStrings()
    expect(errors.length).toBeGreaterThan(10)
    expect(secrets.length).toBeGreaterThan(20)
    for (const e of errors) {
      const text = `${(e as Error).message}\n${(e as OpsError).hint}\n${inspect(e, { depth: 5 })}\n${JSON.stringify(e)}`
      for (const s of secrets) expect(text).not.toContain(s)
    }
  })
})
