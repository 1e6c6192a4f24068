// Bad input to gmail-reauth, end to end: each case must end with a message that says what is
// wrong, a non-zero exit, and nothing changed: the token Secret's resourceVersion (and the
// rest of the fixture world) and the token file's bytes are as before. Every case starts from
// a good token file of the right account, so the only thing wrong is the one under test.
import { describe, it, expect, beforeAll, beforeEach, afterAll, inject } from 'vitest'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { resetFixtures, waitAvailable, FIXTURE, FIXTURE_TOKEN_JSON } from '../k8s/fixtures.ts'
import { serviceAccountKubeconfig, RULES_WITHOUT_SECRET_CREATE, LEASE_RULES } from '../k8s/service-account.ts'
import { startGmailEnv, type GmailEnv, type RunResult } from '../e2e/gmail-env.ts'
import { clusterView, type ClusterView } from '../e2e/cluster.ts'
import { findLeaks, secretNeedles } from '../e2e/leaks.ts'

const kubeconfig = inject('kubeconfig')
const ns = FIXTURE.namespace
const TARGET = { namespace: ns, secret: FIXTURE.secret, key: FIXTURE.key, staleSecrets: [FIXTURE.staleSecret], deployments: [FIXTURE.deployment] }
const TLS_NS = 'gmail-bad-input-tls'

let env: GmailEnv
let view: ClusterView
let goodToken: Buffer

beforeAll(async () => {
  await resetFixtures(kubeconfig)
  view = await clusterView(kubeconfig)
  env = await startGmailEnv({ kubeconfig })
  goodToken = await env.seedTokenFile()
})
// Cases must not inherit each other's damage: if one did change the world, put it back.
beforeEach(async () => {
  const pristine = (await view.secretBytes())?.toString() === FIXTURE_TOKEN_JSON && (await view.secret(FIXTURE.staleSecret)) !== undefined
  if (!pristine) await resetFixtures(kubeconfig)
})
afterAll(async () => {
  await env?.close()
  await view?.remove([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: TLS_NS } }])
  await resetFixtures(kubeconfig)
})

/**
 * Run non-interactively; assert the exit code (1 a failure, 4 when only a person at a consent
 * screen can fix it) and that neither the cluster nor the token file changed.
 */
async function refused(sets: Record<string, string>, tokenFile?: string | Buffer | null, code: 1 | 4 = 1): Promise<RunResult> {
  if (tokenFile === null) rmSync(env.tokenFile, { force: true })
  else writeFileSync(env.tokenFile, tokenFile ?? goodToken, { mode: 0o600 })
  const fileBefore = existsSync(env.tokenFile) ? readFileSync(env.tokenFile) : undefined
  const before = await view.snapshot()
  const r = await env.run([...env.sets(sets), '--non-interactive', '--yes'])
  expect(r.code, r.stdout + r.stderr).toBe(code)
  expect(r.stdout).toContain(`failed (exit ${code})`)
  expect(await view.snapshot()).toEqual(before)
  expect(existsSync(env.tokenFile) ? readFileSync(env.tokenFile) : undefined).toEqual(fileBefore)
  return r
}
const failedLine = (r: RunResult, node: string) => r.stdout.split('\n').find((l) => l.includes(`[${node}] FAILED`)) ?? `(no FAILED line for ${node})\n${r.stdout}`

describe('a bad token file', () => {
  it('missing (non-interactive): names the file, asks for an operator', async () => {
    const r = await refused({}, null, 4)
    expect(failedLine(r, 'reauth')).toMatch(/needs an operator at a terminal: cannot read token file \S+gmail-westsidebasktball\.json: ENOENT/)
    expect(r.stdout).toMatch(/\[reauth\] hint: consent needs a person at a browser/)
  })

  it('empty', async () => {
    const r = await refused({}, '', 4)
    expect(failedLine(r, 'reauth')).toMatch(/token file \S+ is empty/)
  })

  it('not JSON: says where, never quotes the content', async () => {
    const r = await refused({}, '{"token": "ya29.NotReallyJsonButSecretish", "refresh_token": ')
    // A broken file is not overwritten by a consent: it may be what its consumer still needs.
    expect(failedLine(r, 'reauth')).toMatch(/token file \S+ is not valid JSON( \(syntax error at byte \d+\))?; a consent would overwrite it, so nothing was changed$/)
    expect(r.stdout).toMatch(/\[reauth\] hint: .*then move it aside and run again to consent afresh: mv \S+\.json \S+\.json\.broken/)
    expect(r.stdout + r.stderr).not.toContain('NotReallyJsonButSecretish')
  })

  it('of an unknown format: lists its keys and the formats that are known', async () => {
    const r = await refused({}, JSON.stringify({ access: 'x', refresh: 'y', user: 'westsidebasketball' }))
    expect(failedLine(r, 'reauth')).toMatch(/is not a token file format credflow knows \(keys: access, refresh, user\)/)
    expect(r.stdout).toMatch(/\[reauth\] hint: Expected google-auth Credentials\.to_json\(\)/)
  })

  it('without a refresh_token', async () => {
    const doc = JSON.parse(goodToken.toString())
    delete doc.refresh_token
    const r = await refused({}, JSON.stringify(doc), 4)
    expect(failedLine(r, 'reauth')).toMatch(/has no refresh_token, so it cannot be refreshed/)
  })

  it("of another account: refuses to sync another account's token", async () => {
    const other = await env.seedTokenFile({ email: 'someone.else@gmail.com' })
    const r = await refused({}, other, 4)
    expect(failedLine(r, 'reauth')).toMatch(/the token belongs to someone\.else@gmail\.com, not westsidebasketball@gmail\.com/)
  })

  it('swapped in after a verified run: --from map-key refuses bytes verify-scopes never checked', async () => {
    writeFileSync(env.tokenFile, goodToken, { mode: 0o600 })
    const first = await env.run([...env.sets(), '--non-interactive', '--yes'])
    expect(first.code, first.stdout).toBe(0)
    const synced = await view.secretBytes()
    const other = await env.seedTokenFile({ email: 'someone.else@gmail.com' })
    const r = await env.run([...env.sets(), '--non-interactive', '--yes', '--from', 'map-key'])
    expect(r.code).toBe(1)
    expect(failedLine(r, 'map-key')).toMatch(/changed since verify-scopes checked it .*refusing to map bytes nobody verified/)
    expect(r.stdout).toContain(`[map-key] hint: verify the new file first: npx zx tasks/run.mjs gmail-reauth --state-dir ${env.stateDir} --from verify-scopes`)
    expect((await view.secretBytes())!.equals(synced!)).toBe(true)
    expect(readFileSync(env.tokenFile).equals(other)).toBe(true)
  })
})

describe('bad client secrets', () => {
  it('a client secrets file that does not exist', async () => {
    const r = await preflightRefused({ clientSecretsFile: join(env.dir, 'no-such-client-secret.json') }, 2)
    expect(r.stdout).toMatch(/\[reauth\] REFUSED: cannot read client secrets file \S+no-such-client-secret\.json: ENOENT/)
  })

  it('none given for a token file without client fields', async () => {
    const sdk = await env.seedTokenFile({ format: 'gmail-sdk' })
    const r = await refused({ clientSecretsFile: '' }, sdk)
    expect(failedLine(r, 'reauth')).toMatch(/the token file has no client_id\/client_secret, no client secrets file was given, and there is no credentials\.json beside it/)
    expect(r.stdout).toMatch(/\[reauth\] hint: Give the Desktop client's JSON with --set clientSecretsFile=<path>, or put it beside the token file as credentials\.json/)
  })

  it("another client's secrets for a token file without client fields", async () => {
    const sdk = await env.seedTokenFile({ format: 'gmail-sdk' })
    const other = env.standIn.control.registerClient({ testing: true })
    const path = join(env.dir, 'other-client-secret.json')
    writeFileSync(path, JSON.stringify({ installed: { client_id: other.id, client_secret: other.secret, redirect_uris: ['http://localhost'] } }), { mode: 0o600 })
    const r = await refused({ clientSecretsFile: path }, sdk)
    expect(failedLine(r, 'reauth')).toMatch(new RegExp(`unauthorized_client.*client ${other.id.replace(/\./g, '\\.')} does not match the token`))
    expect(r.stdout).toMatch(/\[reauth\] hint: The refresh token was issued to another client/)
  })
})

describe('Google failing on the first refresh (reauth has no node retry: it would ask for a consent again)', () => {
  it('one 503 is retried inside the call and the run goes through', async () => {
    writeFileSync(env.tokenFile, goodToken, { mode: 0o600 })
    const before = env.standIn.control.requestCount('/token')
    env.standIn.control.injectTokenFaults({ status: 503 })
    const r = await env.run([...env.sets(), '--non-interactive', '--yes'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const run = env.runs().at(-1)!
    expect(run.status).toBe('succeeded')
    expect(run.nodes.reauth.attempts).toBeLessThanOrEqual(1) // no node retry, no second consent
    expect(r.stdout).not.toMatch(/FAILED/)
    expect(env.standIn.control.requestCount('/token') - before).toBeGreaterThanOrEqual(3) // 503, reauth's retry, verify-scopes
  })

  it('persistent 503s: reauth fails saying Google kept failing, three attempts, what to do; nothing changed', async () => {
    env.standIn.control.injectTokenFaults({ status: 503, count: 3 })
    const r = await refused({})
    expect(failedLine(r, 'reauth')).toMatch(/refresh the access token: Google answered HTTP 503 internal_failure "Backend Error" \(tried 3 times over [\d.]+m?s\)/)
    expect(r.stdout).toMatch(/\[reauth\] hint: Google kept failing: wait a few minutes, then rerun with --resume/)
  })
})

/**
 * Refused by the preflight, before any node ran: `code` (2 for a problem, 1 when it could not
 * look), nothing changed in the cluster or the token file, and no run recorded.
 */
async function preflightRefused(sets: Record<string, string>, code: 1 | 2): Promise<RunResult> {
  writeFileSync(env.tokenFile, goodToken, { mode: 0o600 })
  const before = await view.snapshot()
  const runs = env.runs().length
  const grants = env.standIn.control.issuedTokens().filter((t) => t.kind === 'refresh').length
  const r = await env.run([...env.sets(sets), '--non-interactive', '--yes'])
  expect(r.code, r.stdout + r.stderr).toBe(code)
  expect(r.stderr).toContain('nothing was changed and no run was recorded')
  expect(r.stdout).not.toMatch(/\] running$/m)
  expect(await view.snapshot()).toEqual(before)
  expect(readFileSync(env.tokenFile)).toEqual(goodToken)
  expect(env.runs().length).toBe(runs)
  expect(env.standIn.control.issuedTokens().filter((t) => t.kind === 'refresh').length).toBe(grants)
  return r
}

describe('a bad cluster target: refused by the preflight, before the consent and the first write', () => {
  it('a kube context that does not exist', async () => {
    const r = await preflightRefused({ context: 'nope' }, 2)
    expect(r.stdout).toMatch(/\[update-secret\[basketball-api\]\] REFUSED: context "nope" not found in \S+ \(known: credflow-test\)/)
    expect(r.stdout).toMatch(/hint: kubectl config get-contexts; then --set context=<name>/)
  })

  it('a cluster that does not answer (kubeconfig pointing at a closed port): could not check, exit 1', async () => {
    const port = await closedPort()
    const kc = parse(readFileSync(kubeconfig, 'utf8'))
    kc.clusters[0].cluster.server = `https://127.0.0.1:${port}`
    const path = join(env.dir, 'unreachable.kubeconfig.yaml')
    writeFileSync(path, stringify(kc), { mode: 0o600 })
    const r = await preflightRefused({ kubeconfig: path }, 1)
    expect(r.stdout).toMatch(new RegExp(`COULD NOT CHECK: cannot reach https://127\\.0\\.0\\.1:${port} \\(context "credflow-test"\\) to get version: ECONNREFUSED`))
  })

  it('a namespace that does not exist', async () => {
    const target = { ...TARGET, namespace: 'no-such-namespace' }
    const r = await preflightRefused({ targets: JSON.stringify([target]) }, 2)
    // Said as a missing namespace, not as a missing Secret or Deployment inside it.
    expect(r.stdout).toMatch(/\[update-secret\[no-such-namespace\]\] REFUSED: namespace "no-such-namespace" does not exist/)
    expect(r.stdout).toMatch(/\[update-secret\[no-such-namespace\]\] hint: kubectl get namespaces; then fix the namespace in the targets param: --set targets='\[\{"namespace":/)
  })

  it('a consumer Deployment that does not exist, named with the Deployments that do', async () => {
    const target = { ...TARGET, deployments: ['no-such-deployment'] }
    const r = await preflightRefused({ targets: JSON.stringify([target]) }, 2)
    expect(r.stdout).toMatch(/\[restart\[basketball-api\]\] REFUSED: Deployment basketball-api\/no-such-deployment does not exist \(Deployments in basketball-api: basketball-api, basketball-worker\)/)
  })

  it('RBAC: a Role that cannot delete or update the Secret is named verb by verb (SelfSubjectAccessReview)', async () => {
    const sa = await serviceAccountKubeconfig(kubeconfig, {
      namespace: ns,
      name: 'gmail-too-narrow',
      dir: env.dir,
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] },
        ...LEASE_RULES,
      ],
    })
    const r = await preflightRefused({ kubeconfig: sa }, 2)
    expect(r.stdout).toMatch(/\[update-secret\[basketball-api\]\] REFUSED: the identity of context "\S+" may not create secrets, delete secrets\/gmail-oauth-token, update secrets\/gmail-oauth-token in namespace "basketball-api"/)
    expect(r.stdout).toMatch(/deploy\/rbac\.yaml lists every verb the workflow needs\); check: kubectl auth can-i create secrets -n basketball-api/)
  })

  it('RBAC: a Role without create on Secrets is refused before anything; the Secret keeps its uid, resourceVersion and data', async () => {
    const sa = await serviceAccountKubeconfig(kubeconfig, {
      namespace: ns,
      name: 'gmail-no-create',
      dir: env.dir,
      rules: RULES_WITHOUT_SECRET_CREATE,
    })
    const before = (await view.secret())!
    const r = await preflightRefused({ kubeconfig: sa }, 2)
    expect(r.stdout).toMatch(/\[update-secret\[basketball-api\]\] REFUSED: the identity of context "\S+" may not create secrets in namespace "basketball-api"/)
    const after = (await view.secret())!
    expect(after.metadata).toMatchObject({ uid: before.metadata!.uid, resourceVersion: before.metadata!.resourceVersion })
    expect(after.data).toEqual(before.data)
  })

  it('a target Secret of an unexpected type (kubernetes.io/tls) is refused', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64')
    await view.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: TLS_NS } },
      {
        apiVersion: 'v1', kind: 'Secret', metadata: { name: FIXTURE.secret, namespace: TLS_NS }, type: 'kubernetes.io/tls',
        data: { 'tls.crt': b64('not a cert'), 'tls.key': b64('not a key'), [FIXTURE.key]: b64('{}') },
      },
    ])
    const before = (await view.secret(FIXTURE.secret, TLS_NS))!
    const r = await preflightRefused({ targets: JSON.stringify([{ ...TARGET, namespace: TLS_NS, staleSecrets: [] }]) }, 2)
    expect(r.stdout).toMatch(new RegExp(`REFUSED: Secret ${TLS_NS}/gmail-oauth-token is of type kubernetes\\.io/tls, not Opaque: refusing to rewrite it`))
    const after = (await view.secret(FIXTURE.secret, TLS_NS))!
    expect(after.metadata!.resourceVersion).toBe(before.metadata!.resourceVersion)
  })
})

describe('a consumer that still reads the stale Secret', () => {
  it('is not broken: the preflight refuses, naming the Deployment and the Secret, before the Secret is replaced', async () => {
    const k8s = await import('@kubernetes/client-node')
    const kc = new k8s.KubeConfig()
    kc.loadFromFile(kubeconfig)
    const apps = kc.makeApiClient(k8s.AppsV1Api)
    const ref = { name: FIXTURE.deployment, namespace: ns }
    const volume = { name: 'legacy-token', secret: { secretName: FIXTURE.staleSecret } }
    const d = await apps.readNamespacedDeployment(ref)
    await apps.replaceNamespacedDeployment({ ...ref, body: { ...d, spec: { ...d.spec!, template: { ...d.spec!.template, spec: { ...d.spec!.template.spec!, volumes: [...(d.spec!.template.spec!.volumes ?? []), volume] } } } } })
    // The new template rolls out: let it settle, or its status updates move the resourceVersion under the snapshot.
    await waitAvailable(kubeconfig, [FIXTURE.deployment])
    await view.settled()
    try {
      const r = await preflightRefused({}, 2)
      expect(r.stdout).toMatch(new RegExp(`\\[delete-stale\\[${ns}\\]\\] REFUSED: Deployment ${ns}/${FIXTURE.deployment} still references stale Secret ${FIXTURE.staleSecret}: deleting it after the sync would keep its new pods from starting`))
      expect(await view.secret(FIXTURE.staleSecret)).toBeDefined()
    } finally {
      const cur = await apps.readNamespacedDeployment(ref)
      cur.spec!.template.spec!.volumes = cur.spec!.template.spec!.volumes!.filter((v) => v.name !== volume.name)
      await apps.replaceNamespacedDeployment({ ...ref, body: cur })
      await resetFixtures(kubeconfig)
    }
  })
})

describe('what the refusals printed', () => {
  it('holds no token material', () => {
    const needles = secretNeedles(env.standIn, [goodToken])
    expect(findLeaks({ ...Object.fromEntries(env.transcripts.map((t, i) => [`output #${i}`, t])), ...env.stateFiles() }, needles)).toEqual([])
  })
})

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}
