/**
 * Refresh one key of a Secret by delete + create rather than update: creationTimestamp is
 * immutable and only moves when the object is recreated: after a new grant the Secret's AGE
 * is that sync's. (The expiry alert does not read it: docs/expiry.md.)
 */
import { OpsError } from '../errors.ts'
import { crashPoint } from '../crash-point.ts'
import { sha256Hex, type SecretValue } from '../secret-value.ts'
import type { Kube } from './client.ts'
import { isAlreadyExists } from './errors.ts'
import { createSecret, deleteSecret, readSecret, type SecretRef, type SecretSnapshot, type SecretSpec } from './secrets.ts'

export const REFRESHED_AT_ANNOTATION = 'credflow.dev/refreshed-at'
export const CONTENT_SHA256_ANNOTATION = 'credflow.dev/content-sha256'
/** When the operator last consented (a re-auth), so the next run can tell the consent's age. */
export const CONSENTED_AT_ANNOTATION = 'credflow.dev/consented-at'
/** Which grant consented-at is about: the refresh token's fingerprint (edited data makes it stale). */
export const GRANT_ANNOTATION = 'credflow.dev/grant'
/** Which host and run wrote this grant: named when another host would replace it with an older one. */
export const WRITTEN_BY_ANNOTATION = 'credflow.dev/written-by'
// kubectl apply stores the whole object here, Secret data included: carrying it over
// would keep the old token in the new object.
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'

export interface ReplaceSecretRequest extends SecretRef {
  key: string
  value: SecretValue
  /** The only Secret type we agree to rewrite (default `Opaque`); e.g. a TLS Secret is refused. */
  expectedType?: string
  /** Server-side dry run of the delete and the create; nothing changes. */
  dryRun?: boolean
  signal?: AbortSignal
  now?: () => Date
  /** More annotations for the new object (names and times only, never content). */
  annotations?: Record<string, string>
  /** What continues the work once a refusal is fixed (named when the Secret is left missing). */
  resumeCommand?: string
  /** Receives the Secret as read, before it is deleted: persist it to be able to `restoreSecret`. */
  beforeDelete?: (previous: SecretSnapshot) => void | Promise<void>
  /**
   * The Secret as the caller just read it (`{ live: undefined }`: it did not exist), instead of
   * reading it again. Safe to reuse: the delete's uid and resourceVersion preconditions refuse
   * it if the Secret changed since.
   */
  read?: { live: SecretSnapshot | undefined }
  /** More server-side dry runs that must pass before the delete; asked at the same time as ours. */
  alsoCheck?: () => Promise<unknown>
}

export interface ReplaceOutcome {
  action: 'unchanged' | 'created' | 'replaced'
  dryRun: boolean
  /** The Secret before the change (absent when it did not exist). Keep it as a backup. */
  previous?: SecretSnapshot
  /** The Secret now. After a dry run: the predicted object, with empty uid and resourceVersion. */
  current: SecretSnapshot
}

/**
 * Make `data[key]` equal `value`. Equal content: no-op. Otherwise delete with uid AND
 * resourceVersion preconditions (409 Conflict if anyone changed it since our read), then
 * create with the other keys, labels and annotations, plus refresh-time and sha256 annotations.
 * If the create fails, the previous Secret is put back before the error is thrown.
 */
export async function replaceSecret(kube: Kube, req: ReplaceSecretRequest): Promise<ReplaceOutcome> {
  const ref = { namespace: req.namespace, name: req.name }
  const dryRun = req.dryRun ?? false
  const expectedType = req.expectedType ?? 'Opaque'
  const previous = req.read ? req.read.live : await readSecret(kube, ref, req)
  if (previous && previous.type !== expectedType) {
    throw new OpsError(`refusing to rewrite secrets "${ref.name}" in namespace "${ref.namespace}": type is ${previous.type}, expected ${expectedType}`, {
      reason: 'UnexpectedSecretType',
      hint: `kubectl get secret ${ref.name} -n ${ref.namespace} -o jsonpath='{.type}'; is this the right Secret?`,
    })
  }
  if (previous?.data[req.key]?.equals(req.value)) return { action: 'unchanged', dryRun, previous, current: previous }

  const now = (req.now ?? (() => new Date()))()
  const desired: SecretSpec = {
    ...ref,
    type: previous?.type ?? expectedType,
    labels: previous?.labels ?? {},
    annotations: {
      ...withoutLastApplied(previous?.annotations ?? {}),
      ...req.annotations,
      [REFRESHED_AT_ANNOTATION]: now.toISOString(),
      [CONTENT_SHA256_ANNOTATION]: sha256Hex(req.value.reveal()),
    },
    data: { ...previous?.data, [req.key]: req.value },
    immutable: previous?.immutable ?? false,
    ownerReferences: previous?.ownerReferences ?? [],
  }
  const action = previous ? 'replaced' : 'created'

  // Both halves are asked of the server first (dryRun=All): a Role without `create`, or an
  // admission policy refusing the new object, must stop us before the delete, not after it.
  // (With no Secret to delete, a refused create changes nothing: no need to ask twice.)
  if (previous || dryRun) await firstFailure([req.alsoCheck?.(), preflight(kube, previous, desired, req.signal, dryRun)])
  else await req.alsoCheck?.()
  if (dryRun) {
    const predicted = { ...desired, uid: '', resourceVersion: '', creationTimestamp: now } as SecretSnapshot
    return { action, dryRun, previous, current: predicted }
  }

  if (previous) {
    await req.beforeDelete?.(previous)
    const gone = await deleteSecret(kube, ref, { signal: req.signal, preconditions: preconditionsOf(previous) })
    if (gone === 'absent') throw changedUnderUs(ref, 'it was deleted after we read it')
    crashPoint('update-secret:deleted') // the crash matrix's worst moment: the Secret is gone, the backup holds it
  }
  try {
    return { action, dryRun, previous, current: await createSecret(kube, desired, { signal: req.signal }) }
  } catch (e) {
    // A create can reach the server and still fail here (a timeout on the answer): if the
    // Secret now holds exactly what we sent, it is done, not missing.
    const live = await readSecret(kube, ref).catch(() => undefined)
    if (live?.data[req.key]?.equals(req.value)) return { action, dryRun, previous, current: live }
    if (isAlreadyExists(e)) throw changedUnderUs(ref, 'someone recreated it between our delete and our create')
    if (!previous) throw e
    throw await restoreAfterFailedCreate(kube, previous, e as OpsError, req.resumeCommand)
  }
}

/**
 * Server-side dry run (dryRun=All) of the delete, with the same uid and resourceVersion
 * preconditions, and of the create. The dry-run delete leaves the Secret in place, so the
 * dry-run create of an existing Secret ends in AlreadyExists, which the apiserver checks only
 * after authentication, authorization, admission and validation passed: that answer is a pass.
 */
async function preflight(kube: Kube, previous: SecretSnapshot | undefined, desired: SecretSpec, signal: AbortSignal | undefined, dryRun: boolean): Promise<void> {
  try {
    await firstFailure([
      previous ? deleteSecret(kube, desired, { dryRun: true, signal, preconditions: preconditionsOf(previous) }) : undefined,
      createSecret(kube, desired, { dryRun: true, signal }).catch((e) => {
        if (!(previous && isAlreadyExists(e))) throw e
      }),
    ])
  } catch (e) {
    if (dryRun || !(e instanceof OpsError) || e.reason === 'Aborted') throw e
    throw new OpsError(`${e.message}; checked before the delete, so nothing was changed`, { reason: e.reason, hint: e.hint, retryable: e.retryable })
  }
}

/**
 * Independent server-side questions, asked at once (each costs a round trip), all answered
 * before this returns; the first failure in the order given is thrown, as asking one after
 * the other would have.
 */
async function firstFailure(checks: Array<Promise<unknown> | undefined>): Promise<void> {
  for (const c of await Promise.allSettled(checks)) if (c.status === 'rejected') throw c.reason
}

/**
 * Would the server let us replace `live` now? The same server-side dry runs as a replace
 * (delete with its uid and resourceVersion, create of the object), for a plan made before the
 * new content is known. Throws the refusal (RBAC, admission, a Conflict); nothing changes.
 */
export async function checkReplaceAllowed(kube: Kube, live: SecretSnapshot, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const { uid, resourceVersion, creationTimestamp, ...spec } = live
  const desired = { ...spec, annotations: withoutLastApplied(spec.annotations) }
  await preflight(kube, live, desired, opts.signal, true)
}

/**
 * Put a backup back (create it with its data, labels and annotations). If a Secret with
 * that name already holds the same data this is a no-op; with other data it is refused.
 */
export async function restoreSecret(kube: Kube, backup: SecretSnapshot, opts: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<SecretSnapshot> {
  const live = await readSecret(kube, backup, opts)
  if (live) {
    if (sameData(live, backup)) return live
    throw new OpsError(`cannot restore secrets "${backup.name}" in namespace "${backup.namespace}": it exists with other data`, {
      reason: 'AlreadyExists',
      hint: `compare before deleting: kubectl get secret ${backup.name} -n ${backup.namespace} -o yaml`,
    })
  }
  const { uid, resourceVersion, creationTimestamp, ...spec } = backup
  return createSecret(kube, spec, opts)
}

async function restoreAfterFailedCreate(kube: Kube, previous: SecretSnapshot, createError: OpsError, resumeCommand?: string): Promise<OpsError> {
  const where = `secrets "${previous.name}" in namespace "${previous.namespace}"`
  try {
    await restoreSecret(kube, previous)
    return new OpsError(`${createError.message}; the previous ${where} was restored (content unchanged, new uid)`, {
      reason: createError.reason,
      hint: createError.hint,
      retryable: createError.retryable,
    })
  } catch (restoreError) {
    const why = (restoreError as Error).message
    const fix = createError.hint ? `fix the refusal first (${createError.hint})` : 'fix the refusal first'
    const then = resumeCommand ? `then run ${resumeCommand}` : 'then rerun with --resume'
    return new OpsError(`${where} is MISSING: it was deleted, then ${createError.message}; restoring the previous Secret failed too${why === createError.message ? ' (same refusal)' : `: ${why}`}`, {
      reason: 'SecretMissing',
      hint: `${fix}; ${then}: update-secret recreates the Secret from the copy taken before the delete (kept in the run directory)`,
    })
  }
}

function changedUnderUs(ref: SecretRef, what: string): OpsError {
  return new OpsError(`Conflict: secrets "${ref.name}" in namespace "${ref.namespace}" changed under us: ${what}`, {
    reason: 'Conflict',
    retryable: true,
    hint: 'another writer is active; rerun to act on the current state',
  })
}

const preconditionsOf = (s: SecretSnapshot) => ({ uid: s.uid, resourceVersion: s.resourceVersion })

function sameData(a: SecretSnapshot, b: SecretSnapshot): boolean {
  const keys = Object.keys(a.data)
  return keys.length === Object.keys(b.data).length && keys.every((k) => b.data[k]?.equals(a.data[k]!))
}

/** Annotations without kubectl's last-applied copy of the object (which holds the old data). */
export function withoutLastApplied(annotations: Record<string, string>): Record<string, string> {
  const { [LAST_APPLIED]: _, ...rest } = annotations
  return rest
}
