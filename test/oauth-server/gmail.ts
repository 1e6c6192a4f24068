import type { IncomingMessage, ServerResponse } from 'node:http'
import { bearerToken, sendJson } from './google-http.ts'
import { GMAIL_READ_SCOPES } from './scopes.ts'
import type { StandInState } from './state.ts'

/** `GET /gmail/v1/users/me/profile` (research note §2.7). */

export const GMAIL_PROFILE_PATH = '/gmail/v1/users/me/profile'

// The error bodies follow Google's standard API error shape ({error: {code, message, status}}), not the notes.
export function handleGmailProfile(state: StandInState, req: IncomingMessage, res: ServerResponse): void {
  const value = bearerToken(req)
  const t = value ? state.model.tokens.get(value) : undefined
  if (!t || t.kind !== 'access' || state.model.deathOf(t)) {
    return sendJson(res, 401, {
      error: {
        code: 401,
        message: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        status: 'UNAUTHENTICATED',
      },
    })
  }
  // `gmail.send` alone cannot read the profile; it needs a read-capable scope (§2.7).
  if (!t.scopes.some((s) => GMAIL_READ_SCOPES.has(s))) {
    return sendJson(res, 403, { error: { code: 403, message: 'Request had insufficient authentication scopes.', status: 'PERMISSION_DENIED' } })
  }
  const a = state.model.accounts.get(t.email)!
  sendJson(res, 200, { emailAddress: a.email, messagesTotal: a.messagesTotal, threadsTotal: a.threadsTotal, historyId: a.historyId })
}
