// delete-stale: delete the leftover Secrets, by exact name, after update-secret succeeded.
// NotFound counts as done; nothing else is ever deleted.
import { z } from 'zod'
import { defineStep } from '../../lib/engine/step.ts'
import { OpsError } from '../../lib/errors.ts'
import { connect } from '../../lib/k8s/client.ts'
import { readSecret, deleteSecret } from '../../lib/k8s/secrets.ts'

const Inputs = z
  .object({
    namespace: z.string().min(1),
    names: z.array(z.string().min(1)).default([]),
    /** The live Secret: never deleted, even if listed by mistake. */
    keep: z.string().min(1),
    kubeconfig: z.string().default(''),
    context: z.string().default(''),
  })
  .refine((i) => !i.names.includes(i.keep), { message: 'staleSecrets must not list the Secret being updated', path: ['names'] })
type In = z.infer<typeof Inputs>

const kubeOf = (i: In) => connect({ kubeconfig: i.kubeconfig || undefined, context: i.context || undefined })

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
    for (const name of await present(inputs, signal)) {
      await deleteSecret(kube, { namespace: inputs.namespace, name }, { dryRun: true, signal })
      changes.push({ verb: 'delete', target: `Secret ${inputs.namespace}/${name}`, detail: 'stale copy of the token' })
    }
    return { changes, outputs: { deleted: changes.map((c) => c.target) } }
  },
  async apply({ inputs, signal, log }) {
    const kube = await kubeOf(inputs)
    const deleted: string[] = []
    for (const name of inputs.names) {
      if (name === inputs.keep) throw new OpsError(`refusing to delete ${inputs.namespace}/${name}: it is the live Secret`, { reason: 'Refused' })
      const r = await deleteSecret(kube, { namespace: inputs.namespace, name }, { signal })
      log(`Secret ${inputs.namespace}/${name}: ${r}`)
      if (r === 'deleted') deleted.push(`${inputs.namespace}/${name}`)
    }
    return { deleted }
  },
})
