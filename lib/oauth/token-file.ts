import { readUserFile, readUserFileIfExists } from '../safe-open.ts'
import { writeFileAtomic } from '../atomic-file.ts'
import { OpsError } from '../errors.ts'
import { SecretValue, fingerprint } from '../secret-value.ts'
import type { OAuthClient } from './client-secrets.ts'
import type { TokenResponse } from './google-client.ts'
import { JS_COMPACT, PYTHON_DUMPS, PYTHON_INDENT_2, detectStyle, floatLiteralPaths, formatJson, type JsonStyle } from './json-style.ts'
import { parseScopes } from './scopes.ts'
import { googleAuthDoc, rawResponseDoc } from './token-file-render.ts'

/**
 * The token files a Gmail consumer reads (research note §1):
 * - `google-auth`: Python `Credentials.to_json()` (§1.1), also the Node `authorized_user` shape (§1.4);
 * - `gmail-sdk`: the raw token response plus `expires_at`, indent=2 (§1.5);
 * - `node`: google-auth-library `Credentials`, `JSON.stringify(tokens)` with `expiry_date` in ms (§1.4).
 * A rewrite keeps the file's format, key order, unknown keys and layout, so its consumer sees only new values.
 */

export type TokenFileFormat = 'google-auth' | 'gmail-sdk' | 'node'
export const MAX_TOKEN_FILE_BYTES = 64 * 1024

export interface TokenFile {
  readonly format: TokenFileFormat
  readonly refreshToken: SecretValue
  readonly accessToken?: SecretValue
  readonly clientId?: string
  readonly clientSecret?: SecretValue
  /** As recorded in the file. For google-auth these are the REQUESTED scopes (§1.1): never proof of a grant. */
  readonly scopes: string[]
  /** Access-token expiry. */
  readonly expiry?: Date
  readonly tokenUri?: string
  /** sha256 fingerprint of the file's bytes. */
  readonly fingerprint: string
}

/** The parsed document and its layout, kept out of the object so that printing a TokenFile shows no token. */
const layouts = new WeakMap<TokenFile, { doc: Record<string, unknown>; style: JsonStyle; floats: Set<string> }>()

const REAUTH_HINT = 'Re-run the consent to write a fresh token file: npx zx tasks/run.mjs gmail-reauth'
const FORMATS_HINT =
  'Expected google-auth Credentials.to_json() (token, refresh_token, client_id, client_secret, scopes, expiry), ' +
  'a gmail-sdk token (access_token, refresh_token, expires_at) or a Node google-auth-library token (access_token, refresh_token, expiry_date).'

export function readTokenFile(path: string): TokenFile {
  const f = readUserFile(path, { what: 'token file', maxBytes: MAX_TOKEN_FILE_BYTES, secret: true, missingReason: 'TokenFileMissing', invalidReason: 'TokenFileInvalid', tooLargeReason: 'TokenFileTooLarge', hint: REAUTH_HINT })
  return parseTokenFile(f.bytes, `token file ${path}`)
}

export function parseTokenFile(bytes: string | Uint8Array, source = 'token file'): TokenFile {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes)
  if (buf.length > MAX_TOKEN_FILE_BYTES) throw tooLarge(source, buf.length)
  const text = buf.toString('utf8')
  if (text.trim() === '') throw invalid(`${source} is empty`)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    // V8's message quotes the input, which is token material: keep only the position, and no cause.
    const at = /position (\d+)/.exec((e as Error).message)?.[1]
    throw invalid(`${source} is not valid JSON${at ? ` (syntax error at byte ${at})` : ''}`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid(`${source} is not a JSON object`)
  const d = doc as Record<string, unknown>
  const format = detectFormat(d, source)
  const file = Object.freeze({ format, ...extract(d, format, source), fingerprint: fingerprint(buf) })
  const flavor = format === 'node' ? 'js' : 'python'
  layouts.set(file, { doc: d, style: detectStyle(text, flavor), floats: floatLiteralPaths(text) })
  return file
}

/** The file's bytes re-rendered from what was parsed: equal to the input for files written by their own program. */
export function serializeTokenFile(file: TokenFile): SecretValue {
  const l = layoutOf(file)
  return new SecretValue(formatJson(l.doc, l.style, l.floats))
}

export interface RenderOptions {
  /** The file being replaced: its format, layout, unknown keys and (unless `client` is given) client. */
  previous?: TokenFile
  /** Format of a new file; default google-auth `to_json()` (§8 step 4). Overrides `previous.format` if both are given. */
  format?: TokenFileFormat
  /** The client that obtained `tokens`; google-auth files must record it (§1.2). */
  client?: OAuthClient
  /** Base for the expiry; default `tokens.receivedAt`. */
  now?: Date
}

/** The new file content for fresh `tokens`. A response without a refresh token keeps the previous one (§2.3). */
export function renderTokenFile(tokens: TokenResponse, opts: RenderOptions = {}): SecretValue {
  const format = opts.format ?? opts.previous?.format ?? 'google-auth'
  const prev = opts.previous && opts.previous.format === format ? layoutOf(opts.previous) : undefined
  const refreshToken = tokens.refreshToken ?? opts.previous?.refreshToken
  if (!refreshToken) {
    throw new OpsError('cannot write a token file without a refresh token', { reason: 'NoRefreshToken', hint: REAUTH_HINT })
  }
  const now = (opts.now ?? tokens.receivedAt).getTime()
  const client = opts.client ?? clientOf(opts.previous)
  if (format === 'google-auth') {
    const doc = googleAuthDoc(tokens, refreshToken, client, prev?.doc, new Date(now + tokens.expiresIn * 1000))
    return new SecretValue(formatJson(doc, prev?.style ?? PYTHON_DUMPS))
  }
  const doc = rawResponseDoc(tokens, refreshToken, format, prev?.doc, now)
  const floats = new Set(prev?.floats)
  if (format === 'gmail-sdk') floats.add('/expires_at') // time.time() + expires_in is a float
  return new SecretValue(formatJson(doc, prev?.style ?? (format === 'node' ? JS_COMPACT : PYTHON_INDENT_2), floats))
}

export interface WriteResult {
  format: TokenFileFormat
  fingerprint: string
  /** False when the file already had exactly these bytes. */
  changed: boolean
}

/** Render and replace `path` atomically with mode 0600. */
export function writeTokenFile(path: string, tokens: TokenResponse, opts: RenderOptions = {}): WriteResult {
  const content = renderTokenFile(tokens, opts)
  let current: Buffer | undefined
  try {
    current = readUserFileIfExists(path, { what: 'token file', maxBytes: MAX_TOKEN_FILE_BYTES })?.bytes
  } catch {
    current = undefined // whatever is there is replaced (atomically, by rename)
  }
  const changed = !current || !current.equals(content.reveal())
  if (changed) writeFileAtomic(path, content.reveal(), 0o600)
  return { format: opts.format ?? opts.previous?.format ?? 'google-auth', fingerprint: content.fingerprint, changed }
}

function detectFormat(d: Record<string, unknown>, source: string): TokenFileFormat {
  if ('_module' in d || 'token_expiry' in d) {
    throw new OpsError(`${source} is an oauth2client credentials file, which is deprecated and not supported`, {
      reason: 'TokenFileUnknownFormat',
      hint: `${REAUTH_HINT} (it writes google-auth's format).`,
    })
  }
  if ('expires_at' in d) return 'gmail-sdk'
  if ('expiry_date' in d) return 'node'
  if ('token' in d || 'token_uri' in d || 'universe_domain' in d || d.type === 'authorized_user') return 'google-auth'
  if ('access_token' in d && ('token_type' in d || 'scope' in d)) return 'node'
  // The minimum from_authorized_user_info accepts (§1.2).
  if ('refresh_token' in d && 'client_id' in d && 'client_secret' in d) return 'google-auth'
  const keys = Object.keys(d).filter((k) => /^[A-Za-z_][A-Za-z0-9_]{0,39}$/.test(k)).slice(0, 12)
  throw new OpsError(`${source} is not a token file format credflow knows (keys: ${keys.join(', ') || 'none'})`, {
    reason: 'TokenFileUnknownFormat',
    hint: FORMATS_HINT,
  })
}

function extract(d: Record<string, unknown>, format: TokenFileFormat, source: string): Omit<TokenFile, 'format' | 'fingerprint'> {
  const str = (k: string): string | undefined => {
    const v = d[k]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'string') throw invalid(`${source}: "${k}" must be a string`)
    return v
  }
  const secret = (k: string) => {
    const v = str(k)
    return v ? new SecretValue(v) : undefined
  }
  const refreshToken = secret('refresh_token')
  if (!refreshToken) {
    throw new OpsError(`${source} has no refresh_token, so it cannot be refreshed`, { reason: 'NoRefreshToken', hint: REAUTH_HINT })
  }
  if (format === 'google-auth') {
    const scopes = d.scopes
    if (scopes !== undefined && scopes !== null && typeof scopes !== 'string' && !(Array.isArray(scopes) && scopes.every((s) => typeof s === 'string'))) {
      throw invalid(`${source}: "scopes" must be a list of strings`)
    }
    return {
      refreshToken,
      accessToken: secret('token'),
      clientId: str('client_id'),
      clientSecret: secret('client_secret'),
      scopes: parseScopes(scopes as string | string[] | undefined),
      expiry: parsePythonExpiry(str('expiry'), source),
      tokenUri: str('token_uri'),
    }
  }
  const num = (k: string): number | undefined => {
    const v = d[k]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`${source}: "${k}" must be a number`)
    return v
  }
  const expiry = format === 'gmail-sdk' ? num('expires_at') : num('expiry_date')
  return {
    refreshToken,
    accessToken: secret('access_token'),
    clientId: str('client_id'),
    clientSecret: secret('client_secret'),
    scopes: parseScopes(str('scope')),
    expiry: expiry === undefined ? undefined : new Date(format === 'gmail-sdk' ? expiry * 1000 : expiry),
  }
}

/** google-auth reads `expiry` with strptime after dropping "Z" and the fraction; an offset makes it fail (§1.2). */
function parsePythonExpiry(value: string | undefined, source: string): Date | undefined {
  if (value === undefined) return undefined
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z?$/.exec(value)
  if (!m) throw invalid(`${source}: "expiry" is not YYYY-MM-DDTHH:MM:SS[.ffffff]Z, which google-auth would refuse to load`)
  return new Date(`${m[1]}${(m[2] ?? '').slice(0, 4)}Z`)
}

function clientOf(file: TokenFile | undefined): OAuthClient | undefined {
  return file?.clientId && file.clientSecret ? { clientId: file.clientId, clientSecret: file.clientSecret } : undefined
}

function layoutOf(file: TokenFile) {
  const l = layouts.get(file)
  if (!l) throw new Error('not a TokenFile returned by parseTokenFile/readTokenFile')
  return l
}

function invalid(message: string): OpsError {
  return new OpsError(message, { reason: 'TokenFileInvalid', hint: REAUTH_HINT })
}

function tooLarge(source: string, size: number): OpsError {
  return new OpsError(`${source} is ${size} bytes; token files are at most ${MAX_TOKEN_FILE_BYTES} bytes`, {
    reason: 'TokenFileTooLarge',
    hint: 'Check the path: this is not a token file. ' + REAUTH_HINT,
  })
}
