/**
 * CredentialExpiry (credflow.dev/v1, deploy/credentialexpiry-crd.yaml): the object per
 * credential that says when its consent was and when it dies; kube-state-metrics turns it into
 * the series the expiry alerts read. Read, and written with one request (create, or a PUT
 * conditional on the resourceVersion read), each with a server-side dry run.
 */
import { callOptions, clientNode, type Kube } from './client.ts'
import { isNotFound } from './errors.ts'
import { OpsError } from '../errors.ts'
import type { ConsentSource } from '../expiry.ts'

export const CREDENTIAL_EXPIRY = { group: 'credflow.dev', version: 'v1', plural: 'credentialexpiries', kind: 'CredentialExpiry' } as const

export interface CredentialExpiryStatus {
  consentedAt: string
  /** Absent: the grant does not expire. */
  expiresAt?: string
  source: ConsentSource
  grant?: string
  syncedAt: string
}

export interface CredentialExpiry {
  namespace: string
  name: string
  resourceVersion?: string
  spec: { credential: string; secret: string; key: string }
  status?: CredentialExpiryStatus
}

const FIELD_MANAGER = 'credflow'
const GVP = { group: CREDENTIAL_EXPIRY.group, version: CREDENTIAL_EXPIRY.version, plural: CREDENTIAL_EXPIRY.plural }
const what = (ref: { namespace: string; name: string }) => ({ resource: 'credentialexpiries.credflow.dev', namespace: ref.namespace, name: ref.name })

async function api(kube: Kube) {
  const k8s = await clientNode()
  return kube.api(k8s.CustomObjectsApi)
}

/** The object, or undefined when it (or its CRD) does not exist: `crdMissing` tells the two apart. */
export async function readCredentialExpiry(kube: Kube, ref: { namespace: string; name: string }, opts: { signal?: AbortSignal } = {}): Promise<CredentialExpiry | undefined> {
  try {
    const o = (await (await api(kube)).getNamespacedCustomObject({ ...GVP, ...ref }, callOptions(opts))) as any
    return { namespace: o.metadata.namespace, name: o.metadata.name, resourceVersion: o.metadata.resourceVersion, spec: o.spec, status: o.status }
  } catch (e) {
    if (isNotFound(e)) return undefined
    throw kube.error(e, { verb: 'get', ...what(ref) })
  }
}

/**
 * Create it, or replace it when `resourceVersion` is given (409 Conflict if it moved since).
 * A 404 on create means the CRD is not installed: the message says which file installs it.
 */
export async function writeCredentialExpiry(kube: Kube, obj: CredentialExpiry, opts: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<CredentialExpiry> {
  const c = await api(kube)
  const body = {
    apiVersion: `${GVP.group}/${GVP.version}`,
    kind: CREDENTIAL_EXPIRY.kind,
    metadata: { namespace: obj.namespace, name: obj.name, ...(obj.resourceVersion ? { resourceVersion: obj.resourceVersion } : {}), labels: { 'app.kubernetes.io/managed-by': 'credflow' } },
    spec: obj.spec,
    status: obj.status,
  }
  const common = { ...GVP, namespace: obj.namespace, body, dryRun: opts.dryRun ? 'All' : undefined, fieldManager: FIELD_MANAGER, fieldValidation: 'Strict' }
  const verb = obj.resourceVersion ? 'update' : 'create'
  try {
    const o = (obj.resourceVersion
      ? await c.replaceNamespacedCustomObject({ ...common, name: obj.name }, callOptions(opts))
      : await c.createNamespacedCustomObject(common, callOptions(opts))) as any
    return { namespace: o.metadata.namespace, name: o.metadata.name, resourceVersion: o.metadata.resourceVersion, spec: o.spec, status: o.status }
  } catch (e) {
    const err = kube.error(e, { verb, ...what(obj), dryRun: opts.dryRun })
    if (!isNotFound(e) || verb !== 'create') throw err
    // A create answered 404: the namespace exists (update-secret ran), so the type is unknown.
    throw new OpsError(`${err.message} (is the CredentialExpiry CRD installed?)`, {
      reason: 'CrdMissing',
      hint: 'install it once, as an admin: kubectl apply -f deploy/credentialexpiry-crd.yaml (or apply terraform/modules/monitoring); then rerun with --resume',
    })
  }
}
