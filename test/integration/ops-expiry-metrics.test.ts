// The expiry alerts end to end, as an SRE on kube-prometheus-stack would run them: the real CLI
// syncs the token (Google stand-in, real control plane), the real kube-state-metrics exports the
// CredentialExpiry object with the shipped config, and the real Prometheus evaluates the shipped
// rule file unchanged. For each way a token reaches the cluster, the series must equal the
// consent the stand-in recorded (mapped onto this host's clock), and the alerts must be quiet,
// pending or firing as that consent says, whatever kube_secret_created says.
//
// The stand-in's clock runs with this host's plus an offset: advancing it makes a consent lie
// days in the past without waiting days. Prometheus evaluates on this host's clock, so a
// deadline "in a day" is a day after the sync here.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { readFileSync, rmSync, utimesSync, writeFileSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { resetFixtures, adminKubeConfig, FIXTURE } from '../k8s/fixtures.ts'
import { startGmailEnv, type GmailEnv } from '../e2e/gmail-env.ts'
import { refreshRaw } from '../oauth-server/scripted.ts'
import { DAY, HOUR, type Clock } from '../oauth-server/index.ts'
import { startMonitoring, type Monitoring, RULES } from '../ops/monitoring.ts'
import { runToolAsync } from '../ops/tools.ts'
import { clusterView, type ClusterView } from '../e2e/cluster.ts'

const admin = inject('kubeconfig')
const runDir = inject('runDir')
const SEL = '{credential="platform.gmail_oauth_token"}'
const EXPIRY = `credflow_credential_expiration_timestamp_seconds${SEL}`
const CONSENT = `credflow_credential_consent_timestamp_seconds${SEL}`
/** Seconds of slack between the stand-in's record and the series: Google's countdown is in whole seconds, minus one. */
const SLACK_S = 3

let mon: Monitoring
let env: GmailEnv
let view: ClusterView
let offset = 0
/** Runs with the stand-in's clock: this host's, plus what the tests advanced. */
const clock: Clock = { now: () => Date.now() + offset, advance: (ms) => ((offset += ms), Date.now() + offset) }
/** Series recorded from the exporter along the way, replayed through promtool at the end. */
const recorded: { what: string; at: number; lines: string[] }[] = []

beforeAll(async () => {
  await resetFixtures(admin)
  view = await clusterView(admin)
  mon = await startMonitoring(admin, mkdtempSync(join(runDir, 'monitoring-')))
  env = await startGmailEnv({ kubeconfig: admin, clock })
}, 180_000)
afterAll(async () => {
  await mon?.stop()
  await env?.close()
  await resetFixtures(admin)
})

/** The stand-in's last consent, on this host's clock (the offset it had then is the one it has now). */
const standInConsent = () => (env.standIn.control.lastAuthorization()!.at - offset) / 1000

const one = async (expr: string) => {
  const v = await mon.query(expr)
  return v.length === 1 ? v[0] : undefined
}

/** Waits until Prometheus has scraped the consent `at` (Unix s) and the deadline `expires`. */
async function seriesAt(at: number, expires: number) {
  return mon.until(`consent ${at} and deadline ${expires} in Prometheus`, async () => {
    const [c, e] = [await one(CONSENT), await one(EXPIRY)]
    if (!c || !e || Math.abs(c.value - at) > SLACK_S || Math.abs(e.value - expires) > SLACK_S) return undefined
    return { consent: c, expiry: e }
  })
}

/** The alert's state once Prometheus evaluated the current series: pending, firing, or quiet (undefined). */
async function alertState(name: string) {
  await new Promise((r) => setTimeout(r, 2500)) // two evaluations after the scrape
  return (await mon.alerts(name))[0]
}

async function record(what: string) {
  const lines = [
    ...(await mon.exported('credflow_credential_expiration_timestamp_seconds')),
    ...(await mon.exported('credflow_credential_consent_timestamp_seconds')),
    ...(await mon.exported('credflow_credential_info')),
    ...(await mon.exported('kube_secret_info')).filter((l) => l.includes(`secret="${FIXTURE.secret}"`)),
    // What the old age alert read: replayed below to show it would stay quiet on a dying token.
    ...(await mon.exported('kube_secret_created')).filter((l) => l.includes(`secret="${FIXTURE.secret}"`)),
  ]
  recorded.push({ what, at: Date.now() / 1000, lines })
  return lines
}

const sync = (extra: Record<string, string> = {}, flags: string[] = ['--yes', '--non-interactive']) => env.run([...env.sets(extra), ...flags])

describe('consent and sync in one run', () => {
  it('exports the consent the stand-in recorded and the deadline 7 days later; no alert', async () => {
    rmSync(env.tokenFile, { force: true })
    const r = await env.run([...env.sets(), '--yes', '--interactive'], { browser: 'loopback' })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const at = standInConsent()
    const { expiry } = await seriesAt(at, at + 7 * 86_400)
    expect(expiry.labels).toMatchObject({ namespace: 'basketball-api', secret: 'gmail-oauth-token', key: 'gmail-westsidebasketball.json', credential: 'platform.gmail_oauth_token' })
    expect((await one(`credflow_credential_info${SEL}`))?.labels.source).toBe('google')
    for (const a of ['GmailOAuthTokenExpiresSoon', 'GmailOAuthTokenExpired', 'GmailOAuthTokenExpiryUnknown', 'GmailOAuthTokenSecretAbsent']) expect(await alertState(a), a).toBeUndefined()
    const lines = await record('fresh')
    // Nothing of the token in any label.
    for (const s of env.standIn.control.secretStrings()) expect(lines.join('\n')).not.toContain(s)
  })

  it('--status: healthy headline with the deadline, its source, exit 0; --json carries expiresAt, consentedAt, source', async () => {
    const r = await env.run([...env.sets(), '--status'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^healthy: expires in 6d 23h \(\w{3} \d{4}-\d\d-\d\d \d\d:\d\d UTC\)$/m)
    expect(r.stdout).toMatch(/consent .* google: Google's refresh_token_expires_in/)
    const j = JSON.parse((await env.run([...env.sets(), '--status', '--json'])).stdout)
    expect(j.health).toMatchObject({ state: 'healthy', source: 'google', exitCode: 0, drift: [] })
    expect(Math.abs(Date.parse(j.health.consentedAt) / 1000 - standInConsent())).toBeLessThan(SLACK_S)
    expect(Math.abs(Date.parse(j.health.expiresAt) / 1000 - standInConsent() - 7 * 86_400)).toBeLessThan(SLACK_S)
  })
})

describe('in-place sync of a refreshed access token (same grant)', () => {
  it('keeps the Secret (same uid) and the deadline', async () => {
    const before = (await one(EXPIRY))!.value
    const uid = (await view.secret())!.metadata!.uid
    const file = JSON.parse(readFileSync(env.tokenFile, 'utf8'))
    const fresh = await refreshRaw(env.standIn, env.client, file.refresh_token)
    writeFileSync(env.tokenFile, JSON.stringify({ ...file, token: (fresh.json as { access_token: string }).access_token }), { mode: 0o600 })
    const r = await sync()
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/updated Secret basketball-api\/gmail-oauth-token key .* in place/)
    expect((await view.secret())!.metadata!.uid).toBe(uid)
    expect(Math.abs((await one(EXPIRY))!.value - before)).toBeLessThanOrEqual(SLACK_S)
  })
})

describe('consent by hand, synced six days later', () => {
  it('counts from the consent, not from the Secret: the warning is pending although kube_secret_created is seconds old', async () => {
    // The cluster holds a grant from before the hand consent (the fixture's, never recorded by
    // credflow). The first test's grant would not do: on these clocks its consent lies after the
    // hand consent, and update-secret rightly refuses to put an older grant over a newer one.
    await resetFixtures(admin)
    await env.seedTokenFile() // the operator consented with another tool: a new refresh token
    clock.advance(6 * DAY)
    // An operator whose re-auth interval is the full week; with the default 5d the run would consent again.
    const r = await sync({ reauthAfter: '7d' })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const at = standInConsent() // six days before now, on this host's clock
    await seriesAt(at, at + 7 * 86_400)
    const created = (await one(`kube_secret_created{namespace="basketball-api",secret="gmail-oauth-token"}`))?.value ?? 0
    expect(Date.now() / 1000 - created).toBeLessThan(120) // the Secret was just recreated
    const a = await alertState('GmailOAuthTokenExpiresSoon')
    expect(a?.state).toBe('pending') // for: 10m; promtool below shows it firing after that
    expect(Math.abs(Number(a!.value) - (at + 7 * 86_400))).toBeLessThanOrEqual(SLACK_S)
    expect(a!.annotations.summary).toMatch(/^Gmail OAuth token for westsidebasketball@gmail\.com dies at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/)
    expect(a!.annotations.runbook_url).toBe('#runbook-the-weekly-one-minute-re-auth-over-ssh') // the rule file's README section (the deployer's URL goes in front)
    await record('expiring')
  })

  it('--status: EXPIRES IN headline, exit 5, and the command to run', async () => {
    const r = await env.run([...env.sets({ reauthAfter: '7d' }), '--status'])
    expect(r.code, r.stdout + r.stderr).toBe(5)
    expect(r.stdout).toMatch(/^EXPIRES IN 23h 5\dm \(\w{3} \d\d:\d\d UTC\): re-auth now$/m)
    expect(r.stdout).toMatch(/next: cd \S+ && scripts\/gmail-reauth\.sh/)
  })
})

describe('the Secret deleted and recreated from the same (old) token file', () => {
  it('the Secret-absent alert is pending while it is gone; after the recreate the warning is still active', async () => {
    const activeAt = (await mon.alerts('GmailOAuthTokenExpiresSoon'))[0]?.activeAt
    expect(activeAt).toBeTruthy()
    await view.core.deleteNamespacedSecret({ namespace: FIXTURE.namespace, name: FIXTURE.secret })
    expect((await mon.until('the Secret-absent alert', async () => (await mon.alerts('GmailOAuthTokenSecretAbsent'))[0])).state).toBe('pending')
    const r = await sync({ reauthAfter: '7d' })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    await mon.until('the Secret back in kube-state-metrics', async () => ((await mon.alerts('GmailOAuthTokenSecretAbsent')).length ? undefined : true))
    const created = (await one(`kube_secret_created{namespace="basketball-api",secret="gmail-oauth-token"}`))!.value
    expect(Date.now() / 1000 - created).toBeLessThan(120)
    // A brand-new Secret, an old consent: the warning never resolved.
    const a = await alertState('GmailOAuthTokenExpiresSoon')
    expect(a?.activeAt).toBe(activeAt)
  })
})

describe('first adoption: no CredentialExpiry, no run state', () => {
  it('the expiry-unknown alert is pending without the object; a sync from a fresh state directory writes the same deadline', async () => {
    const before = (await one(EXPIRY))!.value
    const k8s = await import('@kubernetes/client-node')
    const custom = (await adminKubeConfig(admin)).makeApiClient(k8s.CustomObjectsApi)
    await custom.deleteNamespacedCustomObject({ group: 'credflow.dev', version: 'v1', plural: 'credentialexpiries', namespace: FIXTURE.namespace, name: FIXTURE.secret })
    expect((await mon.until('the expiry-unknown alert', async () => (await mon.alerts('GmailOAuthTokenExpiryUnknown'))[0])).state).toBe('pending')
    const r = await env.run([...env.sets({ reauthAfter: '7d' }), '--yes', '--non-interactive'], { env: { CREDFLOW_STATE_DIR: join(env.dir, 'adopting-host') } })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const after = await mon.until('the deadline back', async () => (await one(EXPIRY))?.value)
    expect(Math.abs(after - before)).toBeLessThanOrEqual(SLACK_S)
    expect(await alertState('GmailOAuthTokenExpiryUnknown')).toBeUndefined()
  })
})

describe('a kube-state-metrics restart', () => {
  it('never reads fresh: the same deadline comes back and the warning is active again', async () => {
    const before = (await one(EXPIRY))!.value
    expect(await mon.alerts('GmailOAuthTokenExpiresSoon')).toHaveLength(1)
    await mon.restartKsm()
    const after = await mon.until('the deadline after the restart', async () => (await one(EXPIRY))?.value)
    expect(after).toBe(before)
    // The gap restarts the 10-minute `for` (a later warning, never a quiet one); it is no reason to page.
    const a = await mon.until('the warning active again', async () => (await mon.alerts('GmailOAuthTokenExpiresSoon'))[0])
    expect(Number(a.value)).toBe(before)
    expect((await mon.alerts('GmailOAuthTokenExpiryUnknown')).filter((x) => x.state === 'firing')).toEqual([])
  })
})

describe('a new grant moves the deadline', () => {
  it('the re-auth + sync resolves the warning within seconds (the rule asks within 15 minutes)', async () => {
    const r = await env.run([...env.sets(), '--yes', '--interactive'], { browser: 'loopback' })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const synced = Date.now()
    const at = standInConsent()
    await seriesAt(at, at + 7 * 86_400)
    await mon.until('the warning to resolve', async () => ((await mon.alerts('GmailOAuthTokenExpiresSoon')).length ? undefined : true))
    const resolvedInMs = Date.now() - synced
    console.log(`[expiry] warning resolved ${resolvedInMs} ms after the sync ended`)
    expect(resolvedInMs).toBeLessThan(15 * 60_000)
  })

  it('--status exits 4 with DEAD since ... for a token Google killed at its deadline', async () => {
    // A token file from a consent 8 days ago (this host's clock agrees: its mtime), never synced here.
    await env.seedTokenFile()
    clock.advance(8 * DAY)
    const eightDaysAgo = new Date(Date.now() - 8 * DAY)
    utimesSync(env.tokenFile, eightDaysAgo, eightDaysAgo)
    const r = await env.run([...env.sets(), '--status'], { env: { CREDFLOW_STATE_DIR: join(env.dir, 'another-host') } })
    expect(r.code, r.stdout + r.stderr).toBe(4)
    expect(r.stdout).toMatch(/^DEAD since \w{3} \d\d:\d\d UTC: Google's deadline passed$/m)
    expect(r.stdout).not.toMatch(/out of sync/i) // a dead token is not drift
  })
})

describe('no countdown from Google (a client not in Testing): estimate, then the operator states it', () => {
  let prod: GmailEnv
  beforeAll(async () => {
    await resetFixtures(admin)
    prod = await startGmailEnv({ kubeconfig: admin, testing: false })
  })
  afterAll(() => prod?.close())

  it('estimates from the token file, says so in the plan and --status, and exports source="estimate"', async () => {
    await prod.seedTokenFile()
    const written = Date.now() - (6 * DAY + 12 * HOUR)
    utimesSync(prod.tokenFile, new Date(written), new Date(written))
    const dry = await prod.run([...prod.sets({ reauthAfter: '7d' }), '--dry-run'])
    expect(dry.code, dry.stdout + dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/would create CredentialExpiry basketball-api\/gmail-oauth-token \(expires .*consent .*\(estimate: only the token file's times are known; state it with --set consentedAt=/)
    const r = await prod.run([...prod.sets({ reauthAfter: '7d' }), '--yes', '--non-interactive'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    await seriesAt(written / 1000, written / 1000 + 7 * 86_400)
    expect((await one(`credflow_credential_info${SEL}`))?.labels.source).toBe('estimate')
    expect((await alertState('GmailOAuthTokenExpiresSoon'))?.state).toBe('pending')
    const st = await prod.run([...prod.sets({ reauthAfter: '7d' }), '--status'])
    expect(st.code).toBe(5)
    expect(st.stdout).toMatch(/estimate: .*; an ESTIMATE \(the consent may be older\): state it with --set consentedAt=/)
  })

  it('--set consentedAt that is not a time, or in the future, is refused before anything is written (exit 2)', async () => {
    const before = (await one(EXPIRY))!.value
    for (const bad of ['yesterday', '2026-13-01T00:00:00Z', new Date(Date.now() + DAY).toISOString()]) {
      const r = await prod.run([...prod.sets({ reauthAfter: '7d', consentedAt: bad }), '--yes', '--non-interactive'])
      expect(r.code, `${bad}: ${r.stdout}${r.stderr}`).toBe(2)
      expect(r.stderr + r.stdout).toMatch(/consentedAt: must (be an RFC 3339 time|not be in the future)/)
    }
    expect((await one(EXPIRY))!.value).toBe(before)
  })

  it('--set consentedAt past the deadline: the stated time is exported and the expired alert fires at once', async () => {
    const stated = new Date(Math.floor(Date.now() / 1000) * 1000 - 7 * DAY - HOUR)
    const r = await prod.run([...prod.sets({ reauthAfter: '8d', consentedAt: stated.toISOString() }), '--yes', '--non-interactive'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    await seriesAt(stated.getTime() / 1000, stated.getTime() / 1000 + 7 * 86_400)
    expect((await one(`credflow_credential_info${SEL}`))?.labels.source).toBe('stated')
    const a = await mon.until('the expired alert', async () => (await mon.alerts('GmailOAuthTokenExpired'))[0])
    expect(a.state).toBe('firing')
    expect(a.labels.severity).toBe('critical')
    expect(a.annotations.summary).toMatch(/died at \d{4}-/)
    await record('dead')
  })
})

describe('promtool, fed with the series recorded from kube-state-metrics above', () => {
  it('warns 10 minutes after a day is left, goes critical at the deadline, and when the series or the Secret stay gone 15 minutes', async () => {
    const test = promtoolTest()
    const file = join(mkdtempSync(join(runDir, 'promtool-')), 'recorded.test.yaml')
    writeFileSync(file, test)
    const r = await runToolAsync('promtool', ['test', 'rules', file])
    expect(r.status, `${r.stdout}${r.stderr}\n${test}`).toBe(0)
    expect(r.stdout + r.stderr).toContain('SUCCESS')
  })

  it('fails with the old rule on kube_secret_created: the Secret of that six-day-old consent was seconds old, so the warning never came', async () => {
    const dir = mkdtempSync(join(runDir, 'promtool-old-rule-'))
    const text = readFileSync(RULES, 'utf8')
    const old = text.replace(/expr: credflow_credential_expiration_timestamp_seconds\{[^}]*\} < time\(\) \+ 86400 > time\(\)/, `expr: time() - kube_secret_created{namespace="basketball-api",secret="gmail-oauth-token"} > 6 * 86400`)
    expect(old).not.toBe(text)
    writeFileSync(join(dir, 'old.rules.yaml'), old)
    const rec = recorded.find((x) => x.what === 'expiring')!
    expect(rec.lines.some((l) => l.startsWith('kube_secret_created{')), rec.lines.join('\n')).toBe(true)
    writeFileSync(join(dir, 'recorded.test.yaml'), promtoolTest(join(dir, 'old.rules.yaml')))
    const r = await runToolAsync('promtool', ['test', 'rules', join(dir, 'recorded.test.yaml')])
    expect(r.status, r.stdout + r.stderr).not.toBe(0)
    expect(r.stdout + r.stderr).toMatch(/alertname: GmailOAuthTokenExpiresSoon/)
  })
})

/**
 * A promtool test from the recorded 'expiring' scrape: promtool's clock starts at 0, so every
 * timestamp is moved by the same amount (recording time -> 1h); labels are the exporter's own.
 */
function promtoolTest(ruleFile: string = RULES): string {
  const rec = recorded.find((r) => r.what === 'expiring')!
  const shift = rec.at - 3600
  const parse = (line: string) => {
    const m = /^(\S+?\{.*\}) (\S+)$/.exec(line)!
    return { series: m[1], value: Number(m[2]) }
  }
  const samples = rec.lines.map(parse)
  const expiry = samples.find((s) => s.series.startsWith('credflow_credential_expiration_timestamp_seconds'))!
  const deadline = Math.round(expiry.value - shift) // seconds on promtool's clock
  const warnFrom = deadline - 86_400
  const series = (keepFor: string) => samples.map((s) => {
    const v = s.series.includes('timestamp_seconds') || s.series.startsWith('kube_secret_created') ? Math.round(s.value - shift) : s.value
    return `      - series: '${s.series}'\n        values: '${v}x${keepFor}${keepFor === '3000' ? '' : ' stale'}'`
  }).join('\n')
  // What the rule file's annotations say for these labels and this value (promtool compares them too).
  const rules = (parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string; annotations: Record<string, string> }[] }[] }).groups[0].rules
  const human = (sec: number) => new Date(sec * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC')
  const annotations = (name: string, labels: Record<string, string>) =>
    Object.fromEntries(Object.entries(rules.find((r) => r.alert === name)!.annotations).map(([k, v]) => [k, v.replace(/\{\{ \$value \| humanizeTimestamp \}\}/g, human(deadline)).replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l) => labels[l])]))
  const alert = (t: number | string, name: string, exp: string) => `      - eval_time: ${typeof t === 'number' ? `${t}s` : t}\n        alertname: ${name}\n        exp_alerts: ${exp}`
  const labelsOf = (series: string) => Object.fromEntries([...series.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
  const exp = (labels: Record<string, string>, name?: string) => `\n          - exp_labels: ${JSON.stringify(labels)}${name ? `\n            exp_annotations: ${JSON.stringify(annotations(name, labels))}` : ''}`
  const own = labelsOf(expiry.series) // the exporter's labels carry through to the alert
  return [
    `rule_files: [${JSON.stringify(ruleFile)}]`,
    'evaluation_interval: 1m',
    'tests:',
    '  - name: recorded series of a token with a day left',
    '    interval: 1m',
    '    input_series:',
    series('3000'),
    '    alert_rule_test:',
    alert(warnFrom - 120, 'GmailOAuthTokenExpiresSoon', '[]'),
    alert(warnFrom + 300, 'GmailOAuthTokenExpiresSoon', '[]'), // pending
    alert(warnFrom + 900, 'GmailOAuthTokenExpiresSoon', exp({ ...own, severity: 'warning' }, 'GmailOAuthTokenExpiresSoon')),
    alert(deadline - 120, 'GmailOAuthTokenExpired', '[]'),
    alert(deadline + 60, 'GmailOAuthTokenExpiresSoon', '[]'),
    alert(deadline + 60, 'GmailOAuthTokenExpired', exp({ ...own, severity: 'critical' }, 'GmailOAuthTokenExpired')),
    alert('1h', 'GmailOAuthTokenExpiryUnknown', '[]'),
    alert('1h', 'GmailOAuthTokenSecretAbsent', '[]'),
    '  - name: the same series gone after 10 minutes (object deleted, exporter down)',
    '    interval: 1m',
    '    input_series:',
    series('10'),
    '    alert_rule_test:',
    alert('20m', 'GmailOAuthTokenExpiryUnknown', '[]'),
    alert('20m', 'GmailOAuthTokenSecretAbsent', '[]'),
    alert('30m', 'GmailOAuthTokenExpiryUnknown', exp({ credential: 'platform.gmail_oauth_token', namespace: 'basketball-api', secret: 'gmail-oauth-token', severity: 'critical' }, 'GmailOAuthTokenExpiryUnknown')),
    alert('30m', 'GmailOAuthTokenSecretAbsent', exp({ namespace: 'basketball-api', secret: 'gmail-oauth-token', severity: 'critical' }, 'GmailOAuthTokenSecretAbsent')),
    '',
  ].join('\n')
}
