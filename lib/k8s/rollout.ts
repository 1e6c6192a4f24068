/** `kubectl rollout restart` and a `kubectl rollout status`-style wait for Deployments. */
import type { KubeConfig, V1Deployment } from '@kubernetes/client-node'
import { setTimeout as sleep } from 'node:timers/promises'
import { OpsError } from '../errors.ts'
import { callOptions, clientNode, readRetried, type Kube } from './client.ts'
import { explainNotFound } from './namespaces.ts'
import { rolloutStatus, PROGRESS_DEADLINE_EXCEEDED, type RolloutStatus } from './rollout-status.ts'
import { rolloutCauses } from './rollout-cause.ts'

export interface DeploymentRef {
  namespace: string
  name: string
}

export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt'

export interface RestartResult {
  /** The Deployment's metadata.generation after the patch: pass it to waitForRollout. */
  generation: number
  restartedAt: string
  dryRun: boolean
}

export async function readDeployment(kube: Kube, ref: DeploymentRef, signal?: AbortSignal): Promise<V1Deployment> {
  try {
    return await readRetried(kube, { verb: 'get', resource: 'deployments', ...ref }, signal, () => kube.apps.readNamespacedDeployment(ref, callOptions({ signal })))
  } catch (e) {
    throw await explainNotFound(kube, kube.error(e, { verb: 'get', resource: 'deployments', ...ref }), ref.namespace, { signal })
  }
}

/**
 * What kubectl does: refuse a paused Deployment, then a strategic-merge patch setting the
 * pod-template annotation kubectl.kubernetes.io/restartedAt. kubectl writes whole seconds;
 * we keep milliseconds (still RFC 3339) so two restarts within a second still differ
 * instead of producing kubectl's "empty patch".
 */
export async function restartDeployment(
  kube: Kube,
  ref: DeploymentRef,
  opts: { dryRun?: boolean; signal?: AbortSignal; now?: () => Date; fieldManager?: string; annotations?: Record<string, string>; current?: V1Deployment } = {},
): Promise<RestartResult> {
  // `current`: the Deployment as the caller just read it, for the paused check (no second GET).
  const current = opts.current ?? (await readDeployment(kube, ref, opts.signal))
  if (current.spec?.paused) {
    throw new OpsError(`can't restart paused deployment (run rollout resume first): deployment "${ref.name}" in namespace "${ref.namespace}"`, {
      reason: 'DeploymentPaused',
      hint: `kubectl -n ${ref.namespace} rollout resume deployment/${ref.name}`,
    })
  }
  const restartedAt = (opts.now ?? (() => new Date()))().toISOString()
  const body = { spec: { template: { metadata: { annotations: { ...opts.annotations, [RESTARTED_AT_ANNOTATION]: restartedAt } } } } }
  try {
    const patched = await kube.apps.patchNamespacedDeployment(
      { ...ref, body, fieldManager: opts.fieldManager ?? 'kubectl-rollout', dryRun: opts.dryRun ? 'All' : undefined },
      callOptions({ signal: opts.signal, contentType: 'application/strategic-merge-patch+json' }),
    )
    return { generation: patched.metadata?.generation ?? 0, restartedAt, dryRun: !!opts.dryRun }
  } catch (e) {
    throw kube.error(e, { verb: 'patch', resource: 'deployments', ...ref, dryRun: opts.dryRun })
  }
}

export interface WaitOptions {
  signal?: AbortSignal
  /** Give up after this long (OpsError reason `Timeout`). Default 10 minutes. */
  timeoutMs?: number
  /** Poll interval where the Role grants no `watch` (and between failed watches). Default 1 s. */
  intervalMs?: number
  /** From RestartResult.generation: ignore status older than our patch. */
  minGeneration?: number
  /** Called whenever kubectl's status line changes. */
  onProgress?: (status: RolloutStatus) => void
}

/**
 * Wait until `rolloutStatus` says done, as `kubectl rollout status` does: read the Deployment,
 * then watch it (by name, from the version read) so completion is noticed as the controller
 * reports it, not at the next poll. A watch ended by the server (timeout, 410 Gone, a dropped
 * connection) is followed by a fresh read. A Role without `watch` on the Deployment (one
 * deployed before deploy/rbac.yaml granted it) falls back to polling every `intervalMs`.
 * ProgressDeadlineExceeded fails at once (it is terminal until someone changes the Deployment).
 */
export async function waitForRollout(kube: Kube, ref: DeploymentRef, opts: WaitOptions = {}): Promise<RolloutStatus> {
  const timeoutMs = opts.timeoutMs ?? 600_000
  const intervalMs = opts.intervalMs ?? 1000
  const deadline = Date.now() + timeoutMs
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])])
  let last: RolloutStatus | undefined
  let seen: V1Deployment | undefined
  let watching = true
  const judge = (d: V1Deployment) => {
    seen = d
    const status = rolloutStatus(d, { minGeneration: opts.minGeneration })
    if (status.message !== last?.message) opts.onProgress?.(status)
    last = status
    return status
  }
  for (;;) {
    if (opts.signal?.aborted) throw aborted(ref, last)
    if (Date.now() >= deadline) throw await withCauses(kube, ref, seen, timedOut(ref, timeoutMs, last), opts.signal)
    let pause = intervalMs
    try {
      const status = judge(await readDeployment(kube, ref, signal))
      if (status.done) return status
      if (watching) {
        const since = Date.now()
        const w = await watchDeployment(kube, ref, seen!.metadata?.resourceVersion, signal, (d) => judge(d).done)
        if (w === 'done') return last!
        if (w === 'forbidden') watching = false
        // A watch that ran a while and ended is simply renewed; one that failed at once waits first.
        else if (Date.now() - since >= intervalMs) pause = 0
      }
    } catch (e) {
      // Our own signals surface as Aborted; a transient API error (5xx, network) is polled through.
      const ours = signal.aborted || (e instanceof OpsError && e.reason === 'Aborted')
      if (!ours && !(e instanceof OpsError && e.retryable)) throw e instanceof OpsError && e.reason === PROGRESS_DEADLINE_EXCEEDED ? await withCauses(kube, ref, seen, e, opts.signal) : e
    }
    if (pause) await sleep(Math.min(pause, Math.max(0, deadline - Date.now())), undefined, { signal }).catch(() => {})
  }
}

/**
 * One watch of the Deployment from `resourceVersion`, until `done(object)` holds ('done'), the
 * server ends it, `signal` fires or the request timeout passes ('ended'), or RBAC refuses it
 * ('forbidden'). A throw from `done` (ProgressDeadlineExceeded) rejects. Like any request, a
 * watch lasts at most the request timeout (as kubectl's --request-timeout bounds one): an
 * apiserver that accepts it and never answers costs one timeout, then a fresh read.
 */
async function watchDeployment(kube: Kube, ref: DeploymentRef, resourceVersion: string | undefined, signal: AbortSignal, done: (d: V1Deployment) => boolean): Promise<'done' | 'ended' | 'forbidden'> {
  const k8s = await clientNode()
  const limit = kube.requestTimeoutMs
  const bound = AbortSignal.any([signal, AbortSignal.timeout(limit)])
  return new Promise((resolve, reject) => {
    let settled = false
    let controller: AbortController | undefined
    const settle = (f: () => void) => {
      if (settled) return
      settled = true
      bound.removeEventListener('abort', onAbort)
      controller?.abort()
      f()
    }
    const onAbort = () => settle(() => resolve('ended'))
    bound.addEventListener('abort', onAbort, { once: true })
    const path = `/apis/apps/v1/namespaces/${encodeURIComponent(ref.namespace)}/deployments`
    // fieldSelector metadata.name: what RBAC needs to authorize a watch pinned by resourceNames.
    const query = { fieldSelector: `metadata.name=${ref.name}`, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: Math.max(1, Math.min(300, Math.floor(limit / 1000))) }
    new k8s.Watch(abortable(kube.kc, bound))
      .watch(
        path,
        query,
        (type: string, obj: V1Deployment) => {
          if (type === 'ERROR' || type === 'DELETED') return settle(() => resolve('ended')) // 410 Gone, or gone: read again
          if (type !== 'ADDED' && type !== 'MODIFIED') return // BOOKMARK
          try {
            if (done(obj)) settle(() => resolve('done'))
          } catch (e) {
            settle(() => reject(e))
          }
        },
        (err: unknown) => settle(() => resolve((err as { statusCode?: number } | null)?.statusCode === 403 ? 'forbidden' : 'ended')),
      )
      .then(
        (c) => {
          controller = c
          if (settled) c.abort()
        },
        () => settle(() => resolve('ended')),
      )
  })
}

/**
 * `kc` for client-node's Watch, whose request `signal` also aborts. Watch hands out its
 * AbortController only once the response headers are in (client-node 1.4), so without this a
 * watch the server never answers could not be ended; it sets its own signal on the fetch
 * options, which here becomes "its signal or ours".
 */
function abortable(kc: KubeConfig, signal: AbortSignal): KubeConfig {
  const applyToFetchOptions: KubeConfig['applyToFetchOptions'] = async (opts) => {
    const init = await kc.applyToFetchOptions(opts)
    let combined = signal
    return Object.defineProperty(init, 'signal', {
      get: () => combined,
      set: (own: AbortSignal | undefined) => void (combined = own ? AbortSignal.any([own, signal]) : signal),
      enumerable: true,
    })
  }
  return Object.assign(Object.create(kc) as KubeConfig, { applyToFetchOptions })
}

/**
 * `e` with what the controller and the kubelet say about the stuck rollout appended: a bare
 * "timed out" sends the operator to kubectl describe at 2 a.m.; the cause is usually one line.
 */
async function withCauses(kube: Kube, ref: DeploymentRef, d: V1Deployment | undefined, e: OpsError, signal?: AbortSignal): Promise<OpsError> {
  if (!d) return e
  // Read after the wait gave up: its own signal has fired by now, so only the caller's counts.
  const causes = await rolloutCauses(kube, ref, d, signal && !signal.aborted ? signal : undefined)
  if (!causes.length) return e
  return new OpsError(`${e.message}\n  ${causes.join('\n  ')}`, {
    reason: e.reason,
    retryable: e.retryable,
    hint: `${e.hint ?? ''}${e.hint ? '; ' : ''}kubectl -n ${ref.namespace} describe deployment/${ref.name} (fix the cause named above, then --resume)`,
  })
}

function aborted(ref: DeploymentRef, last?: RolloutStatus): OpsError {
  return new OpsError(`waiting for deployment "${ref.name}" in namespace "${ref.namespace}" aborted${last ? `: ${last.message}` : ''}`, {
    reason: 'Aborted',
  })
}

function timedOut(ref: DeploymentRef, timeoutMs: number, last?: RolloutStatus): OpsError {
  return new OpsError(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for deployment "${ref.name}" in namespace "${ref.namespace}"${last ? `: ${last.message}` : ''}`, {
    reason: 'Timeout',
    retryable: true,
    hint: `kubectl -n ${ref.namespace} rollout status deployment/${ref.name}`,
  })
}
