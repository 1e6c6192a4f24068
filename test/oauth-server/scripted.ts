import { createHash, randomBytes } from 'node:crypto'
import { consentRedirect } from './browser.ts'
import type { ConsentDecision } from './consent.ts'
import type { GoogleStandIn } from './index.ts'
import type { ClientRecord } from './model.ts'

/** Raw-protocol shortcuts for tests that need a grant without going through the product's flow. */

export interface AuthRequest {
  url: string
  verifier: string
  state: string
  redirectUri: string
}

/** A Desktop-client authorize URL shaped like the product's (§8 step 1). `extra` overrides or adds parameters. */
export function buildAuthRequest(
  standIn: GoogleStandIn,
  client: Pick<ClientRecord, 'id'>,
  scopes: string[],
  extra: Record<string, string> = {},
): AuthRequest {
  const verifier = randomBytes(48).toString('base64url')
  const state = randomBytes(16).toString('base64url')
  const redirectUri = extra.redirect_uri ?? 'http://127.0.0.1:8765/'
  const q = new URLSearchParams({
    client_id: client.id,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: scopes.join(' '),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    access_type: 'offline',
    prompt: 'consent',
    ...extra,
  })
  return { url: `${standIn.endpoints.authUrl}?${q}`, verifier, state, redirectUri }
}

export interface RawResponse {
  status: number
  headers: Headers
  text: string
  json: Record<string, unknown>
}

export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<RawResponse> {
  const res = await fetch(url, { method: 'POST', body: new URLSearchParams(form), headers })
  const text = await res.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    // empty or non-JSON body (e.g. a successful revoke)
  }
  return { status: res.status, headers: res.headers, text, json }
}

/** Consent (granting `decision`, default all) and exchange the code; returns the raw token response. */
/** The `/token` form that redeems `code` for `req`, as an installed app sends it (§2.3). */
export function codeExchangeForm(client: Pick<ClientRecord, 'id' | 'secret'>, req: AuthRequest, code: string): Record<string, string> {
  return {
    grant_type: 'authorization_code',
    code,
    client_id: client.id,
    client_secret: client.secret,
    redirect_uri: req.redirectUri,
    code_verifier: req.verifier,
  }
}

export async function obtainTokens(
  standIn: GoogleStandIn,
  client: ClientRecord,
  scopes: string[],
  decision: ConsentDecision = { action: 'grant' },
): Promise<RawResponse & { code: string }> {
  const req = buildAuthRequest(standIn, client, scopes)
  standIn.control.consentNext(decision)
  const location = new URL(await consentRedirect(req.url))
  const code = location.searchParams.get('code')
  if (!code) throw new Error(`consent gave no code: ${location.search}`)
  const res = await postForm(standIn.endpoints.tokenUrl, codeExchangeForm(client, req, code))
  return { ...res, code }
}

export function refreshRaw(standIn: GoogleStandIn, client: Pick<ClientRecord, 'id' | 'secret'>, refreshToken: string, extra: Record<string, string> = {}) {
  return postForm(standIn.endpoints.tokenUrl, {
    grant_type: 'refresh_token',
    client_id: client.id,
    client_secret: client.secret,
    refresh_token: refreshToken,
    ...extra,
  })
}
