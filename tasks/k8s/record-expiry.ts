// record-expiry: after the Secret holds the token, write what credflow knows about its consent
// into CredentialExpiry <namespace>/<secret> (credflow.dev/v1): consentedAt, expiresAt, how the
// consent time is known, and the grant's fingerprint. kube-state-metrics exports it as
// credflow_credential_expiration_timestamp_seconds, which the alerts read (docs/expiry.md).
// After update-secret on purpose: a crash in between leaves the older deadline, so the alert
// fires early, never late.
import { z } from 'zod'
import { defineStep } from '../../lib/engine/step.ts'
import { connect } from '../../lib/k8s/client.ts'
import { readCredentialExpiry, writeCredentialExpiry, type CredentialExpiry, type CredentialExpiryStatus } from '../../lib/k8s/credential-expiry.ts'
import { CONSENT_SOURCES, formatWhen, toRfc3339 } from '../../lib/expiry.ts'

const Inputs = z.object({
  namespace: z.string().min(1),
  secret: z.string().min(1),
  key: z.string().min(1),
  /** The secrets registry entry, e.g. platform.gmail_oauth_token (the alerts select on it). */
  credential: z.string().regex(/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/),
  consentedAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 time'),
  consentSource: z.enum(CONSENT_SOURCES as [string, ...string[]]),
  /** '' when the grant does not expire (an app In production). */
  expiresAt: z.string().refine((s) => s === '' || !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 time or empty'),
  grant: z.string().regex(/^sha256:[0-9a-f]{12}$/),
  kubeconfig: z.string().default(''),
  context: z.string().default(''),
})
type In = z.infer<typeof Inputs>

const where = (i: Pick<In, 'namespace' | 'secret'>) => `CredentialExpiry ${i.namespace}/${i.secret}`
const kubeOf = (i: Pick<In, 'kubeconfig' | 'context'>) => connect({ kubeconfig: i.kubeconfig || undefined, context: i.context || undefined })

/** What the object must say; syncedAt is left out of the comparison (it only says when). */
function wanted(i: In): Omit<CredentialExpiryStatus, 'syncedAt'> {
  return {
    consentedAt: toRfc3339(new Date(i.consentedAt)),
    ...(i.expiresAt ? { expiresAt: toRfc3339(new Date(i.expiresAt)) } : {}),
    source: i.consentSource as CredentialExpiryStatus['source'],
    grant: i.grant,
  }
}

/**
 * Google's countdown is in whole seconds and read anew at each run (and a stand-in's clock may
 * not tick with ours), so the same grant's deadline comes out slightly apart: within five
 * minutes it is the same deadline for an alert whose window is a day, not a change to write.
 */
const SAME_TIME_MS = 5 * 60_000
const near = (a: string | undefined, b: string | undefined) => (!a && !b) || (!!a && !!b && Math.abs(Date.parse(a) - Date.parse(b)) <= SAME_TIME_MS)

const same = (have: CredentialExpiry | undefined, i: In) => {
  if (!have?.status) return false
  const w = wanted(i)
  const s = have.status
  return near(s.consentedAt, w.consentedAt) && near(s.expiresAt, w.expiresAt) && s.source === w.source && s.grant === w.grant &&
    have.spec.credential === i.credential && have.spec.secret === i.secret && have.spec.key === i.key
}

const describe = (s: Pick<CredentialExpiryStatus, 'consentedAt' | 'expiresAt' | 'source'>) =>
  `expires ${s.expiresAt ? `${s.expiresAt} (${formatWhen(new Date(s.expiresAt))})` : 'never (no deadline)'}, consent ${s.consentedAt} (${s.source}${s.source === 'estimate' ? ': only the token file\'s times are known; state it with --set consentedAt=<RFC 3339 time>' : ''})`

function body(i: In, have: CredentialExpiry | undefined): CredentialExpiry {
  return {
    namespace: i.namespace,
    name: i.secret,
    resourceVersion: have?.resourceVersion,
    spec: { credential: i.credential, secret: i.secret, key: i.key },
    status: { ...wanted(i), syncedAt: toRfc3339(new Date()) },
  }
}

export default defineStep({
  description: 'record the consent time and deadline in CredentialExpiry (what the expiry alerts read)',
  inputs: Inputs,

  async check({ inputs, signal }) {
    const have = await readCredentialExpiry(await kubeOf(inputs), { namespace: inputs.namespace, name: inputs.secret }, { signal })
    if (same(have, inputs)) return { done: true, outputs: { expiresAt: inputs.expiresAt, consentedAt: inputs.consentedAt }, observed: `${where(inputs)}: ${describe(have!.status!)}` }
    if (!have?.status) return { done: false, reason: `${where(inputs)} does not exist: the expiry alerts cannot see this token's deadline` }
    return { done: false, reason: `${where(inputs)} is out of date`, observed: `it says ${describe(have.status)}${have.status.grant !== inputs.grant ? ` for another grant (${have.status.grant ?? 'none'})` : ''}` }
  },

  async plan({ inputs, signal }) {
    const kube = await kubeOf(inputs)
    const have = await readCredentialExpiry(kube, { namespace: inputs.namespace, name: inputs.secret }, { signal })
    // Server-side dry run: the CRD, RBAC and the schema answer now.
    await writeCredentialExpiry(kube, body(inputs, have), { dryRun: true, signal })
    const w = wanted(inputs)
    return { changes: [{ verb: have ? 'update' : 'create', target: where(inputs), detail: describe(w) }], outputs: { expiresAt: inputs.expiresAt, consentedAt: inputs.consentedAt } }
  },

  async apply({ inputs, signal, log }) {
    const kube = await kubeOf(inputs)
    const have = await readCredentialExpiry(kube, { namespace: inputs.namespace, name: inputs.secret }, { signal })
    const written = await writeCredentialExpiry(kube, body(inputs, have), { signal })
    log(`${have ? 'updated' : 'created'} ${where(inputs)}: ${describe(written.status!)}`)
    return { expiresAt: inputs.expiresAt, consentedAt: inputs.consentedAt }
  },

  // Before the re-auth the consent is not known: say what the object says now.
  async probe({ inputs: i, signal }) {
    if (!i.namespace || !i.secret) return { observed: 'target not known yet' }
    const have = await readCredentialExpiry(await kubeOf({ kubeconfig: i.kubeconfig ?? '', context: i.context ?? '' }), { namespace: i.namespace, name: i.secret }, { signal })
    const t = { namespace: i.namespace, secret: i.secret }
    return {
      observed: have?.status ? `${where(t)} says ${describe(have.status)}` : `${where(t)} does not exist`,
      changes: [{ verb: have ? 'update' : 'create', target: where(t), detail: 'the consent time and deadline of the re-authenticated token' }],
    }
  },
})
