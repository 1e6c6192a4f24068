// delete-stale: delete the leftover Secrets, by exact name, after update-secret succeeded.
// NotFound counts as done; nothing else is ever deleted.
import { z } from 'zod'
import { defineStep } from '../../lib/engine/step.ts'
import { OpsError } from '../../lib/errors.ts'
import { connect, targetOf, type Kube } from '../../lib/k8s/client.ts'
import { readDeployment } from '../../lib/k8s/rollout.ts'
import { readSecret, deleteSecret } from '../../lib/k8s/secrets.ts'
import { checkStale, secretsReferenced } from '../../lib/k8s/target-checks.ts'

const Inputs = z
  .object({
    namespace: z.string().min(1),
    names: z.array(z.string().min(1)).default([]),
    /** The live Secret: never deleted, even if listed by mistake. */
    keep: z.string().min(1),
    /** The consumers: a stale Secret they still mount or read is not deleted. */
    deployments: z.array(z.string().min(1)).default([]),
    kubeconfig: z.string().default(''),
    context: z.string().default(''),
    /** Per API request, like kubectl's --request-timeout. */
    requestTimeout: z.string().default('30s'),
  })
  .refine((i) => !i.names.includes(i.keep), { message: 'staleSecrets must not list the Secret being updated', path: ['names'] })
type In = z.infer<typeof Inputs>

const kubeOf = (i: In) => connect(targetOf(i))

/** Refuses when a consumer still reads a Secret we are about to delete: its next pods would not start. */
async function refuseIfReferenced(kube: Kube, i: In, names: string[], signal: AbortSignal): Promise<void> {
  for (const name of i.deployments) {
    const used = secretsReferenced(await readDeployment(kube, { namespace: i.namespace, name }, signal))
    const hit = names.filter((n) => used.has(n))
    if (hit.length) {
      throw new OpsError(`Deployment ${i.namespace}/${name} still references Secret ${hit.join(', ')}: deleting it would keep its new pods from starting`, {
        reason: 'StillReferenced',
        hint: `point the Deployment at ${i.keep} first (kubectl -n ${i.namespace} edit deployment ${name}), then --resume`,
      })
    }
  }
}

async function present(i: In, signal: AbortSignal): Promise<string[]> {
  const kube = await kubeOf(i)
  const out: string[] = []
  for (const name of i.names) if (await readSecret(kube, { namespace: i.namespace, name }, { signal })) out.push(name)
  return out
}

export default defineStep({
  description: 'delete the stale Secrets by name',
  inputs: Inputs,
  async check({ inputs, signal }) {
    if (inputs.names.length === 0) return { done: true, outputs: { deleted: [] }, observed: 'no stale Secrets configured' }
    const left = await present(inputs, signal)
    if (left.length === 0) return { done: true, outputs: { deleted: [] }, observed: `stale Secret(s) absent: ${inputs.names.map((n) => `${inputs.namespace}/${n}`).join(', ')}` }
    return { done: false, reason: `stale Secret(s) present: ${left.map((n) => `${inputs.namespace}/${n}`).join(', ')}` }
  },
  async plan({ inputs, signal }) {
    const kube = await kubeOf(inputs)
    const changes = []
    const left = await present(inputs, signal)
    await refuseIfReferenced(kube, inputs, left, signal)
    for (const name of left) {
      await deleteSecret(kube, { namespace: inputs.namespace, name }, { dryRun: true, signal })
      changes.push({ verb: 'delete', target: `Secret ${inputs.namespace}/${name}`, context: kube.where, detail: 'stale copy of the token' })
    }
    return { changes, outputs: { deleted: changes.map((c) => c.target) } }
  },
  // Before the run changes anything: a stale Secret a consumer still mounts, or one this
  // identity may not delete, would otherwise fail only after the new Secret is in place.
  async preflight({ inputs: i, signal }) {
    if (!i.namespace || !i.names?.length || !i.keep) return {}
    const t = { namespace: i.namespace, names: i.names, keep: i.keep, deployments: i.deployments ?? [] }
    return checkStale(await kubeOf(i as In), t, signal)
  },
  async apply({ inputs, signal, log, changed }) {
    const kube = await kubeOf(inputs)
    await refuseIfReferenced(kube, inputs, inputs.names, signal)
    const deleted: string[] = []
    for (const name of inputs.names) {
      if (name === inputs.keep) throw new OpsError(`refusing to delete ${inputs.namespace}/${name}: it is the live Secret`, { reason: 'Refused' })
      const r = await deleteSecret(kube, { namespace: inputs.namespace, name }, { signal })
      log(`Secret ${inputs.namespace}/${name}: ${r}`)
      if (r === 'deleted') {
        deleted.push(`${inputs.namespace}/${name}`)
        changed({ verb: 'delete', target: `Secret ${inputs.namespace}/${name}`, context: kube.where, detail: 'stale copy of the token' })
      }
    }
    return { deleted }
  },
})
