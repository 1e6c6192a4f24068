import { coverOf, type Cover } from './scope-coverage.ts'

/**
 * Scope lists and their comparison. A required scope is satisfied by the same string or by a granted scope that
 * Google's Gmail API reference accepts everywhere the required one is accepted (scope-coverage.ts); nothing else:
 * a grant of gmail.modify does not list gmail.readonly (research note §5). The only rewriting is Google's own:
 * `email`/`profile` come back as the userinfo URIs (§1.3).
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
  /** Required and covered by no granted scope: the user unticked a box (§3.5), or the client never asked. */
  missing: string[]
  /** Granted but neither required nor covering a required one: `include_granted_scopes` or an older grant (§8 verify 2). */
  extra: string[]
  /** Each satisfied required scope and the granted scope that satisfies it (itself, or a broader one). */
  covered: Cover[]
}

/** Required scopes against a grant, with the documented inclusions of scope-coverage.ts (not only equal strings). */
export function compareScopes(granted: string | readonly string[], required: string | readonly string[]): ScopeComparison {
  const g = parseScopes(granted)
  const covered: Cover[] = []
  const missing: string[] = []
  for (const r of parseScopes(required)) {
    const c = coverOf(r, g)
    if (c) covered.push(c)
    else missing.push(r)
  }
  const used = new Set(covered.map((c) => c.by))
  return { missing, covered, extra: g.filter((s) => !used.has(s)) }
}

export function missingScopes(granted: string | readonly string[], required: string | readonly string[]): string[] {
  return compareScopes(granted, required).missing
}
