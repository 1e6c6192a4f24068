// The consent half of gmail-reauth end to end: a refresh token past Google's 7-day Testing
// limit, a consent that grants fewer scopes than required, the built-in flow in paste-back
// mode, and the external mode where the upstream `gmail-mcp reauth` (a fake with the real
// protocol, test/fixtures/gmail/fake-gmail-mcp.mjs) does the consent. One sandbox, in order:
// each describe starts from where the previous one left the token file.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resetFixtures } from '../k8s/fixtures.ts'
import { serviceAccountKubeconfig, RULES_WITHOUT_SECRET_CREATE } from '../k8s/service-account.ts'
import { startGmailEnv, SCOPES, type GmailEnv, type RunResult } from '../e2e/gmail-env.ts'
import { openProxiedSandbox, closeProxiedSandbox } from '../e2e/sandbox.ts'
import { worldWrite, type ApiProxy } from '../e2e/api-proxy.ts'
import type { ClusterView } from '../e2e/cluster.ts'
import { findLeaks, secretNeedles } from '../e2e/leaks.ts'
import { DAY } from '../oauth-server/index.ts'

const kubeconfig = inject('kubeconfig')

let env: GmailEnv
let proxy: ApiProxy
let view: ClusterView
let sets: string[]

beforeAll(async () => {
  ;({ env, proxy, view, sets } = await openProxiedSandbox(kubeconfig))
})
afterAll(() => closeProxiedSandbox(kubeconfig, { env, proxy }))

/** Runs the CLI and asserts it left the cluster and the token file exactly as they were. */
async function changesNothing(args: string[], opts: Parameters<GmailEnv['run']>[1] = {}): Promise<RunResult> {
  const before = await view.snapshot()
  const file = existsSync(env.tokenFile) ? readFileSync(env.tokenFile) : undefined
  const from = proxy.requests.length
  const r = await env.run(args, opts)
  expect(await view.snapshot()).toEqual(before)
  expect(existsSync(env.tokenFile) ? readFileSync(env.tokenFile) : undefined).toEqual(file)
  expect(proxy.requests.slice(from).filter(worldWrite)).toEqual([])
  return r
}

const syncedFromFile = async () => expect((await view.secretBytes())!.equals(readFileSync(env.tokenFile))).toBe(true)

describe('a refresh token past the 7-day Testing-mode limit', () => {
  it('--non-interactive: exit 4 (consent needed) with the SSH runbook, nothing changed', async () => {
    await env.seedTokenFile()
    env.standIn.control.advance(8 * DAY)
    const r = await changesNothing([...sets, '--non-interactive'])
    expect(r.code, r.stdout + r.stderr).toBe(4)
    expect(r.stdout).toContain('failed (exit 4)')
    const out = r.stdout
    expect(out).toMatch(/\[reauth\] FAILED.*needs an operator at a terminal: the refresh token is expired or revoked \(invalid_grant\)/)
    expect(out).toMatch(/ssh -L 8765:127\.0\.0\.1:8765 \S+@\S+/)
    expect(out).toMatch(/scripts\/gmail-reauth\.sh -- --set reauthMode=builtin --set loopbackPort=8765\n/)
    expect(out).toMatch(/\[verify-scopes\] blocked/)
  })

  it('external mode with gmail-mcp reauth (not installed here): refused before anything changes (exit 2), with the alternatives', async () => {
    const r = await changesNothing([...env.sets({ kubeconfig: proxy.kubeconfig, reauthMode: 'external', reauthCommand: 'gmail-mcp reauth' }), '--non-interactive'])
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.stdout).toMatch(/\[reauth\] REFUSED: reauthCommand "gmail-mcp reauth" cannot run: gmail-mcp is not on PATH; working alternatives: \(1\) the built-in consent.*--set reauthMode=builtin; \(2\) the public gmail-sdk's own consent/)
    expect(r.stderr).toContain('nothing was changed and no run was recorded')
    const dry = await changesNothing([...env.sets({ kubeconfig: proxy.kubeconfig, reauthMode: 'external', reauthCommand: 'gmail-mcp reauth' }), '--dry-run'])
    expect(dry.code, dry.stdout).toBe(2)
    expect(dry.stdout).toMatch(/gmail-mcp is not on PATH/)
  })

  it('external mode with gmail-mcp installed: the runbook runs it on the terminal and asks for no tunnel', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'credflow-bin-'))
    writeFileSync(join(bin, 'gmail-mcp'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
    try {
      const r = await changesNothing([...env.sets({ kubeconfig: proxy.kubeconfig, reauthMode: 'external', reauthCommand: 'gmail-mcp reauth' }), '--non-interactive'], { env: { PATH: `${bin}:${process.env.PATH}` } })
      expect(r.code, r.stdout + r.stderr).not.toBe(0)
      expect(r.stdout).toMatch(/ {2}1\. ssh \S+@\S+\n/)
      expect(r.stdout).toMatch(/scripts\/gmail-reauth\.sh -- --set reauthMode=external --set reauthCommand='gmail-mcp reauth' {3}\(runs gmail-mcp reauth on your terminal\)/)
    } finally {
      rmSync(bin, { recursive: true, force: true })
    }
  })

  it('the runbook names the configured loopback port', async () => {
    const r = await changesNothing([...env.sets({ kubeconfig: proxy.kubeconfig, loopbackPort: '9876' }), '--non-interactive'])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(/ssh -L 9876:127\.0\.0\.1:9876 /)
    expect(r.stdout).toMatch(/--set loopbackPort=9876\n/)
  })

  // The weekly case: the token is dead, so reauth must run first and map-key's sha256 is not
  // known. The steps after it still look at the cluster with what they know (their probe).
  it('--dry-run: the plan holds the server-side dry runs of the Secret replace and the restart; nothing changed', async () => {
    const before = await view.snapshot()
    const from = proxy.requests.length
    const r = await env.run([...sets, '--dry-run'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/\[reauth\] would consent Google account westsidebasketball@gmail\.com/)
    expect(r.stdout).toMatch(/\[update-secret\[basketball-api\]\] would replace Secret basketball-api\/gmail-oauth-token \(key gmail-westsidebasketball\.json <- the re-authenticated token file; .*server dry run of both passed\)/)
    expect(r.stdout).toMatch(/\[update-secret\[basketball-api\]\] planned in \S+: Secret basketball-api\/gmail-oauth-token age [\dsmhd.]+, key gmail-westsidebasketball\.json sha256:[0-9a-f]{12}, \d+ bytes; local file sha256:[0-9a-f]{12}/)
    expect(r.stdout).toMatch(/\[restart\[basketball-api\]\] would restart Deployment basketball-api\/basketball-api \(patch template annotation kubectl\.kubernetes\.io\/restartedAt after the Secret changes \(server dry run passed\)/)
    expect(r.stdout).toMatch(/\[verify-decode\[basketball-api\]\] would verify Secret basketball-api\/gmail-oauth-token/)
    expect(await view.snapshot()).toEqual(before)
    // Every write was a server-side dry run: the Secret's delete (with preconditions) and create, the Deployment's patch.
    const writes = proxy.requests.slice(from).filter(worldWrite)
    expect(writes.map((q) => `${q.method} ${q.path.split('?')[0]}`)).toEqual(expect.arrayContaining([
      'DELETE /api/v1/namespaces/basketball-api/secrets/gmail-oauth-token',
      'POST /api/v1/namespaces/basketball-api/secrets',
      'PATCH /apis/apps/v1/namespaces/basketball-api/deployments/basketball-api',
    ]))
    for (const q of writes) expect(q.path, `${q.method} ${q.path}`).toMatch(/[?&]dryRun=All\b/)
  })

  it('--dry-run as a ServiceAccount whose Role lacks create on Secrets is refused before any change (exit 2), naming the verb the Role lacks', async () => {
    const sa = await serviceAccountKubeconfig(kubeconfig, {
      namespace: 'basketball-api',
      name: 'gmail-dry-no-create',
      dir: env.dir,
      rules: RULES_WITHOUT_SECRET_CREATE,
    })
    const before = await view.snapshot()
    const r = await env.run([...env.sets({ kubeconfig: sa }), '--dry-run'])
    // The preflight asks the server (SelfSubjectAccessReview) before any node runs, dry run or not.
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.stdout).toMatch(/\[update-secret\[basketball-api\]\] REFUSED: the identity of context "gmail-dry-no-create@basketball-api" may not create secrets in namespace "basketball-api"; the run needs it before it changes anything/)
    expect(r.stdout).toMatch(/hint: grant it in the Role \(deploy\/rbac\.yaml lists every verb the workflow needs\); check: kubectl auth can-i create secrets -n basketball-api/)
    expect(r.stderr).toContain('dry run refused before any change: 1 problem(s)')
    expect(await view.snapshot()).toEqual(before)
  })

  it('--status with no earlier run: consent age and days left of the dead token, the command that fixes it, Secret age and rollout state', async () => {
    // The file was written 8 days ago (the stand-in's clock moved 8 days; this host's did not).
    const eightDaysAgo = new Date(Date.now() - 8 * DAY)
    utimesSync(env.tokenFile, eightDaysAgo, eightDaysAgo)
    const before = await view.snapshot()
    const from = proxy.requests.length
    const r = await env.run([...sets, '--status'], { env: { CREDFLOW_STATE_DIR: join(env.dir, 'fresh-state') } })
    expect(r.code, r.stderr).toBe(4) // dead: a person must consent
    expect(r.stdout).toMatch(/^DEAD since \w{3} \d\d:\d\d UTC: Google's deadline passed$/m)
    expect(await view.snapshot()).toEqual(before)
    // Read-only: the probes' writes are server-side dry runs (they surface RBAC and admission refusals).
    for (const q of proxy.requests.slice(from).filter(worldWrite)) expect(q.path).toMatch(/[?&]dryRun=All\b/)
    const out = r.stdout
    expect(out).toContain('last run: none recorded')
    const row = (node: string) => out.split('\n').find((l) => l.startsWith(node + ' ')) ?? `(no row ${node})\n${out}`
    expect(row('reauth')).toMatch(/✎ todo .*the refresh token is expired or revoked \(invalid_grant\); token is dead, re-auth needed now: cd \S+ && scripts\/gmail-reauth\.sh/)
    expect(row('reauth')).toMatch(/consent 8d0h ago \(estimate: token file modified .*\), 0d left: the 7-day deadline passed 1d0h ago/)
    expect(row('update-secret[basketball-api]')).toMatch(/Secret basketball-api\/gmail-oauth-token age [\dsmhd.]+, key gmail-westsidebasketball\.json sha256:[0-9a-f]{12}, \d+ bytes; local file sha256:[0-9a-f]{12}; would replace Secret/)
    expect(row('restart[basketball-api]')).toMatch(/Deployment basketball-api\/basketball-api: last restarted \S+; deployment "basketball-api" successfully rolled out; would restart Deployment/)
    expect(row('verify-decode[basketball-api]')).toMatch(/now: .*differs from the local file/)
  })
})

describe('a consent that grants only some of the scopes', () => {
  it('fails before the cluster is touched, naming the missing scopes, and keeps the working token file', async () => {
    await env.seedTokenFile()
    const working = readFileSync(env.tokenFile)
    env.standIn.control.advance(6 * 86_400_000) // consent due (reauthAfter 5d), the old token still works
    env.standIn.control.consentNext({ action: 'grant', scopes: SCOPES.slice(0, 2) })
    const before = await view.snapshot()
    const from = proxy.requests.length
    const r = await env.run([...sets, '--yes', '--interactive', '--set', 'reauthAfter=1ms'], { browser: 'loopback' })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(r.stdout).toMatch(/\[reauth\] consent received via loopback; granted 2 scope\(s\)/)
    expect(r.stdout).toMatch(/\[reauth\] FAILED.*not: https:\/\/www\.googleapis\.com\/auth\/gmail\.modify, https:\/\/www\.googleapis\.com\/auth\/gmail\.labels; .* was left as it was/)
    expect(r.stdout).toMatch(/\[reauth\] hint: .*tick every box/)
    expect(r.stdout).toMatch(/\[update-secret\[basketball-api\]\] blocked/)
    expect(readFileSync(env.tokenFile).equals(working)).toBe(true)
    expect(await view.snapshot()).toEqual(before)
    expect(proxy.requests.slice(from).filter(worldWrite)).toEqual([])
  })

  it('a narrower token written by another tool is not trusted: the next run asks for consent again', async () => {
    await env.seedTokenFile({ scopes: SCOPES.slice(0, 2) })
    // Without a browser the consent cannot happen: the point is that reauth wants one.
    const r = await changesNothing([...sets, '--non-interactive'])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(/\[reauth\] FAILED.*needs an operator at a terminal: .*gmail\.modify.*gmail\.labels/)
  })
})

describe('the built-in flow in paste-back mode', () => {
  it('takes the redirected URL pasted on stdin, then syncs (following the hint: --from reauth)', async () => {
    const consents = env.standIn.control.authorizations().length
    const r = await env.run([...sets, '--yes', '--interactive', '--from', 'reauth'], { browser: 'paste' })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout + r.stderr).toMatch(/paste the full address from its address bar here/)
    expect(r.stdout).toMatch(/\[reauth\] consent received via paste; granted 4 scope\(s\)/)
    expect(env.standIn.control.authorizations()).toHaveLength(consents + 1)
    await syncedFromFile()
  })
})

describe('external mode: the upstream gmail-mcp reauth does the consent', () => {
  let argvLog: string
  const external = (extra: string[] = [], more: Record<string, string> = {}) =>
    env.sets({ kubeconfig: proxy.kubeconfig, reauthMode: 'external', reauthCommand: env.fakeGmailMcpCommand(extra), ...more })
  const recordArgv = () => ({ FAKE_GMAIL_MCP_ARGV_LOG: argvLog })
  beforeAll(() => {
    argvLog = join(env.dir, 'gmail-mcp-argv.jsonl')
  })

  it('runs the command on the terminal, accepts the google-auth file it wrote, and syncs it', async () => {
    await resetFixtures(kubeconfig)
    rmSync(env.tokenFile)
    const r = await env.run([...external(), '--yes', '--interactive'], { browser: 'loopback', env: recordArgv() })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/\[reauth\] running \S+ \S+fake-gmail-mcp\.mjs reauth /)
    expect(r.stdout).toMatch(/Authentication complete\. Token saved to /) // the command had the terminal
    const file = readFileSync(env.tokenFile, 'utf8')
    expect(file).toMatch(/^\{"token": "ya29\.[^"]+", "refresh_token": "1\/\/[^"]+", "token_uri": /) // Credentials.to_json()
    expect(r.stdout).toMatch(/\[reauth\] token file \S+ now sha256:[0-9a-f]{12} \(google-auth\); refresh works for westsidebasketball@gmail\.com/)
    await syncedFromFile()
    expect(readFileSync(argvLog, 'utf8').trim().split('\n')).toHaveLength(1)
  })

  it('a command that exits non-zero fails reauth with a clear message; nothing changed', async () => {
    const r = await changesNothing([...external(['--exit', '3'], { reauthAfter: '0s' }), '--yes', '--interactive'], { env: recordArgv() })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/gmail-mcp: error: the OAuth flow was not completed/) // it had the terminal
    expect(r.stdout).toMatch(/\[reauth\] FAILED.*fake-gmail-mcp\.mjs reauth .* exited with 3; the token file was not accepted/)
    expect(r.stdout).toMatch(/\[reauth\] hint: run it by hand to see its error/)
  })

  it('a command that leaves the token file as it was fails reauth with a clear message; nothing changed', async () => {
    const r = await changesNothing([...external(['--no-write'], { reauthAfter: '0s' }), '--yes', '--interactive'], { browser: 'loopback', env: recordArgv() })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/Authentication complete \(token file left as it was\)/)
    expect(r.stdout).toMatch(/\[reauth\] FAILED.*finished but did not change \S+gmail-westsidebasktball\.json/)
    expect(r.stdout).toMatch(/\[reauth\] hint: the consent did not complete/)
  })

  it('no token material on the command line of the child, or anywhere else the tool wrote', async () => {
    const argvs = readFileSync(argvLog, 'utf8').trim().split('\n')
    expect(argvs.length).toBe(3)
    const needles = secretNeedles(env.standIn, [readFileSync(env.tokenFile)])
    expect(needles).toContain(env.client.secret)
    const s = (await view.secret())!
    expect(
      findLeaks(
        {
          ...Object.fromEntries(argvs.map((a, i) => [`gmail-mcp argv #${i}`, a])),
          ...Object.fromEntries(env.transcripts.map((t, i) => [`output #${i}`, t])),
          ...env.stateFiles(),
          'Secret annotations': JSON.stringify(s.metadata!.annotations),
        },
        needles,
      ),
    ).toEqual([])
  })
})

describe('the consent age follows the grant (a client in Production status: Google gives no expiry)', () => {
  it('a consent done by hand since the last run counts: its new refresh token voids the recorded time', async () => {
    const prod = await startGmailEnv({ kubeconfig, testing: false })
    try {
      await prod.seedTokenFile()
      const first = await prod.run([...prod.sets(), '--yes', '--non-interactive'])
      expect(first.code, first.stdout).toBe(0)
      // Make the recorded consent 6 days old: past reauthAfter (5d).
      const [run] = prod.runs()
      const file = join(prod.stateDir, 'gmail-reauth', 'runs', run.runId, 'state.json')
      const state = JSON.parse(readFileSync(file, 'utf8'))
      state.nodes.reauth.outputs.consentedAt = new Date(Date.now() - 6 * DAY).toISOString()
      writeFileSync(file, JSON.stringify(state))
      const due = await prod.run([...prod.sets(), '--non-interactive'])
      expect(due.code, due.stdout + due.stderr).toBe(4)
      expect(due.stdout).toMatch(/\[reauth\] FAILED.*consent is 6d0h old \(reauthAfter 5d\)/)

      await prod.seedTokenFile() // the operator consented by hand: a new refresh token
      const after = await prod.run([...prod.sets(), '--yes', '--non-interactive'])
      expect(after.code, after.stdout).toBe(0)
      expect(after.stdout).toMatch(/\[reauth\] cached in \S+: token works for westsidebasketball@gmail\.com \(google-auth file; gmail\.send \(granted\), .*\(granted\)\); consent [\dsm.]+ ago \(estimate: /)
    } finally {
      await prod.close()
    }
  })
})
