// When the operator consented to the grant a token file holds, on the apiserver's clock.
// Consent times are compared across hosts (lib/grant-order.ts): a host whose clock is minutes
// behind must not record its brand-new consent as older than the grant another host wrote a
// minute ago, nor a host minutes ahead make an old one look new. So every time read from this
// host's clock (now, a file's mtime) is moved onto the apiserver's by the offset measured from
// its Date header; when the cluster does not answer, the time stays on this host's clock and
// `clock` says so (update-secret then corrects it by the offset it measures itself).
import { statSync } from 'node:fs'
import { expandHome } from '../../lib/paths.ts'
import { fingerprint } from '../../lib/secret-value.ts'
import { parseTokenFile } from '../../lib/oauth/token-file.ts'
import type { TokenProbe } from '../../lib/oauth/token-probe.ts'
import type { Kube } from '../../lib/k8s/client.ts'

export const GOOGLE_TESTING_EXPIRY_MS = 7 * 86_400_000

export interface Consent {
  /** On the apiserver's clock when `ConsentClock.kind` is 'apiserver'. */
  at: Date
  source: 'Google' | 'run state' | 'Secret annotation' | 'file mtime'
}

export interface ConsentClock {
  kind: 'apiserver' | 'this host'
  /** Now, on this clock. */
  now(): number
  /** A time read from this host's clock, on this clock. */
  fromLocal(localMs: number): number
  /** The target's cluster, when it answered. */
  kube?: Kube
}

interface ClusterInputs {
  targets: { namespace: string; secret: string; key?: unknown }[]
  kubeconfig: string
  context: string
}

const LOCAL: ConsentClock = { kind: 'this host', now: () => Date.now(), fromLocal: (ms) => ms }

/** The first target's apiserver clock; this host's when no target is known or the cluster does not answer within 5 s. */
export async function consentClock(i: ClusterInputs, signal: AbortSignal): Promise<ConsentClock> {
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

/** Which grant a file holds: a fingerprint of its refresh token (a new consent, a new one). */
export const grantOf = (probe: Pick<TokenProbe, 'file'>) => fingerprint(probe.file.refreshToken.reveal())

/**
 * Google says it for Testing-mode clients (refresh_token_expires_in counts down the 7 days).
 * Otherwise a time we recorded counts only for the same grant: a consent done by hand since
 * then brought a new refresh token, and the file's mtime (when it was written) is the better guess.
 */
export async function consentTime(
  i: ClusterInputs & { tokenFile: string },
  previous: Record<string, unknown> | undefined,
  probe: Pick<TokenProbe, 'file' | 'refreshTokenExpiresIn'>,
  clock: ConsentClock,
  signal: AbortSignal,
): Promise<Consent | undefined> {
  if (probe.refreshTokenExpiresIn !== undefined) {
    return { at: new Date(clock.now() - (GOOGLE_TESTING_EXPIRY_MS - probe.refreshTokenExpiresIn * 1000)), source: 'Google' }
  }
  if (previous?.grant === grantOf(probe) && typeof previous.consentedAt === 'string' && !Number.isNaN(Date.parse(previous.consentedAt))) {
    // Recorded on the apiserver's clock when it said so (runs before that recorded this host's).
    const t = Date.parse(previous.consentedAt)
    return { at: new Date(previous.consentClock === 'apiserver' ? t : clock.fromLocal(t)), source: 'run state' }
  }
  const t = i.targets[0]
  if (t && clock.kube) {
    try {
      const { readSecret } = await import('../../lib/k8s/secrets.ts')
      const { CONSENTED_AT_ANNOTATION } = await import('../../lib/k8s/secret-replace.ts')
      const s = await readSecret(clock.kube, { namespace: t.namespace, name: t.secret }, { signal })
      const a = s?.annotations[CONSENTED_AT_ANNOTATION]
      const key = typeof t.key === 'string' ? t.key : undefined
      const sameGrant = key && s?.data[key] ? parseTokenFile(s.data[key].reveal()).refreshToken.equals(probe.file.refreshToken) : false
      // update-secret writes it on the apiserver's clock.
      if (a && sameGrant && !Number.isNaN(Date.parse(a))) return { at: new Date(a), source: 'Secret annotation' }
    } catch {
      // As above: only a hint about the consent's age.
    }
  }
  try {
    return { at: new Date(clock.fromLocal(statSync(expandHome(i.tokenFile)).mtimeMs)), source: 'file mtime' }
  } catch {
    return undefined
  }
}
