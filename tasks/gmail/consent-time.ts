// When the operator consented to the grant the token file holds, from every source there is,
// best first (docs/expiry.md): Google's own countdown; what the operator states
// (--set consentedAt); what credflow recorded for this same grant (the last run, the
// CredentialExpiry object, the Secret's annotation); and only then an estimate from the token
// file's times. A time recorded for another grant never counts: a consent done by hand since
// brought a new refresh token.
//
// Every time is on the apiserver's clock. Consent times are compared across hosts
// (lib/grant-order.ts) and against Prometheus's clock (the alerts): a host whose clock is
// minutes behind must not record its brand-new consent as older than the grant another host
// wrote a minute ago, nor a host minutes ahead make an old one look new. So every time read
// from this host's clock (now, a file's times) is moved onto the apiserver's by the offset
// measured from its Date header; when the cluster does not answer, the time stays on this
// host's clock and `clock` says so (update-secret then corrects it by the offset it measures).
import { statUserFile } from '../../lib/safe-open.ts'
import type { TokenProbe } from '../../lib/oauth/token-probe.ts'
import { parseTokenFile } from '../../lib/oauth/token-file.ts'
import { fingerprint } from '../../lib/secret-value.ts'
import { OpsError } from '../../lib/errors.ts'
import type { Kube } from '../../lib/k8s/client.ts'
import { parseRfc3339, formatWhen, DAY_MS, type Consent } from '../../lib/expiry.ts'

/** Google's Testing-mode lifetime: refresh_token_expires_in counts down from it. */
export const GOOGLE_TESTING_EXPIRY_MS = 7 * DAY_MS

export type GrantFacts = Pick<TokenProbe, 'file' | 'refreshTokenExpiresIn'>

/** Which grant a file holds: a fingerprint of its refresh token (a new consent, a new one). */
export const grantOf = (probe: Pick<TokenProbe, 'file'>) => fingerprint(probe.file.refreshToken.reveal())

export interface ConsentClock {
  kind: 'apiserver' | 'this host'
  /** Now, on this clock. */
  now(): number
  /** A time read from this host's clock, on this clock. */
  fromLocal(localMs: number): number
  /** The target's cluster, when it answered. */
  kube?: Kube
}

export interface ConsentInputs {
  tokenFile: string
  /** --set consentedAt: RFC 3339, or '' */
  consentedAt: string
  targets: Array<{ namespace: string; secret: string; key?: unknown }>
  kubeconfig: string
  context: string
}

const LOCAL: ConsentClock = { kind: 'this host', now: () => Date.now(), fromLocal: (ms) => ms }

/** The first target's apiserver clock; this host's when no target is known or the cluster does not answer within 5 s. */
export async function consentClock(i: Pick<ConsentInputs, 'targets' | 'kubeconfig' | 'context'>, signal: AbortSignal): Promise<ConsentClock> {
  if (!i.targets[0]) return LOCAL
  try {
    const { connect } = await import('../../lib/k8s/client.ts')
    const { measureServerClock } = await import('../../lib/k8s/server-clock.ts')
    const kube = await connect({ kubeconfig: i.kubeconfig || undefined, context: i.context || undefined }, { probe: false })
    const clock = await measureServerClock(kube, AbortSignal.any([signal, AbortSignal.timeout(5000)]))
    if (!clock) return { ...LOCAL, kube }
    return { kind: 'apiserver', now: () => clock.now(), fromLocal: (ms) => clock.fromLocal(ms), kube }
  } catch {
    // The cluster is the next steps' business; here it only sharpens the consent time.
    return LOCAL
  }
}

export interface ConsentLookup {
  inputs: ConsentInputs
  previousOutputs?: Record<string, unknown>
  signal: AbortSignal
  /** The grant's lifetime when the provider does not say (registry rotation_days); undefined: none. */
  lifetimeMs: number | undefined
  /** Google accepts the token now: then the consent is less than one lifetime old. */
  alive: boolean
  clock: ConsentClock
}

/**
 * The operator's --set consentedAt, judged before anything is written: a time with a zone, not
 * in the future, and not contradicting Google's own countdown (which is exact). A stated time
 * is the wall clock's, taken as the apiserver's.
 */
export function statedConsent(text: string, probe: Partial<GrantFacts>, now: number = Date.now()): Consent | undefined {
  if (!text.trim()) return undefined
  const at = parseRfc3339(text)
  const fix = 'give the time of the consent screen, e.g. --set consentedAt=2026-12-01T09:12:00Z, or leave it out'
  if (typeof at === 'string') throw new OpsError(`consentedAt: ${at}`, { reason: 'InvalidInputs', hint: fix })
  if (at.getTime() > now + 60_000) throw new OpsError(`consentedAt ${text} is in the future (now ${new Date(now).toISOString()})`, { reason: 'InvalidInputs', hint: fix })
  if (probe.refreshTokenExpiresIn !== undefined) {
    const google = fromGoogle(probe.refreshTokenExpiresIn, now)
    if (Math.abs(google.at.getTime() - at.getTime()) > 5 * 60_000) {
      throw new OpsError(`consentedAt ${text} contradicts Google, which says this grant was consented ${google.at.toISOString()} (refresh_token_expires_in)`, {
        reason: 'InvalidInputs',
        hint: "Google's countdown is exact for this token: drop --set consentedAt",
      })
    }
  }
  return { at, source: 'stated', from: '--set consentedAt' }
}

function fromGoogle(expiresInSeconds: number, now: number): Consent {
  const expiresAt = new Date(now + expiresInSeconds * 1000)
  return { at: new Date(expiresAt.getTime() - GOOGLE_TESTING_EXPIRY_MS), expiresAt, source: 'google', from: "Google's refresh_token_expires_in" }
}

/** The consent behind the file's grant; undefined only when the file cannot even be stat'ed. */
export async function consentTime(l: ConsentLookup, probe: GrantFacts): Promise<Consent | undefined> {
  const now = l.clock.now()
  // Judged even when Google says: a statement that contradicts it is refused, not ignored.
  const stated = statedConsent(l.inputs.consentedAt, probe, now)
  if (probe.refreshTokenExpiresIn !== undefined) return fromGoogle(probe.refreshTokenExpiresIn, now)
  if (stated) return stated
  const grant = grantOf(probe)
  const prev = l.previousOutputs
  let estimate: Consent | undefined
  if (prev?.grant === grant && typeof prev.consentedAt === 'string' && !Number.isNaN(Date.parse(prev.consentedAt))) {
    const source = prev.consentSource === 'estimate' || prev.consentSource === 'stated' ? prev.consentSource : 'recorded'
    // Recorded on the apiserver's clock when it said so (runs before that recorded this host's).
    const t = Date.parse(prev.consentedAt)
    const c: Consent = { at: new Date(prev.consentClock === 'apiserver' ? t : l.clock.fromLocal(t)), source, from: `the last run (${source === 'recorded' ? 'its consent' : source})` }
    if (source !== 'estimate') return c
    estimate = c
  }
  const cluster = await fromCluster(l, probe, grant)
  if (cluster && cluster.source !== 'estimate') return cluster
  const candidates = [estimate, cluster, fileEstimate(l.inputs.tokenFile, l.clock, l.alive && l.lifetimeMs !== undefined ? now - l.lifetimeMs : undefined, now)].filter((c): c is Consent => !!c)
  // Estimates only: the earliest plausible one, so a warning comes early rather than late.
  return candidates.sort((a, b) => a.at.getTime() - b.at.getTime())[0]
}

/** What the cluster recorded for this grant: the CredentialExpiry object, else the Secret's consented-at annotation (both on the apiserver's clock). */
async function fromCluster(l: ConsentLookup, probe: GrantFacts, grant: string): Promise<Consent | undefined> {
  const t = l.inputs.targets[0]
  if (!t) return undefined
  try {
    const { connect } = await import('../../lib/k8s/client.ts')
    const kube = l.clock.kube ?? (await connect({ kubeconfig: l.inputs.kubeconfig || undefined, context: l.inputs.context || undefined }, { timeoutMs: 5000 }))
    const { readCredentialExpiry } = await import('../../lib/k8s/credential-expiry.ts')
    const ce = await readCredentialExpiry(kube, { namespace: t.namespace, name: t.secret }, { signal: l.signal }).catch(() => undefined)
    if (ce?.status?.grant === grant && !Number.isNaN(Date.parse(ce.status.consentedAt))) {
      const source = ce.status.source === 'google' ? 'recorded' : ce.status.source
      return { at: new Date(ce.status.consentedAt), source, from: `CredentialExpiry ${t.namespace}/${t.secret}${source === 'recorded' ? '' : ` (${source} at an earlier sync)`}` }
    }
    const { readSecret } = await import('../../lib/k8s/secrets.ts')
    const { CONSENTED_AT_ANNOTATION } = await import('../../lib/k8s/secret-replace.ts')
    const s = await readSecret(kube, { namespace: t.namespace, name: t.secret }, { signal: l.signal })
    const a = s?.annotations[CONSENTED_AT_ANNOTATION]
    const key = typeof t.key === 'string' ? t.key : undefined
    const sameGrant = key && s?.data[key] ? parseTokenFile(s.data[key].reveal()).refreshToken.equals(probe.file.refreshToken) : false
    if (a && sameGrant && !Number.isNaN(Date.parse(a))) return { at: new Date(a), source: 'recorded', from: `Secret ${t.namespace}/${t.secret} annotation` }
  } catch {
    // The cluster is the next steps' business; here it is only a hint about the consent's age.
  }
  return undefined
}

/**
 * Only the file is known: its creation and modification times are when the grant may have
 * been written (gmail-mcp rewrites the file at every refresh, so mtime runs late). The earliest
 * of them that is plausible (a live grant is younger than `floor`, one lifetime ago), so a
 * warning errs early, never late.
 */
function fileEstimate(path: string, clock: ConsentClock, floor: number | undefined, now: number): Consent | undefined {
  let st
  try {
    st = statUserFile(path, { what: 'token file' }) // lstat, then the target: a FIFO is judged, never opened
  } catch {
    return undefined
  }
  if (!st) return undefined
  const times = [st.birthtimeMs, st.mtimeMs].filter((t) => t > 0)
  const plausible = times.filter((t) => floor === undefined || clock.fromLocal(t) > floor)
  const local = plausible.length ? Math.min(...plausible) : Math.max(...times)
  const which = local === st.mtimeMs ? 'modified' : 'created'
  const at = new Date(clock.fromLocal(local))
  return { at, source: 'estimate', from: `token file ${which} ${formatWhen(at, now)}` }
}
