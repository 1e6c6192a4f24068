import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { SecretValue } from '../secret-value.ts'

/** The pieces of a Desktop-client authorization request (research note §2.1, §8 step 1). */

export interface Pkce {
  verifier: SecretValue
  challenge: string
}

/** A 86-char verifier from the unreserved alphabet (43–128 allowed) and its S256 challenge. */
export function createPkce(): Pkce {
  const verifier = randomBytes(64).toString('base64url')
  return { verifier: new SecretValue(verifier), challenge: createHash('sha256').update(verifier).digest('base64url') }
}

export function createState(): string {
  return randomBytes(24).toString('base64url')
}

export function statesMatch(expected: string, got: string | null | undefined): boolean {
  if (typeof got !== 'string') return false
  const a = Buffer.from(expected)
  const b = Buffer.from(got)
  return a.length === b.length && timingSafeEqual(a, b)
}

export interface AuthRequestParams {
  authUrl: string
  clientId: string
  redirectUri: string
  scopes: readonly string[]
  state: string
  codeChallenge: string
  loginHint?: string
}

/**
 * `access_type=offline` for a refresh token, `prompt=consent` to force a fresh consent (which also restarts the
 * Testing-mode 7-day clock, §3.1), PKCE S256, and no `include_granted_scopes` so the grant is exactly what we ask.
 */
export function buildAuthUrl(p: AuthRequestParams): string {
  const q = new URLSearchParams({
    client_id: p.clientId,
    redirect_uri: p.redirectUri,
    response_type: 'code',
    scope: p.scopes.join(' '),
    state: p.state,
    code_challenge: p.codeChallenge,
    code_challenge_method: 'S256',
    access_type: 'offline',
    prompt: 'consent',
  })
  if (p.loginHint) q.set('login_hint', p.loginHint)
  return `${p.authUrl}?${q}`
}

/**
 * The query of a redirect the operator pasted: a full URL (`http://127.0.0.1:PORT/?state=…&code=…`) or just
 * its query. Values come out URL-decoded exactly once (§2.2: a code sent still encoded is "Malformed auth code.").
 * Undefined when the text carries neither a code nor an error.
 */
export function parseRedirect(text: string): URLSearchParams | undefined {
  const t = text.trim().replace(/^['"<]|['">]$/g, '')
  let query: string
  try {
    query = /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? new URL(t).search : t.slice(t.indexOf('?') + 1)
  } catch {
    return undefined
  }
  const q = new URLSearchParams(query)
  return q.has('code') || q.has('error') ? q : undefined
}
