// lib/oauth/token-probe.ts against the Google stand-in: the tokeninfo cross-check (aud, and azp
// when present, equal the client id; tokeninfo's scope holds every required scope) and the
// transport retry of tokeninfo and the Gmail profile. The stand-in answers both truthfully and
// injects faults only at /token, so a small front server in this file rewrites or fails the
// answers a test asks it to and passes everything else through to the stand-in.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OpsError } from '../../lib/errors.ts'
import { probeToken } from '../../lib/oauth/token-probe.ts'
import { startGoogleStandIn, type ClientRecord, type GoogleStandIn } from '../oauth-server/index.ts'
import { obtainTokens } from '../oauth-server/scripted.ts'
import { credentialsToJson } from '../fixtures/gmail/fake-gmail-mcp.mjs'

const SCOPES = ['send', 'readonly', 'modify', 'labels'].map((s) => `https://www.googleapis.com/auth/gmail.${s}`)

/** One scripted answer for the next request to `path`: a status, or a rewrite of the real body. */
type Answer = { status: number; body?: unknown } | { rewrite: (body: Record<string, unknown>) => Record<string, unknown> }

let g: GoogleStandIn
let client: ClientRecord
let front: Server
let frontUrl: string
let tokenFile: string
const script = new Map<string, Answer[]>()
const hits = new Map<string, number>()

beforeAll(async () => {
  g = await startGoogleStandIn({ autoApprove: true, account: { email: 'westsidebasketball@gmail.com' } })
  client = g.control.registerClient({ testing: true })
  front = createServer(async (req, res) => {
    const path = new URL(req.url!, 'http://x').pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const answer = script.get(path)?.shift()
    if (answer && 'status' in answer) {
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body ?? { error: { code: answer.status, message: 'Backend Error', status: 'UNAVAILABLE' } }))
      return
    }
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const upstream = await fetch(g.url + req.url, { method: req.method, headers: req.headers as Record<string, string>, body: chunks.length ? Buffer.concat(chunks) : undefined })
    let text = await upstream.text()
    if (answer) text = JSON.stringify(answer.rewrite(JSON.parse(text)))
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text)
  })
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r))
  frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`
  const t = await obtainTokens(g, client, SCOPES)
  tokenFile = join(mkdtempSync(join(tmpdir(), 'credflow-probe-')), 'token.json')
  writeFileSync(tokenFile, credentialsToJson({ tokens: t.json as never, clientId: client.id, clientSecret: client.secret, scopes: SCOPES }), { mode: 0o600 })
})
afterAll(async () => {
  front?.closeAllConnections()
  await new Promise((r) => front?.close(r))
  await g?.close()
})

const endpoints = () => ({ tokenUrl: g.endpoints.tokenUrl, tokeninfoUrl: `${frontUrl}/tokeninfo`, gmailProfileUrl: frontUrl + new URL(g.endpoints.gmailProfileUrl).pathname })
const profilePath = () => new URL(g.endpoints.gmailProfileUrl).pathname
const probe = () => probeToken({ tokenFile, endpoints: endpoints(), requiredScopes: SCOPES })
function answer(path: string, ...a: Answer[]) {
  script.set(path, a)
  hits.set(path, 0)
}
async function failure(p: Promise<unknown>): Promise<OpsError> {
  const e = await p.then(() => undefined, (x: unknown) => x)
  expect(e).toBeInstanceOf(OpsError)
  return e as OpsError
}

describe('the tokeninfo cross-check', () => {
  it('passes when aud and azp are the client id and tokeninfo lists every required scope', async () => {
    answer('/tokeninfo')
    const p = await probe()
    expect(p).toMatchObject({ email: 'westsidebasketball@gmail.com', missingScopes: [] })
    expect(hits.get('/tokeninfo')).toBe(1)
  })

  it('passes when Google leaves azp out (it equals aud)', async () => {
    answer('/tokeninfo', { rewrite: ({ azp: _, ...b }) => b })
    expect((await probe()).missingScopes).toEqual([])
  })

  it('refuses an aud of another client even when azp is ours', async () => {
    answer('/tokeninfo', { rewrite: (b) => ({ ...b, aud: 'other.apps.googleusercontent.com' }) })
    const e = await failure(probe())
    expect(e.reason).toBe('ClientMismatch')
    expect(e.message).toBe(`the access token was issued to another client (tokeninfo aud other.apps.googleusercontent.com), not to ${client.id}`)
  })

  it('refuses an azp of another client even when aud is ours', async () => {
    answer('/tokeninfo', { rewrite: (b) => ({ ...b, azp: 'other.apps.googleusercontent.com' }) })
    const e = await failure(probe())
    expect(e.reason).toBe('ClientMismatch')
    expect(e.message).toContain('(tokeninfo azp other.apps.googleusercontent.com)')
  })

  it("names the required scopes tokeninfo's scope lacks, compared as exact strings", async () => {
    // gmail.modify does not imply gmail.labels, and a trailing slash is another string.
    answer('/tokeninfo', { rewrite: (b) => ({ ...b, scope: [SCOPES[0], SCOPES[1] + '/', SCOPES[2]].join(' ') }) })
    expect((await probe()).missingScopes).toEqual([SCOPES[1], SCOPES[3]])
  })

  it('names a missing alias scope (email) as it was required', async () => {
    const p = await probeToken({ tokenFile, endpoints: endpoints(), requiredScopes: [...SCOPES, 'email'] })
    expect(p.missingScopes).toEqual(['email'])
  })
})

describe('tokeninfo and the Gmail profile are retried on transient failures', () => {
  it('one 503 from tokeninfo is retried and the probe succeeds', async () => {
    answer('/tokeninfo', { status: 503, body: { error: 'internal_failure', error_description: 'Backend Error' } })
    expect((await probe()).missingScopes).toEqual([])
    expect(hits.get('/tokeninfo')).toBe(2)
  })

  it('one 503 from the Gmail profile is retried and the probe succeeds', async () => {
    answer(profilePath(), { status: 503 })
    expect((await probe()).email).toBe('westsidebasketball@gmail.com')
    expect(hits.get(profilePath())).toBe(2)
  })

  it('persistent 503s from the Gmail profile fail after three attempts, saying so', async () => {
    answer(profilePath(), { status: 503 }, { status: 503 }, { status: 503 })
    const e = await failure(probe())
    expect(e).toMatchObject({ reason: 'GoogleUnavailable', retryable: true })
    expect(e.message).toMatch(/^read the Gmail profile: Gmail answered HTTP 503 UNAVAILABLE: Backend Error \(tried 3 times over \d+(\.\d)?m?s\)$/)
    expect(hits.get(profilePath())).toBe(3)
  })

  it('a 4xx is not retried', async () => {
    answer('/tokeninfo', { status: 400, body: { error: 'invalid_token', error_description: 'Invalid Value' } })
    const e = await failure(probe())
    expect(e.reason).toBe('invalid_token')
    expect(hits.get('/tokeninfo')).toBe(1)
  })
})
