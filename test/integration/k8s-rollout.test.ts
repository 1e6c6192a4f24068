import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import type { AppsV1Api, CoreV1Api } from '@kubernetes/client-node'
import { connect, type Kube } from '../../lib/k8s/client.ts'
import { restartDeployment, waitForRollout, readDeployment, RESTARTED_AT_ANNOTATION } from '../../lib/k8s/rollout.ts'
import { listDeploymentPods } from '../../lib/k8s/pods.ts'
import type { RolloutStatus } from '../../lib/k8s/rollout-status.ts'
import { OpsError } from '../../lib/errors.ts'
import { applyFixtures, adminKubeConfig, FIXTURE } from '../k8s/fixtures.ts'

const kubeconfig = inject('kubeconfig')
const nodeName = inject('nodeName')
const scratch = 'k8s-rollout'
let kube: Kube
let apps: AppsV1Api
let core: CoreV1Api

async function failure(p: Promise<unknown>): Promise<OpsError> {
  const e = await p.then(() => undefined, (x) => x)
  expect(e).toBeInstanceOf(OpsError)
  return e as OpsError
}

/** A Deployment in the scratch namespace, available on the kwok node before the test goes on. */
async function scratchDeployment(name: string, spec: { progressDeadlineSeconds?: number; paused?: boolean } = {}) {
  await apps.createNamespacedDeployment({
    namespace: scratch,
    body: {
      metadata: { name },
      spec: {
        replicas: 1, ...spec,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { nodeName, containers: [{ name: 'c', image: 'registry.example/x:1' }] } },
      },
    },
  })
  if (!spec.paused) await waitForRollout(kube, { namespace: scratch, name }, { timeoutMs: 30_000, intervalMs: 200 })
  return { namespace: scratch, name }
}

/** Make the next rollout's pods unable to become ready: unbound, and no scheduler runs. */
async function breakTemplate(ref: { namespace: string; name: string }) {
  const k8s = await import('@kubernetes/client-node')
  const patched = await apps.patchNamespacedDeployment(
    { ...ref, body: { spec: { template: { spec: { nodeName: null } } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
  )
  return patched.metadata!.generation!
}

beforeAll(async () => {
  await applyFixtures(kubeconfig)
  kube = await connect({ kubeconfig })
  const k8s = await import('@kubernetes/client-node')
  const kc = await adminKubeConfig(kubeconfig)
  apps = kc.makeApiClient(k8s.AppsV1Api)
  core = kc.makeApiClient(k8s.CoreV1Api)
  await core.createNamespace({ body: { metadata: { name: scratch } } })
})
afterAll(async () => {
  await core.deleteNamespace({ name: scratch })
})

describe('restartDeployment + waitForRollout', () => {
  it('replaces every pod with new Ready pods from a new ReplicaSet, reporting kubectl-style progress', async () => {
    const ref = { namespace: FIXTURE.namespace, name: FIXTURE.deployment }
    const before = await listDeploymentPods(kube, ref)
    expect(before.pods).toHaveLength(2)
    const startedAt = Math.floor(Date.now() / 1000) * 1000 // creationTimestamp has 1 s resolution

    const restart = await restartDeployment(kube, ref)
    const d = await readDeployment(kube, ref)
    expect(d.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBe(restart.restartedAt)
    expect(restart.generation).toBe(d.metadata?.generation)

    const seen: RolloutStatus[] = []
    const done = await waitForRollout(kube, ref, { minGeneration: restart.generation, intervalMs: 100, timeoutMs: 60_000, onProgress: (s) => seen.push(s) })
    expect(done.message).toBe(`deployment "${FIXTURE.deployment}" successfully rolled out`)
    expect(seen.at(-1)?.done).toBe(true)

    const after = await listDeploymentPods(kube, ref)
    expect(after.replicaSet).not.toBe(before.replicaSet)
    expect(Number(after.revision)).toBeGreaterThan(Number(before.revision))
    expect(after.pods).toHaveLength(2)
    for (const p of after.pods) {
      expect(p.ready).toBe(true)
      expect(p.nodeName).toBe(nodeName)
      expect(p.createdAt.getTime()).toBeGreaterThanOrEqual(startedAt)
      expect(before.pods.map((b) => b.name)).not.toContain(p.name)
    }
  })

  it('a dry run changes nothing', async () => {
    const ref = { namespace: FIXTURE.namespace, name: FIXTURE.worker }
    const d = await readDeployment(kube, ref)
    const out = await restartDeployment(kube, ref, { dryRun: true })
    expect(out.dryRun).toBe(true)
    const after = await readDeployment(kube, ref)
    expect(after.metadata?.generation).toBe(d.metadata?.generation)
    expect(after.metadata?.resourceVersion).toBe(d.metadata?.resourceVersion)
  })

  it('refuses a paused Deployment with kubectl\'s message', async () => {
    const ref = await scratchDeployment('paused', { paused: true })
    const e = await failure(restartDeployment(kube, ref))
    expect(e.reason).toBe('DeploymentPaused')
    expect(e.message).toContain("can't restart paused deployment (run rollout resume first)")
    expect((await readDeployment(kube, ref)).spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBeUndefined()
  })
})

describe('waitForRollout when the new pods never become ready', () => {
  it('fails fast with ProgressDeadlineExceeded, long before its timeout', async () => {
    const ref = await scratchDeployment('deadline', { progressDeadlineSeconds: 2 })
    const generation = await breakTemplate(ref)
    const t0 = Date.now()
    const e = await failure(waitForRollout(kube, ref, { minGeneration: generation, intervalMs: 200, timeoutMs: 90_000 }))
    expect(e.reason).toBe('ProgressDeadlineExceeded')
    expect(e.message).toContain('deployment "deadline" exceeded its progress deadline')
    expect(Date.now() - t0).toBeLessThan(30_000)
  })

  it('times out with the last status when no deadline is hit first', async () => {
    const ref = await scratchDeployment('slow', { progressDeadlineSeconds: 600 })
    const generation = await breakTemplate(ref)
    const t0 = Date.now()
    const e = await failure(waitForRollout(kube, ref, { minGeneration: generation, intervalMs: 200, timeoutMs: 1500 }))
    expect(e.reason).toBe('Timeout')
    expect(e.retryable).toBe(true)
    expect(e.message).toMatch(/timed out after 2s waiting for deployment "slow" in namespace "k8s-rollout": Waiting for deployment "slow" rollout to finish/)
    expect(Date.now() - t0).toBeLessThan(5_000)
  })

  /**
   * What a kubelet would report for the new ReplicaSet's pods, written as their status (nothing
   * else manages unbound pods: no scheduler, no kubelet). Returns the pods' names.
   */
  async function reportWaiting(ref: { namespace: string; name: string }, reason: string, message: string): Promise<string[]> {
    const k8s = await import('@kubernetes/client-node')
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)
    const deadline = Date.now() + 20_000
    for (;;) {
      const pods = (await core.listNamespacedPod({ namespace: ref.namespace, labelSelector: `app=${ref.name}` })).items.filter((p) => !p.spec?.nodeName && !p.metadata?.deletionTimestamp)
      if (pods.length) {
        for (const p of pods) {
          const status = { phase: 'Pending', containerStatuses: [{ name: 'c', image: 'registry.example/x:1', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message } } }] }
          await core.patchNamespacedPodStatus({ name: p.metadata!.name!, namespace: ref.namespace, body: { status } }, merge)
        }
        return pods.map((p) => p.metadata!.name!)
      }
      if (Date.now() > deadline) throw new Error(`no new pod of ${ref.name} appeared`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  it('a missing image: the error names ProgressDeadlineExceeded and the pod waiting in ImagePullBackOff, not just a deadline', async () => {
    const ref = await scratchDeployment('pull', { progressDeadlineSeconds: 2 })
    const generation = await breakTemplate(ref)
    const [pod] = await reportWaiting(ref, 'ImagePullBackOff', 'Back-off pulling image "registry.example/missing:1"')
    const e = await failure(waitForRollout(kube, ref, { minGeneration: generation, intervalMs: 200, timeoutMs: 90_000 }))
    expect(e.reason).toBe('ProgressDeadlineExceeded')
    expect(e.message).toMatch(/\n {2}Progressing=False ProgressDeadlineExceeded: ReplicaSet "pull-[a-z0-9]+" has timed out progressing\./)
    expect(e.message).toContain(`\n  pod ${pod}: container c waiting: ImagePullBackOff (Back-off pulling image "registry.example/missing:1")`)
    expect(e.hint).toContain(`kubectl -n ${scratch} describe deployment/pull`)
  })

  it('a Secret key the pod needs is missing: the timeout names CreateContainerConfigError and the key', async () => {
    const ref = await scratchDeployment('key', { progressDeadlineSeconds: 600 })
    const generation = await breakTemplate(ref)
    const message = `couldn't find key gmail-westsidebasketball.json in Secret ${scratch}/gmail-oauth-token`
    const [pod] = await reportWaiting(ref, 'CreateContainerConfigError', message)
    const e = await failure(waitForRollout(kube, ref, { minGeneration: generation, intervalMs: 200, timeoutMs: 1500 }))
    expect(e.reason).toBe('Timeout')
    expect(e.message).toMatch(/^timed out after 2s waiting for deployment "key" in namespace "k8s-rollout": Waiting for deployment "key" rollout to finish/)
    expect(e.message).toContain(`\n  pod ${pod}: container c waiting: CreateContainerConfigError (${message})`)
  })

  it('stops promptly when its signal is aborted', async () => {
    const ref = await scratchDeployment('aborted', { progressDeadlineSeconds: 600 })
    const generation = await breakTemplate(ref)
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 300)
    const t0 = Date.now()
    const e = await failure(waitForRollout(kube, ref, { minGeneration: generation, intervalMs: 5_000, signal: ac.signal }))
    expect(e.reason).toBe('Aborted')
    expect(Date.now() - t0).toBeLessThan(2_000)
  })

  it('reports a missing Deployment as NotFound', async () => {
    const e = await failure(waitForRollout(kube, { namespace: scratch, name: 'nope' }, { timeoutMs: 5_000 }))
    expect(e.reason).toBe('NotFound')
    expect(e.message).toBe(`NotFound: cannot get deployments "nope" in namespace "${scratch}": not found`)
  })

  it('reports a missing namespace as such, not as a missing Deployment', async () => {
    const e = await failure(restartDeployment(kube, { namespace: 'no-such-namespace', name: 'nope' }, { dryRun: true }))
    expect(e.reason).toBe('NamespaceNotFound')
    // No claim that nothing changed: restart reads the Deployment after the Secret was replaced.
    expect(e.message).toBe('namespace "no-such-namespace" does not exist')
    expect(e.hint).toContain('kubectl get namespaces')
  })
})
