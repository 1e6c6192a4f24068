// deploy/rbac.yaml and deploy/secret-create-policy.yaml on the real apiserver: the workflow's
// ServiceAccount, calling with its own TokenRequest token, can do exactly what the workflow
// does and is refused everything else.
import * as k8s from '@kubernetes/client-node'
import { request, type RequestOptions } from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { applyFixtures, FIXTURE } from '../k8s/fixtures.ts'
import { applyManifestFiles, DEPLOY_MANIFESTS, saKubeconfig, WORKFLOW_SA, refusal } from '../ops/cluster.ts'

const admin = inject('kubeconfig')
const ns = FIXTURE.namespace
const POLICY = 'credflow-gmail-reauth-secret-create'
const DECOY = 'basketball-api-db' // a Secret the SA must not see

interface Clients {
  core: k8s.CoreV1Api
  apps: k8s.AppsV1Api
  authz: k8s.AuthorizationV1Api
}
let sa: Clients
let root: Clients
let saPath: string

function clients(path: string): Clients {
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(path)
  return { core: kc.makeApiClient(k8s.CoreV1Api), apps: kc.makeApiClient(k8s.AppsV1Api), authz: kc.makeApiClient(k8s.AuthorizationV1Api) }
}

const secret = (name: string, data: Record<string, string>): k8s.V1Secret => ({ metadata: { name, namespace: ns }, type: 'Opaque', data })

beforeAll(async () => {
  await applyFixtures(admin)
  await applyManifestFiles(admin, DEPLOY_MANIFESTS)
  root = clients(admin)
  await root.core.createNamespacedSecret({ namespace: ns, body: secret(DECOY, { password: Buffer.from('decoy').toString('base64') }) }).catch((e) => {
    if (e?.code !== 409) throw e
  })
  saPath = await saKubeconfig(admin, WORKFLOW_SA.namespace, WORKFLOW_SA.name)
  sa = clients(saPath)
  // The apiserver loads admission policies asynchronously: wait until a (dry-run) create of
  // another name is refused before testing anything that depends on it.
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      await sa.core.createNamespacedSecret({ namespace: ns, dryRun: 'All', body: secret('credflow-policy-probe', {}) })
    } catch (e) {
      if (e instanceof k8s.ApiException && e.code === 403) break
      throw e
    }
    if (Date.now() > deadline) throw new Error(`ValidatingAdmissionPolicy ${POLICY} not enforced after 30s`)
    await sleep(250)
  }
})

// The plane is shared with other test files: leave no extra Secret behind.
afterAll(async () => {
  await root?.core.deleteNamespacedSecret({ name: DECOY, namespace: ns }).catch((e) => {
    if (e?.code !== 404) throw e
  })
})

describe('the workflow ServiceAccount can do what gmail-reauth does', () => {
  it('reads gmail-oauth-token (update-secret)', async () => {
    const s = await sa.core.readNamespacedSecret({ name: FIXTURE.secret, namespace: ns })
    expect(Object.keys(s.data ?? {})).toContain(FIXTURE.key)
  })

  it('replaces gmail-oauth-token by delete + create, so creationTimestamp moves (update-secret)', async () => {
    const before = await sa.core.readNamespacedSecret({ name: FIXTURE.secret, namespace: ns })
    await sa.core.deleteNamespacedSecret({
      name: FIXTURE.secret, namespace: ns,
      body: { preconditions: { uid: before.metadata!.uid, resourceVersion: before.metadata!.resourceVersion } },
    })
    const created = await sa.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: FIXTURE.secret, namespace: ns, labels: before.metadata!.labels }, type: before.type, data: before.data },
    })
    expect(created.metadata!.uid).not.toBe(before.metadata!.uid)
    expect(created.data).toEqual(before.data)
  })


  it('reads and deletes the stale Secret (delete-stale; server-side dry run keeps the fixture)', async () => {
    await sa.core.readNamespacedSecret({ name: FIXTURE.staleSecret, namespace: ns })
    await sa.core.deleteNamespacedSecret({ name: FIXTURE.staleSecret, namespace: ns, dryRun: 'All' })
    expect((await root.core.readNamespacedSecret({ name: FIXTURE.staleSecret, namespace: ns })).metadata!.name).toBe(FIXTURE.staleSecret)
  })

  it('reads and rollout-restarts Deployment basketball-api (restart; dry run)', async () => {
    await sa.apps.readNamespacedDeployment({ name: FIXTURE.deployment, namespace: ns })
    const patched = await sa.apps.patchNamespacedDeployment(
      {
        name: FIXTURE.deployment, namespace: ns, dryRun: 'All',
        body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    expect(patched.spec!.template.metadata!.annotations!['kubectl.kubernetes.io/restartedAt']).toBeTruthy()
  })

  it("lists the Deployment's ReplicaSets and pods (verify-decode)", async () => {
    const sets = await sa.apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: `app=${FIXTURE.deployment}` })
    expect(sets.items.length).toBeGreaterThan(0)
    const pods = await sa.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${FIXTURE.deployment}` })
    expect(pods.items.length).toBeGreaterThan(0)
  })
})

describe("the workflow ServiceAccount passes scripts/gmail-reauth.sh's cluster pre-check", () => {
  /** GET a non-resource path with the SA's kubeconfig (CA and token), as kubectl get --raw does. */
  async function getRaw(path: string): Promise<number> {
    const kc = new k8s.KubeConfig()
    kc.loadFromFile(saPath)
    const opts: RequestOptions = {}
    await kc.applyToHTTPSOptions(opts)
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, kc.getCurrentCluster()!.server), opts, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
  }

  it('reads /readyz (kubectl path) and /version (client-node path)', async () => {
    expect(await getRaw('/readyz')).toBe(200)
    expect(await getRaw('/version')).toBe(200)
    expect(await getRaw('/api/v1/namespaces/basketball-api/secrets')).toBe(403) // the token is really the SA's
  })
})

describe('the workflow ServiceAccount is refused everything else', () => {
  it('cannot list Secrets', async () => {
    const r = await refusal(sa.core.listNamespacedSecret({ namespace: ns }))
    expect(r).toMatchObject({ code: 403, reason: 'Forbidden' })
    expect(r.message).toContain('cannot list resource "secrets"')
  })

  it('cannot read another Secret in its namespace', async () => {
    const r = await refusal(sa.core.readNamespacedSecret({ name: DECOY, namespace: ns }))
    expect(r.code).toBe(403)
    expect(r.message).toContain(`"${DECOY}"`)
  })

  it('cannot patch either Secret, and can update (PUT) only the token Secret (a newer access token of the same grant)', async () => {
    const stale = await root.core.readNamespacedSecret({ name: FIXTURE.staleSecret, namespace: ns })
    expect((await refusal(sa.core.replaceNamespacedSecret({ name: FIXTURE.staleSecret, namespace: ns, body: stale }))).code).toBe(403)
    const token = await root.core.readNamespacedSecret({ name: FIXTURE.secret, namespace: ns })
    await sa.core.replaceNamespacedSecret({ name: FIXTURE.secret, namespace: ns, body: token, dryRun: 'All' })
    for (const name of [FIXTURE.secret, FIXTURE.staleSecret]) {
      const patch = sa.core.patchNamespacedSecret(
        { name, namespace: ns, body: { metadata: { labels: { x: 'y' } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      )
      expect((await refusal(patch)).code, name).toBe(403)
    }
  })

  it('cannot read or restart Deployment basketball-worker', async () => {
    expect((await refusal(sa.apps.readNamespacedDeployment({ name: FIXTURE.worker, namespace: ns }))).code).toBe(403)
    const r = await refusal(
      sa.apps.patchNamespacedDeployment(
        { name: FIXTURE.worker, namespace: ns, body: { spec: { template: { metadata: { annotations: { x: 'y' } } } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
      ),
    )
    expect(r.code).toBe(403)
    expect(r.message).toContain('cannot patch resource "deployments"')
  })

  it('cannot change pods or ReplicaSets (its access is list only)', async () => {
    const pods = await root.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${FIXTURE.deployment}` })
    const pod = pods.items[0].metadata!.name!
    expect((await refusal(sa.core.deleteNamespacedPod({ name: pod, namespace: ns, dryRun: 'All' }))).code).toBe(403)
    expect((await refusal(sa.core.readNamespacedPod({ name: pod, namespace: ns }))).code).toBe(403)
    const sets = await root.apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: `app=${FIXTURE.deployment}` })
    const rs = sets.items[0].metadata!.name!
    expect((await refusal(sa.apps.deleteNamespacedReplicaSet({ name: rs, namespace: ns, dryRun: 'All' }))).code).toBe(403)
  })

  it('cannot touch pal-e-mail, including the gmail-oauth PVC (out of scope)', async () => {
    const mail = FIXTURE.mailNamespace
    expect((await refusal(sa.core.readNamespacedPersistentVolumeClaim({ name: FIXTURE.pvc, namespace: mail }))).code).toBe(403)
    expect((await refusal(sa.core.listNamespacedPersistentVolumeClaim({ namespace: mail }))).code).toBe(403)
    expect((await refusal(sa.core.listNamespacedSecret({ namespace: mail }))).code).toBe(403)
    expect((await refusal(sa.core.listNamespacedPod({ namespace: mail }))).code).toBe(403)
  })
})

describe('the ValidatingAdmissionPolicy closes the Secret create gap', () => {
  it('RBAC alone lets the ServiceAccount create any Secret name (the gap)', async () => {
    const review = await sa.authz.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { namespace: ns, verb: 'create', resource: 'secrets', name: 'anything' } } },
    })
    expect(review.status!.allowed).toBe(true)
  })

  it('refuses a Secret with another name, with a message naming the allowed one', async () => {
    const r = await refusal(sa.core.createNamespacedSecret({ namespace: ns, body: secret('exfiltrated-token', { t: 'eA==' }) }))
    expect(r.code).toBe(403)
    expect(r.message).toContain(`ValidatingAdmissionPolicy '${POLICY}'`)
    expect(r.message).toContain('credflow-gmail-reauth may only create Secret basketball-api/gmail-oauth-token, not basketball-api/exfiltrated-token')
    expect((await refusal(root.core.readNamespacedSecret({ name: 'exfiltrated-token', namespace: ns }))).code).toBe(404)
  })

  it('refuses a generated name too', async () => {
    const body: k8s.V1Secret = { metadata: { generateName: 'gmail-oauth-token-', namespace: ns }, type: 'Opaque' }
    expect((await refusal(sa.core.createNamespacedSecret({ namespace: ns, body, dryRun: 'All' }))).code).toBe(403)
  })

  it('allows creating gmail-oauth-token', async () => {
    const before = await sa.core.readNamespacedSecret({ name: FIXTURE.secret, namespace: ns })
    await sa.core.deleteNamespacedSecret({ name: FIXTURE.secret, namespace: ns, body: { preconditions: { uid: before.metadata!.uid } } })
    const created = await sa.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: FIXTURE.secret, namespace: ns, labels: before.metadata!.labels }, type: before.type, data: before.data },
    })
    expect(created.metadata!.name).toBe(FIXTURE.secret)
  })

  it('does not apply to other users: the admin may still create other Secrets', async () => {
    const created = await root.core.createNamespacedSecret({ namespace: ns, dryRun: 'All', body: secret('admin-made', {}) })
    expect(created.metadata!.name).toBe('admin-made')
  })
})
