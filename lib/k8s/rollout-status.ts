/**
 * `kubectl rollout status` for Deployments, ported from kubectl
 * pkg/polymorphichelpers/rollout_status.go (DeploymentStatusViewer.Status, v0.35), with
 * kubectl's messages. Pure: it only reads a Deployment object.
 */
import type { V1Deployment } from '@kubernetes/client-node'
import { OpsError } from '../errors.ts'

export interface RolloutStatus {
  done: boolean
  /** kubectl's line, e.g. `Waiting for deployment "x" rollout to finish: 1 of 2 updated replicas are available...` */
  message: string
  generation: number
  observedGeneration: number
  replicas: number
  updatedReplicas: number
  availableReplicas: number
}

export interface RolloutStatusOptions {
  /** Like `--revision`: fail unless the Deployment is at this revision. 0 = any. */
  revision?: number
  /**
   * Treat `observedGeneration < minGeneration` as not yet observed. Pass the generation
   * returned by the restart PATCH: a status read right after it may still describe the
   * previous, finished rollout.
   */
  minGeneration?: number
}

/** deploymentutil.TimedOutReason */
export const PROGRESS_DEADLINE_EXCEEDED = 'ProgressDeadlineExceeded'
const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision'

/** Throws OpsError(ProgressDeadlineExceeded | RevisionMismatch) where kubectl returns an error. */
export function rolloutStatus(d: V1Deployment, opts: RolloutStatusOptions = {}): RolloutStatus {
  const name = d.metadata?.name ?? ''
  const namespace = d.metadata?.namespace
  const s = d.status ?? {}
  const base = {
    generation: d.metadata?.generation ?? 0,
    observedGeneration: s.observedGeneration ?? 0,
    replicas: s.replicas ?? 0,
    updatedReplicas: s.updatedReplicas ?? 0,
    availableReplicas: s.availableReplicas ?? 0,
  }
  const waiting = (what: string) => ({ ...base, done: false, message: `Waiting for deployment "${name}" rollout to finish: ${what}...` })

  if (opts.revision && opts.revision > 0) {
    const running = Number(d.metadata?.annotations?.[REVISION_ANNOTATION] ?? NaN)
    if (running !== opts.revision) {
      throw new OpsError(`desired revision (${opts.revision}) is different from the running revision (${running})`, {
        reason: 'RevisionMismatch',
      })
    }
  }
  const floor = Math.max(base.generation, opts.minGeneration ?? 0)
  if (floor > base.observedGeneration) {
    return { ...base, done: false, message: 'Waiting for deployment spec update to be observed...' }
  }
  const progressing = s.conditions?.find((c) => c.type === 'Progressing')
  if (progressing?.reason === PROGRESS_DEADLINE_EXCEEDED) {
    throw new OpsError(`deployment "${name}" exceeded its progress deadline${namespace ? ` (namespace "${namespace}")` : ''}`, {
      reason: PROGRESS_DEADLINE_EXCEEDED,
      hint: `new pods did not become available in time: kubectl -n ${namespace ?? 'default'} describe deployment ${name}; kubectl -n ${namespace ?? 'default'} get pods`,
    })
  }
  const want = d.spec?.replicas
  if (want !== undefined && base.updatedReplicas < want) {
    return waiting(`${base.updatedReplicas} out of ${want} new replicas have been updated`)
  }
  if (base.replicas > base.updatedReplicas) {
    return waiting(`${base.replicas - base.updatedReplicas} old replicas are pending termination`)
  }
  if (base.availableReplicas < base.updatedReplicas) {
    return waiting(`${base.availableReplicas} of ${base.updatedReplicas} updated replicas are available`)
  }
  return { ...base, done: true, message: `deployment "${name}" successfully rolled out` }
}
