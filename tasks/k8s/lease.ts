// The workflow's cross-host lock: one coordination.k8s.io/v1 Lease per target Secret
// (credflow-<secret> in its namespace), held for the whole run. Two hosts (the operator's SSH
// shell and the Forgejo runner, each with its own state directory) cannot both rewrite the
// same Secret: the second one exits 3 naming the first.
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { defineRunLock, RunLockHeldError, type RunHolder } from '../../lib/engine/run-lock.ts'
import { staleReason } from '../../lib/engine/lock.ts'
import { parseDuration, formatDuration } from '../../lib/duration.ts'
import { connect, targetOf } from '../../lib/k8s/client.ts'
import { explainNotFound } from '../../lib/k8s/namespaces.ts'
import { ServerClock } from '../../lib/k8s/server-clock.ts'
import { LeaseLock, LeaseHeldError, describeHolder, inspectLease, leaseTiming, LeaseClient, type HolderInfo, type LeaseRef, type ObservedLease } from '../../lib/k8s/lease.ts'

const Inputs = z.object({
  targets: z.array(z.object({ namespace: z.string().min(1), secret: z.string().min(1) }).passthrough()).min(1),
  leaseDuration: z.string().refine((s) => (parseDuration(s) ?? 0) >= 3000, 'must be a duration of at least 3s').default('30s'),
  kubeconfig: z.string().default(''),
  context: z.string().default(''),
  /** Per API request, like kubectl's --request-timeout: a server that stops answering at the Lease fails the run in time. */
  requestTimeout: z.string().default('30s'),
})
type In = z.infer<typeof Inputs>

/** Beyond this, times written by this host (restartedAt, refreshedAt) are visibly off: say so. */
export const CLOCK_SKEW_WARN_MS = 5000

/** The Leases of a run, in a fixed order so two runs never wait on each other crosswise. */
export function leaseRefs(i: Pick<In, 'targets'>): LeaseRef[] {
  const seen = new Map<string, LeaseRef>()
  for (const t of i.targets) seen.set(`${t.namespace}/${t.secret}`, { namespace: t.namespace, name: `credflow-${t.secret}` })
  return [...seen.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, r]) => r)
}

const TARGETS_HINT = `kubectl get namespaces; then fix the namespace in the targets param (--help shows the default)`

const kubeOf = (i: In) => connect(targetOf(i))
const where = (r: LeaseRef) => `Lease ${r.namespace}/${r.name}`

/** A holder whose process provably died on this host (same check as the lock file's). */
const holderGone = (h: HolderInfo) => (h.host && h.pid ? staleReason({ host: h.host, pid: h.pid, bootId: h.bootId, procStart: h.procStart }) : undefined)

function hintFor(ref: LeaseRef, self: RunHolder, o: ObservedLease): string {
  const h = o.record.holder
  const look = `kubectl -n ${ref.namespace} get lease ${ref.name} -o yaml`
  const free = `once you are sure that run is dead, free it: kubectl -n ${ref.namespace} delete lease ${ref.name}`
  const expiry = `if it died, the Lease lapses ${o.record.leaseDurationSeconds}s after its last renewal and the next run takes it over (${look})`
  if (!h) return `${expiry}; ${free}`
  if (h.host === self.host) return `wait for pid ${h.pid} to finish${h.stateDir ? ` (its state: ${h.stateDir})` : ''}; a run whose process is gone is taken over at once`
  return `that run is on ${h.host}${h.frontDoor ? ` (${h.frontDoor})` : ''}: wait for it to finish there; ${expiry}; ${free}`
}

function skewNotice(clock: ServerClock): string | undefined {
  const off = clock.offsetMs
  if (off === undefined || Math.abs(off) <= CLOCK_SKEW_WARN_MS) return undefined
  return `this host's clock is ${formatDuration(Math.abs(off))} ${off > 0 ? 'behind' : 'ahead of'} the apiserver's (its Date header): credflow decides from server times, but check NTP (timedatectl status)`
}

export default defineRunLock<In>({
  description: 'a coordination.k8s.io/v1 Lease per target Secret, held for the run',
  inputs: Inputs,

  async acquire({ inputs, signal, holder, notice }) {
    const kube = await kubeOf(inputs)
    const timing = leaseTiming(parseDuration(inputs.leaseDuration)!)
    const clock = new ServerClock()
    const identity = `${holder.host}_${holder.pid}_${randomBytes(4).toString('hex')}`
    const info: HolderInfo = { host: holder.host, pid: holder.pid, runId: holder.runId, frontDoor: holder.frontDoor, bootId: holder.bootId, procStart: holder.procStart, stateDir: holder.stateDir }
    const held: LeaseLock[] = []
    const releaseAll = () => Promise.all(held.map((l) => l.release()))
    for (const ref of leaseRefs(inputs)) {
      const lock = new LeaseLock(kube, ref, { identity, holder: info, timing, holderGone, log: notice }, clock)
      try {
        await lock.acquire(signal, (o) => hintFor(ref, holder, o))
      } catch (e) {
        await releaseAll()
        if (e instanceof LeaseHeldError) throw new RunLockHeldError(e.message, e.hint!, { lease: `${ref.namespace}/${ref.name}`, ...e.observed.record.holder })
        // A Lease cannot be created in a namespace that does not exist: say that, not "leases not found".
        throw await explainNotFound(kube, e, ref.namespace, { signal, hint: TARGETS_HINT })
      }
      if (lock.tookOver) notice(lock.tookOver)
      held.push(lock)
    }
    const skew = skewNotice(clock)
    if (skew) notice(skew)
    for (const l of held) l.startRenewing()
    return { lost: AbortSignal.any(held.map((l) => l.lost)), release: async () => void (await releaseAll()) }
  },

  async inspect({ inputs, signal, holder }) {
    const kube = await kubeOf(inputs)
    const clock = new ServerClock()
    const lines: string[] = []
    for (const ref of leaseRefs(inputs)) {
      const { observed, serverNow } = await inspectLease(kube, ref, signal, clock)
      const r = observed?.record
      if (!r) lines.push(`${where(ref)}: free (not created yet; a run creates it)`)
      else if (!r.holderIdentity) lines.push(`${where(ref)}: free (released${r.renewTime ? ` at ${r.renewTime.replace(/\.\d+Z$/, 'Z')}` : ''}; ${r.leaseTransitions} holder change(s) so far)`)
      else {
        const who = describeHolder(r, serverNow)
        const gone = r.holder ? holderGone(r.holder) : undefined
        const lapsedMs = r.renewTime ? serverNow - Date.parse(r.renewTime) - r.leaseDurationSeconds * 1000 : Infinity
        if (gone) lines.push(`${where(ref)}: STALE: held by ${who}, ${gone}; the next run on this host takes it over at once`)
        else if (lapsedMs > 0) {
          lines.push(`${where(ref)}: STALE?: held by ${who}, not renewed within its ${r.leaseDurationSeconds}s; the next run watches it for ${r.leaseDurationSeconds}s and takes it over if it stays unchanged. ${hintFor(ref, holder, observed!)}`)
        } else lines.push(`${where(ref)}: HELD by ${who}; a run now would exit 3. ${hintFor(ref, holder, observed!)}`)
      }
      // RBAC and admission answer now (dryRun=All) rather than when the run starts.
      try {
        await new LeaseClient(kube, ref, clock).checkWritable(signal)
      } catch (e) {
        lines.push(`${where(ref)}: a run could not take it: ${(e as Error).message}${(e as { hint?: string }).hint ? `; hint: ${(e as { hint?: string }).hint}` : ''} (deploy/rbac.yaml lists the Lease verbs)`)
      }
    }
    const skew = skewNotice(clock)
    if (skew) lines.push(skew)
    return lines
  },
})
