/**
 * The test's own (admin) view of the fixture world the workflow acts on: the token Secret,
 * the stale Secret, the consumer Deployment and its pods, the pal-e-mail PVC. Read-mostly;
 * the few writes set up a scenario (extra Secret keys, pods pinned off the kwok node).
 */
import type { V1Deployment, V1Pod, V1Secret } from '@kubernetes/client-node'
import { setTimeout as sleep } from 'node:timers/promises'
import { adminKubeConfig, FIXTURE } from '../k8s/fixtures.ts'

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt'

/** What must not move when the tool is told to change nothing. */
export interface WorldSnapshot {
  secret?: { uid: string; resourceVersion: string }
  stale?: { uid: string; resourceVersion: string }
  deployment: { resourceVersion: string; generation: number; restartedAt?: string }
  worker: { generation: number }
  pvc: { uid: string; resourceVersion: string }
}

export async function clusterView(kubeconfig: string) {
  const k8s = await import('@kubernetes/client-node')
  const kc = await adminKubeConfig(kubeconfig)
  const core = kc.makeApiClient(k8s.CoreV1Api)
  const apps = kc.makeApiClient(k8s.AppsV1Api)
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc)
  const ns = FIXTURE.namespace
  const absent = (e: any) => {
    if (e?.code === 404) return undefined
    throw e
  }
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)

  const secret = (name: string = FIXTURE.secret, namespace: string = ns): Promise<V1Secret | undefined> =>
    core.readNamespacedSecret({ name, namespace }).catch(absent)
  const deployment = (name: string = FIXTURE.deployment): Promise<V1Deployment> => apps.readNamespacedDeployment({ name, namespace: ns })

  const view = {
    core,
    apps,
    secret,
    deployment,
    /** data[key] of a Secret, decoded. */
    async secretBytes(key: string = FIXTURE.key, name: string = FIXTURE.secret): Promise<Buffer | undefined> {
      const s = await secret(name)
      const v = s?.data?.[key]
      return v === undefined ? undefined : Buffer.from(v, 'base64')
    },
    pvc: () => core.readNamespacedPersistentVolumeClaim({ name: FIXTURE.pvc, namespace: FIXTURE.mailNamespace }),
    async snapshot(): Promise<WorldSnapshot> {
      const idOf = (s?: V1Secret) => (s ? { uid: s.metadata!.uid!, resourceVersion: s.metadata!.resourceVersion! } : undefined)
      const d = await deployment()
      const pvc = await view.pvc()
      return {
        secret: idOf(await secret()),
        stale: idOf(await secret(FIXTURE.staleSecret)),
        deployment: { resourceVersion: d.metadata!.resourceVersion!, generation: d.metadata!.generation!, restartedAt: d.spec?.template?.metadata?.annotations?.[RESTARTED_AT] },
        worker: { generation: (await deployment(FIXTURE.worker)).metadata!.generation! },
        pvc: { uid: pvc.metadata!.uid!, resourceVersion: pvc.metadata!.resourceVersion! },
      }
    },
    /** The Deployment's pods that are not being deleted. */
    async livePods(name: string = FIXTURE.deployment): Promise<V1Pod[]> {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${name}` })
      return pods.items.filter((p) => !p.metadata?.deletionTimestamp)
    },
    /** Add keys, labels and annotations the tool must carry over when it recreates the Secret. */
    async decorateSecret(extra: { data?: Record<string, string>; labels?: Record<string, string>; annotations?: Record<string, string> }) {
      const data = Object.fromEntries(Object.entries(extra.data ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))
      await core.patchNamespacedSecret({ name: FIXTURE.secret, namespace: ns, body: { metadata: { labels: extra.labels, annotations: extra.annotations }, data } }, merge)
    },
    /** Bind the Deployment's next pods to `nodeName` (no kubelet there: they stay Pending); a template change, so a rollout. */
    async pinPods(nodeName: string) {
      await apps.patchNamespacedDeployment({ name: FIXTURE.deployment, namespace: ns, body: { spec: { template: { spec: { nodeName } } } } }, merge)
    },
    /** Server-side apply of arbitrary objects (policies, test namespaces). */
    async apply(objs: object[]) {
      for (const o of objs) await objects.patch(o as any, undefined, undefined, 'credflow-tests', true, k8s.PatchStrategy.ServerSideApply)
    },
    async remove(objs: object[]) {
      for (const o of objs) await objects.delete(o as any).catch(absent)
    },
    /**
     * Waits until a Deployment is at rest: the controller has seen its generation and its
     * resourceVersion stays put for a second (after a template change or a scale, status
     * updates move it for a while, under a snapshot taken too early).
     */
    async settled(name: string = FIXTURE.deployment, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs
      let last = ''
      let since = Date.now()
      for (;;) {
        const d = await deployment(name)
        const seen = d.status?.observedGeneration === d.metadata!.generation
        const rv = `${d.metadata!.resourceVersion} ${seen}`
        if (rv !== last) [last, since] = [rv, Date.now()]
        else if (seen && Date.now() - since >= 1000) return
        if (Date.now() > deadline) throw new Error(`Deployment ${name} did not settle within ${timeoutMs} ms`)
        await sleep(200)
      }
    },
    /** Poll `probe` until it returns a value other than undefined/false. */
    async until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const v = await probe()
        if (v !== undefined && v !== false) return v
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await sleep(100)
      }
    },
  }
  return view
}

export type ClusterView = Awaited<ReturnType<typeof clusterView>>
