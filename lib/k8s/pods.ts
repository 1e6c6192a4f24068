/**
 * The pods a Deployment is running now, for verifying a restart: those of its current
 * ReplicaSet (the one at the Deployment's revision). Needs list on replicasets and pods,
 * unlike restart and rollout status, which only read the Deployment.
 */
import type { V1Deployment, V1ReplicaSet, V1Pod } from '@kubernetes/client-node'
import { callOptions, readRetried, type Kube } from './client.ts'
import { readDeployment, type DeploymentRef } from './rollout.ts'

export interface PodSummary {
  name: string
  createdAt: Date
  ready: boolean
  phase: string
  nodeName?: string
  /** Being deleted (deletionTimestamp set). */
  terminating: boolean
  replicaSet: string
}

export interface DeploymentPods {
  /** The ReplicaSet matching the Deployment's current revision (undefined before the controller made one). */
  replicaSet?: string
  revision: string
  pods: PodSummary[]
}

const REVISION = 'deployment.kubernetes.io/revision'

/** The ReplicaSet at the Deployment's current revision, or undefined before the controller made it. */
export async function currentReplicaSet(kube: Kube, d: V1Deployment, opts: { signal?: AbortSignal } = {}): Promise<V1ReplicaSet | undefined> {
  const namespace = d.metadata?.namespace ?? ''
  const revision = d.metadata?.annotations?.[REVISION] ?? ''
  const labelSelector = selectorString(d.spec?.selector?.matchLabels ?? {})
  let sets: V1ReplicaSet[]
  try {
    sets = (await readRetried(kube, { verb: 'list', resource: 'replicasets', namespace }, opts.signal, () => kube.apps.listNamespacedReplicaSet({ namespace, labelSelector }, callOptions(opts)))).items
  } catch (e) {
    throw kube.error(e, { verb: 'list', resource: 'replicasets', namespace })
  }
  const owned = sets.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid && o.controller))
  return owned.find((rs) => rs.metadata?.annotations?.[REVISION] === revision)
}

export async function listDeploymentPods(kube: Kube, ref: DeploymentRef, opts: { signal?: AbortSignal } = {}): Promise<DeploymentPods> {
  const d = await readDeployment(kube, ref, opts.signal)
  const revision = d.metadata?.annotations?.[REVISION] ?? ''
  const labelSelector = selectorString(d.spec?.selector?.matchLabels ?? {})
  const current = await currentReplicaSet(kube, d, opts)
  if (!current) return { revision, pods: [] }

  const hash = current.metadata?.labels?.['pod-template-hash']
  let pods: V1Pod[]
  try {
    const selector = hash ? `${labelSelector ? labelSelector + ',' : ''}pod-template-hash=${hash}` : labelSelector
    pods = (await readRetried(kube, { verb: 'list', resource: 'pods', namespace: ref.namespace }, opts.signal, () => kube.core.listNamespacedPod({ namespace: ref.namespace, labelSelector: selector }, callOptions(opts)))).items
  } catch (e) {
    throw kube.error(e, { verb: 'list', resource: 'pods', namespace: ref.namespace })
  }
  const rsName = current.metadata?.name ?? ''
  return {
    replicaSet: rsName,
    revision,
    pods: pods
      .filter((p) => p.metadata?.ownerReferences?.some((o) => o.uid === current.metadata?.uid))
      .map((p) => summarize(p, rsName))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()),
  }
}

function summarize(p: V1Pod, replicaSet: string): PodSummary {
  return {
    name: p.metadata?.name ?? '',
    createdAt: new Date(p.metadata?.creationTimestamp ?? NaN),
    ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    phase: p.status?.phase ?? 'Unknown',
    nodeName: p.spec?.nodeName,
    terminating: !!p.metadata?.deletionTimestamp,
    replicaSet,
  }
}

function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}
