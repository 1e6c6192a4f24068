// verify-decode: read the Secret back, decode the key and compare byte for byte with the
// local file; the stale Secrets are gone; every current pod was created after the refresh
// and is Ready. Read-only and never cached. On success the run's Secret backups are dropped.
import { z } from 'zod'
import { defineStep } from '../../lib/engine/step.ts'
import { OpsError } from '../../lib/errors.ts'
import { readSecretFile } from '../../lib/secret-file.ts'
import type { SecretValue } from '../../lib/secret-value.ts'
import { connect, targetOf } from '../../lib/k8s/client.ts'
import { readSecret } from '../../lib/k8s/secrets.ts'
import { listDeploymentPods } from '../../lib/k8s/pods.ts'
import { dropBackupsOfAllRuns } from '../../lib/k8s/secret-backup.ts'
import { removeLeftoverTemps } from '../../lib/atomic-file.ts'
import { expandHome } from '../../lib/paths.ts'
import { basename, dirname } from 'node:path'

const Inputs = z.object({
  namespace: z.string().min(1),
  secret: z.string().min(1),
  key: z.string().min(1),
  tokenFile: z.string().min(1),
  staleSecrets: z.array(z.string()).default([]),
  deployments: z.array(z.string()).default([]),
  refreshedAt: z.string(),
  kubeconfig: z.string().default(''),
  context: z.string().default(''),
  /** Per API request, like kubectl's --request-timeout. */
  requestTimeout: z.string().default('30s'),
})
type In = z.infer<typeof Inputs>

interface Verdict {
  ok: boolean
  problems: string[]
  facts: string[]
}

/** `refreshedAt` undefined: a probe before update-secret ran (pods are compared with the Secret as it is). */
async function verifyAll(i: Omit<In, 'refreshedAt'> & { refreshedAt?: string }, signal: AbortSignal, opts: { localMayBeMissing?: boolean } = {}): Promise<Verdict> {
  const kube = await connect(targetOf(i))
  const problems: string[] = []
  const facts: string[] = []
  let local: SecretValue | undefined
  try {
    local = readSecretFile(i.tokenFile).bytes
  } catch (e) {
    if (!opts.localMayBeMissing) throw e
    problems.push((e as Error).message)
  }
  const live = await readSecret(kube, { namespace: i.namespace, name: i.secret }, { signal })
  const remote = live?.data[i.key]
  if (!live) problems.push(`Secret ${i.namespace}/${i.secret} does not exist`)
  else if (!remote) problems.push(`Secret ${i.namespace}/${i.secret} has no key ${i.key}`)
  else if (!local) facts.push(`Secret ${i.namespace}/${i.secret} key ${i.key} is ${remote.fingerprint}`)
  else if (!remote.equals(local)) problems.push(`Secret ${i.namespace}/${i.secret} key ${i.key} (${remote.fingerprint}) differs from the local file (${local.fingerprint})`)
  else facts.push(`${i.key} decodes to the local file byte for byte (${local.length} bytes, ${local.fingerprint})`)
  const staleLeft: string[] = []
  for (const name of i.staleSecrets) {
    if (await readSecret(kube, { namespace: i.namespace, name }, { signal })) staleLeft.push(name)
  }
  for (const name of staleLeft) problems.push(`stale Secret ${i.namespace}/${name} still exists`)
  if (i.staleSecrets.length && !staleLeft.length) facts.push(`stale Secret(s) gone: ${i.staleSecrets.join(', ')}`)
  // creationTimestamp has whole seconds: compare against the refresh rounded down.
  // Compare server times with server times: the Secret's creationTimestamp marks the last new
  // grant (update-secret recreates it then) on the apiserver's clock, as pod timestamps are;
  // refreshedAt is this host's clock. Both have whole seconds.
  const since = live ? live.creationTimestamp.getTime() : Math.floor((i.refreshedAt ? Date.parse(i.refreshedAt) : Date.now()) / 1000) * 1000
  for (const name of i.deployments) {
    const { pods } = await listDeploymentPods(kube, { namespace: i.namespace, name }, { signal })
    const current = pods.filter((p) => !p.terminating)
    if (current.length === 0) problems.push(`Deployment ${i.namespace}/${name} has no current pods`)
    const old = current.filter((p) => p.createdAt.getTime() < since)
    const unready = current.filter((p) => !p.ready)
    if (old.length) problems.push(`Deployment ${i.namespace}/${name}: pod(s) ${old.map((p) => p.name).join(', ')} predate the Secret's last recreation (${new Date(since).toISOString()})`)
    if (unready.length) problems.push(`Deployment ${i.namespace}/${name}: pod(s) ${unready.map((p) => p.name).join(', ')} not Ready`)
    if (current.length && !old.length && !unready.length) facts.push(`${name}: ${current.length} pod(s) created after the Secret's last recreation, all Ready`)
  }
  return { ok: problems.length === 0, problems, facts }
}

export default defineStep({
  description: 'read back, decode, compare; stale gone; new pods Ready',
  inputs: Inputs,
  alwaysRun: true,
  async check({ inputs, signal }) {
    const v = await verifyAll(inputs, signal)
    if (v.ok) return { done: true, outputs: { verdict: 'ok', facts: v.facts }, observed: v.facts.join('; ') }
    return { done: false, reason: v.problems.join('; ') }
  },
  async plan({ inputs }) {
    return { changes: [{ verb: 'verify', target: `Secret ${inputs.namespace}/${inputs.secret}`, detail: `decode ${inputs.key}, compare with ${inputs.tokenFile}; stale gone; pods of ${inputs.deployments.join(', ') || 'none'} new and Ready` }] }
  },
  // Before update-secret ran: what verifying would find now (it reads the Secret, the stale
  // Secrets and the pods, so a Role without list on pods or replicasets shows here already).
  async probe({ inputs: i, signal }) {
    if (!i.namespace || !i.secret || !i.key || !i.tokenFile) return { observed: 'target not known yet' }
    const full = { staleSecrets: [], deployments: [], kubeconfig: '', context: '', ...i } as Omit<In, 'refreshedAt'>
    const v = await verifyAll(full, signal, { localMayBeMissing: true })
    return {
      observed: `now: ${[...v.problems, ...v.facts].join('; ')}`,
      changes: [{ verb: 'verify', target: `Secret ${i.namespace}/${i.secret}`, detail: `after the restart: decode ${i.key}, compare with ${i.tokenFile}; stale gone; pods of ${full.deployments.join(', ') || 'none'} new and Ready` }],
    }
  },
  async apply({ inputs, signal, runsDir, log }) {
    const v = await verifyAll(inputs, signal)
    if (!v.ok) {
      throw new OpsError(`verification failed in ${inputs.namespace}: ${v.problems.join('; ')}`, {
        reason: 'VerifyFailed',
        retryable: true,
        hint: 'the Secret backup is kept in the run directory; inspect, then --resume (or --from update-secret)',
      })
    }
    for (const f of v.facts) log(f)
    // The new state is verified: no run needs its copy of the old Secret any more (this run's,
    // or one a crashed run left), nor a half-written copy of the token file.
    const dropped = dropBackupsOfAllRuns(runsDir, { namespace: inputs.namespace, name: inputs.secret })
    if (dropped.length) log(`removed the Secret backup kept by run(s) ${dropped.join(', ')}`)
    const token = expandHome(inputs.tokenFile)
    const temps = removeLeftoverTemps(dirname(token), { target: basename(token) })
    if (temps.length) log(`removed ${temps.length} temp copy(ies) of ${inputs.tokenFile} left by a write killed halfway`)
    log(`VERDICT: ${inputs.namespace}/${inputs.secret} is live with the refreshed token`)
    return { verdict: 'ok', facts: v.facts }
  },
})
