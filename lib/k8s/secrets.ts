/**
 * Secrets as snapshots whose data is SecretValue, plus create / delete / patch, each with
 * a server-side dry run (`dryRun=All`: authentication, RBAC, admission and validation
 * all run, nothing is stored), so a plan surfaces the same refusals an apply would.
 */
import type { V1Secret, V1OwnerReference } from '@kubernetes/client-node'
import { SecretValue } from '../secret-value.ts'
import { callOptions, readRetried, type Kube } from './client.ts'
import { isNotFound } from './errors.ts'

export interface SecretRef {
  namespace: string
  name: string
}

/** What to create. `data` stays SecretValue until the request body is built. */
export interface SecretSpec extends SecretRef {
  type?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  data: Record<string, SecretValue>
  immutable?: boolean
  ownerReferences?: V1OwnerReference[]
}

/** A Secret as read from the server. Safe to log: data values print as fingerprints. */
export interface SecretSnapshot extends Required<SecretSpec> {
  uid: string
  resourceVersion: string
  creationTimestamp: Date
}

export interface WriteOptions {
  /** Server-side dry run (`dryRun=All`). */
  dryRun?: boolean
  signal?: AbortSignal
}

const FIELD_MANAGER = 'credflow'
const dryRunParam = (o: WriteOptions) => (o.dryRun ? 'All' : undefined)

export function toSnapshot(s: V1Secret): SecretSnapshot {
  const m = s.metadata ?? {}
  const data: Record<string, SecretValue> = {}
  for (const [k, b64] of Object.entries(s.data ?? {})) data[k] = new SecretValue(Buffer.from(b64, 'base64'))
  return {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    type: s.type ?? 'Opaque',
    uid: m.uid ?? '',
    resourceVersion: m.resourceVersion ?? '',
    creationTimestamp: m.creationTimestamp ? new Date(m.creationTimestamp) : new Date(NaN),
    labels: { ...m.labels },
    annotations: { ...m.annotations },
    data,
    immutable: s.immutable ?? false,
    ownerReferences: m.ownerReferences ?? [],
  }
}

/** The request body: the one place Secret bytes are revealed, straight into base64. */
function toBody(spec: SecretSpec): V1Secret {
  const data: Record<string, string> = {}
  for (const [k, v] of Object.entries(spec.data)) data[k] = v.reveal().toString('base64')
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: spec.labels,
      annotations: spec.annotations,
      ownerReferences: spec.ownerReferences?.length ? spec.ownerReferences : undefined,
    },
    type: spec.type ?? 'Opaque',
    immutable: spec.immutable || undefined,
    data,
  }
}

/** The Secret, or undefined when it does not exist. */
export async function readSecret(kube: Kube, ref: SecretRef, opts: { signal?: AbortSignal; onResponse?: (headers: Record<string, string>) => void } = {}): Promise<SecretSnapshot | undefined> {
  try {
    return toSnapshot(await readRetried(kube, { verb: 'get', resource: 'secrets', ...ref }, opts.signal, () => kube.core.readNamespacedSecret(ref, callOptions(opts))))
  } catch (e) {
    if (isNotFound(e)) return undefined
    throw kube.error(e, { verb: 'get', resource: 'secrets', ...ref })
  }
}

export async function createSecret(kube: Kube, spec: SecretSpec, opts: WriteOptions = {}): Promise<SecretSnapshot> {
  try {
    const created = await kube.core.createNamespacedSecret(
      { namespace: spec.namespace, body: toBody(spec), dryRun: dryRunParam(opts), fieldManager: FIELD_MANAGER },
      callOptions(opts),
    )
    return toSnapshot(created)
  } catch (e) {
    throw kube.error(e, { verb: 'create', resource: 'secrets', namespace: spec.namespace, name: spec.name, dryRun: opts.dryRun })
  }
}

/**
 * PUT the Secret as given: an in-place update that keeps uid and creationTimestamp. The
 * resourceVersion in `spec` makes it conditional: 409 Conflict if the Secret changed since.
 */
export async function updateSecret(kube: Kube, spec: SecretSpec & { resourceVersion: string }, opts: WriteOptions = {}): Promise<SecretSnapshot> {
  const body = toBody(spec)
  body.metadata!.resourceVersion = spec.resourceVersion
  try {
    const updated = await kube.core.replaceNamespacedSecret(
      { name: spec.name, namespace: spec.namespace, body, dryRun: dryRunParam(opts), fieldManager: FIELD_MANAGER },
      callOptions(opts),
    )
    return toSnapshot(updated)
  } catch (e) {
    throw kube.error(e, { verb: 'update', resource: 'secrets', namespace: spec.namespace, name: spec.name, dryRun: opts.dryRun })
  }
}

export interface DeleteOptions extends WriteOptions {
  /** The server refuses (409 Conflict) unless the live object still has this uid / resourceVersion. */
  preconditions?: { uid?: string; resourceVersion?: string }
}

/** Delete; a Secret that is already gone counts as done (`'absent'`). */
export async function deleteSecret(kube: Kube, ref: SecretRef, opts: DeleteOptions = {}): Promise<'deleted' | 'absent'> {
  // With a DeleteOptions body the apiserver decodes options from the body only and ignores
  // the query string (handlers/delete.go), so dryRun must be in the body too: a query-only
  // dryRun next to preconditions would really delete.
  const body = opts.preconditions ? { preconditions: opts.preconditions, dryRun: opts.dryRun ? ['All'] : undefined } : undefined
  try {
    await kube.core.deleteNamespacedSecret({ ...ref, dryRun: dryRunParam(opts), body }, callOptions(opts))
    return 'deleted'
  } catch (e) {
    if (isNotFound(e)) return 'absent'
    throw kube.error(e, { verb: 'delete', resource: 'secrets', ...ref, dryRun: opts.dryRun })
  }
}

/** JSON merge patch of labels/annotations (null removes a key). Data is deliberately not patchable here. */
export async function patchSecretMetadata(
  kube: Kube,
  ref: SecretRef,
  patch: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> },
  opts: WriteOptions = {},
): Promise<SecretSnapshot> {
  try {
    const patched = await kube.core.patchNamespacedSecret(
      { ...ref, body: { metadata: patch }, dryRun: dryRunParam(opts), fieldManager: FIELD_MANAGER },
      callOptions({ ...opts, contentType: 'application/merge-patch+json' }),
    )
    return toSnapshot(patched)
  } catch (e) {
    throw kube.error(e, { verb: 'patch', resource: 'secrets', ...ref, dryRun: opts.dryRun })
  }
}
