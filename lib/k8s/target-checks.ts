/**
 * What a sync target must be before anything is written to it, looked at read-only: the
 * Secret (exists or not, Opaque, not immutable, the key present), the consumer Deployments
 * (exist, scaled up, not paused), the stale Secrets (not mounted any more), and the verbs the
 * run will use (SelfSubjectAccessReview). Each finding is a line: `checked` when fine,
 * `problems` when a later write would fail or leave the world half-changed.
 */
import type { V1Deployment } from '@kubernetes/client-node'
import { OpsError } from '../errors.ts'
import { formatDuration } from '../duration.ts'
import type { Kube } from './client.ts'
import { callOptions } from './client.ts'
import { readSecret } from './secrets.ts'
import { readDeployment } from './rollout.ts'
import { isNotFound } from './errors.ts'
import { ServerClock } from './server-clock.ts'
import { deniedAccess, describeAccess, canICommand, type AccessCheck } from './access.ts'

export interface Findings {
  checked: string[]
  problems: Array<{ message: string; hint?: string }>
}

const RBAC_FILE = 'deploy/rbac.yaml'
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/

/** Kubernetes' own name rules, checked before a request is sent (the server's message names no field). */
export function nameProblems(kind: 'namespace' | 'Secret' | 'Deployment' | 'key', name: string, field: string): Findings['problems'] {
  const ok =
    kind === 'namespace'
      ? DNS_LABEL.test(name) && name.length <= 63
      : kind === 'key'
        ? SECRET_KEY.test(name) && name.length <= 253 && name !== '.' && name !== '..'
        : DNS_SUBDOMAIN.test(name) && name.length <= 253
  if (ok) return []
  const rule =
    kind === 'namespace'
      ? 'lower-case letters, digits and "-", at most 63, starting and ending with a letter or digit'
      : kind === 'key'
        ? 'letters, digits, "-", "_" and ".", at most 253'
        : 'lower-case letters, digits, "-" and ".", at most 253'
  return [{ message: `${field} ${JSON.stringify(name)} is not a valid ${kind === 'key' ? 'Secret key' : `${kind} name`} (${rule})`, hint: 'fix it in the targets param (--set targets=\'[…]\', JSON)' }]
}

/** A read that failed for a reason a retry cannot fix is a problem; one that might pass later (unreachable) is thrown. */
function asProblem(e: unknown, f: Findings): void {
  if (e instanceof OpsError && !e.retryable) f.problems.push({ message: e.message, hint: e.hint })
  else throw e
}

async function namespaceExists(kube: Kube, namespace: string, signal: AbortSignal): Promise<boolean | undefined> {
  try {
    await kube.core.readNamespace({ name: namespace }, callOptions({ signal }))
    return true
  } catch (e) {
    if (isNotFound(e)) return false
    const err = kube.error(e, { verb: 'get', resource: 'namespaces', name: namespace })
    if (err.retryable) throw err
    return undefined // a namespaced Role may not get namespaces
  }
}

async function judgeAccess(kube: Kube, checks: AccessCheck[], f: Findings, signal: AbortSignal): Promise<void> {
  const denied = await deniedAccess(kube, checks, signal)
  if (!denied) {
    f.checked.push('the server does not let this identity ask what it may do (SelfSubjectAccessReview); the server dry runs of the plan check the verbs instead')
    return
  }
  if (denied.length === 0) {
    f.checked.push(`allowed (kubectl auth can-i, context ${kube.context}): ${checks.map(describeAccess).join(', ')}`)
    return
  }
  const ns = checks[0].namespace
  f.problems.push({
    message: `the identity of context "${kube.context}" may not ${denied.map(describeAccess).join(', ')} in namespace "${ns}"; the run needs ${denied.length === 1 ? 'it' : 'them'} before it changes anything`,
    hint: `grant ${denied.length === 1 ? 'it' : 'them'} in the Role (${RBAC_FILE} lists every verb the workflow needs); check: ${canICommand(denied[0])}`,
  })
}

/** The target Secret: what it is now and whether the run may replace it. */
export async function checkSecretTarget(kube: Kube, t: { namespace: string; secret: string; key: string }, signal: AbortSignal, hint: string): Promise<Findings> {
  const f: Findings = { checked: [], problems: [] }
  f.problems.push(...nameProblems('namespace', t.namespace, 'namespace'), ...nameProblems('Secret', t.secret, 'secret'), ...nameProblems('key', t.key, 'key'))
  if (f.problems.length) return f
  const where = `Secret ${t.namespace}/${t.secret}`
  if ((await namespaceExists(kube, t.namespace, signal)) === false) {
    f.problems.push({ message: `namespace "${t.namespace}" does not exist`, hint })
    return f
  }
  let live
  // The Secret's age on the apiserver's clock (its Date header): a host whose clock is behind
  // would otherwise print a negative age.
  const clock = new ServerClock()
  const sent = Date.now()
  try {
    live = await readSecret(kube, { namespace: t.namespace, name: t.secret }, { signal, onResponse: (h) => clock.observe(h['date'], sent, Date.now()) })
  } catch (e) {
    asProblem(e, f)
  }
  if (live) {
    const keys = Object.keys(live.data)
    if (live.type !== 'Opaque') f.problems.push({ message: `${where} is of type ${live.type}, not Opaque: refusing to rewrite it`, hint: `kubectl -n ${t.namespace} get secret ${t.secret} -o jsonpath='{.type}'; is the targets param naming the right Secret?` })
    if (live.immutable) {
      f.problems.push({
        message: `${where} is immutable: it cannot be updated in place, and credflow does not delete and recreate an immutable Secret on its own`,
        hint: `if it may change, recreate it without immutable: kubectl -n ${t.namespace} get secret ${t.secret} -o yaml > ${t.secret}.yaml (keep it safe), remove "immutable: true", kubectl replace --force -f ${t.secret}.yaml; then run again`,
      })
    }
    if (!keys.includes(t.key) && keys.length > 0) {
      f.problems.push({
        message: `${where} has no key ${JSON.stringify(t.key)} (it has: ${keys.join(', ')}): writing it would add a second copy that the consumers do not read`,
        hint: `is the key misspelled? kubectl -n ${t.namespace} get secret ${t.secret} -o jsonpath='{.data}' | jq keys; fix it in the targets param`,
      })
    }
    if (!f.problems.length) {
      const k = live.data[t.key]
      f.checked.push(`${where} exists: Opaque, not immutable, key ${t.key} ${k ? `present (${k.length} bytes, ${k.fingerprint})` : 'to be added (the Secret has no keys)'}, age ${formatDuration(Math.max(0, clock.now() - live.creationTimestamp.getTime()))}`)
    }
  } else if (!f.problems.length) f.checked.push(`${where} does not exist: the run creates it`)
  const secret = (verb: string, name?: string): AccessCheck => ({ verb, resource: 'secrets', namespace: t.namespace, name })
  // A replace is get, delete (name) and create; a sync of the same grant is an update.
  const needed = [secret('get', t.secret), secret('create'), ...(live ? [secret('delete', t.secret), secret('update', t.secret)] : [])]
  await judgeAccess(kube, needed, f, signal)
  return f
}

/** Every Secret name a pod template reads: volumes, env, envFrom, projected sources. */
export function secretsReferenced(d: V1Deployment): Set<string> {
  const spec = d.spec?.template?.spec
  const names = new Set<string>()
  for (const v of spec?.volumes ?? []) {
    if (v.secret?.secretName) names.add(v.secret.secretName)
    for (const p of v.projected?.sources ?? []) if (p.secret?.name) names.add(p.secret.name)
  }
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef?.name) names.add(e.valueFrom.secretKeyRef.name)
    for (const e of c.envFrom ?? []) if (e.secretRef?.name) names.add(e.secretRef.name)
  }
  return names
}

/** The consumers restart will roll: each must exist, run at least one pod, and not be paused. */
export async function checkConsumers(kube: Kube, t: { namespace: string; deployments: string[]; secret?: string }, signal: AbortSignal): Promise<Findings> {
  const f: Findings = { checked: [], problems: [] }
  const dup = t.deployments.filter((d, i) => t.deployments.indexOf(d) !== i)
  if (dup.length) f.problems.push({ message: `deployments lists ${[...new Set(dup)].join(', ')} more than once: each would be restarted twice`, hint: 'list each Deployment once in the targets param' })
  for (const name of new Set(t.deployments)) f.problems.push(...nameProblems('Deployment', name, 'deployment'))
  if (f.problems.length) return f
  for (const name of new Set(t.deployments)) {
    const what = `Deployment ${t.namespace}/${name}`
    let d: V1Deployment
    try {
      d = await readDeployment(kube, { namespace: t.namespace, name }, signal)
    } catch (e) {
      if (e instanceof OpsError && e.reason === 'NotFound') {
        const others = await kube.apps.listNamespacedDeployment({ namespace: t.namespace }, callOptions({ signal })).then((l) => l.items.map((x) => x.metadata!.name!), () => undefined)
        f.problems.push({ message: `${what} does not exist${others ? ` (Deployments in ${t.namespace}: ${others.join(', ') || 'none'})` : ''}: the new token would reach no pod`, hint: 'fix the deployments of the target in the targets param' })
        continue
      }
      asProblem(e, f)
      continue
    }
    const replicas = d.spec?.replicas ?? 1
    if (replicas === 0) {
      f.problems.push({
        message: `${what} is scaled to 0 replicas: a restart would start no pod, so nothing would prove the new token works`,
        hint: `scale it up first (kubectl -n ${t.namespace} scale deployment/${name} --replicas=1), or take it out of the target's deployments`,
      })
    }
    if (d.spec?.paused) {
      f.problems.push({
        message: `${what} is paused: a restart would not roll out, and the wait for it would never end`,
        hint: `kubectl -n ${t.namespace} rollout resume deployment/${name}; then run again`,
      })
    }
    if (replicas > 0 && !d.spec?.paused) {
      const reads = t.secret ? secretsReferenced(d).has(t.secret) : undefined
      f.checked.push(`${what}: ${replicas} replica(s), not paused${reads === false ? `; note: its pod template does not reference Secret ${t.secret} (volumes, env): restarting it may not be what picks up the token` : reads ? `, reads Secret ${t.secret}` : ''}`)
    }
  }
  const apps = (verb: string, resource: string, name?: string): AccessCheck => ({ verb, resource, group: 'apps', namespace: t.namespace, name })
  const checks = [...new Set(t.deployments)].flatMap((n) => [apps('get', 'deployments', n), apps('patch', 'deployments', n)])
  // verify-decode finds the new pods through their ReplicaSet.
  checks.push(apps('list', 'replicasets'), { verb: 'list', resource: 'pods', namespace: t.namespace })
  await judgeAccess(kube, checks, f, signal)
  return f
}

/** The stale Secrets delete-stale will remove: present ones must be deletable and no longer read by a consumer. */
export async function checkStale(kube: Kube, t: { namespace: string; names: string[]; keep: string; deployments: string[] }, signal: AbortSignal): Promise<Findings> {
  const f: Findings = { checked: [], problems: [] }
  const dup = t.names.filter((n, i) => t.names.indexOf(n) !== i)
  if (dup.length) f.problems.push({ message: `staleSecrets lists ${[...new Set(dup)].join(', ')} more than once`, hint: 'list each stale Secret once in the targets param' })
  for (const n of new Set(t.names)) f.problems.push(...nameProblems('Secret', n, 'stale Secret'))
  if (f.problems.length) return f
  const present: string[] = []
  for (const name of new Set(t.names)) {
    try {
      if (await readSecret(kube, { namespace: t.namespace, name }, { signal })) present.push(name)
    } catch (e) {
      asProblem(e, f)
    }
  }
  const absent = t.names.filter((n) => !present.includes(n))
  if (absent.length) f.checked.push(`stale Secret(s) already absent: ${absent.map((n) => `${t.namespace}/${n}`).join(', ')}`)
  if (!present.length) return f
  for (const name of new Set(t.deployments)) {
    let d: V1Deployment
    try {
      d = await readDeployment(kube, { namespace: t.namespace, name }, signal)
    } catch {
      continue // restart's preflight names a missing Deployment
    }
    const hit = present.filter((n) => secretsReferenced(d).has(n))
    if (hit.length) {
      f.problems.push({
        message: `Deployment ${t.namespace}/${name} still references stale Secret ${hit.join(', ')}: deleting it after the sync would keep its new pods from starting`,
        hint: `point the Deployment at ${t.keep} first (kubectl -n ${t.namespace} edit deployment ${name}), or take ${hit.join(', ')} out of staleSecrets`,
      })
    }
  }
  if (!f.problems.length) f.checked.push(`stale Secret(s) present and referenced by no consumer: ${present.map((n) => `${t.namespace}/${n}`).join(', ')}`)
  await judgeAccess(kube, present.map((name) => ({ verb: 'delete', resource: 'secrets', namespace: t.namespace, name })), f, signal)
  return f
}
