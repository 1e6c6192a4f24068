// restart: `kubectl rollout restart` of each consumer Deployment, then wait with
// `kubectl rollout status` semantics. Idempotent: a restart made after the Secret changed is
// not repeated, only waited for; "after" is decided from server-side facts (the Secret's uid
// and creationTimestamp, the ReplicaSet's creationTimestamp: lib/k8s/restart-evidence.ts),
// so a host whose clock is off cannot make an old restart look new, or a new one old.
import type { V1Deployment } from '@kubernetes/client-node'
import { z } from 'zod'
import { defineStep } from '../../lib/engine/step.ts'
import { parseDuration } from '../../lib/duration.ts'
import { crashPoint } from '../../lib/crash-point.ts'
import { connect, targetOf, type Kube } from '../../lib/k8s/client.ts'
import { readDeployment, restartDeployment, waitForRollout, RESTARTED_AT_ANNOTATION } from '../../lib/k8s/rollout.ts'
import { rolloutStatus } from '../../lib/k8s/rollout-status.ts'
import { readSecret } from '../../lib/k8s/secrets.ts'
import { restartEvidence, RESTARTED_FOR_ANNOTATION, type SecretIdentity } from '../../lib/k8s/restart-evidence.ts'
import { checkConsumers } from '../../lib/k8s/target-checks.ts'

const Inputs = z.object({
  namespace: z.string().min(1),
  deployments: z.array(z.string().min(1)).min(1, 'lists no Deployment: nothing would restart, and the pods would keep the token they started with'),
  /** The Secret the consumers mount: whether they restarted after it changed is read from the server. */
  secret: z.string().min(1).optional(),
  /** When the Secret got its current content (update-secret); only used when `secret` is not given. */
  refreshedAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO time'),
  rolloutTimeout: z.string().default('5m'),
  kubeconfig: z.string().default(''),
  context: z.string().default(''),
  /** Per API request, like kubectl's --request-timeout. */
  requestTimeout: z.string().default('30s'),
})
type In = z.infer<typeof Inputs>

const kubeOf = (i: In) => connect(targetOf(i))

interface Observed {
  name: string
  /** As read for this observation. */
  deployment: V1Deployment
  restartedAt?: string
  /** Restarted at or after the refresh: the new pods mount the new content. */
  fresh: boolean
  done: boolean
  message: string
  /** The server-side facts `fresh` was decided from. */
  why?: string
}

async function secretOf(kube: Kube, i: In, signal: AbortSignal): Promise<SecretIdentity | undefined> {
  const s = i.secret ? await readSecret(kube, { namespace: i.namespace, name: i.secret }, { signal }) : undefined
  return s ? { name: s.name, uid: s.uid, creationTimestamp: s.creationTimestamp } : undefined
}

async function observe(kube: Kube, i: In, signal: AbortSignal, secret?: SecretIdentity): Promise<Observed[]> {
  const out: Observed[] = []
  for (const name of i.deployments) {
    const d = await readDeployment(kube, { namespace: i.namespace, name }, signal)
    const restartedAt = d.spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]
    const evidence = secret ? await restartEvidence(kube, d, secret, { signal }) : undefined
    const fresh = evidence ? evidence.fresh : restartedAt !== undefined && Date.parse(restartedAt) >= Date.parse(i.refreshedAt) - 1000
    let done = false
    let message: string
    try {
      const s = rolloutStatus(d)
      done = s.done
      message = s.message
    } catch (e) {
      message = (e as Error).message
    }
    out.push({ name, deployment: d, restartedAt, fresh, done, message, why: evidence?.why })
  }
  return out
}

const target = (i: Pick<In, 'namespace'>, name: string) => `Deployment ${i.namespace}/${name}`

export default defineStep({
  description: 'rollout restart and wait for the consumers',
  inputs: Inputs,
  async check({ inputs, signal }) {
    const kube = await kubeOf(inputs)
    const obs = await observe(kube, inputs, signal, await secretOf(kube, inputs, signal))
    const text = obs.map((o) => `${target(inputs, o.name)}: ${o.fresh ? `restarted ${o.restartedAt}` : `not restarted since the refresh (${o.restartedAt ?? 'never'})`}; ${o.message.trim()}${o.why ? ` (${o.why})` : ''}`).join('; ')
    if (obs.every((o) => o.fresh && o.done)) {
      return { done: true, outputs: { restarted: obs.map((o) => ({ name: o.name, restartedAt: o.restartedAt! })) }, observed: text }
    }
    return { done: false, reason: obs.some((o) => !o.fresh) ? 'restart needed after the refresh' : 'rollout still in progress', observed: text }
  },
  async plan({ inputs, signal }) {
    const kube = await kubeOf(inputs)
    const obs = await observe(kube, inputs, signal, await secretOf(kube, inputs, signal))
    const changes = []
    for (const o of obs) {
      if (!o.fresh) {
        // Server-side dry run of the same patch: a missing Deployment or RBAC refusal shows now.
        await restartDeployment(kube, { namespace: inputs.namespace, name: o.name }, { dryRun: true, signal })
        changes.push({ verb: 'restart', target: target(inputs, o.name), context: kube.where, detail: `patch template annotation ${RESTARTED_AT_ANNOTATION}, then wait up to ${inputs.rolloutTimeout}` })
      } else if (!o.done) changes.push({ verb: 'wait', target: target(inputs, o.name), context: kube.where, detail: o.message.trim() })
    }
    const now = new Date().toISOString()
    return { changes, outputs: { restarted: obs.map((o) => ({ name: o.name, restartedAt: o.fresh ? o.restartedAt! : now })) } }
  },
  // Before the run changes anything: a consumer that is missing, scaled to zero or paused
  // would be found only after the Secret was replaced.
  async preflight({ inputs: i, signal }) {
    if (!i.namespace || !i.deployments?.length) return {}
    return checkConsumers(await connect(targetOf(i)), { namespace: i.namespace, deployments: i.deployments }, signal)
  },
  // Before update-secret has run, the refresh time is unknown: say how each Deployment stands
  // and ask the server (dryRun=All) whether the restart patch would pass.
  async probe({ inputs: i, signal }) {
    const namespace = i.namespace
    if (!namespace || !i.deployments?.length) return { observed: 'no Deployments known yet' }
    const kube = await connect(targetOf(i))
    const facts: string[] = []
    const changes = []
    for (const name of i.deployments) {
      const d = await readDeployment(kube, { namespace, name }, signal)
      const restartedAt = d.spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]
      let state: string
      try {
        state = rolloutStatus(d).message.trim()
      } catch (e) {
        state = (e as Error).message
      }
      facts.push(`${target({ namespace }, name)}: last restarted ${restartedAt ?? 'never'}; ${state}`)
      await restartDeployment(kube, { namespace, name }, { dryRun: true, signal })
      changes.push({ verb: 'restart', target: target({ namespace }, name), context: kube.where, detail: `patch template annotation ${RESTARTED_AT_ANNOTATION} after the Secret changes (server dry run passed), then wait up to ${i.rolloutTimeout ?? '5m'}` })
    }
    return { observed: facts.join('; '), changes }
  },
  async apply({ inputs, signal, log, changed, waiting }) {
    const kube = await kubeOf(inputs)
    const secret = await secretOf(kube, inputs, signal)
    const obs = await observe(kube, inputs, signal, secret)
    const restarted: { name: string; restartedAt: string }[] = []
    for (const o of obs) {
      const ref = { namespace: inputs.namespace, name: o.name }
      let minGeneration: number | undefined
      let restartedAt = o.restartedAt!
      if (!o.fresh) {
        // Names the Secret object it restarts for: a resume after a crash right after this
        // patch sees it and waits instead of rolling the pods a second time.
        const r = await restartDeployment(kube, ref, { signal, current: o.deployment, annotations: secret ? { [RESTARTED_FOR_ANNOTATION]: secret.uid } : undefined })
        minGeneration = r.generation
        restartedAt = r.restartedAt
        crashPoint('restart:patched') // the crash matrix: restarted, not yet recorded
        log(`restarted ${target(inputs, o.name)} (restartedAt ${r.restartedAt})`)
        changed({ verb: 'restart', target: target(inputs, o.name), context: kube.where, detail: `restartedAt ${r.restartedAt}` })
      } else log(`${target(inputs, o.name)} already restarted at ${o.restartedAt}; waiting only${o.why ? ` (${o.why})` : ''}`)
      // onProgress reports every new status line, the final "successfully rolled out" included.
      // A watch that only waits for the controllers: outside the --max-parallel slot, so a
      // fan-out's rollouts run side by side instead of K at a time.
      await waiting(() =>
        waitForRollout(kube, ref, {
          signal,
          timeoutMs: parseDuration(inputs.rolloutTimeout),
          minGeneration,
          onProgress: (p) => log(p.message.trim()),
        }),
      )
      restarted.push({ name: o.name, restartedAt })
    }
    return { restarted }
  },
})
