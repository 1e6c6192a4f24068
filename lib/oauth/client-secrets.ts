import { readUserFile, MAX_BYTES } from '../safe-open.ts'
import { OpsError } from '../errors.ts'
import { SecretValue } from '../secret-value.ts'

/** An OAuth client: the id is public, the secret is not (Desktop secrets are "not secret" to Google, but still ours). */
export interface OAuthClient {
  clientId: string
  clientSecret: SecretValue
}

export interface ClientSecretsFile extends OAuthClient {
  projectId?: string
  authUri?: string
  tokenUri?: string
  redirectUris: string[]
}

const DOWNLOAD_HINT =
  'Download it from Google Cloud Console: APIs & Services → Credentials → your OAuth client of type "Desktop app" → Download JSON.'

/** A Desktop client download: `{"installed": {client_id, client_secret, auth_uri, token_uri, ...}}` (research note §1.3). */
export function parseClientSecrets(text: string | Uint8Array, source = 'client secrets file'): ClientSecretsFile {
  let doc: unknown
  try {
    doc = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'))
  } catch {
    // The parser's message quotes the input, and this file holds the client secret: say nothing more.
    throw new OpsError(`${source} is not valid JSON`, { reason: 'ClientSecretsInvalid', hint: DOWNLOAD_HINT })
  }
  const root = isObject(doc) ? doc : {}
  if (isObject(root.web)) {
    // Web clients need exact redirect URIs; the loopback flow uses any free port, which only Desktop clients accept (§2.1).
    throw new OpsError(`${source} is for a "Web application" client; the loopback flow needs a "Desktop app" client`, {
      reason: 'ClientSecretsInvalid',
      hint: DOWNLOAD_HINT,
    })
  }
  const c = root.installed
  if (!isObject(c)) {
    throw new OpsError(`${source} has no "installed" section`, { reason: 'ClientSecretsInvalid', hint: DOWNLOAD_HINT })
  }
  const missing = ['client_id', 'client_secret'].filter((k) => typeof c[k] !== 'string' || c[k] === '')
  if (missing.length) {
    throw new OpsError(`${source} lacks ${missing.join(' and ')}`, { reason: 'ClientSecretsInvalid', hint: DOWNLOAD_HINT })
  }
  const str = (k: string) => (typeof c[k] === 'string' ? (c[k] as string) : undefined)
  return {
    clientId: c.client_id as string,
    clientSecret: new SecretValue(c.client_secret as string),
    projectId: str('project_id'),
    authUri: str('auth_uri'),
    tokenUri: str('token_uri'),
    redirectUris: Array.isArray(c.redirect_uris) ? c.redirect_uris.filter((u): u is string => typeof u === 'string') : [],
  }
}

export function readClientSecrets(path: string): ClientSecretsFile {
  const f = readUserFile(path, { what: 'client secrets file', maxBytes: MAX_BYTES.clientSecrets, secret: true, missingReason: 'ClientSecretsInvalid', invalidReason: 'ClientSecretsInvalid', hint: DOWNLOAD_HINT })
  return parseClientSecrets(f.bytes, `client secrets file ${path}`)
}

/**
 * The client to refresh a token file's refresh token with. The file's own id and secret win: a refresh token is
 * bound to the client that got it, and any other client gets `unauthorized_client` (research note §2.4).
 */
export function resolveClient(file: { clientId?: string; clientSecret?: SecretValue }, secrets?: OAuthClient): OAuthClient {
  if (file.clientId && file.clientSecret) return { clientId: file.clientId, clientSecret: file.clientSecret }
  if (!secrets) {
    throw new OpsError('the token file has no client_id/client_secret, no client secrets file was given, and there is no credentials.json beside it', {
      reason: 'ClientMissing',
      hint: `Give the Desktop client's JSON with --set clientSecretsFile=<path>, or put it beside the token file as credentials.json (where the gmail-sdk reads it). ${DOWNLOAD_HINT}`,
    })
  }
  if (file.clientId && file.clientId !== secrets.clientId) {
    throw new OpsError(`the token file belongs to client ${file.clientId}, but the client secrets file is for ${secrets.clientId}`, {
      reason: 'ClientMismatch',
      hint: 'Use the client secrets of the client the token was issued to, or re-run gmail-reauth with the new client.',
    })
  }
  return { clientId: secrets.clientId, clientSecret: secrets.clientSecret }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
