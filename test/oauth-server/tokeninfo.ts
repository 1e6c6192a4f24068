import type { IncomingMessage, ServerResponse } from 'node:http'
import { bearerToken, readParams, sendJson, sendOAuthError } from './google-http.ts'
import { USERINFO_EMAIL } from './scopes.ts'
import type { StandInState } from './state.ts'

/** `GET ?access_token=` or `POST` with `Authorization: Bearer` (research note §2.5). */

export const TOKENINFO_PATH = '/tokeninfo'

export async function handleTokeninfo(state: StandInState, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  const form = req.method === 'POST' ? await readParams(req) : new URLSearchParams()
  const value = url.searchParams.get('access_token') ?? form.get('access_token') ?? bearerToken(req)
  const t = value ? state.model.tokens.get(value) : undefined
  // Refresh tokens are not accepted, and dead tokens look the same as garbage (§2.5).
  if (!t || t.kind !== 'access' || state.model.deathOf(t)) return sendOAuthError(res, 400, 'invalid_token', 'Invalid Value')
  const account = state.model.accounts.get(t.email)!
  const now = state.clock.now()
  // Every value is a string, numbers included, as Google returns them (§2.5).
  const body: Record<string, string> = {
    azp: t.clientId,
    aud: t.clientId,
    sub: account.sub,
    scope: t.scopes.join(' '),
    exp: String(Math.floor(t.expiresAt! / 1000)),
    // Seconds left, counted like the token endpoint's 3599 for a fresh token.
    expires_in: String(Math.max(0, Math.ceil((t.expiresAt! - now) / 1000) - 1)),
  }
  // email/email_verified only with the email scope; a Gmail-only grant has neither (§2.5, §2.7).
  if (t.scopes.includes(USERINFO_EMAIL)) Object.assign(body, { email: account.email, email_verified: 'true' })
  body.access_type = t.accessType
  sendJson(res, 200, body)
}
