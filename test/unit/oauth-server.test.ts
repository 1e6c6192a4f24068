// The Google stand-in's authorize endpoint, consent control and control API, pinned to
// /work/shared/research/google-oauth.md (section numbers in the test names).
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answerConsentPage, consentRedirect, startGoogleStandIn, visit, type ClientRecord, type GoogleStandIn } from '../oauth-server/index.ts'
import { buildAuthRequest, codeExchangeForm, obtainTokens, postForm } from '../oauth-server/scripted.ts'

const GMAIL_SEND = 'https://www.googleapis.com/auth/gmail.send'
const GMAIL_READONLY = 'https://www.googleapis.com/auth/gmail.readonly'
const USERINFO_EMAIL = 'https://www.googleapis.com/auth/userinfo.email'

let g: GoogleStandIn
let desktop: ClientRecord

beforeAll(async () => {
  g = await startGoogleStandIn()
  desktop = g.control.registerClient({ testing: true })
  g.control.setConsent({ action: 'grant' }, desktop.id)
})
afterAll(() => g.close())

async function pageError(url: string): Promise<{ status: number; error: string | null; text: string }> {
  const res = await fetch(url, { redirect: 'manual' })
  return { status: res.status, error: res.headers.get('x-standin-error'), text: await res.text() }
}

describe('authorize redirects to the loopback like Google (§2.2)', () => {
  it('sends state, iss, code=4/0A…, the granted scope joined by +, authuser=0 and prompt=consent, in that order', async () => {
    const req = buildAuthRequest(g, desktop, [GMAIL_SEND, GMAIL_READONLY])
    const location = await consentRedirect(req.url)
    expect(location.startsWith('http://127.0.0.1:8765/?')).toBe(true)
    const q = new URL(location).searchParams
    expect([...q.keys()]).toEqual(['state', 'iss', 'code', 'scope', 'authuser', 'prompt'])
    expect(q.get('state')).toBe(req.state)
    expect(q.get('iss')).toBe('https://accounts.google.com')
    expect(q.get('code')).toMatch(/^4\/0A[A-Za-z0-9_-]+$/)
    expect(location).toContain('code=4%2F0A') // encoded once on the wire; the client decodes exactly once
    expect(location).toContain(`scope=${encodeURIComponent(GMAIL_SEND)}+${encodeURIComponent(GMAIL_READONLY)}`)
    expect(q.get('authuser')).toBe('0')
    expect(q.get('prompt')).toBe('consent')
  })

  it('records what the client asked for (login_hint, PKCE, access_type, prompt) for assertions', async () => {
    const req = buildAuthRequest(g, desktop, [GMAIL_SEND], { login_hint: 'ops@example.com' })
    await consentRedirect(req.url)
    const last = g.control.lastAuthorization()!
    expect(last.clientId).toBe(desktop.id)
    expect(last.params).toMatchObject({
      login_hint: 'ops@example.com',
      code_challenge_method: 'S256',
      access_type: 'offline',
      prompt: 'consent',
      state: req.state,
      response_type: 'code',
    })
  })
})

describe('login_hint and prompt (§2.1)', () => {
  /** Consent for `req`, then exchange the code: whose token it is, and the redirect's prompt. */
  async function consentAs(req: ReturnType<typeof buildAuthRequest>) {
    const q = new URL(await consentRedirect(req.url)).searchParams
    const code = q.get('code')
    if (!code) return { error: q.get('error'), state: q.get('state') }
    const res = await postForm(g.endpoints.tokenUrl, codeExchangeForm(desktop, req, code))
    const email = g.control.issuedTokens().find((t) => t.value === (res.json as { access_token: string }).access_token)!.email
    return { email, prompt: q.get('prompt') }
  }

  it('a hint naming a signed-in account picks it over the default one, by email or sub', async () => {
    const hinted = g.control.setAccount({ email: 'hinted@example.com' })
    g.control.setAccount({ email: 'default@example.com' })
    g.control.signIn('hinted@example.com')
    expect((await consentAs(buildAuthRequest(g, desktop, [GMAIL_SEND], { login_hint: 'Hinted@Example.com' }))).email).toBe('hinted@example.com')
    expect((await consentAs(buildAuthRequest(g, desktop, [GMAIL_SEND], { login_hint: hinted.sub }))).email).toBe('hinted@example.com')
    expect((await consentAs(buildAuthRequest(g, desktop, [GMAIL_SEND]))).email).toBe('default@example.com')
  })

  it('a hint naming an account the browser is not signed in to gets whoever signs in (the tool must check)', async () => {
    g.control.setAccount({ email: 'elsewhere@example.com' })
    g.control.setAccount({ email: 'wrong-person@example.com' }) // signs the browser out of elsewhere@
    const r = await consentAs(buildAuthRequest(g, desktop, [GMAIL_SEND], { login_hint: 'elsewhere@example.com' }))
    expect(r.email).toBe('wrong-person@example.com')
  })

  it('the redirect says prompt=none when no screen was needed, consent when one was shown', async () => {
    g.control.setAccount({ email: 'prompt@example.com' })
    expect((await consentAs(buildAuthRequest(g, desktop, [GMAIL_READONLY], { prompt: '' }))).prompt).toBe('consent') // first grant
    expect((await consentAs(buildAuthRequest(g, desktop, [GMAIL_READONLY], { prompt: '' }))).prompt).toBe('none') // already granted
    expect((await consentAs(buildAuthRequest(g, desktop, [GMAIL_READONLY]))).prompt).toBe('consent') // forced
  })

  it('prompt=none without an earlier grant answers consent_required on the redirect, with state', async () => {
    g.control.setAccount({ email: 'silent@example.com' })
    const req = buildAuthRequest(g, desktop, [GMAIL_SEND], { prompt: 'none' })
    expect(await consentAs(req)).toEqual({ error: 'consent_required', state: req.state })
  })
})

describe('authorize validates the client and redirect_uri on its own page (§2.1)', () => {
  it.each(['http://127.0.0.1:1/', 'http://127.0.0.1:65000/', 'http://localhost:8080/', 'http://[::1]:9000/', 'http://127.0.0.1:43210'])(
    'a Desktop client accepts any loopback port: %s',
    async (redirect_uri) => {
      const location = await consentRedirect(buildAuthRequest(g, desktop, [GMAIL_SEND], { redirect_uri }).url)
      expect(new URL(location).origin).toBe(new URL(redirect_uri).origin)
    },
  )

  it.each([
    ['https://127.0.0.1:8765/', 'redirect_uri_mismatch'],
    ['http://example.com:8765/', 'redirect_uri_mismatch'],
    ['http://10.0.0.1:8765/', 'redirect_uri_mismatch'],
    ['urn:ietf:wg:oauth:2.0:oob', 'redirect_uri_mismatch'], // OOB is gone (§3.3)
  ])('refuses %s with a page error, never a redirect', async (redirect_uri, error) => {
    const r = await pageError(buildAuthRequest(g, desktop, [GMAIL_SEND], { redirect_uri }).url)
    expect(r).toMatchObject({ status: 400, error })
  })

  it('shows the redirect URI in the mismatch text', async () => {
    const r = await pageError(buildAuthRequest(g, desktop, [GMAIL_SEND], { redirect_uri: 'http://example.com/cb' }).url)
    expect(r.text).toContain('The redirect URI in the request, http://example.com/cb, does not match the ones authorized for the OAuth client.')
  })

  it('a web client needs an exact registered redirect, trailing slash included', async () => {
    const web = g.control.registerClient({ type: 'web', redirectUris: ['http://127.0.0.1:8080/cb'] })
    g.control.setConsent({ action: 'grant' }, web.id)
    expect((await pageError(buildAuthRequest(g, web, [GMAIL_SEND], { redirect_uri: 'http://127.0.0.1:8080/cb/' }).url)).error).toBe('redirect_uri_mismatch')
    expect((await pageError(buildAuthRequest(g, web, [GMAIL_SEND], { redirect_uri: 'http://127.0.0.1:9999/cb' }).url)).error).toBe('redirect_uri_mismatch')
    expect(await consentRedirect(buildAuthRequest(g, web, [GMAIL_SEND], { redirect_uri: 'http://127.0.0.1:8080/cb' }).url)).toMatch(/^http:\/\/127\.0\.0\.1:8080\/cb\?/)
  })

  it('an unknown client_id gives 401 invalid_client "The OAuth client was not found."', async () => {
    const r = await pageError(buildAuthRequest(g, { id: 'nope.apps.googleusercontent.com' }, [GMAIL_SEND]).url)
    expect(r).toMatchObject({ status: 401, error: 'invalid_client' })
    expect(r.text).toContain('The OAuth client was not found.')
  })

  it.each([
    [{ response_type: 'token' }, 'unsupported_response_type'],
    [{ response_type: '' }, 'invalid_request'],
    [{ scope: '' }, 'invalid_request'],
    [{ scope: 'gmail.send' }, 'invalid_scope'],
    [{ code_challenge_method: 'S512' }, 'invalid_request'],
    [{ code_challenge: 'too-short' }, 'invalid_request'],
    [{ access_type: 'forever' }, 'invalid_request'],
    [{ prompt: 'consent none' }, 'invalid_request'],
    [{ prompt: 'always' }, 'invalid_request'],
  ])('rejects a malformed request %o with %s', async (extra, error) => {
    const r = await pageError(buildAuthRequest(g, desktop, [GMAIL_SEND], extra as Record<string, string>).url)
    expect(r).toMatchObject({ status: 400, error })
  })

  it('an invalid scope is named in the text', async () => {
    const r = await pageError(buildAuthRequest(g, desktop, [GMAIL_SEND, 'gmail.send']).url)
    expect(r.text).toContain('Some requested scopes were invalid. {invalid=[gmail.send]}')
  })
})

describe("the paths and requests the public clients use (gmail-sdk, InstalledAppFlow)", () => {
  const legacy = (url: string) => url.replace(g.endpoints.authUrl, g.legacyAuthUrl)

  it('/o/oauth2/auth (the auth_uri of a downloaded client JSON) answers exactly like /o/oauth2/v2/auth', async () => {
    const req = buildAuthRequest(g, desktop, [GMAIL_SEND])
    const q = new URL(await consentRedirect(legacy(req.url))).searchParams
    expect([...q.keys()]).toEqual(['state', 'iss', 'code', 'scope', 'authuser', 'prompt'])
    const res = await postForm(g.endpoints.tokenUrl, codeExchangeForm(desktop, req, q.get('code')!))
    expect(res.status).toBe(200)
    // Its errors are the same page errors too.
    const bad = await pageError(legacy(buildAuthRequest(g, { id: 'nope.apps.googleusercontent.com' }, [GMAIL_SEND]).url))
    expect(bad).toMatchObject({ status: 401, error: 'invalid_client' })
    expect((await pageError(`${g.url}/o/oauth2/v3/auth`)).status).toBe(404)
  })

  it("a confidential Desktop client without PKCE (the gmail-sdk's request) redeems its code with the secret alone", async () => {
    const req = buildAuthRequest(g, desktop, [GMAIL_SEND], { redirect_uri: 'http://localhost:8090' })
    const url = new URL(legacy(req.url))
    url.searchParams.delete('code_challenge')
    url.searchParams.delete('code_challenge_method')
    const code = new URL(await consentRedirect(url.href)).searchParams.get('code')!
    const { code_verifier: _, ...noVerifier } = codeExchangeForm(desktop, req, code)
    const res = await postForm(g.endpoints.tokenUrl, noVerifier)
    expect(res.status).toBe(200)
    // A Testing-mode client's response carries the refresh token's remaining life (7 days less a second).
    expect(Object.keys(res.json)).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type', 'refresh_token_expires_in'])
    expect(res.json.refresh_token_expires_in).toBe(7 * 86400 - 1)
    // ... but not without the secret: Google's body for it.
    const again = await consentRedirect(url.href)
    const { client_secret: __, ...noSecret } = codeExchangeForm(desktop, req, new URL(again).searchParams.get('code')!)
    const refused = await postForm(g.endpoints.tokenUrl, noSecret)
    expect(refused.status).toBe(400)
    expect(refused.text).toBe('{\n  "error": "invalid_request",\n  "error_description": "client_secret is missing."\n}')
  })

  it('a code issued with PKCE still needs its verifier', async () => {
    const req = buildAuthRequest(g, desktop, [GMAIL_SEND])
    const code = new URL(await consentRedirect(legacy(req.url))).searchParams.get('code')!
    const { code_verifier: _, ...noVerifier } = codeExchangeForm(desktop, req, code)
    const res = await postForm(g.endpoints.tokenUrl, noVerifier)
    expect(res.json).toEqual({ error: 'invalid_grant', error_description: 'Missing code verifier.' })
  })
})

describe('consent is test-controlled (§2.1, §3.5)', () => {
  it('a one-shot decision grants a subset (a unticked box) and then the client default applies again', async () => {
    g.control.consentNext({ action: 'grant', scopes: [GMAIL_READONLY] })
    const first = new URL(await consentRedirect(buildAuthRequest(g, desktop, [GMAIL_SEND, GMAIL_READONLY]).url))
    expect(first.searchParams.get('scope')).toBe(GMAIL_READONLY)
    const second = new URL(await consentRedirect(buildAuthRequest(g, desktop, [GMAIL_SEND, GMAIL_READONLY]).url))
    expect(second.searchParams.get('scope')).toBe(`${GMAIL_SEND} ${GMAIL_READONLY}`)
  })

  it('deny redirects with error=access_denied and the state, and no code', async () => {
    g.control.consentNext({ action: 'deny' })
    const req = buildAuthRequest(g, desktop, [GMAIL_SEND])
    const q = new URL(await consentRedirect(req.url)).searchParams
    expect(q.get('error')).toBe('access_denied')
    expect(q.get('state')).toBe(req.state)
    expect(q.has('code')).toBe(false)
  })

  it('unticking every Gmail box is a denial; basic scopes have no box and stay granted', async () => {
    g.control.consentNext({ action: 'grant', scopes: [] })
    expect(new URL(await consentRedirect(buildAuthRequest(g, desktop, [GMAIL_SEND]).url)).searchParams.get('error')).toBe('access_denied')
    g.control.consentNext({ action: 'grant', scopes: [GMAIL_READONLY] })
    const q = new URL(await consentRedirect(buildAuthRequest(g, desktop, ['openid', GMAIL_SEND, GMAIL_READONLY]).url)).searchParams
    expect(q.get('scope')).toBe(`openid ${GMAIL_READONLY}`)
  })

  it('normalises email/profile to the userinfo URIs and adds openid (§1.3)', async () => {
    const q = new URL(await consentRedirect(buildAuthRequest(g, desktop, ['email', GMAIL_SEND]).url)).searchParams
    expect(q.get('scope')!.split(' ')).toEqual([USERINFO_EMAIL, GMAIL_SEND, 'openid'])
  })

  it('include_granted_scopes=true returns a superset with the earlier grant (§2.1)', async () => {
    const c = g.control.registerClient()
    g.control.setConsent({ action: 'grant' }, c.id)
    await obtainTokens(g, c, [GMAIL_READONLY])
    const q = new URL(await consentRedirect(buildAuthRequest(g, c, [GMAIL_SEND], { include_granted_scopes: 'true' }).url)).searchParams
    expect(q.get('scope')!.split(' ').sort()).toEqual([GMAIL_READONLY, GMAIL_SEND].sort())
  })

  it('with no decision set, shows a consent page whose form an HTTP client can submit with a subset', async () => {
    const c = g.control.registerClient()
    const req = buildAuthRequest(g, c, [GMAIL_SEND, GMAIL_READONLY])
    const page = await visit(req.url)
    expect(page.status).toBe(200)
    expect(page.body).toContain(GMAIL_SEND)
    const q = new URL(await answerConsentPage(req.url, page.body, { action: 'allow', scopes: [GMAIL_SEND] })).searchParams
    expect(q.get('scope')).toBe(GMAIL_SEND)
    expect(q.get('state')).toBe(req.state)

    const req2 = buildAuthRequest(g, c, [GMAIL_SEND])
    const denied = new URL(await answerConsentPage(req2.url, (await visit(req2.url)).body, { action: 'deny' })).searchParams
    expect(denied.get('error')).toBe('access_denied')
  })

  it('auto-approve grants everything for every client without a page', async () => {
    const auto = await startGoogleStandIn({ autoApprove: true })
    try {
      const c = auto.control.registerClient()
      const q = new URL(await consentRedirect(buildAuthRequest(auto, c, [GMAIL_SEND]).url)).searchParams
      expect(q.get('scope')).toBe(GMAIL_SEND)
    } finally {
      await auto.close()
    }
  })
})

describe('control API', () => {
  it('is reachable over HTTP at /_control/<method> with a JSON array of arguments', async () => {
    const call = async (name: string, args: unknown[] = []) => {
      const res = await fetch(`${g.url}/_control/${name}`, { method: 'POST', body: JSON.stringify(args) })
      return { status: res.status, body: (await res.json()) as { result?: any; error?: string } }
    }
    const client = (await call('registerClient', [{ id: 'http-made.apps.googleusercontent.com', secret: 'GOCSPX-http' }])).body.result
    expect(client).toMatchObject({ id: 'http-made.apps.googleusercontent.com', type: 'installed', testing: false })
    await call('setAccount', [{ email: 'http@example.com' }])
    await call('consentNext', [{ action: 'grant', scopes: [GMAIL_READONLY] }])
    const before = (await call('now')).body.result as number
    expect((await call('advance', [5000])).body.result).toBe(before + 5000)
    expect(g.control.now()).toBe(before + 5000)

    const viaHttpConsent = new URL(await consentRedirect(buildAuthRequest(g, client, [GMAIL_SEND, GMAIL_READONLY]).url))
    expect(viaHttpConsent.searchParams.get('scope')).toBe(GMAIL_READONLY)

    const tokens = await obtainTokens(g, client, [GMAIL_SEND])
    const issued = (await call('issuedTokens')).body.result as Array<{ email: string; value: string }>
    expect(issued.find((t) => t.value === tokens.json.refresh_token)?.email).toBe('http@example.com')

    expect((await call('noSuchMethod')).status).toBe(404)
    expect((await call('clock')).status).toBe(404)
    expect((await call('setConsent', [{ action: 'maybe' }])).status).toBe(400)
    g.control.setAccount({ email: 'operator@example.com' })
  })

  it('counts requests per path and lists every secret it issued', async () => {
    const before = g.control.requestCount('/token')
    const t = await obtainTokens(g, desktop, [GMAIL_SEND])
    expect(g.control.requestCount('/token')).toBe(before + 1)
    const secrets = g.control.secretStrings()
    for (const v of [desktop.secret, t.code, t.json.access_token, t.json.refresh_token]) expect(secrets).toContain(v)
  })

  it('injects 5xx and delays into the next N token requests, then answers normally', async () => {
    const form = { grant_type: 'refresh_token', client_id: desktop.id, client_secret: desktop.secret, refresh_token: 'unknown' }
    g.control.injectTokenFaults({ count: 2, status: 503 })
    expect((await postForm(g.endpoints.tokenUrl, form)).status).toBe(503)
    expect((await postForm(g.endpoints.tokenUrl, form)).json.error).toBe('internal_failure')
    expect((await postForm(g.endpoints.tokenUrl, form)).status).toBe(400)

    g.control.injectTokenFaults({ delayMs: 300 })
    const t0 = Date.now()
    expect((await postForm(g.endpoints.tokenUrl, form)).status).toBe(400)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250)
  })
})

describe('CLI (test/oauth-server/main.ts)', () => {
  it('prints one JSON line with its URL and a client, and serves until SIGTERM', { timeout: 90_000 }, async () => {
    const child = spawn(process.execPath, ['test/oauth-server/main.ts', '--auto-approve', '--testing', '--email', 'demo@example.com'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve)
        child.once('exit', (code) => reject(new Error(`main.ts exited ${code}`)))
      })
      const info = JSON.parse(line) as { url: string; endpoints: { tokenUrl: string }; client: { id: string; secret: string; testing: boolean }; account: string }
      expect(info).toMatchObject({ account: 'demo@example.com', client: { testing: true } })
      expect(info.endpoints.tokenUrl).toBe(`${info.url}/token`)
      const r = await postForm(info.endpoints.tokenUrl, { grant_type: 'refresh_token', client_id: info.client.id, client_secret: info.client.secret, refresh_token: 'x' })
      expect(r.json).toEqual({ error: 'invalid_grant', error_description: 'Bad Request' })
    } finally {
      child.kill('SIGTERM')
    }
  })
})
