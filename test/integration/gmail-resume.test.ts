// --resume after the CLI is SIGKILLed at each step of gmail-reauth, including between the
// DELETE and the CREATE of the Secret. One run is killed eight times and resumed until it
// succeeds; each stop is made real, not simulated in product code:
//   reauth         waiting for the consent (no browser answers)
//   verify-scopes  its refresh delayed by the stand-in (injectTokenFaults delayMs)
//   map-key        its read of the token file blocked (a FIFO swapped in after verify-scopes read it)
//   update-secret  its DELETE held by the apiserver proxy (backup taken, Secret intact)
//   (between)      its CREATE held after the DELETE went through (Secret gone)
//   delete-stale   its DELETE held, while restart waits on a rollout pinned off the kwok node
//   restart        waiting on that rollout
//   verify-decode  its pod list held
// After each resume, the nodes that had succeeded are kept (not rerun) and their effects are
// not repeated (no second consent, no second Secret recreation, no second restart).
// A second scenario has the apiserver refuse the CREATE after the DELETE (a ValidatingAdmissionPolicy
// that admits the dry runs update-secret asks first, as if it changed in between): the run fails
// with the Secret missing, and --resume rebuilds it from the backup once the policy is gone.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { resetFixtures, FIXTURE, FIXTURE_TOKEN_JSON } from '../k8s/fixtures.ts'
import type { GmailEnv, RunningCli } from '../e2e/gmail-env.ts'
import { openProxiedSandbox, closeProxiedSandbox } from '../e2e/sandbox.ts'
import type { ApiProxy, ApiRequest, HeldRequest } from '../e2e/api-proxy.ts'
import { RESTARTED_AT, type ClusterView, type WorldSnapshot } from '../e2e/cluster.ts'
import { findLeaks, secretNeedles } from '../e2e/leaks.ts'
import type { RunState } from '../../lib/engine/state.ts'

const kubeconfig = inject('kubeconfig')
const nodeName = inject('nodeName')
const ns = FIXTURE.namespace
const EXTRA = { data: { 'other-key.txt': 'kept across the refresh' }, labels: { team: 'basketball' } }
const AUTH_URL = /http:\/\/127\.0\.0\.1:\d+\/o\/oauth2\/v2\/auth\?\S+/
const U = `update-secret[${ns}]`
const D = `delete-stale[${ns}]`
const R = `restart[${ns}]`
const V = `verify-decode[${ns}]`

let env: GmailEnv
let proxy: ApiProxy
let view: ClusterView
let sets: string[]

beforeAll(async () => {
  ;({ env, proxy, view, sets } = await openProxiedSandbox(kubeconfig, { decorate: EXTRA }))
})
afterAll(async () => {
  await view?.pinPods(nodeName).catch(() => {})
  await closeProxiedSandbox(kubeconfig, { env, proxy })
})

const writes = (path: string, method: string) => (q: ApiRequest) => q.method === method && q.path.split('?')[0] === path && !/dryRun=/.test(q.path)
const SECRETS = `/api/v1/namespaces/${ns}/secrets`
const re = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** SIGKILL the CLI once `stopped` resolves (it is stuck at the point under test); drop a held request unsent. */
async function killWhen(cli: RunningCli, stopped: Promise<unknown>, held?: HeldRequest): Promise<RunState> {
  await stopped
  cli.child.kill('SIGKILL')
  const r = await cli.done
  held?.drop()
  expect(r.signal, r.stdout + r.stderr).toBe('SIGKILL')
  const runs = env.runs()
  expect(runs).toHaveLength(1) // every resume continues the same run
  return runs[0]
}

const kept = (s: RunState, ...ids: string[]) => {
  for (const id of ids) expect(s.nodes[id].reason ?? '', `${id} should be kept, not rerun`).toMatch(/^kept from run /)
}
const backups = (s: RunState) => {
  const dir = join(env.stateDir, 'gmail-reauth', 'runs', s.runId)
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('backup-')) : []
}

describe('--resume after SIGKILL at every step', () => {
  let original: WorldSnapshot
  let consents: number
  let recreatedUid: string
  let restartedAt: string
  let generation: number

  it('reauth: killed while waiting for the consent; nothing changed yet', async () => {
    original = await view.snapshot()
    consents = env.standIn.control.authorizations().length
    const cli = env.spawn([...sets, '--yes', '--interactive'])
    const s = await killWhen(cli, cli.waitFor(AUTH_URL))
    expect(s.nodes.reauth.status).toBe('running')
    expect(existsSync(env.tokenFile)).toBe(false)
    expect(await view.snapshot()).toEqual(original)
  })

  it('verify-scopes: killed during its slow refresh; reauth had finished', async () => {
    const c = env.standIn.control
    const tokenCalls = c.requestCount('/token')
    // reauth's code exchange and its own refresh pass; the third token call (verify-scopes) hangs.
    c.injectTokenFaults({ count: 2 })
    c.injectTokenFaults({ delayMs: 30_000 })
    const cli = env.spawn([...sets, '--yes', '--interactive', '--resume'], { browser: 'loopback' })
    const s = await killWhen(
      cli,
      cli.waitFor(/\[verify-scopes\] running/).then(() => view.until('the delayed refresh', async () => c.requestCount('/token') >= tokenCalls + 3)),
    )
    expect(s.resumes).toBe(1)
    expect(s.nodes.reauth.status).toBe('succeeded')
    expect(s.nodes['verify-scopes'].status).toBe('running')
    expect(c.authorizations()).toHaveLength(++consents)
    expect(existsSync(env.tokenFile)).toBe(true)
    expect(await view.snapshot()).toEqual(original)
  })

  it('map-key: killed while it reads the token file; verify-scopes had finished', async () => {
    // map-key makes no request to hold, and a token file that is not a regular file is refused
    // at once (lib/safe-open.ts), so it kills itself right after its read (lib/crash-point.ts).
    const cli = env.spawn([...sets, '--yes', '--resume'], { env: { CREDFLOW_TEST_CRASH_AT: 'map-key:read' } })
    const s = await killWhen(cli, cli.done)
    kept(s, 'reauth')
    expect(s.nodes['verify-scopes'].status).toMatch(/cached|succeeded/)
    expect(s.nodes['map-key'].status).toBe('running')
    expect(s.nodes[U]?.status ?? 'pending').toBe('pending')
    expect(await view.snapshot()).toEqual(original)
  })

  it('update-secret, before the DELETE: backup taken, Secret intact; earlier nodes kept', async () => {
    const held = proxy.hold(writes(`${SECRETS}/${FIXTURE.secret}`, 'DELETE'))
    const cli = env.spawn([...sets, '--yes', '--resume'])
    const h = await held
    const s = await killWhen(cli, Promise.resolve(), h)
    kept(s, 'reauth')
    expect(s.nodes['verify-scopes'].status).toMatch(/cached|succeeded/)
    expect(s.nodes['map-key'].status).toMatch(/cached|succeeded/)
    expect(s.nodes[U].status).toBe('running')
    expect(backups(s)).toHaveLength(1)
    expect((await view.secret())!.metadata!.uid).toBe(original.secret!.uid)
    expect((await view.secretBytes())!.toString()).toBe(FIXTURE_TOKEN_JSON)
    expect(env.standIn.control.authorizations()).toHaveLength(consents)
  })

  it('update-secret, between the DELETE and the CREATE: the Secret is gone, the backup holds it', async () => {
    const held = proxy.hold(writes(SECRETS, 'POST'))
    const cli = env.spawn([...sets, '--yes', '--resume'])
    const h = await held
    const s = await killWhen(cli, Promise.resolve(), h)
    kept(s, 'reauth', 'verify-scopes', 'map-key')
    expect(s.nodes[U].status).toBe('running')
    expect(await view.secret()).toBeUndefined()
    expect(backups(s)).toHaveLength(1)
    const backup = JSON.parse(readFileSync(join(env.stateDir, 'gmail-reauth', 'runs', s.runId, backups(s)[0]), 'utf8'))
    expect(Object.keys(backup.data).sort()).toEqual([FIXTURE.key, 'other-key.txt'])
  })

  it('delete-stale: killed at its DELETE; the resume rebuilt the Secret from the backup with the new content', async () => {
    // Park the consumer's new pods on a node with no kubelet: the restart's rollout cannot finish.
    await view.pinPods('credflow-parked-node')
    const held = proxy.hold(writes(`${SECRETS}/${FIXTURE.staleSecret}`, 'DELETE'))
    // Confirmed at the prompt, not with --yes: the plan it shows must be this run's own recreate.
    const cli = env.spawn([...sets, '--interactive', '--resume'], { stdin: 'y\n' })
    const h = await held
    await cli.waitFor(/will create Secret basketball-api\/gmail-oauth-token \(recreate from this run's backup \(other keys, labels kept\)/)
    restartedAt = await view.until('the restart patch', async () => {
      const at = (await view.deployment()).spec!.template!.metadata!.annotations?.[RESTARTED_AT]
      return at !== original.deployment.restartedAt && at
    })
    await cli.waitFor(/\[restart\[basketball-api\]\] Waiting for deployment/)
    const s = await killWhen(cli, Promise.resolve(), h)
    kept(s, 'reauth', 'verify-scopes', 'map-key')
    expect(s.nodes[U].status).toBe('succeeded')
    expect(s.nodes[D].status).toBe('running')
    expect(s.nodes[R].status).toBe('running')

    const secret = (await view.secret())!
    recreatedUid = secret.metadata!.uid!
    expect(recreatedUid).not.toBe(original.secret!.uid)
    expect((await view.secretBytes())!.equals(readFileSync(env.tokenFile))).toBe(true)
    expect((await view.secretBytes('other-key.txt'))!.toString()).toBe(EXTRA.data['other-key.txt'])
    expect(secret.metadata!.labels).toMatchObject({ app: 'basketball-api', ...EXTRA.labels })
    expect(secret.metadata!.annotations!['credflow.dev/refreshed-at']).toBeDefined()
    expect(await view.secret(FIXTURE.staleSecret)).toBeDefined()
    generation = (await view.deployment()).metadata!.generation!
  })

  it('restart: killed while waiting on the rollout; the resume does not restart a second time', async () => {
    const cli = env.spawn([...sets, '--yes', '--resume'])
    // delete-stale runs beside restart: let it finish and be recorded (the line is printed just
    // before state.json is written), so only restart is cut short.
    const stuck = Promise.all([
      view.until('delete-stale recorded as succeeded', async () => env.runs()[0]?.nodes[D]?.status === 'succeeded'),
      cli.waitFor(/\[restart\[basketball-api\]\] Deployment basketball-api\/basketball-api already restarted at \S+; waiting only/),
    ])
    const s = await killWhen(cli, stuck)
    kept(s, 'reauth', 'verify-scopes', 'map-key', U)
    expect(s.nodes[D].status).toBe('succeeded')
    expect(s.nodes[R].status).toBe('running')
    expect(await view.secret(FIXTURE.staleSecret)).toBeUndefined()
    const d = await view.deployment()
    expect(d.spec!.template!.metadata!.annotations![RESTARTED_AT]).toBe(restartedAt)
    expect(d.metadata!.generation).toBe(generation)
    expect((await view.secret())!.metadata!.uid).toBe(recreatedUid)
  })

  it('verify-decode: killed at its pod list, after the rollout finished', async () => {
    await view.pinPods(nodeName) // the kwok node again: the rollout can finish
    const held = proxy.hold((q) => q.method === 'GET' && q.path.startsWith(`/api/v1/namespaces/${ns}/pods?`))
    const cli = env.spawn([...sets, '--yes', '--resume'])
    const h = await held
    const s = await killWhen(cli, Promise.resolve(), h)
    kept(s, 'reauth', 'verify-scopes', 'map-key', U, D)
    expect(s.nodes[R].status).toMatch(/cached|succeeded/)
    expect(s.nodes[V].status).toBe('running')
    expect((await view.deployment()).spec!.template!.metadata!.annotations![RESTARTED_AT]).toBe(restartedAt)
    expect(backups(s)).toHaveLength(1) // kept until verify-decode passes
  })

  it('the last resume completes the run: the new token is live, nothing was done twice', async () => {
    const r = await env.run([...sets, '--yes', '--resume'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const [s] = env.runs()
    expect(s.status).toBe('succeeded')
    expect(s.resumes).toBe(8)
    kept(s, 'reauth', 'verify-scopes', 'map-key', U, D, R)
    expect(s.nodes[V].status).toBe('succeeded')
    expect(backups(s)).toEqual([])

    const secret = (await view.secret())!
    expect(secret.metadata!.uid).toBe(recreatedUid)
    expect((await view.secretBytes())!.equals(readFileSync(env.tokenFile))).toBe(true)
    expect((await view.secretBytes('other-key.txt'))!.toString()).toBe(EXTRA.data['other-key.txt'])
    const d = await view.deployment()
    expect(d.spec!.template!.metadata!.annotations![RESTARTED_AT]).toBe(restartedAt)
    const refreshedAt = Date.parse(secret.metadata!.annotations!['credflow.dev/refreshed-at'])
    const pods = await view.livePods()
    expect(pods).toHaveLength(d.spec!.replicas!)
    for (const p of pods) {
      // refreshed-at is on the apiserver's clock as learnt from whole-second Date headers (+-0.5 s).
      expect(new Date(p.metadata!.creationTimestamp!).getTime()).toBeGreaterThanOrEqual(Math.floor((refreshedAt - 1000) / 1000) * 1000)
      expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True')
      expect(p.spec!.nodeName).toBe(nodeName)
    }
    expect(env.standIn.control.authorizations()).toHaveLength(consents)
    expect(findLeaks({ ...Object.fromEntries(env.transcripts.map((t, i) => [`output #${i}`, t])), ...env.stateFiles() }, secretNeedles(env.standIn, [readFileSync(env.tokenFile)]))).toEqual([])
  })
})

describe('the apiserver refuses the CREATE after the DELETE went through', () => {
  const PROBE = 'credflow-policy-probe'
  const policy = [
    {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: 'credflow-test-no-token-secret' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['secrets'] }] },
        // Dry runs pass: update-secret's own preflight would otherwise stop it before the DELETE.
        validations: [{ expression: `request.dryRun == true || !(object.metadata.name in ['${FIXTURE.secret}', '${PROBE}'])`, message: 'test policy: no token Secret' }],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: 'credflow-test-no-token-secret' },
      spec: { policyName: 'credflow-test-no-token-secret', validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } } },
    },
  ]
  /** Policies take effect asynchronously: a real create of a probe Secret the policy also names tells. */
  const createAllowed = async () => {
    const body = { metadata: { name: PROBE, namespace: ns }, data: {} }
    return view.core.createNamespacedSecret({ namespace: ns, body }).then(
      async () => (await view.core.deleteNamespacedSecret({ name: PROBE, namespace: ns }), true),
      () => false,
    )
  }
  afterAll(async () => {
    await view.remove(policy)
  })

  it('fails with the Secret missing and a backup; --resume after the policy is gone rebuilds it', async () => {
    await resetFixtures(kubeconfig)
    await view.decorateSecret(EXTRA)
    await view.apply(policy)
    await view.until('the policy', async () => !(await createAllowed()))

    const failed = await env.run([...sets, '--yes'])
    expect(failed.code, failed.stdout).toBe(1)
    expect(failed.stdout).toMatch(/\[update-secret\[basketball-api\]\] FAILED.*secrets "gmail-oauth-token" in namespace "basketball-api" is MISSING/)
    expect(failed.stdout).toMatch(/denied by admission.*test policy: no token Secret/)
    expect(await view.secret()).toBeUndefined()
    const run = env.runs().at(-1)!
    expect(failed.stdout).toMatch(new RegExp(`hint: fix the refusal first \\(.*\\); then run npx zx tasks/run\\.mjs gmail-reauth --state-dir ${re(env.stateDir)} --resume ${run.runId}:`))
    expect(run.nodes[U].status).toBe('failed')
    expect(backups(run)).toHaveLength(1)

    await view.remove(policy)
    await view.until('the policy to go', createAllowed)
    // --status and a dry run say so too, with the command that brings the Secret back whole.
    // Given as --state-dir (the environment points elsewhere): steps see the runs where the flag says.
    const status = await env.run([...sets, '--status', '--state-dir', env.stateDir], { env: { CREDFLOW_STATE_DIR: join(env.dir, 'elsewhere') } })
    const row = status.stdout.split('\n').find((l) => l.startsWith(`${U} `)) ?? status.stdout
    expect(row).toContain(`Secret basketball-api/gmail-oauth-token does not exist; run ${run.runId} holds its backup: npx zx tasks/run.mjs gmail-reauth --state-dir ${env.stateDir} --resume ${run.runId}`)
    const dry = await env.run([...sets, '--dry-run'])
    expect(dry.code).toBe(1)
    expect(dry.stdout).toMatch(new RegExp(`\\[${U.replace(/[[\]]/g, '\\$&')}\\] FAILED .*is missing and run ${run.runId} holds its backup`))
    expect(await view.secret()).toBeUndefined()
    // A fresh run (no --resume) must not create a bare Secret: it points at the run with the backup.
    const fresh = await env.run([...sets, '--yes'])
    expect(fresh.code).toBe(1)
    expect(fresh.stdout).toMatch(new RegExp(`Secret basketball-api/gmail-oauth-token is missing and run ${run.runId} holds its backup`))
    expect(fresh.stdout).toMatch(new RegExp(`hint: continue that run so the Secret comes back whole: npx zx tasks/run\\.mjs gmail-reauth --state-dir ${re(env.stateDir)} --resume ${run.runId}`))
    expect(await view.secret()).toBeUndefined()
    const resumed = await env.run([...sets, '--yes', '--resume', run.runId])
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    expect(resumed.stdout).toMatch(/is missing; recreating it from the backup taken before the delete/)
    const s = env.runs().at(-1)!
    expect(s.runId).toBe(run.runId)
    kept(s, 'reauth', 'verify-scopes', 'map-key')
    expect(backups(s)).toEqual([])
    const secret = (await view.secret())!
    expect((await view.secretBytes())!.equals(readFileSync(env.tokenFile))).toBe(true)
    expect((await view.secretBytes('other-key.txt'))!.toString()).toBe(EXTRA.data['other-key.txt'])
    expect(secret.metadata!.labels).toMatchObject({ app: 'basketball-api', ...EXTRA.labels })
  })
})
