// gmail-reauth on the project's defaults with the real public Python clients (python/requirements.txt,
// from PyPI) on both sides: the operator's consent (the gmail-sdk's authorize(), InstalledAppFlow, or the
// built-in default) and the Secret's consumer (basketball-api's gmail-sdk GmailClient; google-auth's
// from_authorized_user_info), against the Google stand-in and the real control plane. The only --set
// flags are the sandbox's pointers (token file path, kubeconfig, stand-in endpoints, a free loopback port);
// reauthMode, reauthCommand, tokenFormat, clientSecretsFile and requiredScopes are the defaults.
// One sandbox, in order: each describe starts from where the previous one left the file and the Secret.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { GmailEnv, RunResult } from '../e2e/gmail-env.ts'
import { openProxiedSandbox, closeProxiedSandbox } from '../e2e/sandbox.ts'
import type { ApiProxy } from '../e2e/api-proxy.ts'
import type { ClusterView } from '../e2e/cluster.ts'
import { findLeaks, secretNeedles } from '../e2e/leaks.ts'
import { DAY } from '../oauth-server/index.ts'
import { parseTokenFile } from '../../lib/oauth/token-file.ts'
import { PY_DIR, ROOT, playBrowser, runPython, venvPython, withSdkPort } from '../python/clients.ts'

const kubeconfig = inject('kubeconfig')
const GMAIL = (s: string) => `https://www.googleapis.com/auth/gmail.${s}`
const SDK_KEYS = ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type', 'refresh_token_expires_in', 'expires_at']

let env: GmailEnv
let proxy: ApiProxy
let view: ClusterView
let python: string
let secretsDir: string
/** Only what points the workflow at the sandbox. */
let defaults: string[]

beforeAll(async () => {
  python = venvPython()
  ;({ env, proxy, view } = await openProxiedSandbox(kubeconfig))
  secretsDir = dirname(env.tokenFile)
  // Where the gmail-sdk keeps its Desktop client, as Google's download has it (auth_uri /o/oauth2/auth).
  const installed = JSON.parse(readFileSync(env.clientSecretsFile, 'utf8')).installed
  writeFileSync(join(secretsDir, 'credentials.json'), JSON.stringify({ installed: { ...installed, auth_uri: env.standIn.legacyAuthUrl } }), { mode: 0o600 })
  const e = env.standIn.endpoints
  defaults = Object.entries({
    tokenFile: env.tokenFile,
    kubeconfig: proxy.kubeconfig,
    authUrl: e.authUrl,
    tokenUrl: e.tokenUrl,
    tokeninfoUrl: e.tokeninfoUrl,
    gmailProfileUrl: e.gmailProfileUrl,
    loopbackPort: '0', // the default 8765 may be taken by another checkout's tests on this machine
    rolloutTimeout: '90s',
  }).flatMap(([k, v]) => ['--set', `${k}=${v}`])
})
afterAll(() => closeProxiedSandbox(kubeconfig, { env, proxy }))

const ok = (r: RunResult) => expect(r.code, r.stdout + r.stderr).toBe(0)
const secretUid = async () => (await view.secret())!.metadata!.uid!
const syncedFromFile = async () => expect((await view.secretBytes())!.equals(readFileSync(env.tokenFile))).toBe(true)

/** The gmail-sdk's authorize() through the repository's wrapper, the test playing the operator's browser. */
async function sdkConsent(): Promise<void> {
  const env_ = { CREDFLOW_TOKEN_FILE: env.tokenFile, CREDFLOW_AUTH_URL: env.standIn.legacyAuthUrl, CREDFLOW_TOKEN_URL: env.standIn.endpoints.tokenUrl, BROWSER: '' }
  const r = await withSdkPort(async () => {
    const run = runPython([join(ROOT, 'scripts/gmail-sdk-consent.sh')], { env: env_ })
    await playBrowser((await run.waitFor(/^ {2}(http\S+)$/m))[1])
    return run.done
  })
  expect(r.code, r.stderr).toBe(0)
}

/** basketball-api: a pod with the Secret mounted (its key as a file) beside credentials.json, running the gmail-sdk. */
async function consumerReadsSecret(): Promise<Record<string, unknown>> {
  const mount = join(env.dir, `mount-${Date.now()}`)
  mkdirSync(mount)
  writeFileSync(join(mount, 'gmail-westsidebasketball.json'), (await view.secretBytes())!)
  writeFileSync(join(mount, 'credentials.json'), readFileSync(join(secretsDir, 'credentials.json')))
  const r = await runPython([python, join(PY_DIR, 'sdk_consumer.py'), 'westsidebasketball', mount, env.standIn.url]).done
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

describe("the gmail-sdk's own consent, then the weekly run on the defaults", () => {
  it("authorize() writes gmail-westsidebasktball.json; verify-scopes accepts its grant (no gmail.labels, but https://mail.google.com/) and the run syncs it", async () => {
    rmSync(env.tokenFile, { force: true })
    await sdkConsent()
    const written = readFileSync(env.tokenFile)
    expect(Object.keys(JSON.parse(written.toString()))).toEqual(SDK_KEYS)
    expect(JSON.parse(written.toString()).scope.split(' ')).not.toContain(GMAIL('labels'))

    const r = await env.run([...defaults, '--yes'])
    ok(r)
    expect(r.stdout).toMatch(/\[reauth\] cached .*token works for westsidebasketball@gmail\.com \(gmail-sdk file; .*gmail\.labels by https:\/\/mail\.google\.com\//)
    expect(r.stdout).toMatch(/\[verify-scopes\] .*gmail\.send \(granted\), gmail\.readonly \(granted\), gmail\.modify \(granted\), gmail\.labels by https:\/\/mail\.google\.com\//)
    expect(r.stdout).toMatch(/\[map-key\] .*gmail-sdk\)/)
    expect(readFileSync(env.tokenFile)).toEqual(written) // never rewritten by the sync
    await syncedFromFile()
    const verify = env.runs().at(-1)!.nodes['verify-scopes']
    expect(verify.outputs?.coveredBy).toMatchObject({ [GMAIL('labels')]: 'https://mail.google.com/', [GMAIL('send')]: GMAIL('send') })
  })

  it("basketball-api's GmailClient reads the Secret's bytes as a mounted file beside credentials.json: get_profile(), and a forced refresh", async () => {
    const facts = await consumerReadsSecret()
    expect(facts).toMatchObject({ email: 'westsidebasketball@gmail.com', emailAfterRefresh: 'westsidebasketball@gmail.com', readWithoutWrite: true, refreshed: true, sameRefreshToken: true })
  })

  it('a refresh by the client between two syncs is synced in place: same grant, same Secret (uid kept)', async () => {
    const uid = await secretUid()
    const before = readFileSync(env.tokenFile)
    // The operator host's own gmail-sdk refreshes the local file (access_token and expires_at only).
    const r = await runPython([python, join(PY_DIR, 'sdk_consumer.py'), 'westsidebasktball', secretsDir, env.standIn.url]).done
    expect(r.code, r.stderr).toBe(0)
    expect(readFileSync(env.tokenFile).equals(before)).toBe(false)

    const sync = await env.run([...defaults, '--yes'])
    ok(sync)
    expect(sync.stdout).toMatch(/\[update-secret\[basketball-api\]\] .*in place/)
    expect(await secretUid()).toBe(uid)
    await syncedFromFile()
  })
})

describe('refusals true for the client in use, before anything changes', () => {
  /** Runs the CLI; asserts the cluster and the token file are as they were. */
  async function changesNothing(args: string[]): Promise<RunResult> {
    const before = await view.snapshot()
    const file = readFileSync(env.tokenFile)
    const r = await env.run(args)
    expect(await view.snapshot()).toEqual(before)
    expect(readFileSync(env.tokenFile)).toEqual(file)
    return r
  }
  const withSharing = ['--set', `requiredScopes=${JSON.stringify([GMAIL('send'), GMAIL('labels'), GMAIL('settings.sharing')])}`]

  it("a required scope the gmail-sdk never asks for (gmail.settings.sharing, which https://mail.google.com/ does not cover): no 'tick every box'", async () => {
    const r = await changesNothing([...defaults, ...withSharing, '--set', 'reauthMode=external', '--yes'])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/\[reauth\] FAILED.*the grant lacks https:\/\/www\.googleapis\.com\/auth\/gmail\.settings\.sharing, which the gmail-sdk's authorize\(\) \(scripts\/gmail-sdk-consent\.sh\) never asks for; nothing was changed/)
    expect(r.stdout).toMatch(/\[reauth\] hint: the gmail-sdk's authorize\(\) .*never asks Google for gmail\.settings\.sharing, so no consent with it can grant it: change requiredScopes/)
    expect(r.stdout).not.toMatch(/tick every box/i)
  })

  it('with the built-in consent, which asks for exactly requiredScopes, a new consent is what helps', async () => {
    const r = await changesNothing([...defaults, ...withSharing, '--non-interactive'])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(/\[reauth\] FAILED.*needs an operator at a terminal: the grant lacks https:\/\/www\.googleapis\.com\/auth\/gmail\.settings\.sharing: consent again and tick every box/)
  })

  it('--status and --dry-run say, before any consent is due, that a configured command is not on PATH', async () => {
    const missing = [...defaults, '--set', 'reauthMode=external', '--set', 'reauthCommand=gmail-mcp reauth']
    const status = await changesNothing([...missing, '--status'])
    expect(status.stdout).toMatch(/the next consent will not run as configured: reauthCommand "gmail-mcp reauth" cannot run: gmail-mcp is not on PATH; working alternatives: \(1\) the built-in consent/)
    expect(status.stdout).toMatch(/\(2\) the public gmail-sdk's own consent .*--set reauthCommand=scripts\/gmail-sdk-consent\.sh[;)\s]/)
    expect(status.stdout).not.toMatch(/gmail-sdk-consent\.sh \(not ready/) // the documented setup installed it
  })

  it('a real run whose consent is due is refused before any change with the same message (exit 2): no terminal handed over, no file or Secret touched', async () => {
    const r = await changesNothing([...defaults, '--set', 'reauthMode=external', '--set', 'reauthCommand=gmail-mcp reauth', '--set', 'reauthAfter=0s', '--yes', '--interactive'])
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.stdout).toMatch(/\[reauth\] REFUSED: reauthCommand "gmail-mcp reauth" cannot run: gmail-mcp is not on PATH; working alternatives/)
    expect(r.stdout).toMatch(/\[reauth\] hint: .*nothing was changed/)
    expect(r.stderr).toContain('nothing was changed and no run was recorded')
  })
})

describe('the weekly case on the defaults: the grant is past 7 days, the built-in consent runs', () => {
  it("writes the gmail-sdk's format (tokenFormat auto keeps the consumer's), with the client from credentials.json; a new grant, so the Secret is recreated", async () => {
    const uid = await secretUid()
    env.standIn.control.advance(8 * DAY)
    const dry = await env.run([...defaults, '--dry-run'])
    ok(dry)
    expect(dry.stdout).toMatch(/\[reauth\] would consent .*then write \S+gmail-westsidebasktball\.json as gmail-sdk\)\n/)
    // Another format for the consumer is said in the plan, with what it means.
    const other = await env.run([...defaults, '--set', 'tokenFormat=google-auth', '--dry-run'])
    ok(other)
    expect(other.stdout).toMatch(/as google-auth \(the file is gmail-sdk now: its consumer must read google-auth; tokenFormat=google-auth\)/)

    const r = await env.run([...defaults, '--yes', '--interactive'], { browser: 'loopback' })
    ok(r)
    const text = readFileSync(env.tokenFile, 'utf8')
    expect(Object.keys(JSON.parse(text))).toEqual(SDK_KEYS)
    expect(text).toMatch(/^\{\n {2}"access_token": /) // json.dump(indent=2), as the SDK writes it
    expect(parseTokenFile(text).format).toBe('gmail-sdk')
    // The built-in consent asks for exactly requiredScopes, with PKCE.
    const auth = env.standIn.control.lastAuthorization()!
    expect(auth.params.scope.split(' ').sort()).toEqual([GMAIL('labels'), GMAIL('modify'), GMAIL('readonly'), GMAIL('send')])
    expect(auth.params.code_challenge_method).toBe('S256')
    expect(await secretUid()).not.toBe(uid)
    await syncedFromFile()
    expect(await consumerReadsSecret()).toMatchObject({ email: 'westsidebasketball@gmail.com', refreshed: true, sameRefreshToken: true })
  })
})

describe("external mode with the default reauthCommand: the gmail-sdk's authorize() on the operator's terminal", () => {
  it('resolves to what the documented setup installed, runs, and its new grant is synced (recreated)', async () => {
    const uid = await secretUid()
    env.standIn.control.advance(8 * DAY)
    const external = [...defaults, '--set', 'reauthMode=external']
    const dry = await env.run([...external, '--dry-run'])
    ok(dry)
    expect(dry.stdout).toMatch(/\[reauth\] would consent .*run the gmail-sdk's authorize\(\) \(scripts\/gmail-sdk-consent\.sh\) on this terminal/)

    const r = await withSdkPort(async () => {
      const cli = env.spawn([...external, '--yes', '--interactive'])
      cli.child.stdin!.end()
      await playBrowser((await cli.waitFor(/^ {2}(http\S+\/o\/oauth2\/v2\/auth\?\S+)$/m))[1])
      return cli.done
    })
    ok(r)
    expect(r.stderr).toMatch(/ssh -L 8090:127\.0\.0\.1:8090 /) // the SDK's tunnel, told to the operator
    expect(Object.keys(JSON.parse(readFileSync(env.tokenFile, 'utf8')))).toEqual(SDK_KEYS)
    expect(env.standIn.control.lastAuthorization()!.params.code_challenge).toBeUndefined() // the SDK's request, no PKCE
    expect(await secretUid()).not.toBe(uid)
    await syncedFromFile()
  })
})

describe('google-auth-oauthlib InstalledAppFlow + Credentials.to_json() + from_authorized_user_info', () => {
  it('the to_json() file is recognised, synced byte for byte, and the consumer loads the Secret, refreshes and reads Gmail', async () => {
    const tokenFile = join(env.dir, 'token.json')
    const scopes = [GMAIL('send'), GMAIL('readonly'), GMAIL('modify'), GMAIL('labels')]
    const run = runPython([python, join(PY_DIR, 'google_auth_flow.py'), 'consent', join(secretsDir, 'credentials.json'), tokenFile, ...scopes])
    await playBrowser((await run.waitFor(/authorize this application: (http\S+)/))[1])
    expect((await run.done).code).toBe(0)

    const r = await env.run([...defaults, '--set', `tokenFile=${tokenFile}`, '--yes'])
    ok(r)
    expect(r.stdout).toMatch(/\[map-key\] .*google-auth\)/)
    expect((await view.secretBytes())!.equals(readFileSync(tokenFile))).toBe(true)

    const mounted = join(env.dir, 'mounted-token.json')
    writeFileSync(mounted, (await view.secretBytes())!)
    const use = await runPython([python, join(PY_DIR, 'google_auth_flow.py'), 'use', mounted, env.standIn.url]).done
    expect(use.code, use.stderr).toBe(0)
    expect(JSON.parse(use.stdout)).toMatchObject({ email: 'westsidebasketball@gmail.com', refreshed: true, sameRefreshToken: true, scopes })
  })
})

describe('what the runs printed', () => {
  it('holds no token material, nor does the run state', () => {
    const texts = { ...Object.fromEntries(env.transcripts.map((t, n) => [`transcript #${n}`, t])), ...env.stateFiles() }
    expect(findLeaks(texts, secretNeedles(env.standIn))).toEqual([])
  })
})
