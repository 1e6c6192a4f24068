// The crash and concurrency matrix (test/e2e/crash-matrix.ts, rendered into docs/reliability.md):
// the real CLI against the real plane, SIGKILLed by lib/crash-point.ts exactly at each point,
// then recovered by --resume and, separately, by a fresh run; then two hosts (two state
// directories, two host names) at once, and hosts whose clocks are off (libfaketime).
// After each case: the Secret holds the newest grant under its key, the stale Secret is gone,
// the Deployment rolled exactly once, no backup or temp file is left, nothing written holds a
// token, and the Lease is free again.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { FIXTURE } from '../k8s/fixtures.ts'
import type { GmailEnv, RunResult } from '../e2e/gmail-env.ts'
import { openProxiedSandbox, closeProxiedSandbox } from '../e2e/sandbox.ts'
import type { ApiProxy } from '../e2e/api-proxy.ts'
import type { ClusterView } from '../e2e/cluster.ts'
import { findLeaks, secretNeedles } from '../e2e/leaks.ts'
import { CONCURRENCY, CRASH_POINTS, RECOVERIES, MATRIX_BEGIN, MATRIX_END, renderMatrix, type Recovery } from '../e2e/crash-matrix.ts'
import { ROOT } from '../e2e/gmail-env.ts'
import { CONSENTED_AT_ANNOTATION } from '../../lib/k8s/secret-replace.ts'
import { toolPath } from '../ops/tools.ts'

const kubeconfig = inject('kubeconfig')
const ns = FIXTURE.namespace
const SECRET_PATH = `/api/v1/namespaces/${ns}/secrets/${FIXTURE.secret}`
const re = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

let env: GmailEnv
let proxy: ApiProxy
let view: ClusterView
let sets: string[]
const grants: Buffer[] = []
const started = performance.now()
let cliRuns = 0

beforeAll(async () => {
  ;({ env, proxy, view, sets } = await openProxiedSandbox(kubeconfig))
})
afterAll(async () => {
  const secs = ((performance.now() - started) / 1000).toFixed(0)
  process.stderr.write(`[crash-matrix] ${CRASH_POINTS.length * RECOVERIES.length} crash cases + concurrency, ${cliRuns} CLI runs, ${secs}s\n`)
  await closeProxiedSandbox(kubeconfig, { env, proxy })
})

/** A new consent on this host: a new grant in the token file. */
async function newGrant(): Promise<Buffer> {
  const bytes = await env.seedTokenFile()
  grants.push(bytes)
  return bytes
}

async function restoreStale(): Promise<void> {
  if (await view.secret(FIXTURE.staleSecret)) return
  await view.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: FIXTURE.staleSecret, namespace: ns }, type: 'Opaque', data: { 'token.json': Buffer.from('{"stale":true}').toString('base64') } } })
}

const generation = async () => (await view.deployment()).metadata!.generation!

function run(args: string[], extraEnv: Record<string, string> = {}, stateDir?: string): Promise<RunResult> {
  cliRuns++
  return env.run(args, { env: { ...extraEnv, ...(stateDir ? { CREDFLOW_STATE_DIR: stateDir } : {}) } })
}

/** Files anywhere under `dir` whose names say backup or temp. */
function leftovers(dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (/^backup-|\.tmp$|^lock\.(stale\.)?\d+\./.test(e.name)) out.push(p)
    }
  }
  walk(dir)
  return out
}

async function leaseRecord() {
  const k8s = await import('@kubernetes/client-node')
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(kubeconfig)
  return kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: FIXTURE.lease, namespace: ns })
}

/** The invariants every case ends with. */
async function expectWorldGood(o: { grant: Buffer; generationBefore: number; stateDirs?: string[]; rollouts?: number }) {
  const secret = await view.secretBytes()
  expect(secret?.equals(o.grant), 'the Secret holds the newest grant under its key').toBe(true)
  expect(await view.secret(FIXTURE.staleSecret), 'the stale Secret is gone').toBeUndefined()
  expect(await generation(), 'exactly one rollout').toBe(o.generationBefore + (o.rollouts ?? 1))
  for (const d of [env.stateDir, ...(o.stateDirs ?? []), dirname(env.tokenFile)]) expect(leftovers(d), `no backup or temp left in ${d}`).toEqual([])
  const lease = await leaseRecord()
  expect(lease.spec?.holderIdentity ?? '', 'the Lease is released').toBe('')
  const haystacks: Record<string, string> = { ...env.stateFiles(), lease: JSON.stringify(lease), secretMeta: JSON.stringify((await view.secret())!.metadata) }
  for (const d of o.stateDirs ?? []) for (const [k, v] of Object.entries(filesUnder(d))) haystacks[k] = v
  env.transcripts.forEach((t, i) => (haystacks[`output #${i}`] = t))
  expect(findLeaks(haystacks, secretNeedles(env.standIn, grants)), 'no token bytes in anything written').toEqual([])
}

function filesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    if (!existsSync(d)) return
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out[p] = readFileSync(p, 'utf8')
    }
  }
  walk(dir)
  return out
}

describe('docs/reliability.md', () => {
  it('holds the matrix as test/e2e/crash-matrix.ts defines it', () => {
    const doc = readFileSync(join(ROOT, 'docs/reliability.md'), 'utf8')
    const start = doc.indexOf(MATRIX_BEGIN)
    const end = doc.indexOf(MATRIX_END)
    expect(start, 'the crash-matrix markers').toBeGreaterThanOrEqual(0)
    expect(doc.slice(start, end + MATRIX_END.length)).toBe(renderMatrix())
  })
})

/** Concurrency case n of the table (1-based), titled by it; the last test checks every row has exactly one. */
const registered: number[] = []
function matrixCase(n: number, fn: () => Promise<void>): void {
  registered.push(n)
  const c = CONCURRENCY[n - 1]
  it(`${n}. ${c?.name ?? '(not in the table)'}: ${c?.expected ?? ''}`, fn)
}

describe('SIGKILL at each point, then --resume or a fresh run', () => {
  for (const c of CRASH_POINTS) {
    for (const recovery of RECOVERIES) {
      it(`${c.point}, then ${recovery === 'resume' ? '--resume' : 'a fresh run'}`, async () => {
        const grant = await newGrant()
        await restoreStale()
        const before = await generation()
        const killed = await run([...sets, '--yes'], { CREDFLOW_TEST_CRASH_AT: c.point })
        expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL')
        const crashed = env.runs().at(-1)!
        if (c.point === 'update-secret:deleted' && recovery === 'resume') await expectStatusAfterCrash(crashed)
        await recover(recovery, c.fresh === 'refuses' && recovery === 'fresh', crashed.runId)
        await expectWorldGood({ grant, generationBefore: before })
      })
    }
  }
})

/** What --status shows after a run died holding the Lease and a backup: both, with what to do. */
async function expectStatusAfterCrash(crashed: { runId: string; pid: number }): Promise<void> {
  const s = await run([...sets, '--status'])
  const lease = `Lease ${ns}/${FIXTURE.lease}`
  expect(s.stdout).toMatch(new RegExp(`lock:\n  ${re(lease)}: STALE: held by pid ${crashed.pid} on \\S+, run ${crashed.runId}, started from terminal, holding since \\S+Z \\(\\S+ ago\\), last renewed \\S+ ago, which is no longer running; the next run on this host takes it over at once\n`))
  const backup = `backup-secret-${ns}-${FIXTURE.secret}.json`
  expect(s.stdout).toMatch(new RegExp(`kept files:\n  run ${crashed.runId} keeps ${re(backup)} \\(\\S+ old, 0600\\): for that run's recovery; removed once a run verifies the new state \\(\\S+\\)\n$`))
}

async function recover(recovery: Recovery, refusesFresh: boolean, crashedRun: string): Promise<void> {
  if (recovery === 'resume') {
    const r = await run([...sets, '--yes', '--resume'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(env.runs().at(-1)!.runId).toBe(crashedRun)
    return
  }
  const r = await run([...sets, '--yes'])
  if (refusesFresh) {
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`is missing and run ${crashedRun} holds its backup`))
    const resumed = await run([...sets, '--yes', '--resume', crashedRun])
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    return
  }
  expect(r.code, r.stdout + r.stderr).toBe(0)
  // The crashed run's Lease is taken over at once: its pid is provably dead on this host.
  expect(r.stdout + r.stderr).toMatch(/took over Lease basketball-api\/credflow-gmail-oauth-token from pid \d+ on \S+.*(no longer running|belongs to another process)/)
}

describe('two hosts, two state directories', () => {
  const SSH = { CREDFLOW_TEST_HOSTNAME: 'operator-box', SSH_CONNECTION: '10.0.0.9 50022 10.0.0.2 22' }
  const FORGEJO = { CREDFLOW_TEST_HOSTNAME: 'forgejo-runner', FORGEJO_ACTIONS: 'true', GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'ops/credflow', GITHUB_RUN_NUMBER: '7' }
  let stateB: string
  let tokenB: string
  let setsB: string[]
  beforeAll(() => {
    stateB = join(env.dir, 'state-forgejo')
    tokenB = join(env.dir, 'forgejo-token.json')
    setsB = env.sets({ kubeconfig: proxy.kubeconfig, tokenFile: tokenB })
  })
  const deleteOfSecret = (q: { method: string; path: string }) => q.method === 'DELETE' && q.path.split('?')[0] === SECRET_PATH && !/dryRun=/.test(q.path)
  const runsIn = (dir: string) => (existsSync(join(dir, 'gmail-reauth', 'runs')) ? readdirSync(join(dir, 'gmail-reauth', 'runs')) : [])

  /** Host A (ssh) starts and is held at its DELETE of the Secret, Lease in hand; `during` runs meanwhile. */
  async function whileHeld(during: () => Promise<void>): Promise<RunResult> {
    const held = proxy.hold(deleteOfSecret)
    cliRuns++
    const a = env.spawn([...sets, '--yes'], { env: SSH })
    const h = await held
    try {
      await during()
    } finally {
      h.forward()
    }
    return a.done
  }

  matrixCase(1, async () => {
    const grant = await newGrant()
    copyFileSync(env.tokenFile, tokenB)
    await restoreStale()
    const before = await generation()
    const a = await whileHeld(async () => {
      const b = await run([...setsB, '--yes'], FORGEJO, stateB)
      expect(b.code, b.stdout + b.stderr).toBe(3)
      const aRun = env.runs().at(-1)!
      expect(b.stderr).toMatch(new RegExp(`another run holds Lease basketball-api/credflow-gmail-oauth-token: pid ${aRun.pid} on operator-box, run ${aRun.runId}, started from ssh shell, holding since \\S+Z \\(\\S+ ago\\)`))
      expect(b.stderr).toMatch(/hint: that run is on operator-box \(ssh shell\): wait for it to finish there/)
      // --status on the other host shows who holds it and what to do, and writes nothing either.
      const status = await run([...setsB, '--status'], FORGEJO, stateB)
      expect(status.stdout).toMatch(
        new RegExp(
          `lock:\n  Lease basketball-api/credflow-gmail-oauth-token: HELD by pid ${aRun.pid} on operator-box, run ${aRun.runId}, started from ssh shell, holding since \\S+Z \\(\\S+ ago\\), last renewed \\S+ ago; a run now would exit 3\\. ` +
            'that run is on operator-box \\(ssh shell\\): wait for it to finish there; if it died, the Lease lapses 30s after its last renewal and the next run takes it over \\(kubectl -n basketball-api get lease credflow-gmail-oauth-token -o yaml\\); once you are sure that run is dead, free it: kubectl -n basketball-api delete lease credflow-gmail-oauth-token\n',
        ),
      )
      expect(runsIn(stateB)).toEqual([])
    })
    expect(a.code, a.stdout + a.stderr).toBe(0)
    const b = await run([...setsB, '--yes'], FORGEJO, stateB)
    expect(b.code, b.stdout + b.stderr).toBe(0)
    await expectWorldGood({ grant, generationBefore: before, stateDirs: [stateB] })
  })

  matrixCase(2, async () => {
    await env.seedTokenFile().then((b) => grants.push(b))
    copyFileSync(env.tokenFile, tokenB) // the Forgejo host's grant: consented first
    env.standIn.control.advance(10 * 60_000)
    const newer = await newGrant() // then the operator consents again on their box
    await restoreStale()
    const before = await generation()
    const a = await whileHeld(async () => {
      const b = await run([...setsB, '--yes'], FORGEJO, stateB)
      expect(b.code, b.stdout + b.stderr).toBe(3)
    })
    expect(a.code, a.stdout + a.stderr).toBe(0)
    const b = await run([...setsB, '--yes'], FORGEJO, stateB)
    expect(b.code, b.stdout + b.stderr).toBe(1)
    expect(b.stdout).toMatch(/refusing to replace the newer grant in Secret basketball-api\/gmail-oauth-token with the older one in \S+forgejo-token\.json: the Secret's grant was consented \S+Z, the local file's \S+Z\. The Secret's grant \(refresh token sha256:[0-9a-f]{12}\) was written by operator-box \(run \S+, ssh shell\) at \S+Z \(apiserver clock\)/)
    expect(b.stdout).toMatch(/hint: bring this host's token file up to date from the Secret instead: kubectl -n basketball-api get secret gmail-oauth-token -o jsonpath='\{\.data\.gmail-westsidebasketball\\\.json\}' \| base64 -d > \S+; to replace it anyway: rerun with --allow-older-grant/)
    await expectWorldGood({ grant: newer, generationBefore: before, stateDirs: [stateB] })
  })

  matrixCase(3, async () => {
    env.standIn.control.advance(10 * 60_000)
    const newest = await newGrant()
    copyFileSync(env.tokenFile, tokenB)
    await restoreStale()
    const before = await generation()
    const b = await run([...setsB, '--yes'], FORGEJO, stateB)
    expect(b.code, b.stdout + b.stderr).toBe(0)
    await expectWorldGood({ grant: newest, generationBefore: before, stateDirs: [stateB] })
  })

  matrixCase(4, async () => {
    const older = grants.at(-2)! // the operator's grant from two cases ago
    const { writeFileSync } = await import('node:fs')
    writeFileSync(env.tokenFile, older, { mode: 0o600 })
    await restoreStale()
    const before = await generation()
    const a = await run([...sets, '--yes', '--allow-older-grant'], SSH)
    expect(a.code, a.stdout + a.stderr).toBe(0)
    expect(a.stdout).toMatch(/replacing the newer grant in Secret basketball-api\/gmail-oauth-token \(sha256:[0-9a-f]{12}, written by forgejo-runner \(run \S+, Forgejo \(ops\/credflow run #7\)\)/)
    expect((await view.secretBytes())!.equals(older)).toBe(true)
    expect(await generation()).toBe(before + 1)
  })

  matrixCase(5, async () => {
    // Case 4 restarted the Deployment: its controller may still write the rollout's status for a
    // moment (a new resourceVersion: the likely cause of one CI failure on Node 24), so the world is read at rest.
    await view.settled()
    const before = await view.snapshot()
    const file = readFileSync(env.tokenFile)
    cliRuns++
    const a = env.spawn([...sets, '--yes', '--interactive', '--set', 'reauthAfter=1ms', '--set', 'leaseDuration=3s'], { env: SSH })
    await a.waitFor(/\/o\/oauth2\/v2\/auth\?/) // the consent waits for the operator's browser
    const renewed = async () => new Date((await leaseRecord()).spec!.renewTime as unknown as string).getTime()
    const first = await leaseRecord()
    const firstRenewal = await renewed()
    await sleep(4500) // longer than the Lease's 3s: unrenewed, it would have lapsed
    expect((await leaseRecord()).spec?.holderIdentity).toBe(first.spec?.holderIdentity)
    expect(await renewed()).toBeGreaterThan(firstRenewal + 2000)
    const b = await run([...setsB, '--yes'], FORGEJO, stateB)
    expect(b.code, b.stdout + b.stderr).toBe(3)
    a.child.kill('SIGTERM')
    const r = await a.done
    expect(r.code, r.stdout + r.stderr).toBe(130)
    expect(await view.snapshot()).toEqual(before)
    expect(readFileSync(env.tokenFile).equals(file)).toBe(true)
    expect((await leaseRecord()).spec?.holderIdentity ?? '', 'the Lease is released').toBe('')
  })
})

describe('hosts whose clocks are off (libfaketime)', () => {
  // Debian's libfaketime, unpacked into its cache directory by test/ops/tools.sh (debian-packages.sh).
  let faketime: string
  const skewed = (offset: string) => ({ LD_PRELOAD: faketime, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' })
  beforeAll(() => {
    faketime = toolPath('libfaketime.so.1') // throws, naming the command to run, when it is missing
  })

  matrixCase(6, async () => {
    const grant = await newGrant()
    await restoreStale()
    const before = await generation()
    const r = await run([...sets, '--yes'], skewed('+5m'))
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout + r.stderr).toMatch(/this host's clock is 5m0s ahead of the apiserver's \(its Date header\)/)
    await expectWorldGood({ grant, generationBefore: before })
  })

  matrixCase(7, async () => {
    const grant = await newGrant()
    await restoreStale()
    const before = await generation()
    const r = await run([...sets, '--yes'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/restarted Deployment basketball-api\/basketball-api/)
    await expectWorldGood({ grant, generationBefore: before })
  })

  /** A consent in the run itself, through the stand-in (the operator's browser answers it). */
  async function consentInRun(extraEnv: Record<string, string>, more: string[] = []): Promise<{ r: RunResult; grant: Buffer }> {
    cliRuns++
    const r = await env.run([...sets, '--yes', '--interactive', '--set', 'reauthAfter=1ms', ...more], { browser: 'loopback', env: extraEnv })
    const grant = readFileSync(env.tokenFile)
    grants.push(grant)
    return { r, grant }
  }

  /** The consent time recorded on the Secret is on the apiserver's clock: next to its creationTimestamp, not minutes off. */
  async function expectConsentOnServerClock(): Promise<void> {
    const meta = (await view.secret())!.metadata!
    const consented = Date.parse(meta.annotations![CONSENTED_AT_ANNOTATION]!)
    expect(Math.abs(new Date(meta.creationTimestamp!).getTime() - consented), `${CONSENTED_AT_ANNOTATION} ${meta.annotations![CONSENTED_AT_ANNOTATION]} vs creationTimestamp ${meta.creationTimestamp}`).toBeLessThan(30_000)
  }

  matrixCase(8, async () => {
    await restoreStale()
    const before = await generation()
    const { r, grant } = await consentInRun(skewed('-5m'))
    expect(r.code, r.stdout + r.stderr).toBe(0)
    // 5 min give or take the Date header's whole second and a loaded machine.
    expect(r.stdout + r.stderr).toMatch(/this host's clock is (4m59s|5m0s|5m1s) behind the apiserver's \(its Date header\)/)
    // Ages on the apiserver's clock: never negative on a host whose clock is behind.
    expect(r.stdout).toMatch(/preflight: Secret basketball-api\/gmail-oauth-token exists: .*, age \d/)
    expect(r.stdout + r.stderr).not.toMatch(/\bage -/)
    expect(r.stdout).toMatch(/\[reauth\] consent received via loopback/)
    await expectConsentOnServerClock()
    await expectWorldGood({ grant, generationBefore: before })
  })

  matrixCase(9, async () => {
    await restoreStale()
    const before = await generation()
    const { r: killed, grant } = await consentInRun({ ...skewed('-5m'), CREDFLOW_TEST_CRASH_AT: 'after:reauth' })
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL')
    const crashed = env.runs().at(-1)!.runId
    const r = await run([...sets, '--yes', '--resume'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(env.runs().at(-1)!.runId).toBe(crashed)
    expect(r.stdout).not.toMatch(/refusing to replace the newer grant/)
    await expectConsentOnServerClock()
    await expectWorldGood({ grant, generationBefore: before })
  })

  matrixCase(10, async () => {
    const grant = await newGrant()
    await restoreStale()
    const before = await generation()
    const killed = await run([...sets, '--yes'], { ...skewed('-5m'), CREDFLOW_TEST_CRASH_AT: 'restart:patched' })
    expect(killed.signal).toBe('SIGKILL')
    const crashed = env.runs().at(-1)!.runId
    const r = await run([...sets, '--yes', '--resume'], skewed('-5m'))
    expect(r.code, r.stdout + r.stderr).toBe(0)
    // The run that crashed last, although an earlier run (correct clock) started "later" by this host's clock.
    expect(env.runs().at(-1)!.runId).toBe(crashed)
    expect(r.stdout).toContain(`resuming ${crashed}`)
    expect(r.stdout).toMatch(new RegExp(`\\(its pod template was restarted for Secret ${re(FIXTURE.secret)} uid [0-9a-f]{8}\\)`))
    expect(r.stdout).not.toMatch(/\] restarted Deployment/)
    await expectWorldGood({ grant, generationBefore: before })
  })

  matrixCase(11, async () => {
    await restoreStale()
    const before = await generation()
    const { r, grant: ahead } = await consentInRun(skewed('+5m'))
    expect(r.code, r.stdout + r.stderr).toBe(0)
    await expectConsentOnServerClock()
    await expectWorldGood({ grant: ahead, generationBefore: before })
    const grant = await newGrant()
    await restoreStale()
    const r2 = await run([...sets, '--yes'])
    expect(r2.code, r2.stdout + r2.stderr).toBe(0)
    await expectWorldGood({ grant, generationBefore: before + 1 })
  })
})

describe('a consent killed inside the token file\'s write (the new token only in its temp)', () => {
  /** The killed consent: the old file stays whole, the new token sits in one temp beside it. */
  async function killConsentInWrite(): Promise<{ kept: Buffer; crashed: string }> {
    const kept = readFileSync(env.tokenFile)
    cliRuns++
    const killed = await env.run([...sets, '--yes', '--interactive', '--set', 'reauthAfter=1ms'], { browser: 'loopback', env: { CREDFLOW_TEST_CRASH_AT: `write:${basename(env.tokenFile)}` } })
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL')
    expect(readdirSync(dirname(env.tokenFile)).filter((f) => f.endsWith('.tmp')), 'the killed write left its temp beside the token file').toHaveLength(1)
    expect(readFileSync(env.tokenFile).equals(kept), 'the token file is the old one, whole').toBe(true)
    return { kept, crashed: env.runs().at(-1)!.runId }
  }
  const TEMP_REMOVED = /removed 1 temp copy\(ies\) of \S+ left by a write killed halfway/

  matrixCase(12, async () => {
    const before = await generation()
    const { kept } = await killConsentInWrite()
    // The consent that never landed is not asked again: the old grant is recent and works.
    const r = await run([...sets, '--yes'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(TEMP_REMOVED)
    await expectWorldGood({ grant: kept, generationBefore: before, rollouts: 0 })
  })

  matrixCase(13, async () => {
    const before = await generation()
    const { crashed } = await killConsentInWrite()
    // The crashed run recorded reauthAfter=1ms: continuing it asks for the consent again.
    cliRuns++
    const r = await env.run([...sets, '--yes', '--interactive', '--resume'], { browser: 'loopback' })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(env.runs().at(-1)!.runId).toBe(crashed)
    expect(r.stdout).toMatch(/\[reauth\] consent received via loopback/)
    expect(r.stdout).toMatch(TEMP_REMOVED)
    const grant = readFileSync(env.tokenFile)
    grants.push(grant)
    await expectWorldGood({ grant, generationBefore: before })
  })
})

describe('the concurrency table in test/e2e/crash-matrix.ts (rendered into docs/reliability.md)', () => {
  it('has exactly one test above for each row, in order', () => {
    expect(registered).toEqual(CONCURRENCY.map((_, i) => i + 1))
  })
})
