import type { IncomingMessage, ServerResponse } from 'node:http'
import { readParams, sendOAuthError } from './google-http.ts'
import type { StandInState } from './state.ts'

/**
 * `POST /revoke?token=` or form `token=` (research note §2.6). Either an access or a refresh token; revoking it
 * removes the whole grant of the project, so tokens from a newer consent die too. That is why the product must never
 * "revoke the old token" after a re-auth (§8 step 6).
 */

export const REVOKE_PATH = '/revoke'

export async function handleRevoke(state: StandInState, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  const form = await readParams(req)
  const token = url.searchParams.get('token') ?? form.get('token')
  if (!token) return sendOAuthError(res, 400, 'invalid_request', 'Missing required parameter: token')
  if (!state.model.revoke(token)) return sendOAuthError(res, 400, 'invalid_token', 'Token expired or revoked')
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end()
}
