/**
 * A grant never goes backwards: before a host writes its token file over a Secret, compare
 * the grant (the refresh token, i.e. one consent) each holds. A second host whose file holds
 * an earlier consent than the Secret must not replace the later one: that would restart the
 * consumers onto a grant that dies sooner, and reset the age the alert counts.
 *
 * Consent times come from the run that wrote them (Google's refresh_token_expires_in, the run
 * state, the Secret's annotation, or at worst the file's mtime), each on the apiserver's clock
 * (moved there by the offset measured from its Date header), so no host's own clock decides.
 * An mtime is never earlier than the consent it stands for, so "the Secret's consent is later
 * than the file's" stays true with it. Consents closer than CONSENT_SLACK_MS are not ordered:
 * grants a minute apart live equally long.
 *
 * A grant consented by this very process is the newest by construction: the process has held
 * the target's Lease since before the consent, so no other run wrote the Secret since, and no
 * clock needs to be read at all. Unless the Secret's creationTimestamp (the apiserver's own
 * record) shows it was recreated after the consent, which only a hand could do: then the
 * recorded times decide as for any grant. A resumed run is another process: the Lease may
 * have lapsed meanwhile and another host written a later grant, so the times decide.
 */
import { parseTokenFile } from './oauth/token-file.ts'
import { fingerprint } from './secret-value.ts'

export const CONSENT_SLACK_MS = 60_000

/** What the Secret says about the grant it holds (annotations written with it). */
export interface RecordedGrant {
  /** Fingerprint of the refresh token the annotations were written for. */
  grant?: string
  consentedAt?: string
  /** `host (run …, front door)`. */
  writtenBy?: string
  /** When it was written (the Secret's creationTimestamp: the apiserver's clock). */
  writtenAt?: string
}

export type GrantOrder =
  | { order: 'same'; grant: string }
  | { order: 'newer' | 'unknown'; local: string; remote?: string; why: string }
  | { order: 'older'; local: string; remote: string; why: string }

/** Fingerprint of the refresh token in token-file bytes, or undefined when they are not a token file. */
export function grantOf(bytes: Uint8Array): string | undefined {
  try {
    return fingerprint(parseTokenFile(bytes).refreshToken.reveal())
  } catch {
    return undefined
  }
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')
const valid = (t?: string) => (t && !Number.isNaN(Date.parse(t)) ? Date.parse(t) : undefined)

export function compareGrants(local: { bytes: Uint8Array; consentedAt?: string; consentedHere?: boolean }, remote: { bytes?: Uint8Array; recorded: RecordedGrant }): GrantOrder {
  const mine = grantOf(local.bytes) ?? 'unreadable'
  const theirs = remote.bytes ? grantOf(remote.bytes) : undefined
  if (!theirs) return { order: 'unknown', local: mine, why: remote.bytes ? 'the Secret does not hold a token file this tool can read' : 'the Secret holds no token yet' }
  if (theirs === mine) return { order: 'same', grant: mine }
  // A consent time recorded for another refresh token (the data was edited by hand) says nothing.
  const recordedAt = remote.recorded.grant === theirs || !remote.recorded.grant ? valid(remote.recorded.consentedAt) : undefined
  // A consent happened before its Secret was written (creationTimestamp, the apiserver's clock):
  // a writer whose clock ran ahead cannot make its grant look newer than that.
  const writtenAt = valid(remote.recorded.writtenAt)
  const theirAt = recordedAt !== undefined && writtenAt !== undefined ? Math.min(recordedAt, writtenAt) : recordedAt
  const myAt = valid(local.consentedAt)
  if (local.consentedHere && (writtenAt === undefined || myAt === undefined || writtenAt - myAt <= CONSENT_SLACK_MS)) {
    return { order: 'newer', local: mine, remote: theirs, why: 'the local file\'s grant was consented by this run, which has held the Lease since before the consent' }
  }
  if (theirAt === undefined || myAt === undefined) {
    return { order: 'unknown', local: mine, remote: theirs, why: `no consent time recorded for ${theirAt === undefined ? "the Secret's grant" : "the local file's grant"}` }
  }
  if (theirAt - myAt > CONSENT_SLACK_MS) return { order: 'older', local: mine, remote: theirs, why: `the Secret's grant was consented ${iso(theirAt)}, the local file's ${iso(myAt)}` }
  return { order: 'newer', local: mine, remote: theirs, why: `the local file's grant was consented ${iso(myAt)}, the Secret's ${iso(theirAt)}` }
}
