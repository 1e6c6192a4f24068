/**
 * "Does this token file work, for whom, with which scopes?" asked of Google itself:
 * refresh against the token endpoint (the response's `scope` is the grant; the file's own
 * `scopes` list is only what was requested), cross-check tokeninfo (aud, and azp when
 * present, equal the client id; its scope holds every required scope), and read the Gmail
 * profile to learn the account. Read-only: nothing is written.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { OpsError } from '../errors.ts'
import { readTokenFile, type TokenFile } from './token-file.ts'
import { readClientSecrets, resolveClient, type OAuthClient } from './client-secrets.ts'
import { refreshAccessToken, tokenInfo, gmailProfile, type TokenInfo } from './google-client.ts'
import { compareScopes } from './scopes.ts'
import type { Cover } from './scope-coverage.ts'
import type { GoogleEndpoints } from './endpoints.ts'

export interface ProbeRequest {
  tokenFile: string
  clientSecretsFile?: string
  endpoints?: Partial<GoogleEndpoints>
  requiredScopes: readonly string[]
  signal?: AbortSignal
  /** Per request to Google (default 15 s). */
  timeoutMs?: number
}

export interface TokenProbe {
  file: TokenFile
  client: OAuthClient
  grantedScopes: string[]
  /** Required scopes that the grant does not cover. */
  missingScopes: string[]
  /** How each covered required scope is covered (by itself or by a broader granted scope). */
  covers: Cover[]
  /** The mailbox, from Gmail's users/me/profile. */
  email: string
  /** Seconds the refresh token has left, when Google says (Testing-mode clients). */
  refreshTokenExpiresIn?: number
}

/**
 * The client to refresh or consent with: the given client secrets file; else the file's own
 * client_id/secret (google-auth files carry them); else `credentials.json` beside the token file,
 * which is where the gmail-sdk keeps its client (its token file has none, research note §1.5).
 */
export function clientFor(file: TokenFile | undefined, clientSecretsFile: string | undefined, tokenFile: string): OAuthClient {
  if (clientSecretsFile) return resolveClient(file ?? {}, readClientSecrets(clientSecretsFile))
  if (file?.clientId && file.clientSecret) return resolveClient(file, undefined)
  const beside = besideCredentials(tokenFile)
  return resolveClient(file ?? {}, existsSync(beside) ? readClientSecrets(beside) : undefined)
}

/** `credentials.json` in the token file's directory (the gmail-sdk's `secrets_dir`). */
export function besideCredentials(tokenFile: string): string {
  return join(dirname(tokenFile), 'credentials.json')
}

export async function probeToken(req: ProbeRequest): Promise<TokenProbe> {
  const file = readTokenFile(req.tokenFile)
  const client = clientFor(file, req.clientSecretsFile, req.tokenFile)
  const opts = { endpoints: req.endpoints, signal: req.signal, timeoutMs: req.timeoutMs }
  const tokens = await refreshAccessToken(client, file.refreshToken, opts)
  const info = await tokenInfo(tokens.accessToken, opts)
  checkAudience(info, client)
  const profile = await gmailProfile(tokens.accessToken, opts)
  // Google's two answers must both cover every scope: the refresh response's `scope` is the
  // grant, tokeninfo's is what the access token can actually do.
  // Compared one required scope at a time, so an alias (`email`) is named as it was asked for.
  const lacks = (granted: string[], s: string) => compareScopes(granted, [s]).missing.length > 0
  const missing = req.requiredScopes.filter((s) => lacks(tokens.scope, s) || lacks(info.scope, s))
  return {
    file,
    client,
    grantedScopes: tokens.scope,
    missingScopes: missing,
    covers: compareScopes(tokens.scope, req.requiredScopes.filter((s) => !missing.includes(s))).covered,
    email: profile.emailAddress,
    refreshTokenExpiresIn: tokens.refreshTokenExpiresIn,
  }
}

/** The access token must be for our client: `aud` always, and `azp` too when Google sends it. */
function checkAudience(info: TokenInfo, client: OAuthClient): void {
  const wrong = info.aud !== client.clientId ? `aud ${info.aud}` : info.azp !== undefined && info.azp !== client.clientId ? `azp ${info.azp}` : undefined
  if (!wrong) return
  throw new OpsError(`the access token was issued to another client (tokeninfo ${wrong}), not to ${client.clientId}`, {
    reason: 'ClientMismatch',
    hint: 'the token file and the client secrets belong to different OAuth clients; re-run reauth with the right client (--set clientSecretsFile=<path> of the client that issued the token)',
  })
}
