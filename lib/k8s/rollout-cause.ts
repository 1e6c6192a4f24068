/**
 * Why a rollout is stuck, in the controller's and the kubelet's own words, for an error that
 * would otherwise only say "timed out": the Deployment's conditions that are not well
 * (Progressing=False ProgressDeadlineExceeded, ReplicaFailure=True, Available=False) and, for
 * the current ReplicaSet's pods that are not Ready, each container's waiting reason
 * (ImagePullBackOff, CreateContainerConfigError: couldn't find key … in Secret …,
 * CrashLoopBackOff) or why the pod is not scheduled. What `kubectl describe` would show first.
 */
import type { V1Deployment, V1Pod } from '@kubernetes/client-node'
import { callOptions, type Kube } from './client.ts'
import type { DeploymentRef } from './rollout.ts'

const REVISION = 'deployment.kubernetes.io/revision'

/** The Deployment conditions worth reading, as "Type=Status Reason: message". */
export function deploymentConditionCauses(d: V1Deployment): string[] {
  return (d.status?.conditions ?? [])
    .filter((c) => (c.type === 'Progressing' && c.status === 'False') || (c.type === 'ReplicaFailure' && c.status === 'True') || (c.type === 'Available' && c.status === 'False'))
    .map((c) => `${c.type}=${c.status} ${c.reason ?? ''}${c.message ? `: ${c.message}` : ''}`.trim())
}

/** Why one pod is not Ready: container waiting/terminated reasons, else an unmet pod condition. */
export function podCauses(p: V1Pod): string[] {
  const out: string[] = []
  for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
    const w = c.state?.waiting
    if (w?.reason && w.reason !== 'ContainerCreating' && w.reason !== 'PodInitializing') out.push(`container ${c.name} waiting: ${w.reason}${w.message ? ` (${w.message})` : ''}`)
    const t = c.state?.terminated ?? c.lastState?.terminated
    if (!w && t && t.exitCode !== 0) out.push(`container ${c.name} terminated: ${t.reason ?? 'Error'}, exit code ${t.exitCode}${t.message ? ` (${t.message})` : ''}`)
  }
  if (!out.length) {
    const sched = p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False')
    if (sched) out.push(`not scheduled: ${sched.reason ?? ''}${sched.message ? ` (${sched.message})` : ''}`.trim())
  }
  return out
}

/**
 * Causes for a stuck rollout of `d`: its conditions, then the not-Ready pods of its current
 * ReplicaSet, one line per distinct cause ("2 pods: …"). Never throws: a cause it cannot read
 * (no list on pods) is said as such, since the rollout's own error matters more.
 */
export async function rolloutCauses(kube: Kube, ref: DeploymentRef, d: V1Deployment, signal?: AbortSignal): Promise<string[]> {
  const causes = deploymentConditionCauses(d)
  try {
    const labelSelector = Object.entries(d.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')
    const sets = (await kube.apps.listNamespacedReplicaSet({ namespace: ref.namespace, labelSelector }, callOptions({ signal }))).items
    const current = sets.find((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid) && rs.metadata?.annotations?.[REVISION] === d.metadata?.annotations?.[REVISION])
    if (!current) return causes
    const pods = (await kube.core.listNamespacedPod({ namespace: ref.namespace, labelSelector }, callOptions({ signal }))).items.filter(
      (p) => p.metadata?.ownerReferences?.some((o) => o.uid === current.metadata?.uid) && !p.metadata?.deletionTimestamp && !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    )
    const byCause = new Map<string, string[]>()
    for (const p of pods) for (const c of podCauses(p)) byCause.set(c, [...(byCause.get(c) ?? []), p.metadata?.name ?? '?'])
    for (const [cause, names] of byCause) causes.push(`${names.length === 1 ? `pod ${names[0]}` : `${names.length} pods (${names.join(', ')})`}: ${cause}`)
  } catch (e) {
    causes.push(`(its pods could not be read: ${(e as Error).message.split('\n')[0]})`)
  }
  return causes
}
