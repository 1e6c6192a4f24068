import { OpsError } from '../errors.ts'
import { CLIENT_RETRY, retry } from '../retry.ts'
import { SecretValue } from '../secret-value.ts'
import type { OAuthClient } from './client-secrets.ts'
import { resolveEndpoints, type GoogleEndpoints } from './endpoints.ts'
import { parseScopes } from './scopes.ts'
import { progress, reportWhilePending } from '../progress.ts'
import { formatDuration } from '../duration.ts'

/**
 * The Google calls the product makes, over global fetch. Errors become OpsErrors that quote only Google's
 * `error`/`error_description` (or Gmail's message/status), never a token or a secret.
 *
 * Deliberately absent: a call to the revoke endpoint. Revocation removes the whole grant of the project,
 * so "revoking the old token" after a re-auth kills the new one too (research note §2.6, §8 step 6).
 */

export interface CallOptions {
  endpoints?: Partial<GoogleEndpoints>
  signal?: AbortSignal
  /** Per request; default 15 s. */
  timeoutMs?: number
  now?: () => Date
  /**
   * Attempts for the idempotent calls (refresh, tokeninfo, Gmail profile) when Google answers
   * 5xx/429 or a transient error body, times out or cannot be reached; default 3. Waits
   * `backoffMs` (default 500), doubling, between them. The code exchange is never retried.
   */
  attempts?: number
  backoffMs?: number
}

/** A token endpoint answer (§2.3). `refreshToken` is only present after a code exchange. */
export interface TokenResponse {
  accessToken: SecretValue
  refreshToken?: SecretValue
  idToken?: SecretValue
  expiresIn: number
  /** The granted scopes: the source of truth, unlike a token file's `scopes` (§0, §8 verify 1). */
  scope: string[]
  tokenType: string
  /** Seen for Testing-mode projects (§2.3): the refresh token's remaining life in seconds. */
  refreshTokenExpiresIn?: number
  /** Taken just before the request was sent, so `receivedAt + expiresIn` errs early. */
  receivedAt: Date
}

export interface TokenInfo {
  /** The authorized party; Google omits it when it equals `aud`. */
  azp?: string
  aud: string
  sub?: string
  scope: string[]
  expiresIn: number
  expiresAt: Date
  email?: string
  emailVerified?: boolean
  accessType?: string
}

export interface GmailProfile {
  emailAddress: string
  messagesTotal: number
  threadsTotal: number
  historyId: string
}

const REAUTH = 'npx zx tasks/run.mjs gmail-reauth'
const DEFAULT_TIMEOUT_MS = 15_000
/** Bodies google-auth retries on (§1.2). */
const RETRYABLE_ERRORS = new Set(['internal_failure', 'server_error', 'temporarily_unavailable'])

export async function refreshAccessToken(
  client: OAuthClient,
  refreshToken: SecretValue,
  opts: CallOptions & { scopes?: readonly string[] } = {},
): Promise<TokenResponse> {
  const form = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: client.clientId,
    client_secret: client.clientSecret.revealString(),
    refresh_token: refreshToken.revealString(),
  })
  if (opts.scopes?.length) form.set('scope', opts.scopes.join(' '))
  // A refresh changes nothing on Google's side that a second one would undo: safe to repeat.
  return withRetry(opts, () => tokenRequest('refresh the access token', client, form, opts))
}

/** Trade the authorization code for tokens with the same redirect_uri and the PKCE verifier (§2.3, §8 step 3). */
export async function exchangeCode(
  client: OAuthClient,
  grant: { code: SecretValue; codeVerifier: SecretValue; redirectUri: string },
  opts: CallOptions = {},
): Promise<TokenResponse> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: grant.code.revealString(),
    code_verifier: grant.codeVerifier.revealString(),
    redirect_uri: grant.redirectUri,
    client_id: client.clientId,
    client_secret: client.clientSecret.revealString(),
  })
  // Never retried: a code is single-use, and a second try after a lost answer gets invalid_grant.
  return tokenRequest('exchange the authorization code', client, form, opts)
}

/** What Google says about an access token (§2.5). POST with a Bearer header: a token in a URL ends up in logs. */
export async function tokenInfo(accessToken: SecretValue, opts: CallOptions = {}): Promise<TokenInfo> {
  return withRetry(opts, () => tokenInfoOnce(accessToken, opts))
}

async function tokenInfoOnce(accessToken: SecretValue, opts: CallOptions): Promise<TokenInfo> {
  const what = 'check the access token (tokeninfo)'
  const url = resolveEndpoints(opts.endpoints).tokeninfoUrl
  const sentAt = now(opts)
  const { status, body } = await send(what, url, { method: 'POST', headers: bearer(accessToken) }, opts)
  if (status !== 200) {
    const { error, description } = oauthError(body)
    if (status >= 500 || status === 429) throw unavailable(what, status, error, description)
    throw new OpsError(`${what}: Google answered ${quote(status, error, description)}`, {
      reason: error ?? `HTTP_${status}`,
      hint: 'The access token is expired or revoked; refresh it first, and if that fails re-run ' + REAUTH,
    })
  }
  // Every tokeninfo value is a string, numbers and booleans included (§2.5).
  const b = body as Record<string, unknown>
  const expiresIn = Number(b.expires_in)
  if ((b.azp !== undefined && typeof b.azp !== 'string') || typeof b.aud !== 'string' || typeof b.scope !== 'string' || !Number.isFinite(expiresIn)) {
    throw badResponse(what)
  }
  const exp = Number(b.exp)
  return {
    azp: typeof b.azp === 'string' && b.azp !== '' ? b.azp : undefined,
    aud: b.aud,
    sub: typeof b.sub === 'string' ? b.sub : undefined,
    scope: parseScopes(b.scope),
    expiresIn,
    expiresAt: Number.isFinite(exp) ? new Date(exp * 1000) : new Date(sentAt.getTime() + expiresIn * 1000),
    email: typeof b.email === 'string' ? b.email : undefined,
    emailVerified: b.email_verified === undefined ? undefined : String(b.email_verified) === 'true',
    accessType: typeof b.access_type === 'string' ? b.access_type : undefined,
  }
}

/** The mailbox behind an access token; needs a read-capable Gmail scope, `gmail.send` is not enough (§2.7). */
export async function gmailProfile(accessToken: SecretValue, opts: CallOptions = {}): Promise<GmailProfile> {
  return withRetry(opts, () => gmailProfileOnce(accessToken, opts))
}

async function gmailProfileOnce(accessToken: SecretValue, opts: CallOptions): Promise<GmailProfile> {
  const what = 'read the Gmail profile'
  const url = resolveEndpoints(opts.endpoints).gmailProfileUrl
  const { status, body } = await send(what, url, { method: 'GET', headers: bearer(accessToken) }, opts)
  if (status !== 200) {
    const err = isObject(body) && isObject(body.error) ? body.error : {}
    const message = safeText(err.message)
    const state = safeText(err.status)
    const quoted = `HTTP ${status}${state ? ` ${state}` : ''}${message ? `: ${message}` : ''}`
    if (status >= 500 || status === 429) throw new OpsError(`${what}: Gmail answered ${quoted}`, { reason: 'GoogleUnavailable', retryable: true })
    if (status === 403) {
      throw new OpsError(`${what}: Gmail answered ${quoted}`, {
        reason: 'Forbidden',
        hint: 'The grant needs a read-capable Gmail scope (gmail.readonly, gmail.modify, gmail.metadata, gmail.compose or https://mail.google.com/); gmail.send alone cannot read the profile.',
      })
    }
    throw new OpsError(`${what}: Gmail answered ${quoted}`, {
      reason: status === 401 ? 'Unauthenticated' : `HTTP_${status}`,
      hint: `Refresh the access token first; if the refresh fails, re-run ${REAUTH}.`,
    })
  }
  const b = body as Record<string, unknown>
  if (typeof b.emailAddress !== 'string') throw badResponse(what)
  return {
    emailAddress: b.emailAddress,
    messagesTotal: Number(b.messagesTotal ?? 0),
    threadsTotal: Number(b.threadsTotal ?? 0),
    historyId: String(b.historyId ?? ''),
  }
}

async function tokenRequest(what: string, client: OAuthClient, form: URLSearchParams, opts: CallOptions): Promise<TokenResponse> {
  const url = resolveEndpoints(opts.endpoints).tokenUrl
  const receivedAt = now(opts)
  const { status, body } = await send(what, url, { method: 'POST', body: form }, opts)
  if (status !== 200) throw tokenError(what, client, status, body, form.get('grant_type')!)
  const b = body as Record<string, unknown>
  const expiresIn = Number(b.expires_in)
  if (typeof b.access_token !== 'string' || b.access_token === '' || !Number.isFinite(expiresIn)) throw badResponse(what)
  const rtExpires = Number(b.refresh_token_expires_in)
  return {
    accessToken: new SecretValue(b.access_token),
    refreshToken: typeof b.refresh_token === 'string' && b.refresh_token ? new SecretValue(b.refresh_token) : undefined,
    idToken: typeof b.id_token === 'string' && b.id_token ? new SecretValue(b.id_token) : undefined,
    expiresIn,
    scope: parseScopes(typeof b.scope === 'string' ? b.scope : ''),
    tokenType: typeof b.token_type === 'string' ? b.token_type : 'Bearer',
    refreshTokenExpiresIn: b.refresh_token_expires_in === undefined || !Number.isFinite(rtExpires) ? undefined : rtExpires,
    receivedAt,
  }
}

/** Google's token-endpoint errors (§2.4, §8 verify 3) mapped to reasons, hints and retryability. */
function tokenError(what: string, client: OAuthClient, status: number, body: unknown, grantType: string): OpsError {
  const { error, description } = oauthError(body)
  const message = `${what}: Google answered ${quote(status, error, description)}`
  if (status >= 500 || status === 429 || (error && RETRYABLE_ERRORS.has(error))) return unavailable(what, status, error, description)
  switch (error) {
    case 'invalid_grant':
      // Any description means the same here: "Token has been expired or revoked.", later "Bad Request",
      // "The account has been deleted", or for codes "Malformed auth code." / PKCE complaints.
      return new OpsError(message, {
        reason: 'invalid_grant',
        hint:
          grantType === 'refresh_token'
            ? `The refresh token is expired or revoked (a Testing-mode project's tokens die 7 days after consent). Re-run ${REAUTH}.`
            : 'The authorization code was refused (used twice, mangled, or from another attempt). Start the consent again.',
      })
    case 'invalid_client':
    case 'unauthorized_client':
      return new OpsError(`${message}: client ${client.clientId} does not match the token`, {
        reason: error,
        hint:
          error === 'invalid_client'
            ? 'The client id or secret is wrong, or the client was deleted. Check the client secrets JSON (a "Desktop app" client).'
            : `The refresh token was issued to another client. Use that client's id and secret, or re-run ${REAUTH} with this client.`,
      })
    case 'invalid_request':
      return new OpsError(message, {
        reason: 'invalid_request',
        hint: /client_secret/.test(description ?? '')
          ? 'Desktop clients must send client_secret even though Google documents it as optional; add it to the client configuration.'
          : 'This is a configuration error in the request; check the client configuration.',
      })
    case 'invalid_scope':
      return new OpsError(message, {
        reason: 'invalid_scope',
        hint: `Ask only for scopes that were granted, or re-run ${REAUTH} and tick every box.`,
      })
    default:
      return new OpsError(message, { reason: error ?? `HTTP_${status}` })
  }
}

function unavailable(what: string, status: number, error?: string, description?: string): OpsError {
  return new OpsError(`${what}: Google answered ${quote(status, error, description)}`, {
    reason: 'GoogleUnavailable',
    retryable: true,
    hint: 'Google had a transient failure; retrying usually helps.',
  })
}

/** What a later attempt can cure: Google's 5xx/429 and transient bodies, timeouts, the network. */
const TRANSIENT = new Set(['GoogleUnavailable', 'Timeout', 'NetworkError'])

/**
 * Repeats an idempotent call on a transient failure (google-auth does the same, research note
 * §1.2), so one 503 does not fail a step that must not be retried as a whole (reauth's check:
 * a node retry would prompt for a consent again). The last failure says how often it was tried.
 */
function withRetry<T>(opts: CallOptions, call: () => Promise<T>): Promise<T> {
  const attempts = opts.attempts ?? CLIENT_RETRY.attempts
  const started = Date.now()
  return retry(call, {
    attempts,
    backoffMs: opts.backoffMs ?? CLIENT_RETRY.backoffMs,
    signal: opts.signal,
    retryable: (e) => e instanceof OpsError && TRANSIENT.has(e.reason),
    onRetry: (e, next, delayMs) => progress(`${(e as Error).message}; attempt ${next - 1} of ${attempts}, ${formatDuration(Date.now() - started)} so far: retrying in ${formatDuration(delayMs)}`),
    exhausted: (e, tried) => {
      const last = e as OpsError
      return new OpsError(`${last.message} (tried ${tried} times over ${formatDuration(Date.now() - started)})`, {
        reason: last.reason,
        retryable: true,
        hint:
          last.reason === 'GoogleUnavailable'
            ? 'Google kept failing: wait a few minutes, then rerun with --resume (incidents: https://status.cloud.google.com).'
            : `${last.hint ?? ''} Then rerun with --resume.`.trim(),
      })
    },
    cancelled: (e) => new OpsError(`${(e as Error).message.split(':')[0]}: cancelled`, { reason: 'Aborted' }),
  })
}

type Request = { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: URLSearchParams }

async function send(what: string, url: string, init: Request, opts: CallOptions): Promise<{ status: number; body: unknown }> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout
  const host = new URL(url).host
  let status: number
  let text: string
  try {
    const answer = (async () => {
      const res = await fetch(url, { ...init, headers: { accept: 'application/json', ...init.headers }, signal, redirect: 'error' })
      return { status: res.status, text: await res.text() }
    })()
    ;({ status, text } = await reportWhilePending(answer, `${init.method} ${url.split('?')[0]} (${what})`, timeoutMs))
  } catch (e) {
    if (opts.signal?.aborted) throw new OpsError(`${what}: cancelled`, { reason: 'Aborted' })
    if (timeout.aborted) {
      throw new OpsError(`${what}: no answer from ${url.split('?')[0]} within ${formatDuration(timeoutMs)} (request timeout)`, {
        reason: 'Timeout',
        retryable: true,
        hint: `check network access to ${host} (proxy, DNS, firewall: curl -sS -m 10 -o /dev/null -w '%{http_code}' ${new URL(url).origin}/); a slow network needs a longer limit: --request-timeout 1m`,
      })
    }
    const code = (e as { cause?: { code?: string } }).cause?.code
    throw new OpsError(`${what}: cannot reach ${host}${code ? ` (${code})` : ''}`, {
      reason: 'NetworkError',
      retryable: true,
      hint: 'Check network access to Google (proxy, DNS, firewall) and retry.',
    })
  }
  let body: unknown
  try {
    body = text === '' ? {} : JSON.parse(text)
  } catch {
    body = undefined // never quote it: a success body carries tokens
  }
  if (status === 200 && !isObject(body)) throw badResponse(what)
  return { status, body }
}

function oauthError(body: unknown): { error?: string; description?: string } {
  if (!isObject(body)) return {}
  return { error: safeText(body.error), description: safeText(body.error_description) }
}

/** Google's error strings are safe to show; cap them in case a proxy put something else there. */
function safeText(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v.slice(0, 200) : undefined
}

function quote(status: number, error?: string, description?: string): string {
  if (!error) return `HTTP ${status}`
  return `HTTP ${status} ${error}${description ? ` "${description}"` : ''}`
}

function badResponse(what: string): OpsError {
  return new OpsError(`${what}: Google's answer was not the expected JSON`, {
    reason: 'BadResponse',
    retryable: true,
    hint: 'A proxy or captive portal may be in the way; check the endpoint URLs.',
  })
}

function bearer(token: SecretValue): Record<string, string> {
  return { authorization: `Bearer ${token.revealString()}` }
}

function now(opts: CallOptions): Date {
  return opts.now?.() ?? new Date()
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
