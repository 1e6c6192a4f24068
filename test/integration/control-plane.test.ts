// The test plane behaves like a cluster where it matters to us: the controllers roll
// Deployments, RBAC denies, progress deadlines expire. Uses client-node directly, not lib/k8s.
import { describe, it, expect, beforeAll, inject } from 'vitest'
import * as k8s from '@kubernetes/client-node'
import { setTimeout as sleep } from 'node:timers/promises'
import { applyFixtures, FIXTURE } from '../k8s/fixtures.ts'
import { serviceAccountKubeconfig } from '../k8s/service-account.ts'

const kubeconfig = inject('kubeconfig')
const ns = FIXTURE.namespace
let apps: k8s.AppsV1Api
let core: k8s.CoreV1Api

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(250)
  }
}

const ready = (p: k8s.V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false

beforeAll(async () => {
  await applyFixtures(kubeconfig)
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(kubeconfig)
  apps = kc.makeApiClient(k8s.AppsV1Api)
  core = kc.makeApiClient(k8s.CoreV1Api)
})

describe('a rollout restart', () => {
  it('creates a new ReplicaSet whose pods become Ready while the old pods go away', async () => {
    const name = FIXTURE.deployment
    // Earlier test files restart this Deployment too: wait until their old pods are gone.
    const before = await until('the fixture settled at 2 pods', async () => {
      // Pods parked on a node without a kubelet by other files stay Terminating: not ours to count.
      const list = (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${name}` })).items.filter((p) => !p.metadata!.deletionTimestamp)
      return list.length === 2 && list.every(ready) ? list : undefined
    })
    const oldPods = new Set(before.map((p) => p.metadata!.uid))
    expect(oldPods.size).toBe(2)

    await apps.patchNamespacedDeployment(
      { name, namespace: ns, body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    )
    const d = await apps.readNamespacedDeployment({ name, namespace: ns })
    const revision = await until('a new revision', async () => {
      const cur = await apps.readNamespacedDeployment({ name, namespace: ns })
      return (cur.status?.observedGeneration ?? 0) >= d.metadata!.generation! ? cur.metadata!.annotations!['deployment.kubernetes.io/revision'] : undefined
    })
    const sets = await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: `app=${name}` })
    const newest = sets.items.find((rs) => rs.metadata!.annotations!['deployment.kubernetes.io/revision'] === revision)!
    expect(sets.items.length).toBeGreaterThanOrEqual(2)

    const pods = await until('2 new Ready pods and no old ones', async () => {
      const list = (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${name}` })).items.filter((p) => !p.metadata!.deletionTimestamp)
      const fresh = list.filter((p) => p.metadata!.ownerReferences?.[0]?.uid === newest.metadata!.uid && ready(p))
      return fresh.length === 2 && list.length === 2 ? list : undefined
    })
    for (const p of pods) expect(oldPods.has(p.metadata!.uid)).toBe(false)
  })
})

describe('RBAC with a ServiceAccount token', () => {
  it('allows what the Role grants and answers 403 Forbidden outside it', async () => {
    const saConfig = await serviceAccountKubeconfig(kubeconfig, {
      namespace: ns, name: 'narrow-reader',
      rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [FIXTURE.secret], verbs: ['get'] }],
    })
    const kc = new k8s.KubeConfig()
    kc.loadFromFile(saConfig)
    const saCore = kc.makeApiClient(k8s.CoreV1Api)
    const saApps = kc.makeApiClient(k8s.AppsV1Api)

    const allowed = await saCore.readNamespacedSecret({ name: FIXTURE.secret, namespace: ns })
    expect(allowed.metadata?.name).toBe(FIXTURE.secret)

    const refused = [
      () => saCore.readNamespacedSecret({ name: FIXTURE.staleSecret, namespace: ns }),
      () => saCore.listNamespacedSecret({ namespace: ns }),
      () => saCore.deleteNamespacedSecret({ name: FIXTURE.secret, namespace: ns }),
      () => saApps.readNamespacedDeployment({ name: FIXTURE.worker, namespace: ns }),
      () => saCore.readNamespacedPersistentVolumeClaim({ name: FIXTURE.pvc, namespace: FIXTURE.mailNamespace }),
    ]
    for (const call of refused) {
      const e = await call().then(() => undefined, (err) => err)
      expect(e).toBeInstanceOf(k8s.ApiException)
      expect(e.code).toBe(403)
      expect(JSON.parse(e.body).reason).toBe('Forbidden')
    }
    // The refused delete really did nothing.
    expect((await core.readNamespacedSecret({ name: FIXTURE.secret, namespace: ns })).metadata?.name).toBe(FIXTURE.secret)
  })
})

describe('a Deployment whose new pods cannot become ready', () => {
  it('ends with Progressing=False, reason ProgressDeadlineExceeded', async () => {
    const scratch = 'plane-deadline'
    await core.createNamespace({ body: { metadata: { name: scratch } } }).catch((e) => { if (e.code !== 409) throw e })
    // No nodeName and no scheduler: the pods stay Pending forever, and being unbound they
    // are deleted at once when the namespace goes (no kubelet needed to finish them).
    await apps.createNamespacedDeployment({
      namespace: scratch,
      body: {
        metadata: { name: 'stuck' },
        spec: {
          replicas: 1, progressDeadlineSeconds: 2,
          selector: { matchLabels: { app: 'stuck' } },
          template: { metadata: { labels: { app: 'stuck' } }, spec: { containers: [{ name: 'c', image: 'registry.example/stuck:1' }] } },
        },
      },
    })
    const cond = await until('ProgressDeadlineExceeded', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'stuck', namespace: scratch })
      return d.status?.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')
    }, 30_000)
    expect(cond.status).toBe('False')
    await core.deleteNamespace({ name: scratch })
  })
})
