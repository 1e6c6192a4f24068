import { OpsError } from '../errors.ts'

/**
 * Scope comparison by exact string (research note §5: a grant of gmail.modify does not list gmail.readonly).
 * The only rewriting is Google's own: `email`/`profile` come back as the userinfo URIs (§1.3).
 */

const ALIASES: Record<string, string> = {
  email: 'https://www.googleapis.com/auth/userinfo.email',
  profile: 'https://www.googleapis.com/auth/userinfo.profile',
}

/** A space-delimited `scope` field (§2.3) or a list, normalised and de-duplicated, order kept. */
export function parseScopes(value: string | readonly string[] | undefined | null): string[] {
  const list = typeof value === 'string' ? value.split(/\s+/) : (value ?? [])
  return [...new Set(list.filter(Boolean).map((s) => ALIASES[s] ?? s))]
}

export interface ScopeComparison {
  /** Required but not granted: the user unticked a box (§3.5). */
  missing: string[]
  /** Granted but not required: `include_granted_scopes` or an older grant can add these (§8 verify 2). */
  extra: string[]
}

export function compareScopes(granted: string | readonly string[], required: string | readonly string[]): ScopeComparison {
  const g = parseScopes(granted)
  const r = parseScopes(required)
  return { missing: r.filter((s) => !g.includes(s)), extra: g.filter((s) => !r.includes(s)) }
}

export function missingScopes(granted: string | readonly string[], required: string | readonly string[]): string[] {
  return compareScopes(granted, required).missing
}

/** Throws `ScopesMissing` naming the scopes the grant lacks. */
export function assertScopesGranted(granted: string | readonly string[], required: string | readonly string[], what = 'the grant'): void {
  const missing = missingScopes(granted, required)
  if (missing.length === 0) return
  throw new OpsError(`${what} lacks ${missing.length === 1 ? 'scope' : 'scopes'} ${missing.join(', ')}`, {
    reason: 'ScopesMissing',
    hint: 'Re-run the consent (npx zx tasks/run.mjs gmail-reauth) and tick every box on the Google consent screen.',
  })
}
