/**
 * The production shape the tool works on, applied to a test plane: basketball-api with
 * its token Secret, the stale Secret, the API Deployment (init container copying the
 * token into an emptyDir) and a worker the tool must not touch; pal-e-mail with a PVC the
 * tool must never touch; the tool's ServiceAccount, Role and RoleBinding exactly as deployed
 * (deploy/rbac.yaml), so least-privilege tests test the Role we ship.
 * Applied with server-side apply (force), so re-applying converges instead of failing.
 */
import type { KubeConfig, KubernetesObject, V1Deployment } from '@kubernetes/client-node'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments, parseDocument } from 'yaml'

export const FIXTURE = {
  namespace: 'basketball-api',
  deployment: 'basketball-api',
  worker: 'basketball-worker',
  secret: 'gmail-oauth-token',
  key: 'gmail-westsidebasketball.json',
  staleSecret: 'gmail-oauth-westsidebasketball',
  mailNamespace: 'pal-e-mail',
  pvc: 'gmail-oauth',
  /** The workflow's identity, from deploy/rbac.yaml (Role and RoleBinding share the name). */
  serviceAccount: 'credflow-gmail-reauth',
  role: 'credflow-gmail-reauth',
  nodeName: 'kwok-node-0',
  /** The run lock of the token Secret (tasks/k8s/lease.ts). */
  lease: 'credflow-gmail-oauth-token',
} as const

/** One entry of the gmail-reauth workflow's `targets` param. */
export interface Target {
  namespace: string
  secret: string
  key: string
  staleSecrets: string[]
  deployments: string[]
}

/** The fixtures' target: the token Secret, its stale copy and the Deployment reading it. */
export const FIXTURE_TARGET: Target = {
  namespace: FIXTURE.namespace,
  secret: FIXTURE.secret,
  key: FIXTURE.key,
  staleSecrets: [FIXTURE.staleSecret],
  deployments: [FIXTURE.deployment],
}

/** Placeholder token file (not a real credential; shaped like google-auth's authorized_user). */
export const FIXTURE_TOKEN_JSON = JSON.stringify({
  type: 'authorized_user',
  client_id: 'fixture-client.apps.googleusercontent.com',
  client_secret: 'fixture-client-secret',
  refresh_token: '1//fixture-refresh-token',
  token: 'ya29.fixture-access-token',
  expiry: '2026-01-01T00:00:00Z',
})

const b64 = (s: string) => Buffer.from(s).toString('base64')
const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })

function deployment(name: string, replicas: number, nodeName: string): KubernetesObject {
  const labels = { app: name }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: FIXTURE.namespace, labels },
    spec: {
      replicas,
      paused: false,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          nodeName, // no scheduler runs: pods are bound to the kwok node up front
          initContainers: name === FIXTURE.deployment
            ? [{
                name: 'copy-gmail-oauth',
                image: 'busybox:1.36',
                command: ['sh', '-c', `cp /secret-src/${FIXTURE.key} /secrets/google-oauth/`],
                volumeMounts: [
                  { name: 'gmail-oauth-token', mountPath: '/secret-src', readOnly: true },
                  { name: 'google-oauth', mountPath: '/secrets/google-oauth' },
                ],
              }]
            : [],
          containers: [{
            name: name === FIXTURE.deployment ? 'api' : 'worker',
            image: `registry.example/${name}:1.0.0`,
            volumeMounts: name === FIXTURE.deployment ? [{ name: 'google-oauth', mountPath: '/secrets/google-oauth' }] : [],
          }],
          volumes: name === FIXTURE.deployment
            ? [{ name: 'gmail-oauth-token', secret: { secretName: FIXTURE.secret } }, { name: 'google-oauth', emptyDir: {} }]
            : [],
        },
      },
    },
  } as KubernetesObject
}

const DEPLOYED_RBAC = fileURLToPath(new URL('../../deploy/rbac.yaml', import.meta.url))
const EXPIRY_CRD = fileURLToPath(new URL('../../deploy/credentialexpiry-crd.yaml', import.meta.url))

/** deploy/credentialexpiry-crd.yaml: the CRD the workflow's record-expiry step writes to, as a cluster admin installs it. */
export function credentialExpiryCrd(): KubernetesObject {
  return parseDocument(readFileSync(EXPIRY_CRD, 'utf8')).toJS() as KubernetesObject
}

/** deploy/rbac.yaml's objects; fails loudly if they stop naming FIXTURE's account and Role. */
export function deployedRbac(): KubernetesObject[] {
  const objs = parseAllDocuments(readFileSync(DEPLOYED_RBAC, 'utf8'))
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o)
  const names = objs.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`).sort()
  const want = [`Role/${FIXTURE.namespace}/${FIXTURE.role}`, `RoleBinding/${FIXTURE.namespace}/${FIXTURE.role}`, `ServiceAccount/${FIXTURE.namespace}/${FIXTURE.serviceAccount}`]
  if (JSON.stringify(names) !== JSON.stringify(want)) throw new Error(`${DEPLOYED_RBAC} holds ${names.join(', ')}; test/k8s/fixtures.ts expects ${want.join(', ')}`)
  return objs
}

export function fixtureObjects(nodeName: string = FIXTURE.nodeName): KubernetesObject[] {
  const n = FIXTURE.namespace
  return [
    credentialExpiryCrd(),
    ns(n),
    ns(FIXTURE.mailNamespace),
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: FIXTURE.secret, namespace: n, labels: { app: 'basketball-api' } },
      type: 'Opaque', data: { [FIXTURE.key]: b64(FIXTURE_TOKEN_JSON) } } as KubernetesObject,
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: FIXTURE.staleSecret, namespace: n },
      type: 'Opaque', data: { 'token.json': b64('{"stale":true}') } } as KubernetesObject,
    { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: FIXTURE.pvc, namespace: FIXTURE.mailNamespace },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Mi' } } } } as KubernetesObject,
    ...deployedRbac(),
    deployment(FIXTURE.deployment, 2, nodeName),
    deployment(FIXTURE.worker, 1, nodeName),
  ]
}

export async function adminKubeConfig(kubeconfigPath: string): Promise<KubeConfig> {
  const k8s = await import('@kubernetes/client-node')
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(kubeconfigPath)
  return kc
}

/** Create or converge every fixture object, then wait until both Deployments are available. */
export async function applyFixtures(kubeconfigPath: string, opts: { nodeName?: string; timeoutMs?: number } = {}): Promise<void> {
  const k8s = await import('@kubernetes/client-node')
  const objects = k8s.KubernetesObjectApi.makeApiClient(await adminKubeConfig(kubeconfigPath))
  for (const obj of fixtureObjects(opts.nodeName)) {
    await objects.patch(obj, undefined, undefined, 'credflow-fixtures', true, k8s.PatchStrategy.ServerSideApply)
  }
  // Pods a test parked on a node without a kubelet never finish terminating (no kubelet, no
  // pod GC controller here): force-delete them as `kubectl delete --force --grace-period=0` does.
  const core = (await adminKubeConfig(kubeconfigPath)).makeApiClient(k8s.CoreV1Api)
  const stuck = (await core.listNamespacedPod({ namespace: FIXTURE.namespace })).items.filter((p) => p.metadata?.deletionTimestamp)
  for (const p of stuck) {
    await core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: FIXTURE.namespace, gracePeriodSeconds: 0 }).catch(() => {})
  }
  await waitAvailable(kubeconfigPath, [FIXTURE.deployment, FIXTURE.worker], opts.timeoutMs ?? 60_000)
  await waitServed(kubeconfigPath, opts.timeoutMs ?? 60_000)
}

/** The CredentialExpiry type answers (Established is not enough: every handler must serve it). */
async function waitServed(kubeconfigPath: string, timeoutMs: number): Promise<void> {
  const k8s = await import('@kubernetes/client-node')
  const custom = (await adminKubeConfig(kubeconfigPath)).makeApiClient(k8s.CustomObjectsApi)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await custom.listNamespacedCustomObject({ group: 'credflow.dev', version: 'v1', plural: 'credentialexpiries', namespace: FIXTURE.namespace })
      return
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`credentialexpiries.credflow.dev not served after ${timeoutMs / 1000}s: ${(e as Error).message}`)
      await sleep(200)
    }
  }
}

/** Put the Secrets back to their fixture content (recreated), and everything else converged. */
export async function resetFixtures(kubeconfigPath: string, opts: { nodeName?: string } = {}): Promise<void> {
  const k8s = await import('@kubernetes/client-node')
  const core = (await adminKubeConfig(kubeconfigPath)).makeApiClient(k8s.CoreV1Api)
  for (const name of [FIXTURE.secret, FIXTURE.staleSecret]) {
    await core.deleteNamespacedSecret({ name, namespace: FIXTURE.namespace }).catch((e) => {
      if (e?.code !== 404) throw e
    })
  }
  // A run killed by a test leaves its Lease held: each test starts from none.
  const leases = (await adminKubeConfig(kubeconfigPath)).makeApiClient(k8s.CoordinationV1Api)
  await leases.deleteNamespacedLease({ name: FIXTURE.lease, namespace: FIXTURE.namespace }).catch((e) => {
    if (e?.code !== 404) throw e
  })
  // The consent record of an earlier test's grant goes with its Secret.
  const custom = (await adminKubeConfig(kubeconfigPath)).makeApiClient(k8s.CustomObjectsApi)
  await custom.deleteNamespacedCustomObject({ group: 'credflow.dev', version: 'v1', plural: 'credentialexpiries', namespace: FIXTURE.namespace, name: FIXTURE.secret }).catch((e) => {
    if (e?.code !== 404) throw e
  })
  await applyFixtures(kubeconfigPath, opts)
}

export async function waitAvailable(kubeconfigPath: string, names: string[], timeoutMs = 60_000): Promise<void> {
  const k8s = await import('@kubernetes/client-node')
  const apps = (await adminKubeConfig(kubeconfigPath)).makeApiClient(k8s.AppsV1Api)
  const deadline = Date.now() + timeoutMs
  for (const name of names) {
    for (;;) {
      const d: V1Deployment = await apps.readNamespacedDeployment({ name, namespace: FIXTURE.namespace })
      const s = d.status ?? {}
      const want = d.spec?.replicas ?? 1
      if ((s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) && s.updatedReplicas === want &&
        s.availableReplicas === want && s.replicas === want) break
      if (Date.now() > deadline) throw new Error(`fixture deployment ${name} not available after ${timeoutMs / 1000}s: ${JSON.stringify(s)}`)
      await sleep(200)
    }
  }
}
