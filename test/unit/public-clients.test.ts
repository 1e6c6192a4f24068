// The public Python clients from PyPI (python/requirements.txt: gmail-sdk-ldraney, google-auth,
// google-auth-oauthlib) against the Google stand-in: what their consent sends, what file they
// write, and that credflow reads that file as its format and re-renders it byte for byte.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startGoogleStandIn, type GoogleStandIn, type ClientRecord } from '../oauth-server/index.ts'
import { parseTokenFile, serializeTokenFile } from '../../lib/oauth/token-file.ts'
import { PY_DIR, ROOT, playBrowser, runPython, venvPython, withSdkPort } from '../python/clients.ts'
import { runTool } from '../ops/tools.ts'

const ACCOUNT = 'westsidebasketball@gmail.com'
const GMAIL = (s: string) => `https://www.googleapis.com/auth/gmail.${s}`
/** gmail_sdk/auth.py 0.1.3 SCOPES, in its order. */
const SDK_SCOPES = [GMAIL('readonly'), GMAIL('send'), GMAIL('modify'), GMAIL('settings.basic'), 'https://mail.google.com/']

let g: GoogleStandIn
let client: ClientRecord
let dir: string
let python: string

/** A Desktop client JSON as Google's Cloud Console downloads it, its URIs on the stand-in. */
function clientJson(): string {
  return JSON.stringify({
    installed: {
      client_id: client.id,
      project_id: client.projectId,
      auth_uri: g.legacyAuthUrl,
      token_uri: g.endpoints.tokenUrl,
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_secret: client.secret,
      redirect_uris: ['http://localhost'],
    },
  })
}

beforeAll(async () => {
  python = venvPython()
  g = await startGoogleStandIn({ autoApprove: true, account: { email: ACCOUNT } })
  client = g.control.registerClient({ testing: true, type: 'installed' })
  dir = mkdtempSync(join(tmpdir(), 'credflow-pyclients-'))
})
afterAll(async () => {
  await g?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe("the gmail-sdk's own consent (GmailClient.authorize via scripts/gmail-sdk-consent.sh)", () => {
  let secrets: string
  let tokenFile: string

  it('is served on /o/oauth2/auth without PKCE, and writes the raw token response plus expires_at, mode 0600', async () => {
    secrets = join(dir, 'sdk')
    mkdirSync(secrets, { mode: 0o700 })
    writeFileSync(join(secrets, 'credentials.json'), clientJson(), { mode: 0o600 })
    tokenFile = join(secrets, 'gmail-westsidebasktball.json')
    const env = { CREDFLOW_TOKEN_FILE: tokenFile, CREDFLOW_AUTH_URL: g.legacyAuthUrl, CREDFLOW_TOKEN_URL: g.endpoints.tokenUrl, BROWSER: '' }
    const check = await runPython([join(ROOT, 'scripts/gmail-sdk-consent.sh'), '--check'], { env }).done
    expect(check.code, check.stderr).toBe(0)

    const r = await withSdkPort(async () => {
      const run = runPython([join(ROOT, 'scripts/gmail-sdk-consent.sh')], { env })
      // The headless "browser": the URL and the tunnel it needs are printed for the operator.
      const [, url] = await run.waitFor(/^ {2}(http\S+)$/m)
      await run.waitFor(/ssh -L 8090:127\.0\.0\.1:8090 \S+@\S+/)
      const location = await playBrowser(url)
      expect(location).toMatch(/^http:\/\/localhost:8090\/?\?.*code=4%2F0A/)
      return run.done
    })
    expect(r.code, r.stderr).toBe(0)

    const auth = g.control.lastAuthorization()!
    expect(g.control.requests().filter((q) => q.path === '/o/oauth2/auth')).toHaveLength(1)
    expect(auth.params).toMatchObject({ access_type: 'offline', prompt: 'consent', redirect_uri: 'http://localhost:8090', response_type: 'code' })
    expect(auth.params.code_challenge).toBeUndefined()
    expect(auth.params.scope.split(' ')).toEqual(SDK_SCOPES)

    const text = readFileSync(tokenFile, 'utf8')
    expect(Object.keys(JSON.parse(text))).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type', 'refresh_token_expires_in', 'expires_at'])
    expect(text).toMatch(/^\{\n {2}"access_token": "ya29\./) // json.dump(indent=2)
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600)
    const file = parseTokenFile(text)
    expect(file.format).toBe('gmail-sdk')
    expect(serializeTokenFile(file).reveal().equals(Buffer.from(text))).toBe(true)
  })

  it('--check says what is missing before anything runs: a token file not named gmail-ACCOUNT.json', async () => {
    const r = await runPython([join(ROOT, 'scripts/gmail-sdk-consent.sh'), '--check'], { env: { CREDFLOW_TOKEN_FILE: join(secrets, 'token.json') } }).done
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/writes gmail-ACCOUNT\.json, but tokenFile is named token\.json/)
  })

  it("the SDK's GmailClient reads the file beside credentials.json: get_profile(), then a forced refresh rewrites only the access token", async () => {
    const r = await runPython([python, join(PY_DIR, 'sdk_consumer.py'), 'westsidebasktball', secrets, g.url]).done
    expect(r.code, r.stderr).toBe(0)
    const facts = JSON.parse(r.stdout)
    expect(facts).toMatchObject({ email: ACCOUNT, emailAfterRefresh: ACCOUNT, readWithoutWrite: true, refreshed: true, sameRefreshToken: true })
    expect(facts.keysAfter).toEqual(facts.keysBefore)
    // credflow still reads the SDK's rewrite as the same format, byte for byte.
    const text = readFileSync(tokenFile)
    expect(serializeTokenFile(parseTokenFile(text)).reveal().equals(text)).toBe(true)
  })
})

describe('google-auth-oauthlib InstalledAppFlow + Credentials.to_json() + from_authorized_user_info', () => {
  it('consents on the client JSON auth_uri (/o/oauth2/auth, with PKCE), writes to_json(), which loads, refreshes and reads Gmail', async () => {
    const secretsFile = join(dir, 'client_secret.json')
    writeFileSync(secretsFile, clientJson(), { mode: 0o600 })
    const tokenFile = join(dir, 'token.json')
    const scopes = [GMAIL('send'), GMAIL('readonly'), GMAIL('modify'), GMAIL('labels')]
    const run = runPython([python, join(PY_DIR, 'google_auth_flow.py'), 'consent', secretsFile, tokenFile, ...scopes])
    const [, url] = await run.waitFor(/authorize this application: (http\S+)/)
    expect(url.startsWith(g.legacyAuthUrl + '?')).toBe(true)
    await playBrowser(url)
    const r = await run.done
    expect(r.code, r.stderr).toBe(0)
    expect(g.control.lastAuthorization()!.params).toMatchObject({ code_challenge_method: 'S256', access_type: 'offline', prompt: 'consent' })

    const text = readFileSync(tokenFile, 'utf8')
    const file = parseTokenFile(text)
    expect(file.format).toBe('google-auth')
    expect(file.scopes).toEqual(scopes)
    expect(serializeTokenFile(file).reveal().toString()).toBe(text)

    const use = await runPython([python, join(PY_DIR, 'google_auth_flow.py'), 'use', tokenFile, g.url]).done
    expect(use.code, use.stderr).toBe(0)
    expect(JSON.parse(use.stdout)).toMatchObject({ email: ACCOUNT, refreshed: true, sameRefreshToken: true, scopes })
  })
})

describe('the scripts that install and run them', () => {
  it('pass shellcheck', () => {
    const r = runTool('shellcheck', ['--severity=style', join(ROOT, 'scripts/python-clients.sh'), join(ROOT, 'scripts/gmail-sdk-consent.sh')])
    expect(r.stdout + r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('python-clients.sh: a warm run prints the venv --print-dir names, holding exactly the pinned versions', async () => {
    const warm = await runPython(['bash', join(ROOT, 'scripts/python-clients.sh')]).done
    expect(warm.code, warm.stderr).toBe(0)
    expect(warm.stdout.trim().split('\n').pop()).toBe(join(python, '../..'))
    const pins = Object.fromEntries(
      readFileSync(join(ROOT, 'python/requirements.txt'), 'utf8').split('\n').filter((l) => /^[A-Za-z]/.test(l)).map((l) => l.split('==')),
    )
    const code = 'import json, sys, importlib.metadata as m; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))'
    const r = await runPython([python, '-c', code, ...Object.keys(pins)]).done
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual(pins)
  })
})
