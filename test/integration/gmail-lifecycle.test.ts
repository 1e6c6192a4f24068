// gmail-reauth end to end, as an operator runs it: the real CLI (a child process) against the
// real control plane and the Google stand-in. One sandbox walks the lifecycle in order: a dry
// run that changes nothing, the first real run (built-in consent over the loopback redirect),
// a second run that finds everything done, --status, and a leak scan of all they wrote.
// The CLI reaches the apiserver through a recording proxy (test/e2e/api-proxy.ts), so the
// tests can say which requests it made, not only what the cluster looks like afterwards.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { hostname } from 'node:os'
import { FIXTURE, FIXTURE_TOKEN_JSON } from '../k8s/fixtures.ts'
import type { GmailEnv } from '../e2e/gmail-env.ts'
import { openProxiedSandbox, closeProxiedSandbox } from '../e2e/sandbox.ts'
import { isLeaseRequest, MUTATING, worldWrite, type ApiProxy } from '../e2e/api-proxy.ts'
import { RESTARTED_AT, type ClusterView, type WorldSnapshot } from '../e2e/cluster.ts'
import { findLeaks, secretNeedles } from '../e2e/leaks.ts'

const kubeconfig = inject('kubeconfig')
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
const EXTRA = { data: { 'other-key.txt': 'kept across the refresh' }, labels: { team: 'basketball' }, annotations: { 'example.com/owner': 'ops' } }
// Consent and refresh times are on the apiserver's clock, learnt from Date headers (whole
// seconds, so +-0.5 s), and the consent time comes from Google's refresh_token_expires_in (whole
// seconds): compared with this host's clock (the run's start, restartedAt), they agree up to
// that resolution, which a run that consents, writes and restarts within a second crosses.
const RESOLUTION_MS = 2000

let env: GmailEnv
let proxy: ApiProxy
let view: ClusterView
let sets: string[]
let beforeFirstRun: WorldSnapshot
let firstRun: { startedAt: number; finishedAt: number; requestsFrom: number }

beforeAll(async () => {
  ;({ env, proxy, view, sets } = await openProxiedSandbox(kubeconfig, { decorate: EXTRA }))
})
afterAll(() => closeProxiedSandbox(kubeconfig, { env, proxy }))

describe('--dry-run', () => {
  it('prints concrete changes with key, size and fingerprints, and changes nothing', async () => {
    const token = await env.seedTokenFile()
    const before = await view.snapshot()
    const from = proxy.requests.length

    const r = await env.run([...sets, '--dry-run'])

    expect(r.code, r.stdout + r.stderr).toBe(0)
    const out = r.stdout
    const line = /would replace Secret basketball-api\/gmail-oauth-token \(key gmail-westsidebasketball\.json <- gmail-westsidebasktball\.json \((\d+) bytes, sha256:([0-9a-f]{12}) -> sha256:([0-9a-f]{12})\)/.exec(out)
    expect(line, out).not.toBeNull()
    expect(Number(line![1])).toBe(token.length)
    expect(line![2]).toBe(sha256(FIXTURE_TOKEN_JSON).slice(0, 12))
    expect(line![3]).toBe(sha256(token).slice(0, 12))
    expect(out).toContain(`would delete Secret ${FIXTURE.namespace}/${FIXTURE.staleSecret}`)
    expect(out).toContain(`would restart Deployment ${FIXTURE.namespace}/${FIXTURE.deployment}`)
    expect(out).toMatch(/dry run: nothing was changed/)

    expect(await view.snapshot()).toEqual(before)
    expect(readFileSync(env.tokenFile)).toEqual(token)
    expect(existsSync(env.stateDir)).toBe(false)
    // kubectl's meaning of --dry-run: the writes were sent, as server-side dry runs.
    const writes = proxy.requests.slice(from).filter(worldWrite)
    expect(writes.map((q) => q.method).sort()).toEqual(['DELETE', 'DELETE', 'PATCH', 'POST', 'POST'])
    for (const q of writes) expect(q.path, `${q.method} ${q.path}`).toMatch(/[?&]dryRun=All\b/)
    // The Lease a run would take: asked as a dry run too, and shown.
    const lease = proxy.requests.slice(from).filter((q) => isLeaseRequest(q) && MUTATING.has(q.method))
    expect(lease.map((q) => q.method)).toEqual(['POST'])
    expect(lease[0].path).toMatch(/[?&]dryRun=All\b/)
    expect(out).toContain('lock: Lease basketball-api/credflow-gmail-oauth-token: free (not created yet; a run creates it)')
  })
})

describe('the first run: built-in consent over the loopback redirect, then the sync', () => {
  it('succeeds', async () => {
    rmSync(env.tokenFile) // no token yet: the run must ask for consent
    beforeFirstRun = await view.snapshot()
    const requestsFrom = proxy.requests.length
    const startedAt = Date.now()
    const r = await env.run([...sets, '--yes', '--interactive'], { browser: 'loopback' })
    firstRun = { startedAt, finishedAt: Date.now(), requestsFrom }

    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/\[reauth\] consent received via loopback/)
    // The rollout's end is reported once, not once by the progress callback and again after it.
    expect(r.stdout.match(/\[restart\[basketball-api\]\] deployment "basketball-api" successfully rolled out/g)).toHaveLength(1)
    expect(env.standIn.control.authorizations()).toHaveLength(2) // the seed's consent, then this run's
    const [run] = env.runs()
    expect(run.status).toBe('succeeded')
    expect(run.nodes.reauth.status).toBe('succeeded')
  })

  it('puts the token file into data[key] byte for byte, keeping the other keys, labels and annotations', async () => {
    const token = readFileSync(env.tokenFile)
    const s = (await view.secret())!
    expect(Buffer.from(s.data![FIXTURE.key], 'base64').equals(token)).toBe(true)
    expect(Buffer.from(s.data!['other-key.txt'], 'base64').toString()).toBe(EXTRA.data['other-key.txt'])
    expect(s.metadata!.labels).toMatchObject({ app: 'basketball-api', ...EXTRA.labels })
    expect(s.metadata!.annotations).toMatchObject(EXTRA.annotations)
    expect(s.type).toBe('Opaque')
  })

  it('recreated the Secret: new uid and creationTimestamp', async () => {
    const s = (await view.secret())!
    expect(s.metadata!.uid).not.toBe(beforeFirstRun.secret!.uid)
    const created = new Date(s.metadata!.creationTimestamp!).getTime()
    expect(created).toBeGreaterThanOrEqual(Math.floor(firstRun.startedAt / 1000) * 1000)
    expect(created).toBeLessThanOrEqual(firstRun.finishedAt)
  })

  it('annotates refresh time, content sha256 and consent time, and nothing else of the token', async () => {
    const s = (await view.secret())!
    const a = s.metadata!.annotations!
    const refreshed = Date.parse(a['credflow.dev/refreshed-at'])
    expect(refreshed).toBeGreaterThanOrEqual(firstRun.startedAt - RESOLUTION_MS)
    expect(refreshed).toBeLessThanOrEqual(firstRun.finishedAt + RESOLUTION_MS)
    expect(a['credflow.dev/content-sha256']).toBe(sha256(readFileSync(env.tokenFile)))
    expect(Date.parse(a['credflow.dev/consented-at'])).toBeGreaterThanOrEqual(firstRun.startedAt - RESOLUTION_MS)
    expect(Object.keys(a).sort()).toEqual(['credflow.dev/consented-at', 'credflow.dev/content-sha256', 'credflow.dev/grant', 'credflow.dev/refreshed-at', 'credflow.dev/written-by', ...Object.keys(EXTRA.annotations)].sort())
    // Which grant (refresh token fingerprint) and who wrote it: what another host is told before it would replace it.
    expect(a['credflow.dev/grant']).toMatch(/^sha256:[0-9a-f]{12}$/)
    expect(a['credflow.dev/written-by']).toMatch(new RegExp(`^${hostname()} \\(run ${env.runs()[0].runId}, (terminal|ssh shell)\\)$`))
    const meta = JSON.stringify({ annotations: a, labels: s.metadata!.labels })
    expect(findLeaks({ 'Secret metadata': meta }, secretNeedles(env.standIn, [readFileSync(env.tokenFile)]))).toEqual([])
  })

  it('deleted the stale Secret', async () => {
    expect(beforeFirstRun.stale).toBeDefined()
    expect(await view.secret(FIXTURE.staleSecret)).toBeUndefined()
  })

  it('restarted the Deployment: every live pod is new (created after the refresh) and Ready', async () => {
    const s = (await view.secret())!
    const refreshedAt = Date.parse(s.metadata!.annotations!['credflow.dev/refreshed-at'])
    const d = await view.deployment()
    expect(Date.parse(d.spec!.template!.metadata!.annotations![RESTARTED_AT])).toBeGreaterThanOrEqual(refreshedAt - RESOLUTION_MS)
    const pods = await view.livePods()
    expect(pods).toHaveLength(d.spec!.replicas!)
    for (const p of pods) {
      expect(new Date(p.metadata!.creationTimestamp!).getTime(), p.metadata!.name).toBeGreaterThanOrEqual(Math.floor((refreshedAt - RESOLUTION_MS) / 1000) * 1000)
      expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.status, p.metadata!.name).toBe('True')
    }
    // Only the consumer: the worker in the same namespace is not restarted.
    expect((await view.deployment(FIXTURE.worker)).metadata!.generation).toBe(beforeFirstRun.worker.generation)
  })

  it('never touched the pal-e-mail PVC: not in any request, and unchanged', async () => {
    const pvc = await view.pvc()
    expect({ uid: pvc.metadata!.uid, resourceVersion: pvc.metadata!.resourceVersion }).toEqual(beforeFirstRun.pvc)
    const touching = proxy.requests.filter((q) => /persistentvolumeclaims|\/namespaces\/pal-e-mail\b/.test(q.path))
    expect(touching).toEqual([])
    expect(proxy.requests.length).toBeGreaterThan(firstRun.requestsFrom) // the proxy did see the run
  })

  it('removed the Secret backup once verify-decode passed', async () => {
    const [run] = env.runs()
    const runDir = join(env.stateDir, 'gmail-reauth', 'runs', run.runId)
    expect(readdirSync(runDir).filter((f) => f.startsWith('backup-'))).toEqual([])
    const events = readFileSync(join(runDir, 'events.jsonl'), 'utf8')
    expect(events).toMatch(/backed up the previous Secret to /) // there was one
    expect(events).toMatch(/removed the Secret backup kept by run\(s\) \S+/)
  })
})

describe('a second run right after', () => {
  it('finds every node done, verifies again, and does not restart again', async () => {
    const before = await view.snapshot()
    const from = proxy.requests.length
    const r = await env.run([...sets, '--json'])

    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    const byNode = Object.fromEntries(summary.nodes.map((n: { id: string; status: string }) => [n.id, n.status]))
    expect(byNode).toEqual({
      reauth: 'cached',
      'verify-scopes': 'cached',
      'map-key': 'cached',
      'update-secret[basketball-api]': 'cached',
      'record-expiry[basketball-api]': 'cached',
      'delete-stale[basketball-api]': 'cached',
      'restart[basketball-api]': 'cached',
      'verify-decode[basketball-api]': 'succeeded',
    })
    const after = await view.snapshot()
    expect(after.deployment.generation).toBe(before.deployment.generation)
    expect(after.deployment.restartedAt).toBe(before.deployment.restartedAt)
    expect(after.secret).toEqual(before.secret)
    expect(proxy.requests.slice(from).filter(worldWrite)).toEqual([])
    expect(env.standIn.control.authorizations()).toHaveLength(2) // no new consent
  })
})

describe('--status after the runs', () => {
  it('shows consent age and days left, Secret age and match, stale Secrets, rollout, last run and rotation policy', async () => {
    const before = await view.snapshot()
    const from = proxy.requests.length
    const r = await env.run([...sets, '--status'])

    expect(r.code, r.stderr).toBe(0)
    const out = r.stdout
    const lastRun = env.runs().at(-1)!
    expect(out).toContain(`last run ${lastRun.runId}: succeeded`)
    const row = (node: string) => out.split('\n').find((l) => l.startsWith(node + ' ')) ?? ''
    expect(row('reauth')).toMatch(/✔ done .*consent [\dsmhd.]+ ago \(google: Google's refresh_token_expires_in\), 6d\d+h left before the deadline/)
    expect(row('reauth')).toMatch(/rotation every 7d \(secrets registry platform\.gmail_oauth_token/)
    expect(row('update-secret[basketball-api]')).toMatch(/matches the local file \(sha256:[0-9a-f]{12}, \d+ bytes\); Secret age [\d.]+s/)
    expect(row('delete-stale[basketball-api]')).toContain(`stale Secret(s) absent: ${FIXTURE.namespace}/${FIXTURE.staleSecret}`)
    expect(row('restart[basketball-api]')).toMatch(/restarted \S+; deployment "basketball-api" successfully rolled out/)
    expect(row('verify-decode[basketball-api]')).toMatch(/succeeded +.*decodes to the local file byte for byte/)
    // Read-only.
    expect(await view.snapshot()).toEqual(before)
    expect(proxy.requests.slice(from).filter(worldWrite)).toEqual([])
  })
})

describe('no token material in anything the tool wrote', () => {
  it('stdout, stderr, --json, state.json, events.jsonl and Secret annotations hold no secret string', async () => {
    const needles = secretNeedles(env.standIn, [readFileSync(env.tokenFile)])
    // Sanity: the scan would see a leak (the token file holds a refresh token and the client secret).
    expect(needles).toContain(env.client.secret)
    expect(findLeaks({ 'token file': readFileSync(env.tokenFile, 'utf8') }, needles).length).toBeGreaterThanOrEqual(3)

    const files = env.stateFiles()
    expect(Object.keys(files).filter((f) => f.endsWith('state.json'))).toHaveLength(2)
    expect(Object.keys(files).filter((f) => f.endsWith('events.jsonl'))).toHaveLength(2)
    const s = (await view.secret())!
    const haystacks: Record<string, string> = {
      ...Object.fromEntries(env.transcripts.map((t, i) => [`run output #${i}`, t])),
      ...files,
      'Secret annotations': JSON.stringify(s.metadata!.annotations),
    }
    expect(env.transcripts.length).toBeGreaterThanOrEqual(8) // 4 runs, stdout and stderr each
    expect(findLeaks(haystacks, needles)).toEqual([])
  })
})
