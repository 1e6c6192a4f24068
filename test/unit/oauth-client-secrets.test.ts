// lib/oauth/client-secrets.ts: the Desktop client download (/work/shared/research/google-oauth.md §1.3, §2.1, §2.4).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { SecretValue } from '../../lib/secret-value.ts'
import { parseClientSecrets, readClientSecrets, resolveClient } from '../../lib/oauth/client-secrets.ts'

const SECRET = 'GOCSPX-client-secret-value'
// Shape of a Desktop download (levz0r/gmail-tester #45, quoted in §1.3).
const DESKTOP = JSON.stringify({
  installed: {
    client_id: '123-abc.apps.googleusercontent.com',
    project_id: 'credflow',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_secret: SECRET,
    redirect_uris: ['http://localhost'],
  },
})

const dir = mkdtempSync(join(tmpdir(), 'client-secrets-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('parseClientSecrets', () => {
  it('reads the installed section; the secret is a SecretValue', () => {
    const c = parseClientSecrets(DESKTOP)
    expect(c).toMatchObject({ clientId: '123-abc.apps.googleusercontent.com', projectId: 'credflow', redirectUris: ['http://localhost'] })
    expect(c.clientSecret.revealString()).toBe(SECRET)
    expect(inspect(c)).not.toContain(SECRET)
  })

  it.each([
    ['a Web application client (exact redirect URIs; the loopback port varies, §2.1)', JSON.stringify({ web: { client_id: 'w', client_secret: SECRET } }), /Web application/],
    ['no installed section', JSON.stringify({ other: {} }), /no "installed" section/],
    ['no client_secret', JSON.stringify({ installed: { client_id: 'x' } }), /lacks client_secret/],
    ['invalid JSON', `{"installed": {"client_secret": "${SECRET}"`, /not valid JSON/],
  ])('refuses %s without echoing the secret', (_, text, message) => {
    let err: any
    try {
      parseClientSecrets(text)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ reason: 'ClientSecretsInvalid' })
    expect(err.message).toMatch(message)
    expect(err.hint).toContain('Desktop app')
    expect(`${err.message} ${inspect(err)}`).not.toContain(SECRET)
  })

  it('readClientSecrets names the file', () => {
    const path = join(dir, 'client.json')
    writeFileSync(path, DESKTOP)
    expect(readClientSecrets(path).clientId).toBe('123-abc.apps.googleusercontent.com')
    expect(() => readClientSecrets(join(dir, 'missing.json'))).toThrow(/missing\.json: ENOENT/)
  })
})

describe('resolveClient: the token is bound to its client (§2.4)', () => {
  const secrets = { clientId: 'a.apps.googleusercontent.com', clientSecret: new SecretValue('GOCSPX-a') }

  it("prefers the token file's own id and secret", () => {
    const own = { clientId: 'own', clientSecret: new SecretValue('GOCSPX-own') }
    expect(resolveClient(own, secrets).clientId).toBe('own')
  })

  it('falls back to the client secrets file when the token file has none (gmail-sdk, node)', () => {
    expect(resolveClient({}, secrets)).toEqual(secrets)
    expect(resolveClient({ clientId: secrets.clientId }, secrets).clientSecret.revealString()).toBe('GOCSPX-a')
  })

  it('refuses a client secrets file for another client, and no client at all', () => {
    expect(() => resolveClient({ clientId: 'b.apps.googleusercontent.com' }, secrets)).toThrow(expect.objectContaining({ reason: 'ClientMismatch' }))
    expect(() => resolveClient({})).toThrow(expect.objectContaining({ reason: 'ClientMissing', hint: expect.stringContaining('--set clientSecretsFile=<path>') }))
  })
})
