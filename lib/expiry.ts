/**
 * A credential's deadline, from the consent behind it: when the person consented, how that is
 * known, when the provider kills the grant, and what that means now. The same facts go into
 * `--status`, the plan, and the CredentialExpiry object that the alerts read through
 * kube-state-metrics (docs/expiry.md), so the three never disagree.
 */
import { formatDuration } from './duration.ts'

export const DAY_MS = 86_400_000
/**
 * How long before the deadline `--status` says "expires soon" (exit 5) and the warning alert
 * fires (`< time() + 86400` in the rule file; a test keeps them equal).
 */
export const WARN_BEFORE_MS = DAY_MS

/**
 * How the consent time is known, best first. google: the provider said (Testing-mode
 * refresh_token_expires_in); recorded: credflow saw the consent or recorded it at an earlier
 * sync of the same grant; stated: the operator said (--set consentedAt); estimate: only the
 * token file's times are known.
 */
export type ConsentSource = 'google' | 'recorded' | 'stated' | 'estimate'
export const CONSENT_SOURCES: readonly ConsentSource[] = ['google', 'recorded', 'stated', 'estimate']

export interface Consent {
  at: Date
  source: ConsentSource
  /** Where exactly, for people: "Google's refresh_token_expires_in", "CredentialExpiry basketball-api/gmail-oauth-token", ... */
  from: string
  /** The provider's exact deadline, when it said one (then `at` is derived from it). */
  expiresAt?: Date
}

/** The grant's deadline: the provider's when it said one, else consent + lifetime; undefined: none (an app In production). */
export function deadlineOf(consent: Consent, lifetimeMs: number | undefined): Date | undefined {
  if (consent.expiresAt) return consent.expiresAt
  return lifetimeMs === undefined ? undefined : new Date(consent.at.getTime() + lifetimeMs)
}

export type TokenState = 'healthy' | 'expiring' | 'dead'

export function tokenState(expiresAt: Date | undefined, now: number = Date.now()): TokenState {
  if (!expiresAt) return 'healthy'
  const left = expiresAt.getTime() - now
  return left <= 0 ? 'dead' : left <= WARN_BEFORE_MS ? 'expiring' : 'healthy'
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const pad = (n: number) => String(n).padStart(2, '0')

/** "Tue 09:12 UTC" when the weekday alone is unambiguous (within 6 days of now), else "Tue 2026-12-08 09:12 UTC". */
export function formatWhen(d: Date, now: number = Date.now()): string {
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`
  const day = WEEKDAYS[d.getUTCDay()]
  if (Math.abs(d.getTime() - now) < 6 * DAY_MS) return `${day} ${hm}`
  return `${day} ${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${hm}`
}

/** "4d 3h", "5h 12m", "12m": coarse enough for a headline. */
export function formatLeft(ms: number): string {
  const m = Math.max(0, Math.floor(ms / 60_000))
  const d = Math.floor(m / 1440)
  const h = Math.floor((m % 1440) / 60)
  if (d > 0) return `${d}d ${h}h`
  if (h > 0) return `${h}h ${m % 60}m`
  return `${m}m`
}

/** The --status headline for a token that Google still accepts (or whose deadline passed). */
export function deadlineHeadline(expiresAt: Date | undefined, now: number = Date.now()): string {
  if (!expiresAt) return 'healthy: no deadline (the app is In production: Google does not expire the grant)'
  const left = expiresAt.getTime() - now
  const when = formatWhen(expiresAt, now)
  switch (tokenState(expiresAt, now)) {
    case 'dead':
      return `DEAD since ${when} (${formatLeft(-left)} ago): Google's deadline passed`
    case 'expiring':
      return `EXPIRES IN ${formatLeft(left)} (${when}): re-auth now`
    default:
      return `healthy: expires in ${formatLeft(left)} (${when})`
  }
}

/** "consent Sun 09:12 UTC (6d 1h ago), from Google's refresh_token_expires_in" plus what an estimate means. */
export function consentLine(c: Consent, now: number = Date.now()): string {
  const base = `consent ${formatWhen(c.at, now)} (${formatDuration(now - c.at.getTime())} ago), ${c.source}: ${c.from}`
  return c.source === 'estimate' ? `${base}; an ESTIMATE (the consent may be older): state it with --set consentedAt=<RFC 3339 time>` : base
}

/** RFC 3339 with a zone (what --set consentedAt and the CRD accept), or why not. */
export function parseRfc3339(text: string): Date | string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text.trim())) {
    return `"${text}" is not an RFC 3339 time with a zone, e.g. 2026-12-01T09:12:00Z`
  }
  const d = new Date(text.trim())
  return Number.isNaN(d.getTime()) ? `"${text}" is not a valid date` : d
}

/** A clock-second view, as stored in the CRD (RFC 3339, UTC, no milliseconds). */
export const toRfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')
