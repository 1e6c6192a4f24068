// lib/oauth/token-file.ts: the three token file formats of /work/shared/research/google-oauth.md §1.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { OpsError } from '../../lib/errors.ts'
import { SecretValue } from '../../lib/secret-value.ts'
import type { TokenResponse } from '../../lib/oauth/google-client.ts'
import { MAX_TOKEN_FILE_BYTES, parseTokenFile, readTokenFile, renderTokenFile, serializeTokenFile, writeTokenFile } from '../../lib/oauth/token-file.ts'

const SEND = 'https://www.googleapis.com/auth/gmail.send'
const READONLY = 'https://www.googleapis.com/auth/gmail.readonly'
const CLIENT_ID = '123456789012-abcdefghijklmnopqrstuvwxyzabcdef.apps.googleusercontent.com'

// Produced by google-auth 2.48.0: Credentials(token=…, refresh_token=…, token_uri=…, client_id=…, client_secret=…,
// scopes=[send, readonly], expiry=datetime(2026,3,1,12,34,56,789012)).to_json()  (§1.1)
const GOOGLE_AUTH =
  '{"token": "ya29.a0AfB_fixture-access", "refresh_token": "1//0gFixtureRefresh-Token_xyz", "token_uri": "https://oauth2.googleapis.com/token", ' +
  `"client_id": "${CLIENT_ID}", "client_secret": "GOCSPX-fixtureSecret", ` +
  `"scopes": ["${SEND}", "${READONLY}"], "universe_domain": "googleapis.com", "account": "", "expiry": "2026-03-01T12:34:56.789012Z"}`
// Same library, account="José@example.com" and a whole-second expiry: ensure_ascii escapes, fraction dropped.
const GOOGLE_AUTH_UNICODE =
  '{"token": "ya29.x", "refresh_token": "1//0r", "token_uri": "https://oauth2.googleapis.com/token", "client_id": "id", "client_secret": "s", ' +
  '"scopes": ["a"], "universe_domain": "googleapis.com", "account": "Jos\\u00e9@example.com", "expiry": "2026-03-01T12:34:56Z"}'
// google-auth before 2.25 wrote neither universe_domain nor account (§1.1).
const GOOGLE_AUTH_OLD =
  `{"token": "ya29.old", "refresh_token": "1//0old", "token_uri": "https://oauth2.googleapis.com/token", "client_id": "${CLIENT_ID}", ` +
  `"client_secret": "GOCSPX-old", "scopes": ["${SEND}"], "expiry": "2024-01-01T00:00:00Z"}`
// The Node quickstart's authorized_user shape (§1.4): readable by Python too, kept as google-auth.
const AUTHORIZED_USER = `{"type":"authorized_user","client_id":"${CLIENT_ID}","client_secret":"GOCSPX-node","refresh_token":"1//0node"}\n`
// Python json.dumps(token, indent=2) of a raw token response plus expires_at = time.time() + expires_in (§1.5).
const GMAIL_SDK =
  '{\n  "access_token": "ya29.a0Af",\n  "expires_in": 3599,\n  "refresh_token": "1//0gSdk",\n' +
  `  "scope": "${SEND}",\n  "token_type": "Bearer",\n  "expires_at": 1767270000.123456\n}`
const GMAIL_SDK_INTEGRAL = GMAIL_SDK.replace('1767270000.123456', '1767270000.0')
// JSON.stringify(tokens) from google-auth-library (§1.4), as GongRzhe/Gmail-MCP-Server writes it.
const NODE = `{"access_token":"ya29.a0Node","refresh_token":"1//0gNode","scope":"${SEND} ${READONLY}","token_type":"Bearer","expiry_date":1767270000000}`

const dir = mkdtempSync(join(tmpdir(), 'token-file-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function tokens(over: Partial<TokenResponse> = {}): TokenResponse {
  return {
    accessToken: new SecretValue('ya29.NEW-access'),
    refreshToken: new SecretValue('1//0NEW-refresh'),
    expiresIn: 3599,
    scope: [READONLY, SEND],
    tokenType: 'Bearer',
    receivedAt: new Date('2026-03-02T00:00:00.250Z'),
    ...over,
  }
}

describe('reads the three formats (§1.1, §1.4, §1.5)', () => {
  it('google-auth to_json(): tokens as SecretValues, client, requested scopes and the access-token expiry', () => {
    const f = parseTokenFile(GOOGLE_AUTH)
    expect(f.format).toBe('google-auth')
    expect(f.refreshToken).toBeInstanceOf(SecretValue)
    expect(f.refreshToken.revealString()).toBe('1//0gFixtureRefresh-Token_xyz')
    expect(f.accessToken?.revealString()).toBe('ya29.a0AfB_fixture-access')
    expect(f.clientId).toBe(CLIENT_ID)
    expect(f.clientSecret?.revealString()).toBe('GOCSPX-fixtureSecret')
    expect(f.scopes).toEqual([SEND, READONLY])
    expect(f.expiry?.toISOString()).toBe('2026-03-01T12:34:56.789Z')
    expect(f.tokenUri).toBe('https://oauth2.googleapis.com/token')
  })

  it('older google-auth and the authorized_user shape are google-auth too', () => {
    expect(parseTokenFile(GOOGLE_AUTH_OLD).format).toBe('google-auth')
    const u = parseTokenFile(AUTHORIZED_USER)
    expect(u).toMatchObject({ format: 'google-auth', clientId: CLIENT_ID, scopes: [] })
    expect(u.expiry).toBeUndefined()
  })

  it('accepts google-auth scopes as a space-separated string (§1.2)', () => {
    expect(parseTokenFile(GOOGLE_AUTH.replace(`["${SEND}", "${READONLY}"]`, `"${SEND} ${READONLY}"`)).scopes).toEqual([SEND, READONLY])
  })

  it('gmail-sdk: expires_at in float seconds, no client', () => {
    const f = parseTokenFile(GMAIL_SDK)
    expect(f).toMatchObject({ format: 'gmail-sdk', scopes: [SEND], clientId: undefined, clientSecret: undefined })
    expect(f.expiry?.getTime()).toBe(1767270000123)
  })

  it('node: expiry_date in ms and a space-delimited scope', () => {
    const f = parseTokenFile(NODE)
    expect(f).toMatchObject({ format: 'node', scopes: [SEND, READONLY] })
    expect(f.expiry?.getTime()).toBe(1767270000000)
    expect(f.accessToken?.revealString()).toBe('ya29.a0Node')
  })

  it('printing a parsed file shows fingerprints, never tokens', () => {
    const f = parseTokenFile(GOOGLE_AUTH)
    const shown = `${inspect(f, { depth: 5 })} ${JSON.stringify(f)} ${String(f.refreshToken)}`
    for (const s of ['1//0gFixtureRefresh-Token_xyz', 'ya29.a0AfB_fixture-access', 'GOCSPX-fixtureSecret']) expect(shown).not.toContain(s)
    expect(shown).toContain(f.refreshToken.fingerprint)
    expect(f.fingerprint).toMatch(/^sha256:[0-9a-f]{12}$/)
  })
})

describe('round-trips byte for byte', () => {
  it.each([
    ['google-auth', GOOGLE_AUTH],
    ['google-auth with ensure_ascii escapes', GOOGLE_AUTH_UNICODE],
    ['google-auth before 2.25', GOOGLE_AUTH_OLD],
    ['authorized_user with a trailing newline', AUTHORIZED_USER],
    ['gmail-sdk', GMAIL_SDK],
    ['gmail-sdk with an integral float (1767270000.0)', GMAIL_SDK_INTEGRAL],
    ['gmail-sdk with a trailing newline', GMAIL_SDK + '\n'],
    ['node', NODE],
    ['node, pretty-printed', JSON.stringify(JSON.parse(NODE), null, 2)],
  ])('%s', (_, text) => {
    expect(serializeTokenFile(parseTokenFile(text)).revealString()).toBe(text)
  })
})

describe('rewrites with new tokens in the same format and layout', () => {
  it('google-auth: new token, refresh_token and expiry; scopes kept in the file order when the grant is the same set', () => {
    const out = renderTokenFile(tokens(), { previous: parseTokenFile(GOOGLE_AUTH) }).revealString()
    expect(out).toBe(
      GOOGLE_AUTH.replace('ya29.a0AfB_fixture-access', 'ya29.NEW-access')
        .replace('1//0gFixtureRefresh-Token_xyz', '1//0NEW-refresh')
        .replace('2026-03-01T12:34:56.789012Z', '2026-03-02T00:59:59.250000Z'),
    )
  })

  it('google-auth: a refresh response (no refresh_token) keeps the old refresh token (§2.3)', () => {
    const out = JSON.parse(renderTokenFile(tokens({ refreshToken: undefined }), { previous: parseTokenFile(GOOGLE_AUTH) }).revealString())
    expect(out.refresh_token).toBe('1//0gFixtureRefresh-Token_xyz')
    expect(out.token).toBe('ya29.NEW-access')
  })

  it('google-auth: scopes become the granted ones when the grant differs (consumers send them back on refresh, §1.2)', () => {
    const out = JSON.parse(renderTokenFile(tokens({ scope: [READONLY] }), { previous: parseTokenFile(GOOGLE_AUTH) }).revealString())
    expect(out.scopes).toEqual([READONLY])
  })

  it('google-auth: the client that obtained the tokens replaces the old one', () => {
    const client = { clientId: 'new.apps.googleusercontent.com', clientSecret: new SecretValue('GOCSPX-new') }
    const out = JSON.parse(renderTokenFile(tokens(), { previous: parseTokenFile(GOOGLE_AUTH), client }).revealString())
    expect(out).toMatchObject({ client_id: 'new.apps.googleusercontent.com', client_secret: 'GOCSPX-new' })
  })

  it('google-auth: keeps the shape the consumer wrote (no universe_domain/account added; authorized_user stays minimal)', () => {
    const old = renderTokenFile(tokens(), { previous: parseTokenFile(GOOGLE_AUTH_OLD) }).revealString()
    expect(Object.keys(JSON.parse(old))).toEqual(['token', 'refresh_token', 'token_uri', 'client_id', 'client_secret', 'scopes', 'expiry'])
    const user = renderTokenFile(tokens(), { previous: parseTokenFile(AUTHORIZED_USER) }).revealString()
    expect(user).toBe(AUTHORIZED_USER.replace('1//0node', '1//0NEW-refresh'))
  })

  it('google-auth by default for a new file: to_json() key order, separators and expiry format (§1.1, §8 step 4)', () => {
    const client = { clientId: CLIENT_ID, clientSecret: new SecretValue('GOCSPX-fixtureSecret') }
    const out = renderTokenFile(tokens({ scope: [SEND, READONLY], receivedAt: new Date('2026-03-01T11:34:57Z') }), { client }).revealString()
    expect(out).toBe(
      '{"token": "ya29.NEW-access", "refresh_token": "1//0NEW-refresh", "token_uri": "https://oauth2.googleapis.com/token", ' +
        `"client_id": "${CLIENT_ID}", "client_secret": "GOCSPX-fixtureSecret", "scopes": ["${SEND}", "${READONLY}"], ` +
        '"universe_domain": "googleapis.com", "account": "", "expiry": "2026-03-01T12:34:56Z"}',
    )
    // Python reads expiry with strptime("%Y-%m-%dT%H:%M:%S") after dropping "Z" and the fraction (§1.2).
    expect(parseTokenFile(out).expiry?.toISOString()).toBe('2026-03-01T12:34:56.000Z')
  })

  it('gmail-sdk: raw response fields, expires_at as a Python float, indent=2', () => {
    const out = renderTokenFile(tokens({ receivedAt: new Date(1767270000000) }), { previous: parseTokenFile(GMAIL_SDK) }).revealString()
    expect(out).toBe(
      '{\n  "access_token": "ya29.NEW-access",\n  "expires_in": 3599,\n  "refresh_token": "1//0NEW-refresh",\n' +
        `  "scope": "${READONLY} ${SEND}",\n  "token_type": "Bearer",\n  "expires_at": 1767273599.0\n}`,
    )
  })

  it('gmail-sdk: new response fields go before expires_at, stale ones are dropped', () => {
    const prev = parseTokenFile(GMAIL_SDK.replace('"token_type": "Bearer",', '"token_type": "Bearer",\n  "id_token": "old.jwt.x",'))
    const out = JSON.parse(renderTokenFile(tokens({ refreshTokenExpiresIn: 604799 }), { previous: prev }).revealString())
    expect(Object.keys(out)).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type', 'refresh_token_expires_in', 'expires_at'])
  })

  it('node: expiry_date in ms, no expires_in, JSON.stringify layout', () => {
    const out = renderTokenFile(tokens({ scope: [SEND, READONLY], receivedAt: new Date(1767270000000), refreshToken: undefined }), { previous: parseTokenFile(NODE) }).revealString()
    expect(out).toBe(`{"access_token":"ya29.NEW-access","refresh_token":"1//0gNode","scope":"${SEND} ${READONLY}","token_type":"Bearer","expiry_date":1767273599000}`)
  })

  it('converts when a format is asked for explicitly', () => {
    const out = renderTokenFile(tokens(), { previous: parseTokenFile(GOOGLE_AUTH), format: 'node' }).revealString()
    expect(parseTokenFile(out)).toMatchObject({ format: 'node' })
  })

  it('refuses a google-auth file without a known client, and any file without a refresh token', () => {
    expect(() => renderTokenFile(tokens())).toThrow(expect.objectContaining({ reason: 'ClientMissing' }))
    expect(() => renderTokenFile(tokens({ refreshToken: undefined }), { format: 'node' })).toThrow(expect.objectContaining({ reason: 'NoRefreshToken' }))
  })
})

describe('writeTokenFile', () => {
  it('replaces the file atomically with mode 0600 and reports whether the bytes changed', () => {
    const path = join(dir, 'write', 'token.json')
    mkdirSync(join(dir, 'write'))
    writeFileSync(path, GOOGLE_AUTH, { mode: 0o644 })
    chmodSync(path, 0o644)
    const first = writeTokenFile(path, tokens(), { previous: readTokenFile(path) })
    expect(first).toMatchObject({ format: 'google-auth', changed: true })
    expect(statSync(path).mode & 0o777).toBe(0o600)
    const written = readFileSync(path, 'utf8')
    expect(first.fingerprint).toBe(new SecretValue(written).fingerprint)
    expect(readTokenFile(path).refreshToken.revealString()).toBe('1//0NEW-refresh')
    expect(writeTokenFile(path, tokens(), { previous: readTokenFile(path) }).changed).toBe(false)
    expect(readdirSync(join(dir, 'write'))).toEqual(['token.json']) // no temp files left behind
  })
})

describe('rejects bad files with messages that never echo their content', () => {
  const SECRET = '1//0SUPER-secret-refresh'
  const ACCESS = 'ya29.SUPER-secret-access'
  const cases: Array<[string, string, string]> = [
    ['invalid JSON', `{"refresh_token": "${SECRET}", "token": "${ACCESS}"`, 'TokenFileInvalid'],
    ['invalid JSON starting with a token', `${ACCESS} ${SECRET}`, 'TokenFileInvalid'],
    ['a JSON array', `["${SECRET}"]`, 'TokenFileInvalid'],
    ['a JSON string', `"${SECRET}"`, 'TokenFileInvalid'],
    ['an unknown format', `{"credential": "${SECRET}", "${ACCESS}": 1}`, 'TokenFileUnknownFormat'],
    ['an oauth2client file (§1.5)', `{"access_token": "${ACCESS}", "refresh_token": "${SECRET}", "token_expiry": "2020-01-01T00:00:00Z", "_module": "oauth2client.client"}`, 'TokenFileUnknownFormat'],
    ['no refresh_token', `{"token": "${ACCESS}", "client_id": "x", "client_secret": "y"}`, 'NoRefreshToken'],
    ['an empty refresh_token', `{"access_token": "${ACCESS}", "refresh_token": "", "expiry_date": 1}`, 'NoRefreshToken'],
    ['a non-string refresh_token', `{"token": "${ACCESS}", "refresh_token": 42}`, 'TokenFileInvalid'],
    ['scopes of the wrong type', `{"token": "${ACCESS}", "refresh_token": "${SECRET}", "scopes": {"a": 1}}`, 'TokenFileInvalid'],
    ['an expiry with an offset, which google-auth cannot load (§1.2)', `{"token": "${ACCESS}", "refresh_token": "${SECRET}", "expiry": "2026-03-01T12:00:00+00:00"}`, 'TokenFileInvalid'],
    ['a non-numeric expires_at', `{"access_token": "${ACCESS}", "refresh_token": "${SECRET}", "expires_at": "${SECRET}"}`, 'TokenFileInvalid'],
    ['an empty file', '  \n', 'TokenFileInvalid'],
    ['more than 64 KiB', `{"refresh_token": "${SECRET}", "token": "${ACCESS}", "pad": "${'x'.repeat(MAX_TOKEN_FILE_BYTES)}"}`, 'TokenFileTooLarge'],
  ]

  it.each(cases)('%s', (_, text, reason) => {
    const path = join(dir, `bad-${reason}-${Math.random().toString(36).slice(2)}.json`)
    writeFileSync(path, text)
    for (const attempt of [() => parseTokenFile(text), () => readTokenFile(path)]) {
      let err: unknown
      try {
        attempt()
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(OpsError)
      const e = err as OpsError
      expect(e.reason).toBe(reason)
      expect(e.hint).toBeTruthy()
      const shown = `${e.message} ${e.hint} ${inspect(e, { depth: 5 })}`
      expect(shown).not.toContain(SECRET)
      expect(shown).not.toContain(ACCESS)
      expect(shown).not.toContain('SUPER-secret')
    }
  })

  it('names the missing path and says how to create the file', () => {
    expect(() => readTokenFile(join(dir, 'nope.json'))).toThrow(expect.objectContaining({ reason: 'TokenFileMissing', hint: expect.stringContaining('gmail-reauth') }))
    expect(() => readTokenFile(dir)).toThrow(expect.objectContaining({ reason: 'TokenFileInvalid' }))
  })

  it('points at the syntax error by position only', () => {
    expect(() => parseTokenFile('{"refresh_token": "1//0x",}')).toThrow(/not valid JSON \(syntax error at byte \d+\)/)
  })
})
