// lib/oauth/loopback-flow.ts against the Google stand-in: the consent over SSH of
// /work/shared/research/google-oauth.md §4 ("ssh -L" and paste-the-redirected-URL) and §8 steps 1–3.
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OpsError } from '../../lib/errors.ts'
import { SecretValue } from '../../lib/secret-value.ts'
import { refreshAccessToken } from '../../lib/oauth/google-client.ts'
import { runLoopbackFlow, type LoopbackFlowOptions, type LoopbackFlowResult } from '../../lib/oauth/loopback-flow.ts'
import { compareScopes } from '../../lib/oauth/scopes.ts'
import { answerConsentPage, consentRedirect, startGoogleStandIn, visit, type ClientRecord, type GoogleStandIn } from '../oauth-server/index.ts'

const SEND = 'https://www.googleapis.com/auth/gmail.send'
const READONLY = 'https://www.googleapis.com/auth/gmail.readonly'

let g: GoogleStandIn
let desktop: ClientRecord

beforeAll(async () => {
  g = await startGoogleStandIn({ account: { email: 'ops@example.com' } })
  desktop = g.control.registerClient({ testing: true })
  g.control.setConsent({ action: 'grant' }, desktop.id)
})
afterAll(() => g.close())

/** Lines the operator would paste, fed on demand; honours the flow's stop signal like a stdin reader should. */
function pasteQueue() {
  const lines: string[] = []
  let waiting: ((l: string | null) => void) | undefined
  let lastStop: AbortSignal | undefined
  return {
    push(line: string) {
      if (waiting) {
        const w = waiting
        waiting = undefined
        w(line)
      } else lines.push(line)
    },
    read(stop: AbortSignal): Promise<string | null> {
      lastStop = stop
      return new Promise((resolve) => {
        if (lines.length) return resolve(lines.shift()!)
        waiting = resolve
        stop.addEventListener('abort', () => resolve(null), { once: true })
      })
    },
    get stopped() {
      return lastStop?.aborted ?? false
    },
  }
}

/** Start the flow; resolves `url` once the consent URL is printed. */
function startFlow(over: Partial<LoopbackFlowOptions> = {}) {
  const printed: string[] = []
  let onUrl!: (u: string) => void
  const url = new Promise<string>((r) => (onUrl = r))
  const result: Promise<LoopbackFlowResult> = runLoopbackFlow({
    client: { clientId: desktop.id, clientSecret: new SecretValue(desktop.secret) },
    scopes: [SEND, READONLY],
    loginHint: 'ops@example.com',
    sshTarget: 'ops@bastion',
    endpoints: g.endpoints,
    timeoutMs: 10_000,
    print: (line) => {
      printed.push(line)
      if (line.trim().startsWith(g.endpoints.authUrl)) onUrl(line.trim())
    },
    ...over,
  })
  result.catch(() => undefined) // observed by the tests; avoid unhandled-rejection noise meanwhile
  return { url, result, printed }
}

async function rejection(p: Promise<unknown>): Promise<OpsError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(OpsError)
  return e as OpsError
}

async function refused(url: string): Promise<boolean> {
  return fetch(url).then(
    () => false,
    () => true,
  )
}

function withState(location: string, state: string): string {
  const u = new URL(location)
  u.searchParams.set('state', state)
  return u.href
}

describe('loopback mode: the redirect reaches this host through ssh -L (§4)', () => {
  it('runs the whole consent: URL and ssh hint printed, redirect received, code exchanged, listener closed', async () => {
    const tokensBefore = g.control.requestCount('/token')
    const { url, result, printed } = startFlow()
    const authUrl = await url
    const location = await consentRedirect(authUrl) // the browser, as an HTTP client
    const port = new URL(location).port
    const page = await fetch(location)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Consent received')

    const r = await result
    expect(r.via).toBe('loopback')
    expect(r.redirectUri).toBe(`http://127.0.0.1:${port}/`)
    expect(r.tokens.refreshToken).toBeInstanceOf(SecretValue)
    expect(r.grantedScopes).toEqual([SEND, READONLY])
    expect(g.control.requestCount('/token')).toBe(tokensBefore + 1)
    expect(printed).toContain(`  - forward the port first:  ssh -L ${port}:127.0.0.1:${port} ops@bastion`)
    expect(await refused(location)).toBe(true)

    // The new refresh token works.
    const refreshed = await refreshAccessToken({ clientId: desktop.id, clientSecret: new SecretValue(desktop.secret) }, r.tokens.refreshToken, { endpoints: g.endpoints })
    expect(refreshed.scope).toEqual([SEND, READONLY])
    // Nothing printed carries a code, token or the client secret.
    for (const s of g.control.secretStrings()) expect(printed.join('\n')).not.toContain(s)
  })

  it('asks Google for PKCE S256, state, access_type=offline, prompt=consent and login_hint, without include_granted_scopes (§8 step 1)', async () => {
    const { url, result } = startFlow()
    const authUrl = await url
    await fetch(await consentRedirect(authUrl))
    await result
    const params = g.control.lastAuthorization()!.params
    expect(params).toMatchObject({
      response_type: 'code',
      scope: `${SEND} ${READONLY}`,
      code_challenge_method: 'S256',
      access_type: 'offline',
      prompt: 'consent',
      login_hint: 'ops@example.com',
    })
    expect(params.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(params.state.length).toBeGreaterThanOrEqual(32)
    expect(params.redirect_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    expect(params.include_granted_scopes).toBeUndefined()
  })

  it('works with consent given on the consent page by an HTTP client, and reports an unticked scope (§3.5)', async () => {
    const client = g.control.registerClient() // no preset decision: the stand-in shows its consent page
    const { url, result } = startFlow({ client: { clientId: client.id, clientSecret: new SecretValue(client.secret) } })
    const authUrl = await url
    const consentPage = await visit(authUrl)
    const location = await answerConsentPage(authUrl, consentPage.body, { action: 'allow', scopes: [READONLY] })
    await fetch(location)
    const r = await result
    expect(r.grantedScopes).toEqual([READONLY])
    expect(compareScopes(r.grantedScopes, [SEND, READONLY]).missing).toEqual([SEND])
  })

  it('uses a fixed port when given one, so the tunnel can be opened first', async () => {
    const port = await freePort()
    const { url, result, printed } = startFlow({ port })
    const location = await consentRedirect(await url)
    expect(new URL(location).port).toBe(String(port))
    expect(printed.join('\n')).toContain(`ssh -L ${port}:127.0.0.1:${port} ops@bastion`)
    await fetch(location)
    await result
  })

  it('serves stray requests (favicon) with 404 and keeps waiting', async () => {
    const { url, result } = startFlow()
    const location = await consentRedirect(await url)
    const origin = new URL(location).origin
    expect((await fetch(`${origin}/favicon.ico`)).status).toBe(404)
    expect((await fetch(`${origin}/`)).status).toBe(404)
    await fetch(location)
    expect((await result).via).toBe('loopback')
  })
})

describe('paste-back mode: the operator pastes the URL the browser could not open (§4)', () => {
  it('completes from the pasted URL and stops listening', async () => {
    const paste = pasteQueue()
    const { url, result, printed } = startFlow({ readPastedLine: paste.read })
    const location = await consentRedirect(await url)
    expect(printed.join('\n')).toContain('paste the full address')
    paste.push(`  ${location}  `)
    const r = await result
    expect(r.via).toBe('paste')
    expect(r.tokens.refreshToken.revealString()).toMatch(/^1\/\/0/)
    expect(await refused(location)).toBe(true)
  })

  it('explains a paste that is not the redirect and keeps waiting for a good one', async () => {
    const paste = pasteQueue()
    const { url, result, printed } = startFlow({ readPastedLine: paste.read })
    const location = await consentRedirect(await url)
    paste.push('')
    paste.push('https://accounts.google.com/signin/oops')
    paste.push(new URL(location).search) // the query alone is accepted too
    expect((await result).via).toBe('paste')
    expect(printed.filter((l) => l.includes('Expected a URL with query parameters [state, code]'))).toHaveLength(1)
  })

  it('a mangled code (encoded twice) fails the exchange with invalid_grant and a hint to start again (§2.2)', async () => {
    const paste = pasteQueue()
    const { url, result } = startFlow({ readPastedLine: paste.read })
    const location = await consentRedirect(await url)
    paste.push(location.replace('code=4%2F', 'code=4%252F'))
    const e = await rejection(result)
    expect(e.reason).toBe('invalid_grant')
    expect(e.message).toContain('Malformed auth code.')
    expect(e.hint).toContain('consent again')
  })

  it('whichever comes first wins: a loopback redirect ends the paste reader', async () => {
    const paste = pasteQueue()
    const { url, result } = startFlow({ readPastedLine: paste.read })
    await fetch(await consentRedirect(await url))
    expect((await result).via).toBe('loopback')
    expect(paste.stopped).toBe(true)
  })

  it('end of input leaves the loopback listening', async () => {
    const { url, result, printed } = startFlow({ readPastedLine: async () => null })
    await fetch(await consentRedirect(await url))
    expect((await result).via).toBe('loopback')
    expect(printed).toContain('Input closed; still waiting for the redirect on the loopback port.')
  })
})

describe('state is checked (§8 step 2)', () => {
  it('a loopback redirect with another state is refused with 400 and never exchanged; the real one still works', async () => {
    const { url, result, printed } = startFlow()
    const location = await consentRedirect(await url)
    const tokensBefore = g.control.requestCount('/token')
    const forged = await fetch(withState(location, 'someone-elses-state'))
    expect(forged.status).toBe(400)
    expect(await forged.text()).toContain('state mismatch')
    const missing = new URL(location)
    missing.searchParams.delete('state')
    expect((await fetch(missing.href)).status).toBe(400)
    expect(g.control.requestCount('/token')).toBe(tokensBefore)
    expect(printed.some((l) => l.includes('state does not match'))).toBe(true)
    await fetch(location)
    expect((await result).via).toBe('loopback')
  })

  it('a pasted URL from another attempt is refused and never exchanged', async () => {
    const paste = pasteQueue()
    const { url, result, printed } = startFlow({ readPastedLine: paste.read })
    const location = await consentRedirect(await url)
    const tokensBefore = g.control.requestCount('/token')
    paste.push(withState(location, 'stale'))
    await new Promise((r) => setTimeout(r, 50))
    expect(g.control.requestCount('/token')).toBe(tokensBefore)
    expect(printed.some((l) => l.includes('state mismatch'))).toBe(true)
    paste.push(location)
    expect((await result).via).toBe('paste')
  })
})

describe('failures', () => {
  it('a declined consent (error=access_denied) fails with reason access_denied and no exchange (§2.1)', async () => {
    g.control.consentNext({ action: 'deny' })
    const tokensBefore = g.control.requestCount('/token')
    const { url, result } = startFlow()
    const location = await consentRedirect(await url)
    expect(new URL(location).searchParams.get('error')).toBe('access_denied')
    const page = await fetch(location)
    expect(await page.text()).toContain('declined')
    const e = await rejection(result)
    expect(e).toMatchObject({ reason: 'access_denied', retryable: false })
    expect(e.hint).toContain('gmail-reauth')
    expect(g.control.requestCount('/token')).toBe(tokensBefore)
  })

  it('a token response without a refresh token fails loudly (§8 step 3)', async () => {
    const { url, result } = startFlow()
    const location = await consentRedirect(await url)
    g.control.injectTokenFaults({ status: 200, body: { access_token: 'ya29.only-access', expires_in: 3599, scope: SEND, token_type: 'Bearer' } })
    await fetch(location)
    const e = await rejection(result)
    expect(e.reason).toBe('NoRefreshToken')
  })

  it('times out, and closes the listener', async () => {
    const port = await freePort()
    const { result } = startFlow({ port, timeoutMs: 200 })
    const e = await rejection(result)
    expect(e).toMatchObject({ reason: 'Timeout', retryable: false })
    expect(await refused(`http://127.0.0.1:${port}/`)).toBe(true)
  })

  it('is abortable, and closes the listener', async () => {
    const ac = new AbortController()
    const { url, result } = startFlow({ signal: ac.signal })
    const location = await consentRedirect(await url)
    ac.abort()
    expect((await rejection(result)).reason).toBe('Aborted')
    expect(await refused(location)).toBe(true)
    const pre = await rejection(runLoopbackFlow({ ...baseOptions(), signal: AbortSignal.abort() }))
    expect(pre.reason).toBe('Aborted')
  })

  it('a taken port is PortInUse with a hint', async () => {
    const blocker = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as { port: number }).port
    try {
      const e = await rejection(runLoopbackFlow({ ...baseOptions(), port }))
      expect(e.reason).toBe('PortInUse')
      expect(e.hint).toContain(`Port ${port} is taken`)
    } finally {
      blocker.close()
    }
  })
})

function baseOptions(): LoopbackFlowOptions {
  return {
    client: { clientId: desktop.id, clientSecret: new SecretValue(desktop.secret) },
    scopes: [SEND],
    endpoints: g.endpoints,
    print: () => undefined,
  }
}

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}
