import { OpsError } from '../errors.ts'
import type { SecretValue } from '../secret-value.ts'
import type { OAuthClient } from './client-secrets.ts'
import { GOOGLE_ENDPOINTS } from './endpoints.ts'
import type { TokenResponse } from './google-client.ts'
import { parseScopes } from './scopes.ts'

/**
 * The document each token file format holds after new tokens arrive (research note §1). Given the previous
 * document, only values change: key order, unknown keys and the consumer's shape are kept.
 */

/** `expiry.isoformat() + "Z"` of a naive UTC datetime: microseconds, dropped when zero (§1.1). */
function pythonExpiry(d: Date): string {
  const base = d.toISOString().slice(0, 19)
  const ms = d.getUTCMilliseconds()
  return ms ? `${base}.${String(ms).padStart(3, '0')}000Z` : `${base}Z`
}

const GOOGLE_AUTH_ORDER = ['token', 'refresh_token', 'token_uri', 'client_id', 'client_secret', 'scopes', 'universe_domain', 'account', 'expiry']
/** from_authorized_user_info fails without these (§1.2), so a rewrite adds them if the file lacked them. */
const GOOGLE_AUTH_REQUIRED = new Set(['refresh_token', 'client_id', 'client_secret'])

export function googleAuthDoc(
  tokens: TokenResponse,
  refreshToken: SecretValue,
  client: OAuthClient | undefined,
  prev: Record<string, unknown> | undefined,
  expiry: Date,
): Record<string, unknown> {
  if (!client) {
    throw new OpsError('a google-auth token file needs client_id and client_secret, and none are known', {
      reason: 'ClientMissing',
      hint: "Give the Desktop client's client secrets JSON: --set clientSecretsFile=<path>.",
    })
  }
  const values: Record<string, unknown> = {
    token: tokens.accessToken.revealString(),
    refresh_token: refreshToken.revealString(),
    // Python consumers ignore the file's token_uri and always use Google's (§1.2).
    token_uri: GOOGLE_ENDPOINTS.tokenUrl,
    client_id: client.clientId,
    client_secret: client.clientSecret.revealString(),
    scopes: sameScopes(prev?.scopes, tokens.scope),
    universe_domain: 'googleapis.com',
    account: '',
    expiry: pythonExpiry(expiry),
  }
  if (!prev) return Object.fromEntries(GOOGLE_AUTH_ORDER.map((k) => [k, values[k]]))
  // Keep the shape the consumer wrote (older google-auth lacks universe_domain/account; Node files carry "type").
  const doc = { ...prev }
  for (const k of ['token', 'refresh_token', 'client_id', 'client_secret', 'scopes', 'expiry']) {
    if (k in doc || GOOGLE_AUTH_REQUIRED.has(k)) doc[k] = values[k]
  }
  return doc
}

/** Fields of a token response (§2.3); a rewrite drops the ones the new response lacks, except the refresh token. */
const RESPONSE_FIELDS = ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type', 'id_token', 'refresh_token_expires_in']

export function rawResponseDoc(
  tokens: TokenResponse,
  refreshToken: SecretValue,
  format: 'gmail-sdk' | 'node',
  prev: Record<string, unknown> | undefined,
  now: number,
): Record<string, unknown> {
  const fresh: Record<string, unknown> = {
    access_token: tokens.accessToken.revealString(),
    // Node replaces expires_in with expiry_date (§1.4); gmail-sdk keeps the raw response (§1.5).
    expires_in: format === 'gmail-sdk' ? tokens.expiresIn : undefined,
    refresh_token: refreshToken.revealString(),
    scope: joined(sameScopes(prev?.scope, tokens.scope)),
    token_type: tokens.tokenType,
    id_token: tokens.idToken?.revealString(),
    refresh_token_expires_in: tokens.refreshTokenExpiresIn,
  }
  const expiryKey = format === 'gmail-sdk' ? 'expires_at' : 'expiry_date'
  const expiryValue = format === 'gmail-sdk' ? now / 1000 + tokens.expiresIn : now + tokens.expiresIn * 1000

  const out: Array<[string, unknown]> = []
  for (const [k, v] of Object.entries(prev ?? {})) {
    if (k === expiryKey) out.push([k, expiryValue])
    else if (!RESPONSE_FIELDS.includes(k)) out.push([k, v])
    else if (fresh[k] !== undefined) out.push([k, fresh[k]])
  }
  const added = RESPONSE_FIELDS.filter((k) => fresh[k] !== undefined && !(prev && k in prev)).map((k): [string, unknown] => [k, fresh[k]])
  // Both writers put the expiry last; new fields go before it.
  const at = out.findIndex(([k]) => k === expiryKey)
  if (at < 0) out.push(...added, [expiryKey, expiryValue])
  else out.splice(at, 0, ...added)
  return Object.fromEntries(out)
}

function joined(scopes: unknown): string {
  return Array.isArray(scopes) ? scopes.join(' ') : String(scopes ?? '')
}

/** The granted scopes, written in the previous file's order and type when they are the same set. */
function sameScopes(previous: unknown, granted: string[]): unknown {
  const prevList = typeof previous === 'string' || Array.isArray(previous) ? parseScopes(previous as string | string[]) : undefined
  const same = prevList && prevList.length === granted.length && granted.every((s) => prevList.includes(s))
  if (same) return previous
  if (granted.length === 0 && previous !== undefined) return previous
  return typeof previous === 'string' ? granted.join(' ') : granted
}
