/**
 * Did the consumers restart after the Secret changed? Answered from the apiserver's own
 * records, never from one host's clock: kubectl's restartedAt annotation carries the time of
 * whichever host patched it, and a host minutes ahead makes an old restart look new.
 *   1. the pod template names the Secret object it was restarted for (its uid: a new grant
 *      recreates the Secret, so a new uid), as our restart writes it; or
 *   2. the Deployment's current ReplicaSet was created (server clock) after the Secret was
 *      (server clock), once the controller has observed the latest template.
 */
import type { V1Deployment } from '@kubernetes/client-node'
import type { Kube } from './client.ts'
import { currentReplicaSet } from './pods.ts'

/** Pod-template annotation: the uid of the Secret a restart was made for. */
export const RESTARTED_FOR_ANNOTATION = 'credflow.dev/restarted-for-secret-uid'

export interface SecretIdentity {
  name: string
  uid: string
  creationTimestamp: Date
}

export interface RestartEvidence {
  fresh: boolean
  why: string
}

const stamp = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z')

export async function restartEvidence(kube: Kube, d: V1Deployment, secret: SecretIdentity, opts: { signal?: AbortSignal } = {}): Promise<RestartEvidence> {
  const ann = d.spec?.template?.metadata?.annotations ?? {}
  if (ann[RESTARTED_FOR_ANNOTATION] === secret.uid) return { fresh: true, why: `its pod template was restarted for Secret ${secret.name} uid ${secret.uid.slice(0, 8)}` }
  if ((d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) {
    return { fresh: false, why: 'the deployment controller has not observed its latest template yet, so its ReplicaSet cannot tell' }
  }
  const rs = await currentReplicaSet(kube, d, opts)
  const created = rs?.metadata?.creationTimestamp ? new Date(rs.metadata.creationTimestamp) : undefined
  if (!rs || !created) return { fresh: false, why: 'it has no current ReplicaSet' }
  // Both whole seconds on the apiserver's clock: only a strictly later second proves the order.
  if (created.getTime() > secret.creationTimestamp.getTime()) {
    return { fresh: true, why: `its ReplicaSet ${rs.metadata!.name} was created ${stamp(created)}, after Secret ${secret.name} (${stamp(secret.creationTimestamp)}), by the apiserver's clock` }
  }
  return { fresh: false, why: `its ReplicaSet ${rs.metadata!.name} was created ${stamp(created)}, not after Secret ${secret.name} (${stamp(secret.creationTimestamp)}), by the apiserver's clock` }
}
