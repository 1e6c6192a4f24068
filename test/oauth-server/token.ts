import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { basicClient, readParams, sendJson, sendOAuthError } from './google-http.ts'
import { ACCESS_TOKEN_LIFETIME, type ClientRecord, type TokenRecord } from './model.ts'
import { HOUR } from './clock.ts'
import { isValidScope, normalizeScopes, splitScopes } from './scopes.ts'
import type { StandInState } from './state.ts'

/**
 * `POST /token` (research note §2.3, error bodies from the §2.4 catalogue).
 *
 * Google's pages behind each behaviour:
 * - the code exchange and its response fields, `refresh_token_expires_in` included:
 *   https://developers.google.com/identity/protocols/oauth2/native-app#exchange-authorization-code
 * - a refresh returns no new refresh token: https://developers.google.com/identity/protocols/oauth2/native-app#offline
 * - Testing-mode refresh tokens die 7 days after consent: https://developers.google.com/identity/protocols/oauth2#expiration
 * - the `{error, error_description}` body and its codes are RFC 6749 §5.2 (https://www.rfc-editor.org/rfc/rfc6749#section-5.2),
 *   which Google's token endpoint follows; the description strings are the observed ones (§2.4).
 */

export const TOKEN_PATH = '/token'

/** Google reports one second less than the lifetime: `expires_in: 3599` for a one-hour token (§2.3). */
const EXPIRES_IN = ACCESS_TOKEN_LIFETIME / 1000 - 1
/** About 12 hours after death the description degrades from the explicit text to "Bad Request" (§2.4, observed). */
const DEATH_TEXT_DECAY = 12 * HOUR

export async function handleToken(state: StandInState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readParams(req)
  const fault = state.tokenFaults.shift()
  if (fault?.delayMs) await sleep(fault.delayMs, undefined, { ref: false })
  if (fault?.status) {
    // Body shape assumed; what matters is a 5xx carrying one of the retryable markers google-auth knows (§1.2).
    return sendJson(res, fault.status, fault.body ?? { error: 'internal_failure', error_description: 'Backend Error' })
  }

  const grantType = form.get('grant_type')
  if (!grantType) return sendOAuthError(res, 400, 'unsupported_grant_type', 'Invalid grant_type: ')
  if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
    return sendOAuthError(res, 400, 'unsupported_grant_type', `Invalid grant_type: ${grantType}`)
  }
  const client = authenticateClient(state, req, form, res)
  if (!client) return
  if (grantType === 'authorization_code') return exchangeCode(state, client, form, res)
  return refresh(state, client, form, res)
}

function authenticateClient(state: StandInState, req: IncomingMessage, form: URLSearchParams, res: ServerResponse): ClientRecord | undefined {
  const basic = basicClient(req)
  const id = basic?.id ?? form.get('client_id')
  const secret = basic?.secret ?? form.get('client_secret')
  if (!id) return void sendOAuthError(res, 400, 'invalid_request', 'Could not determine client ID from request.')
  const client = state.model.clients.get(id)
  if (!client) return void sendOAuthError(res, 401, 'invalid_client', 'The OAuth client was not found.')
  // The native-app page calls the secret "Optional", but Desktop clients are refused without it (§2.3).
  if (!secret) return void sendOAuthError(res, 400, 'invalid_request', 'client_secret is missing.')
  if (secret !== client.secret) return void sendOAuthError(res, 401, 'invalid_client', 'Unauthorized')
  return client
}

function exchangeCode(state: StandInState, client: ClientRecord, form: URLSearchParams, res: ServerResponse): void {
  const value = form.get('code')
  if (!value) return sendOAuthError(res, 400, 'invalid_request', 'Missing required parameter: code')
  // A code sent still URL-encoded (`4%2F0A…`) or otherwise mangled (§2.2).
  if (!/^4\/[A-Za-z0-9_-]+$/.test(value)) return sendOAuthError(res, 400, 'invalid_grant', 'Malformed auth code.')
  const code = state.model.codes.get(value)
  // Reused or unknown codes: the catalogue's "garbage/unknown" text (§2.4). Codes are single-use.
  if (!code || code.used || code.clientId !== client.id) return sendOAuthError(res, 400, 'invalid_grant', 'Bad Request')
  // The description is not captured in the notes (§2.4); "Bad Request" is Google's generic one.
  if (form.get('redirect_uri') !== code.redirectUri) return sendOAuthError(res, 400, 'redirect_uri_mismatch', 'Bad Request')
  if (code.codeChallenge) {
    const verifier = form.get('code_verifier')
    if (!verifier) return sendOAuthError(res, 400, 'invalid_grant', 'Missing code verifier.')
    const derived = code.codeChallengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier
    if (derived !== code.codeChallenge) return sendOAuthError(res, 400, 'invalid_grant', 'Invalid code verifier.')
  }
  code.used = true

  const grant = { clientId: client.id, projectId: client.projectId, email: code.email, scopes: code.scopes, consentAt: code.consentAt }
  const access = state.model.issueAccessToken({ ...grant, accessType: code.accessType })
  const refresh = code.withRefreshToken ? state.model.issueRefreshToken(client, grant) : undefined
  sendJson(res, 200, tokenBody(state, client, access, refresh, refresh))
}

function refresh(state: StandInState, client: ClientRecord, form: URLSearchParams, res: ServerResponse): void {
  const value = form.get('refresh_token')
  if (!value) return sendOAuthError(res, 400, 'invalid_request', 'Missing required parameter: refresh_token')
  const rt = state.model.tokens.get(value)
  if (!rt || rt.kind !== 'refresh') return sendOAuthError(res, 400, 'invalid_grant', 'Bad Request')
  // A refresh token is bound to the client it was issued to (§2.4: "used with a different client id/secret").
  if (rt.clientId !== client.id) return sendOAuthError(res, 401, 'unauthorized_client', 'Unauthorized')
  const death = state.model.deathOf(rt)
  if (death) {
    if (death.cause === 'account_deleted') return sendOAuthError(res, 400, 'invalid_grant', 'The account has been deleted')
    const recent = state.clock.now() - death.at < DEATH_TEXT_DECAY
    return sendOAuthError(res, 400, 'invalid_grant', recent ? 'Token has been expired or revoked.' : 'Bad Request')
  }
  // Optional downscoping; every scope must be valid and part of the grant (§2.3, §8 "invalid_scope").
  const requested = normalizeScopes(splitScopes(form.get('scope')))
  const invalid = requested.filter((s) => !isValidScope(s) || !rt.scopes.includes(s))
  if (invalid.length) {
    return sendOAuthError(res, 400, 'invalid_scope', `Some requested scopes were invalid. {invalid=[${invalid.join(', ')}]}`, {
      error_uri: 'https://developers.google.com/identity/protocols/oauth2/scopes',
    })
  }
  rt.lastUsedAt = state.clock.now()
  const access = state.model.issueAccessToken({
    clientId: client.id,
    projectId: client.projectId,
    email: rt.email,
    scopes: requested.length ? rt.scopes.filter((s) => requested.includes(s)) : rt.scopes,
    accessType: 'offline',
    consentAt: rt.consentAt,
  })
  // No refresh_token in a refresh response; clients keep the one they have (§2.3).
  sendJson(res, 200, tokenBody(state, client, access, undefined, rt))
}

function tokenBody(state: StandInState, client: ClientRecord, access: TokenRecord, issued: TokenRecord | undefined, rt: TokenRecord | undefined) {
  const body: Record<string, unknown> = { access_token: access.value, expires_in: EXPIRES_IN }
  if (issued) body.refresh_token = issued.value
  body.scope = access.scopes.join(' ')
  body.token_type = 'Bearer'
  // id_token only with openid/email/profile (§2.3); Google adds openid for the latter two (§1.3).
  if (access.scopes.includes('openid')) {
    const account = state.model.accounts.get(access.email)!
    body.id_token = state.model.idToken(client, account, access.scopes)
  }
  // "The remaining lifetime of the refresh token in seconds. This value is only set when the user grants
  // time-based access" (native-app page, step 5); Testing-mode grants are time-based (7 days, oauth2#expiration),
  // and clients see it there (§2.3). The gmail-sdk stores it in its token file as it comes.
  if (rt?.expiresAt !== undefined) body.refresh_token_expires_in = Math.max(0, Math.floor((rt.expiresAt - state.clock.now()) / 1000) - 1)
  return body
}
