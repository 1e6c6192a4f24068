/**
 * "Does this token file work, for whom, with which scopes?" asked of Google itself:
 * refresh against the token endpoint (the response's `scope` is the grant; the file's own
 * `scopes` list is only what was requested), cross-check tokeninfo's azp/aud against the
 * client id, and read the Gmail profile to learn the account. Read-only: nothing is written.
 */
import { OpsError } from '../errors.ts'
import { readTokenFile, type TokenFile } from './token-file.ts'
import { readClientSecrets, resolveClient, type OAuthClient } from './client-secrets.ts'
import { refreshAccessToken, tokenInfo, gmailProfile } from './google-client.ts'
import { compareScopes } from './scopes.ts'
import type { GoogleEndpoints } from './endpoints.ts'

export interface ProbeRequest {
  tokenFile: string
  clientSecretsFile?: string
  endpoints?: Partial<GoogleEndpoints>
  requiredScopes: readonly string[]
  signal?: AbortSignal
}

export interface TokenProbe {
  file: TokenFile
  client: OAuthClient
  grantedScopes: string[]
  missingScopes: string[]
  /** The mailbox, from Gmail's users/me/profile. */
  email: string
  /** Seconds the refresh token has left, when Google says (Testing-mode clients). */
  refreshTokenExpiresIn?: number
}

export function clientFor(file: TokenFile | undefined, clientSecretsFile?: string): OAuthClient {
  const secrets = clientSecretsFile ? readClientSecrets(clientSecretsFile) : undefined
  return resolveClient(file ?? {}, secrets)
}

export async function probeToken(req: ProbeRequest): Promise<TokenProbe> {
  const file = readTokenFile(req.tokenFile)
  const client = clientFor(file, req.clientSecretsFile)
  const opts = { endpoints: req.endpoints, signal: req.signal }
  const tokens = await refreshAccessToken(client, file.refreshToken, opts)
  const info = await tokenInfo(tokens.accessToken, opts)
  if (info.azp !== client.clientId && info.aud !== client.clientId) {
    throw new OpsError(`the access token was issued to client ${info.aud || info.azp}, not to ${client.clientId}`, {
      reason: 'ClientMismatch',
      hint: 'the token file and the client secrets belong to different OAuth clients; re-run reauth with the right client',
    })
  }
  const profile = await gmailProfile(tokens.accessToken, opts)
  const { missing } = compareScopes(tokens.scope, req.requiredScopes)
  return {
    file,
    client,
    grantedScopes: tokens.scope,
    missingScopes: missing,
    email: profile.emailAddress,
    refreshTokenExpiresIn: tokens.refreshTokenExpiresIn,
  }
}
